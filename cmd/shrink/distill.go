package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// distillOptions are the flags of `shrink distill`.
type distillOptions struct {
	teacher      string
	arch         string
	data         dataFlags
	temperature  float64
	alpha        float64
	hints        []string
	augment      bool
	epochs       int
	batch        int
	lr           float64
	optimizer    string
	trainSamples int
	valFraction  float64
	baseline     bool
	out          string
	json         bool
}

func init() { commands = append(commands, newDistillCmd) }

func newDistillCmd(g *globals) *cobra.Command {
	o := &distillOptions{}
	c := &cobra.Command{
		Use:   "distill --teacher MODEL --arch ARCH [--data DATA] -o OUT",
		Short: "train a small student network to imitate a teacher model",
		Long: `Train a student network of architecture ARCH to imitate the teacher MODEL
(knowledge distillation, Hinton et al. 2015): the loss is

  alpha·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−alpha)·CE(student, label)

plus, for every --hint TLAYER:SLAYER[:WEIGHT], WEIGHT times the mean squared
error between the teacher layer's output and the student layer's output
mapped through a learned linear projection (discarded after training). Layer
names are those shown by 'shrink inspect'.

The teacher can be any model file shrink reads (float, pruned, quantized). When
inputs are not augmented its outputs are computed once and cached; with
--augment it runs on every shifted batch.

The command prints the teacher's and the student's test accuracy, their
agreement with the teacher, parameters, MACs and file bytes side by side;
--baseline also trains the same student on labels alone with the same
epochs, schedule, augmentation and seed and adds its row. Without --data the
split recorded in the teacher's file is used.

` + nn.ArchHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDistill(cmd.Context(), g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.teacher, "teacher", "", "teacher model file (required)")
	f.StringVar(&o.arch, "arch", "", "student architecture: a preset (lenet300, lenet5, mlp:H1,H2,...) or a layer list (required)")
	o.data.register(f)
	f.Float64Var(&o.temperature, "temperature", 4, "softening temperature T (> 0)")
	f.Float64Var(&o.alpha, "alpha", 0.9, "weight of the soft-target loss in [0, 1]; 0 is training on labels alone")
	f.StringArrayVar(&o.hints, "hint", nil, "feature hint TLAYER:SLAYER[:WEIGHT] (weight default 1); repeatable")
	f.BoolVar(&o.augment, "augment", false, "shift each training image by a random offset of up to ±2 pixels (seeded)")
	f.IntVar(&o.epochs, "epochs", 10, "training epochs")
	f.IntVar(&o.batch, "batch", 128, "mini-batch size")
	f.Float64Var(&o.lr, "lr", 0, "initial learning rate, cosine schedule (default 0.001 for adam, 0.05 for sgd)")
	f.StringVar(&o.optimizer, "optimizer", "adam", "optimizer: adam or sgd (momentum 0.9)")
	f.IntVar(&o.trainSamples, "train-samples", 0, "use only the first N training samples (0: all); for quick or data-scarce runs")
	f.Float64Var(&o.valFraction, "val-fraction", 0, "carve this fraction (seeded) out of the training data and report each model's accuracy on it as val_accuracy, for choosing T and alpha without the test set")
	f.BoolVar(&o.baseline, "baseline", false, "also train the student on labels alone with the same budget and seed, and add its row")
	f.StringVarP(&o.out, "output", "o", "", "student model file to write (required)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// distillRow is one model of the comparison.
type distillRow struct {
	Name          string  `json:"name"` // teacher, student or baseline
	Model         string  `json:"model,omitempty"`
	Accuracy      float64 `json:"accuracy"`
	ValAccuracy   float64 `json:"val_accuracy,omitempty"`
	Agreement     float64 `json:"agreement"` // with the teacher's test predictions
	Params        int64   `json:"params"`
	NonzeroParams int64   `json:"nonzero_params"`
	MACs          int64   `json:"macs"`
	FileBytes     int64   `json:"file_bytes"`
	Seconds       float64 `json:"seconds,omitempty"`
}

// distillResult is what `distill --json` prints; the top-level numbers are
// the student's.
type distillResult struct {
	Model         string          `json:"model"`
	Accuracy      float64         `json:"accuracy"`
	Params        int64           `json:"params"`
	NonzeroParams int64           `json:"nonzero_params"`
	MACs          int64           `json:"macs"`
	FileBytes     int64           `json:"file_bytes"`
	Temperature   float64         `json:"temperature"`
	Alpha         float64         `json:"alpha"`
	Augment       bool            `json:"augment"`
	TrainSamples  int             `json:"train_samples"`
	Rows          []distillRow    `json:"rows"`
	Report        distill.Report  `json:"report"`
	Baseline      *distill.Report `json:"baseline_report,omitempty"`
}

func (o *distillOptions) validate() error {
	if o.teacher == "" {
		return usagef("--teacher is required")
	}
	if o.arch == "" {
		return usagef("--arch is required (e.g. mlp:50)")
	}
	if o.out == "" {
		return usagef("-o/--output is required")
	}
	if !(o.temperature > 0) || math.IsInf(o.temperature, 0) {
		return usagef("--temperature %v must be positive", o.temperature)
	}
	if !(o.alpha >= 0 && o.alpha <= 1) {
		return usagef("--alpha %v must be in [0, 1]", o.alpha)
	}
	if o.epochs < 0 {
		return usagef("--epochs %d must not be negative", o.epochs)
	}
	if o.batch <= 0 {
		return usagef("--batch %d must be positive", o.batch)
	}
	if o.optimizer != "adam" && o.optimizer != "sgd" {
		return usagef("--optimizer %q: want adam or sgd", o.optimizer)
	}
	if o.lr < 0 || math.IsNaN(o.lr) || math.IsInf(o.lr, 0) {
		return usagef("--lr %v must be positive", o.lr)
	}
	if o.trainSamples < 0 {
		return usagef("--train-samples %d must not be negative", o.trainSamples)
	}
	if !(o.valFraction >= 0 && o.valFraction < 1) {
		return usagef("--val-fraction %v must be in [0, 1)", o.valFraction)
	}
	_, err := parseHints(o.hints)
	return err
}

// parseHints parses TLAYER:SLAYER[:WEIGHT] flags.
func parseHints(specs []string) ([]distill.Hint, error) {
	var hs []distill.Hint
	for _, s := range specs {
		p := strings.Split(s, ":")
		if len(p) < 2 || len(p) > 3 || p[0] == "" || p[1] == "" {
			return nil, usagef("--hint %q: want TLAYER:SLAYER[:WEIGHT]", s)
		}
		h := distill.Hint{Teacher: p[0], Student: p[1], Weight: 1}
		if len(p) == 3 {
			w, err := strconv.ParseFloat(p[2], 64)
			if err != nil || !(w >= 0) || math.IsInf(w, 0) {
				return nil, usagef("--hint %q: weight %q is not a non-negative number", s, p[2])
			}
			h.Weight = w
		}
		hs = append(hs, h)
	}
	return hs, nil
}

// libOptions are the library's distillation options and the training
// configuration (cosine schedule) of the flags.
func (o *distillOptions) libOptions(seed int64) (distill.Options, nn.TrainConfig) {
	hs, _ := parseHints(o.hints)
	lr := o.lr
	if lr == 0 {
		lr = 0.001
		if o.optimizer == "sgd" {
			lr = 0.05
		}
	}
	return distill.Options{Temperature: o.temperature, Alpha: o.alpha, Hints: hs, Augment: o.augment},
		nn.TrainConfig{Epochs: o.epochs, Batch: o.batch, Optimizer: o.optimizer, Momentum: 0.9,
			Schedule: nn.Schedule{Kind: "cosine", Base: lr}, Seed: uint64(seed)}
}

func runDistill(ctx context.Context, g *globals, o *distillOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := checkOutput(g, o.out, o.teacher, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	tf, err := loadModel(o.teacher)
	if err != nil {
		return err
	}
	teacher := tf.Model
	ds, err := loadData(&o.data, g.seed, tf)
	if err != nil {
		return err
	}
	if err := checkFits(teacher, ds); err != nil {
		return fmt.Errorf("--teacher %s: %w", o.teacher, err)
	}
	if ds.Test == nil || ds.Test.Len() == 0 {
		return fmt.Errorf("--data %s: the test part is empty", ds.Name)
	}
	train := ds.Train
	if o.trainSamples > 0 {
		train = train.Head(o.trainSamples)
	}
	var val *data.Set
	if o.valFraction > 0 {
		train, val = train.Split(o.valFraction, g.seed)
	}
	in := nn.Shape(train.Shape)
	specs, err := nn.ParseArch(o.arch, in, teacher.Classes())
	if err != nil {
		return usagef("--arch: %v", err)
	}
	newStudent := func() (*nn.Model, error) {
		m, err := nn.Build(in, specs)
		if err != nil {
			return nil, usagef("--arch: %v", err)
		}
		m.Init(uint64(g.seed))
		return m, nil
	}
	opt, cfg := o.libOptions(g.seed)

	// Teacher row.
	tpred, err := nn.Predict(teacher, ds.Test.X)
	if err != nil {
		return fmt.Errorf("--teacher %s: %w", o.teacher, err)
	}
	row := func(name, path string, m *nn.Model, bytes int64, secs float64) (distillRow, error) {
		ev, err := nn.EvaluateWithin(m, ds.Test.X, ds.Test.Y, limits)
		if err != nil {
			return distillRow{}, fmt.Errorf("evaluating the %s: %w", name, err)
		}
		pred, err := nn.Predict(m, ds.Test.X)
		if err != nil {
			return distillRow{}, fmt.Errorf("evaluating the %s: %w", name, err)
		}
		st := m.Stats()
		r := distillRow{Name: name, Model: path, Accuracy: ev.Accuracy, Agreement: nn.Agreement(pred, tpred),
			Params: st.Params, NonzeroParams: st.NonZero, MACs: st.MACs, FileBytes: bytes, Seconds: secs}
		if val != nil {
			vev, err := nn.EvaluateWithin(m, val.X, val.Y, limits)
			if err != nil {
				return distillRow{}, fmt.Errorf("validating the %s: %w", name, err)
			}
			r.ValAccuracy = vev.Accuracy
		}
		return r, nil
	}
	res := &distillResult{Model: o.out, Temperature: o.temperature, Alpha: o.alpha, Augment: o.augment, TrainSamples: train.Len()}
	tr, err := row("teacher", o.teacher, teacher, fileSize(o.teacher), 0)
	if err != nil {
		return err
	}

	// Student.
	student, err := newStudent()
	if err != nil {
		return err
	}
	for _, h := range opt.Hints {
		if teacher.Layer(h.Teacher) == nil {
			return usagef("--hint %s:%s: the teacher has no layer %q (see shrink inspect %s)", h.Teacher, h.Student, h.Teacher, o.teacher)
		}
		if student.Layer(h.Student) == nil {
			return usagef("--hint %s:%s: the student %s has no layer %q", h.Teacher, h.Student, o.arch, h.Student)
		}
	}
	g.logf("shrink distill: %s → %s on %s (%d training images, T=%g, alpha=%g)\n", o.teacher, o.arch, ds.Name, train.Len(), o.temperature, o.alpha)
	scfg := cfg
	scfg.OnBatch, scfg.OnEpoch = trainProgress(g, "distill "+o.arch, o.epochs)
	rep, err := distill.Distill(ctx, teacher, student, train, opt, scfg)
	if err != nil {
		return fmt.Errorf("distilling %s into %s: %w", o.teacher, o.arch, err)
	}
	switch {
	case rep.TeacherCached:
		g.logf("teacher outputs computed once for %d training images and cached\n", train.Len())
	case rep.TeacherPasses == 0:
		g.logf("alpha 0: label training, the teacher was not run during training\n")
	default:
		g.logf("teacher ran on every augmented batch (%d image passes)\n", rep.TeacherPasses)
	}
	ev, err := nn.EvaluateWithin(student, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(ds.Info)
	passOpts := map[string]string{
		"teacher": o.teacher, "arch": o.arch, "temperature": fmtFloat(o.temperature), "alpha": fmtFloat(o.alpha),
		"augment": strconv.FormatBool(o.augment), "epochs": strconv.Itoa(o.epochs), "batch": strconv.Itoa(o.batch),
		"lr": fmtFloat(cfg.Schedule.Base), "optimizer": o.optimizer, "schedule": "cosine",
		"train_samples": strconv.Itoa(train.Len()), "val_fraction": fmtFloat(o.valFraction),
		"teacher_cached": strconv.FormatBool(rep.TeacherCached),
	}
	if len(o.hints) > 0 {
		passOpts["hints"] = strings.Join(o.hints, ",")
	}
	prov := g.provenance(ds, nil, passOpts)
	prov.DataInfo = info
	file := &format.File{Model: student, Compress: true, Provenance: g.stamp(prov, "distill", passOpts, ev.Accuracy)}
	if err := writeModel(g, o.out, file); err != nil {
		return err
	}
	sr, err := row("student", o.out, student, fileSize(o.out), rep.Seconds)
	if err != nil {
		return err
	}
	res.Rows = []distillRow{tr, sr}
	res.Report = rep
	res.Accuracy, res.Params, res.NonzeroParams, res.MACs, res.FileBytes = sr.Accuracy, sr.Params, sr.NonzeroParams, sr.MACs, sr.FileBytes

	// Baseline: the same student, schedule, augmentation and seed on labels alone.
	if o.baseline {
		base, err := newStudent()
		if err != nil {
			return err
		}
		bopt := opt
		bopt.Alpha, bopt.Hints = 0, nil
		bcfg := cfg
		bcfg.OnBatch, bcfg.OnEpoch = trainProgress(g, "baseline "+o.arch, o.epochs)
		brep, err := distill.Distill(ctx, nil, base, train, bopt, bcfg)
		if err != nil {
			return fmt.Errorf("training the label-only baseline %s: %w", o.arch, err)
		}
		cw := &countWriter{}
		if err := format.Encode(cw, &format.File{Model: base, Compress: true, Provenance: file.Provenance}); err != nil {
			return fmt.Errorf("sizing the baseline: %w", err)
		}
		br, err := row("baseline", "", base, cw.n, brep.Seconds)
		if err != nil {
			return err
		}
		res.Rows = append(res.Rows, br)
		res.Baseline = &brep
	}
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printDistill(g.stdout, res)
	return nil
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// countWriter counts the bytes written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func printDistill(w io.Writer, r *distillResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	val := r.Rows[0].ValAccuracy > 0
	hdr := "model\taccuracy\t"
	if val {
		hdr += "val acc\t"
	}
	fmt.Fprintln(tw, hdr+"agreement\tparams\tnon-zero\tMACs\tfile bytes\t")
	for _, row := range r.Rows {
		line := fmt.Sprintf("%s\t%.2f%%\t", row.Name, 100*row.Accuracy)
		if val {
			line += fmt.Sprintf("%.2f%%\t", 100*row.ValAccuracy)
		}
		fmt.Fprintf(tw, "%s%.2f%%\t%d\t%d\t%d\t%d\t\n", line, 100*row.Agreement, row.Params, row.NonzeroParams, row.MACs, row.FileBytes)
	}
	tw.Flush()
	cache := "teacher outputs cached once"
	switch {
	case !r.Report.TeacherCached && r.Report.TeacherPasses == 0:
		cache = "labels only, teacher not run during training"
	case !r.Report.TeacherCached:
		cache = fmt.Sprintf("teacher run on every batch (%d image passes)", r.Report.TeacherPasses)
	}
	fmt.Fprintf(w, "\nT=%g alpha=%g augment=%v, %d training images; %s; student written to %s\n",
		r.Temperature, r.Alpha, r.Augment, r.TrainSamples, cache, r.Model)
}
