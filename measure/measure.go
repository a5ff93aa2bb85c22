// Package measure computes what shrink reports about models: the rows of
// a comparison (accuracy, agreement with a reference model, bytes on disk,
// ratio, parameters, non-zero parameters, MACs, latency, throughput), the
// statistics that say whether a difference in accuracy is more than the
// noise of the test set (Wilson intervals, Newcombe's paired interval,
// McNemar's exact test, with gonum's stat/distuv), and the pictures of a
// report (samples on which two models disagree, per-layer sparsity and bits
// per weight). `shrink compare`, `shrink bench`, the demo and the
// compression search share it.
//
// The package never prints: Options.Logf is a hook for progress, nil is
// silent. Timings are wall-clock medians and move with the machine's load;
// everything else is deterministic.
package measure

import (
	"context"
	"errors"
	"fmt"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/report"
)

// Entry is one model to measure.
type Entry struct {
	Name      string
	Model     *nn.Model
	FileBytes int64 // bytes on disk; 0 when not stored (its ratio is then 0)
}

// Options select the timed measurements of Compare; the zero value times
// nothing.
type Options struct {
	// LatencyRuns is the number of timed runs at batch 1 whose median is
	// each row's LatencyUS; 0 skips latency.
	LatencyRuns int
	// ThroughputBatch is the batch size at which ImagesPerS is measured
	// (ThroughputRuns runs, 5 when 0); 0 skips throughput.
	ThroughputBatch, ThroughputRuns int
	// Seed seeds the random inputs of the timed runs.
	Seed uint64
	// Logf, when set, receives progress lines (which models are being
	// timed); nil is silent.
	Logf func(format string, args ...any)
}

// Comparison is what Compare measured.
type Comparison struct {
	// Rows holds one row per entry; agreement, ratio and Uncertainty are
	// against the first.
	Rows []report.Row
	// Pred holds each model's predicted class for every sample of Set.
	Pred [][]int
	// Set is the labelled set measured on.
	Set *data.Set
}

// Compare measures one row per entry on the labelled set: accuracy with
// its Wilson interval, agreement with the first entry, the first entry's
// accuracy minus this one's with Newcombe's paired interval and McNemar's
// exact p (see DropCI and McNemar), bytes on disk, ratio (the first
// entry's bytes over this one's), parameters, non-zero parameters, dense
// and effective MACs, and, as o asks, latency at batch 1 and throughput.
// The timed runs of the models are interleaved (see Throughput).
//
// Compare prepares each model (Model.Prepare) so that it runs on the path
// its stored form calls for. ctx is checked between models.
func Compare(ctx context.Context, entries []Entry, set *data.Set, o Options) (*Comparison, error) {
	if len(entries) == 0 {
		return nil, errors.New("measure: no model to compare")
	}
	if set == nil || len(set.Y) == 0 {
		return nil, errors.New("measure: the set to compare on has no labelled samples")
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	c := &Comparison{Rows: make([]report.Row, len(entries)), Pred: make([][]int, len(entries)), Set: set}
	models := make([]*nn.Model, len(entries))
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m := e.Model
		m.Prepare()
		models[i] = m
		z, err := nn.Logits(m, set.X)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", e.Name, err)
		}
		k := m.Classes()
		ev, err := nn.EvalLogits(z, set.Y, k)
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", e.Name, err)
		}
		pred := make([]int, len(set.Y))
		for j := range pred {
			pred[j] = nn.Argmax(z[j*k : (j+1)*k])
		}
		c.Pred[i] = pred
		pair := CountPair(set.Y, c.Pred[0], pred)
		u := &report.Uncertainty{Drop: pair.Drop(), DropPValue: McNemar(pair.FirstOnly, pair.SecondOnly),
			Lost: pair.FirstOnly, Gained: pair.SecondOnly}
		u.AccuracyCI[0], u.AccuracyCI[1] = Wilson(pair.Both+pair.SecondOnly, pair.Total())
		if i > 0 {
			u.DropCI[0], u.DropCI[1] = DropCI(pair)
		}
		st := m.Stats()
		r := report.Row{
			Name: e.Name, Accuracy: ev.Accuracy, Agreement: nn.Agreement(pred, c.Pred[0]), FileBytes: e.FileBytes,
			Params: st.Params, NonzeroParams: st.NonZero, MACs: st.MACs, EffectiveMACs: st.EffectiveMACs, Uncertainty: u,
		}
		if e.FileBytes > 0 {
			r.Ratio = float64(entries[0].FileBytes) / float64(e.FileBytes)
		}
		c.Rows[i] = r
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if o.LatencyRuns > 0 {
		logf("timing %d models at batch 1 (%d runs each) ...\n", len(models), o.LatencyRuns)
		for i, t := range Throughput(models, 1, o.LatencyRuns, o.Seed) {
			c.Rows[i].LatencyUS = t.LatencyUS()
		}
	}
	if o.ThroughputBatch > 0 {
		runs := o.ThroughputRuns
		if runs <= 0 {
			runs = 5
		}
		logf("timing %d models at batch %d (%d runs each) ...\n", len(models), o.ThroughputBatch, runs)
		for i, t := range Throughput(models, o.ThroughputBatch, runs, o.Seed) {
			c.Rows[i].ImagesPerS = t.ImagesPerS()
		}
	}
	return c, nil
}

// Disagreements returns the samples of c.Set on which model i and the
// first model predict differently, the first report.MaxDisagreements of
// them in set order with their pixels, for a report section.
func (c *Comparison) Disagreements(i int) *report.Disagreements {
	d := &report.Disagreements{Reference: c.Rows[0].Name, Model: c.Rows[i].Name}
	dim := c.Set.Dim()
	ref, pred := c.Pred[0], c.Pred[i]
	for j := range pred {
		if pred[j] == ref[j] {
			continue
		}
		d.Total++
		if len(d.Samples) < report.MaxDisagreements {
			d.Samples = append(d.Samples, report.Disagreement{
				Index: j, Pixels: c.Set.X[j*dim : (j+1)*dim], Shape: c.Set.Shape,
				Label: c.Set.Y[j], Reference: ref[j], Prediction: pred[j],
			})
		}
	}
	return d
}

// Layers returns the per-layer accounting of a model file for a report's
// bars: trainable parameters, sparsity and the stored bits per weight of
// each layer's weight tensor (for a file built in memory, what writing it
// would store).
func Layers(f *format.File) []report.Layer {
	tensors := map[string]format.TensorInfo{}
	for _, t := range f.Tensors() {
		tensors[t.Name] = t
	}
	var out []report.Layer
	for _, l := range f.Model.Layers {
		r := report.Layer{Name: l.Name()}
		var nz int64
		for _, p := range l.Params() {
			if p.Trainable {
				r.Params += int64(len(p.W))
				nz += p.NonZero()
			}
			if t, ok := tensors[l.Name()+"."+p.Name]; ok && p.Name == "weight" {
				r.BitsPerWeight = t.BitsPerWeight
			}
		}
		if r.Params > 0 {
			r.Sparsity = 1 - float64(nz)/float64(r.Params)
		}
		out = append(out, r)
	}
	return out
}

// Sections returns the report sections that show where each model after
// the first disagrees with it (as pictures), and, for each file given,
// its per-layer sparsity and bits per weight. files may be nil or hold
// nil entries (no bars for those); its indexes match c.Rows.
func (c *Comparison) Sections(files []*format.File) []report.Section {
	var out []report.Section
	for i := 1; i < len(c.Rows); i++ {
		out = append(out, report.Section{Title: fmt.Sprintf("where %s disagrees with %s", c.Rows[i].Name, c.Rows[0].Name),
			Disagree: c.Disagreements(i)})
	}
	for i, f := range files {
		if f == nil || f.Model == nil || i >= len(c.Rows) {
			continue
		}
		out = append(out, report.Section{Title: "layers of " + c.Rows[i].Name, Layers: Layers(f)})
	}
	return out
}
