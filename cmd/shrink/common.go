package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/shrink-ml/shrink/budget"
	"github.com/shrink-ml/shrink/compress"
	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/internal/atomicfile"
	"github.com/shrink-ml/shrink/nn"
)

// dataFlags are the flags of every command that reads a data set.
type dataFlags struct {
	spec         string
	testFraction float64
	testFile     string
	labelColumn  string
	header       string
	normalize    string
}

func (d *dataFlags) register(c *pflag.FlagSet) {
	c.StringVar(&d.spec, "data", "", `data set: "mnist-mini" (embedded, default), an MNIST IDX folder, or a .csv/.csv.gz file`)
	c.Float64Var(&d.testFraction, "test-fraction", 0, "CSV: fraction of rows held out for test when no --test-file (default 0.2)")
	c.StringVar(&d.testFile, "test-file", "", "CSV: a separate test file")
	c.StringVar(&d.labelColumn, "label-column", "", "CSV: label column name or 0-based index (default: the last column)")
	c.StringVar(&d.header, "header", "", "CSV: header row: auto (default), yes or no")
	c.StringVar(&d.normalize, "normalize", "", "CSV: feature normalisation fitted on the training part: none (default), minmax or standard")
}

func (d *dataFlags) options(seed int64) data.Options {
	return data.Options{Budget: limits, TestFraction: d.testFraction, Seed: seed, TestFile: d.testFile, LabelColumn: d.labelColumn, Header: d.header, Normalize: d.normalize}
}

// loadData loads the data set given by flags. When the flags name no data
// set, or the same source the model was trained on, the split recorded in
// the model file is reused so evaluation never sees training rows.
func loadData(d *dataFlags, seed int64, rec *format.File) (*data.Data, error) {
	if rec != nil && len(rec.Provenance.DataInfo) > 0 {
		var info data.Info
		if err := json.Unmarshal(rec.Provenance.DataInfo, &info); err == nil && (d.spec == "" || d.spec == info.Source) && d.testFile == "" && d.testFraction == 0 {
			ds, err := data.LoadRecorded(info, limits)
			if err != nil {
				return nil, fmt.Errorf("--data %s (recorded in the model file): %w", info.Source, err)
			}
			return ds, nil
		}
	}
	spec := d.spec
	if spec == "" {
		spec = data.KindMNISTMini
	}
	ds, err := data.Load(spec, d.options(seed))
	if err != nil {
		return nil, fmt.Errorf("--data %s: %w", spec, err)
	}
	return ds, nil
}

// loadSplit reads a model and the part of a data set (split "test" or
// "train") it is to run on, and checks that the samples fit the model.
func loadSplit(g *globals, path string, d *dataFlags, split string) (*format.File, *data.Data, *data.Set, error) {
	if split != "test" && split != "train" {
		return nil, nil, nil, usagef("--split %q: want test or train", split)
	}
	f, err := loadModel(path)
	if err != nil {
		return nil, nil, nil, err
	}
	ds, err := loadData(d, g.seed, f)
	if err != nil {
		return nil, nil, nil, err
	}
	set := ds.Test
	if split == "train" {
		set = ds.Train
	}
	if set == nil || set.Len() == 0 {
		return nil, nil, nil, fmt.Errorf("--data %s: the %s part is empty", ds.Name, split)
	}
	if err := set.CheckShape(f.Model.Input); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: data set %s has samples of shape %v but the model takes %v", path, ds.Name, nn.Shape(set.Shape), f.Model.Input)
	}
	return f, ds, set, nil
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// checkFits reports whether m runs on ds: the samples have the model's
// input shape, or the same number of values when one of them is flat (an
// MLP exported from PyTorch on images), and the model has a logit per class.
func checkFits(m *nn.Model, ds *data.Data) error {
	if ds.Train.CheckShape(m.Input) != nil && (ds.Test == nil || ds.Test.CheckShape(m.Input) != nil) {
		return fmt.Errorf("data set %s has samples of shape %v but the model takes %v", ds.Name, nn.Shape(ds.Train.Shape), m.Input)
	}
	if ds.Train.Classes > m.Classes() {
		return fmt.Errorf("data set %s has %d classes but the model outputs %d", ds.Name, ds.Train.Classes, m.Classes())
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// trainProgress returns OnBatch/OnEpoch callbacks that draw a progress bar
// on stderr when it is a terminal (and not --quiet), and print one line per
// epoch unless --quiet.
func trainProgress(g *globals, label string, epochs int) (func(nn.BatchInfo), func(nn.EpochInfo)) {
	if g.quiet {
		return nil, nil
	}
	var bar *progressbar.ProgressBar
	tty := isTerminal(g.stderr)
	onBatch := func(b nn.BatchInfo) {
		if !tty {
			return
		}
		if bar == nil || b.Batch == 1 {
			bar = progressbar.NewOptions(b.Batches,
				progressbar.OptionSetWriter(g.stderr),
				progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionThrottle(100*time.Millisecond),
			)
		}
		rate := float64(b.Seen) / b.Elapsed.Seconds()
		bar.Describe(fmt.Sprintf("%s epoch %d/%d loss %.4f acc %.2f%% %6.0f img/s", label, b.Epoch, epochs, b.Loss, 100*b.Acc, rate))
		_ = bar.Set(b.Batch)
		if b.Batch == b.Batches {
			_ = bar.Finish()
		}
	}
	onEpoch := func(e nn.EpochInfo) {
		val := ""
		if e.ValAcc > 0 {
			val = fmt.Sprintf("  val acc %.2f%%", 100*e.ValAcc)
		}
		fmt.Fprintf(g.stderr, "%s epoch %d/%d  loss %.4f  train acc %.2f%%%s  %.1fs  %.0f img/s\n",
			label, e.Epoch, epochs, e.Loss, 100*e.TrainAcc, val, e.Seconds, e.ImagesPerSec)
	}
	return onBatch, onEpoch
}

// commandLine is the command as typed, for provenance.
func commandLine() string { return "shrink " + strings.Join(os.Args[1:], " ") }

// compressEnv is the library's Env for this command line: the seed, and
// logging and progress on stderr unless --quiet.
func (g *globals) compressEnv() *compress.Env {
	env := &compress.Env{Seed: g.seed}
	if !g.quiet {
		env.Logf = func(format string, a ...any) { g.logf("shrink "+format, a...) }
		env.Progress = func(label string, epochs int) (func(nn.BatchInfo), func(nn.EpochInfo)) {
			return trainProgress(g, label, epochs)
		}
	}
	return env
}

// provenance starts the provenance of a file this command writes from the
// model it read (in, may be nil) and the data (ds, may be nil): the
// command line, the seed, the data set and its split record, the creation
// time, the input's passes and opts.
func (g *globals) provenance(ds *data.Data, in *format.File, opts map[string]string) format.Provenance {
	p := format.Provenance{Command: commandLine(), Seed: g.seed, Tool: "shrink", Created: created(), Options: opts}
	if p.Options == nil {
		p.Options = map[string]string{}
	}
	if in != nil {
		p.DataInfo = in.Provenance.DataInfo
		p.Passes = slices.Clone(in.Provenance.Passes)
	}
	if ds != nil {
		p.Data = ds.Info.Source
		if len(p.DataInfo) == 0 {
			p.DataInfo, _ = json.Marshal(ds.Info)
		}
	}
	return p
}

// limits is the resource budget of this run: the defaults, raised or
// lowered by the --max-* flags (run resets it).
var limits budget.Budget

// budgetFlag sets one limit of the budget from its flag.
type budgetFlag struct{ name, def string }

func (f *budgetFlag) String() string {
	if v, err := limits.Get(f.name); err == nil && v != "" {
		return v
	}
	return f.def
}
func (f *budgetFlag) Set(v string) error { return limits.Set(f.name, v) }
func (f *budgetFlag) Type() string       { return "limit" }

// registerBudget adds the --max-* flags of the resource budget.
func registerBudget(fs *pflag.FlagSet) {
	for _, bf := range budget.Flags() {
		fs.Var(&budgetFlag{name: bf.Name, def: bf.Default}, bf.Name, bf.Usage)
	}
}

// created is the creation time stored in files this run writes
// (SOURCE_DATE_EPOCH when set; checked before any work in run).
func created() string {
	t, err := format.Now()
	if err != nil {
		return time.Now().UTC().Format(time.RFC3339)
	}
	return t
}

// checkOutput refuses an output path that is one of the command's inputs,
// or an existing path that is not a regular file (unless --write-through).
func checkOutput(g *globals, out string, inputs ...string) error {
	if out == "" {
		return nil
	}
	var in []string
	for _, p := range inputs {
		if p != "" && p != data.KindMNISTMini {
			in = append(in, p)
		}
	}
	if err := (atomicfile.Options{WriteThrough: g.writeThrough}).CheckOutput(out, in...); err != nil {
		return fmt.Errorf("-o %s: %w", out, err)
	}
	return nil
}

// writeModel writes a model file to path; with --write-through an
// existing symlink, device or FIFO there is written through.
func writeModel(g *globals, path string, f *format.File) error {
	if g.writeThrough {
		return format.WriteThrough(path, f)
	}
	return format.Write(path, f)
}

// stamp is the provenance of a file made from a model with provenance in
// by one pass: in's record (data, split, earlier passes) with this command
// line, the creation time, the accuracy measured at export, and the pass
// appended.
func (g *globals) stamp(in format.Provenance, name string, opts map[string]string, accuracy float64) format.Provenance {
	p := in
	p.Command, p.Created, p.Accuracy, p.Tool = commandLine(), created(), accuracy, "shrink"
	p.Passes = append(slices.Clone(in.Passes), format.Pass{Name: name, Options: opts, Seed: g.seed, Accuracy: accuracy})
	return p
}
