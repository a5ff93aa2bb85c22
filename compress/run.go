package compress

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/format/load"
	"github.com/shrink-ml/shrink/nn"
)

// Env is what Run and Search share beyond the model and the data: the
// seed, the teacher, the provenance the output starts from, and hooks for
// logging and progress. The zero Env is valid: seed 0, the input model as
// teacher, silent.
type Env struct {
	// Seed drives every random choice of the passes (initialisation,
	// shuffling, sampling).
	Seed int64
	// Teacher is the default teacher: the search distils from it, and so
	// do recipe passes with distill: true that name no teacher file. nil
	// means the input model.
	Teacher *nn.Model
	// Provenance is the record the output file's provenance starts from
	// (command, data, options); Run and Search append their passes.
	Provenance format.Provenance
	// Logf, when set, receives one line per step of the work.
	Logf func(format string, a ...any)
	// Progress, when set, returns the training callbacks for a fine-tuning
	// run of the given label and epochs (a progress bar, say).
	Progress func(label string, epochs int) (onBatch func(nn.BatchInfo), onEpoch func(nn.EpochInfo))
}

func (e *Env) logf(format string, a ...any) {
	if e != nil && e.Logf != nil {
		e.Logf(format, a...)
	}
}

func (e *Env) progress(label string, epochs int) (func(nn.BatchInfo), func(nn.EpochInfo)) {
	if e == nil || e.Progress == nil {
		return nil, nil
	}
	return e.Progress(label, epochs)
}

// Data is what passes train and are measured on. Both parts come from the
// training data of a data set: a compression run never sees its test split.
type Data struct {
	Train *data.Set // fine-tuning, calibration, teacher logits
	Val   *data.Set // measured after each pass and by the search
}

// Holdout carves a seeded validation split of the given fraction out of
// train.
func Holdout(train *data.Set, fraction float64, seed int64) Data {
	tr, val := train.Split(fraction, seed)
	return Data{Train: tr, Val: val}
}

func (d Data) check() error {
	if d.Train == nil || d.Train.Len() == 0 {
		return fmt.Errorf("compress: the training part is empty")
	}
	if d.Val == nil || d.Val.Len() == 0 {
		return fmt.Errorf("compress: the validation part is empty")
	}
	return nil
}

// StepResult is one executed pass of a recipe.
type StepResult struct {
	Pass        string            `json:"pass"`
	Options     map[string]string `json:"options,omitempty"`
	ValAccuracy float64           `json:"val_accuracy"`
	FileBytes   int64             `json:"file_bytes"`
	Summary     string            `json:"summary"`
	Seconds     float64           `json:"seconds"`
	// Model is the model after the pass (not encoded in JSON).
	Model *nn.Model `json:"-"`
}

// Result is what Run produced.
type Result struct {
	// File is the compressed model with its encodings and provenance
	// (Env.Provenance plus one pass per step, each with its validation
	// accuracy), ready for format.Write.
	File *format.File
	// Steps are the executed passes in order.
	Steps []StepResult
	// BaseVal and ValAccuracy are the input's and the output's accuracy
	// on the validation part.
	BaseVal, ValAccuracy float64
}

// Run applies r's passes to a copy of m (m is not changed), measuring the
// validation accuracy and the encoded size after each, and returns the
// file to write. Teacher files named by the recipe are read and checked
// before the first pass trains.
func Run(ctx context.Context, m *nn.Model, d Data, r *Recipe, env *Env) (*Result, error) {
	if env == nil {
		env = &Env{}
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	base, err := nn.Evaluate(m, d.Val.X, d.Val.Y)
	if err != nil {
		return nil, err
	}
	work := m.Clone()
	teacher := env.Teacher
	if teacher == nil {
		teacher = m
	}
	e := &passEnv{ctx: ctx, env: env, m: work, teacher: teacher, teachers: map[string]*nn.Model{}, train: d.Train, val: d.Val, seed: env.Seed, encoding: "auto", compress: true}
	for _, st := range r.Steps {
		path := st.Options.str("teacher", "")
		if path == "" || e.teachers[path] != nil {
			continue
		}
		t, err := load.Teacher(path, d.Train.Dim(), m.Classes())
		if err != nil {
			return nil, fmt.Errorf("%s: %s.teacher: %w", r.where(st.Line), st.Pass, err)
		}
		e.teachers[path] = t.Model
	}
	prov := env.Provenance
	prov.Passes = slices.Clone(prov.Passes)
	res := &Result{BaseVal: base.Accuracy, ValAccuracy: base.Accuracy}
	for i, st := range r.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		e.step, e.summary = i+1, ""
		env.logf("compress: step %d/%d: %s\n", i+1, len(r.Steps), st.Pass)
		t0 := time.Now()
		if err := registry[st.Pass].run(e, st.Options); err != nil {
			return nil, fmt.Errorf("%s: step %d (%s): %w", r.where(st.Line), i+1, st.Pass, err)
		}
		ev, err := nn.Evaluate(e.m, d.Val.X, d.Val.Y)
		if err != nil {
			return nil, err
		}
		f := &format.File{Model: e.m, Compress: e.compress}
		if err := chooseEncodings(f, e.encoding, e.lossy); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i+1, st.Pass, err)
		}
		size, err := encodedSize(f)
		if err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i+1, st.Pass, err)
		}
		opts := st.Options.Strings()
		res.Steps = append(res.Steps, StepResult{Pass: st.Pass, Options: opts, ValAccuracy: ev.Accuracy, FileBytes: size, Summary: e.summary, Seconds: time.Since(t0).Seconds(), Model: e.m})
		res.ValAccuracy = ev.Accuracy
		env.logf("  %s: val accuracy %.2f%%, %d bytes on disk; %s\n", st.Pass, 100*ev.Accuracy, size, e.summary)
		popts := maps.Clone(opts)
		popts["step"] = strconv.Itoa(i + 1)
		prov.Passes = append(prov.Passes, format.Pass{Name: st.Pass, Options: popts, Seed: env.Seed, Accuracy: ev.Accuracy})
	}
	res.File = &format.File{Model: e.m, Compress: e.compress, Provenance: prov}
	if err := chooseEncodings(res.File, e.encoding, e.lossy); err != nil {
		return nil, err
	}
	return res, nil
}

// chooseEncodings sets f.Encodings through format.Choose: for "auto" the
// smallest encoding per tensor (float16 values only with lossy); for a
// name, that encoding for every tensor it stores exactly.
func chooseEncodings(f *format.File, name string, lossy bool) error {
	var cands []format.Encoding
	if name != "auto" {
		enc, err := format.ParseEncoding(name)
		if err != nil {
			return err
		}
		cands = []format.Encoding{enc}
	}
	if err := format.Choose(f, format.ChooseOptions{Candidates: cands, Lossy: lossy}); err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	return nil
}

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// encodedSize returns the bytes f would take on disk.
func encodedSize(f *format.File) (int64, error) {
	cw := &countWriter{}
	if err := format.Encode(cw, f); err != nil {
		return 0, err
	}
	return cw.n, nil
}
