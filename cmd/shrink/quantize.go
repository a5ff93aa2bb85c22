package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/quantize"
)

// quantizeOptions are the flags of `shrink quantize`.
type quantizeOptions struct {
	model          string
	data           dataFlags
	scheme         string
	granularity    string
	activations    string
	observer       string
	calib          int
	qatEpochs      int
	teacher        string
	temperature    float64
	alpha          float64
	batch          int
	lr             float64
	keepFloat      []string
	sensitivity    bool
	valFraction    float64
	biasCorrection bool
	dryRun         bool
	out            string
	json           bool
}

func init() { commands = append(commands, newQuantizeCmd) }

func newQuantizeCmd(g *globals) *cobra.Command {
	o := &quantizeOptions{}
	c := &cobra.Command{
		Use:   "quantize MODEL [--data DATA] --scheme SCHEME [flags] -o OUT",
		Short: "quantize a model's weights (and activations) to int8, int4, ggml blocks, float16 or a codebook",
		Long: `Quantize the weights of every dense and convolution layer and write the
quantized model. It prints a per-layer table (scheme, bits per weight, bytes,
quantization error as SQNR in dB) and the test accuracy before and after.

Schemes:
  int8       symmetric int8, per output channel (--granularity channel, the
             default) or per tensor; with --activations static or dynamic the
             layers run on the integer kernels (uint8 x int8 -> int32)
  int4       symmetric 4-bit in blocks (--granularity block:N, default 32;
             rows are padded to a multiple of the block); int4_asym: with a
             per-block minimum
  q8_0, q4_0 ggml's block formats (block 32), byte for byte
  fp16       IEEE half precision
  cluster:K  k-means weight sharing with K centroids (2..256) per layer

Calibration (static activations, bias correction, QAT) uses a seeded sample
of the training part of the data set, never the test part.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runQuantize(cmd.Context(), g, o)
		},
	}
	f := c.Flags()
	o.data.register(f)
	f.StringVar(&o.scheme, "scheme", "int8", "int8, int4, int4_asym, q8_0, q4_0, fp16 or cluster:K")
	f.StringVar(&o.granularity, "granularity", "", "int8: channel (default) or tensor; int4: block:N (default block:32) or channel")
	f.StringVar(&o.activations, "activations", "static", "int8 only: static (calibrated, integer path), dynamic (range per batch, integer path) or none (weight-only); other schemes are weight-only")
	f.StringVar(&o.observer, "observer", "minmax", "static calibration: minmax, ema, percentile:P, mse or entropy")
	f.IntVar(&o.calib, "calib", 512, "calibration samples drawn (seeded) from the training data")
	f.IntVar(&o.qatEpochs, "qat-epochs", 0, "quantization-aware fine-tuning epochs (for cluster:K: centroid fine-tuning)")
	f.StringVar(&o.teacher, "teacher", "", "fine-tune (--qat-epochs) by distillation from this model, e.g. the float one")
	f.Float64Var(&o.temperature, "temperature", 4, "distillation temperature (with --teacher)")
	f.Float64Var(&o.alpha, "alpha", 0.9, "weight of the soft-target loss (with --teacher)")
	f.IntVar(&o.batch, "batch", 128, "QAT mini-batch size")
	f.Float64Var(&o.lr, "lr", 1e-4, "QAT learning rate (Adam, cosine schedule)")
	f.StringSliceVar(&o.keepFloat, "keep-float", nil, "layers to keep in float32 (comma-separated names, see `shrink inspect`)")
	f.BoolVar(&o.sensitivity, "sensitivity", false, "also quantize one layer at a time and print each layer's accuracy drop, on a validation split carved from the training data (never the test split)")
	f.Float64Var(&o.valFraction, "val-fraction", 0.1, "with --sensitivity: the fraction of the training data (seeded) carved out as its validation split; calibration for the scan uses the rest")
	f.BoolVar(&o.biasCorrection, "bias-correction", false, "subtract the expected output shift of the weight error from each bias (calibrated)")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the report without writing a file")
	f.StringVarP(&o.out, "output", "o", "", "model file to write (required unless --dry-run)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// quantizeResult is what `quantize --json` prints.
type quantizeResult struct {
	Model          string                      `json:"model,omitempty"`
	Input          string                      `json:"input"`
	Scheme         string                      `json:"scheme"`
	Activations    string                      `json:"activations"`
	Accuracy       float64                     `json:"accuracy"`
	AccuracyBefore float64                     `json:"accuracy_before"`
	Params         int64                       `json:"params"`
	NonzeroParams  int64                       `json:"nonzero_params"`
	MACs           int64                       `json:"macs"`
	FileBytes      int64                       `json:"file_bytes"`
	FileBytesIn    int64                       `json:"file_bytes_before"`
	BitsPerWeight  float64                     `json:"bits_per_weight"`
	Paths          map[string]string           `json:"paths"`
	Layers         []quantize.LayerReport      `json:"layers"`
	Sensitivity    []quantize.LayerSensitivity `json:"sensitivity,omitempty"`
	ValImages      int                         `json:"val_images,omitempty"` // the sensitivity scan's validation split
	QATEpochs      []nn.EpochInfo              `json:"qat_epochs,omitempty"`
	DryRun         bool                        `json:"dry_run,omitempty"`
	Seconds        float64                     `json:"seconds"`
}

func (o *quantizeOptions) parse() (quantize.Options, error) {
	s, err := quantize.Parse(o.scheme, o.granularity)
	if err != nil {
		return quantize.Options{}, usagef("--scheme/--granularity: %v", err)
	}
	opt := quantize.Options{Scheme: s, Observer: o.observer, Calib: o.calib, KeepFloat: o.keepFloat, BiasCorrection: o.biasCorrection, DryRun: o.dryRun}
	_, int8 := s.(quantize.Int8)
	switch o.activations {
	case "static":
		if int8 {
			opt.Activations = nn.ActStatic
		}
	case "dynamic":
		if !int8 {
			return opt, usagef("--activations dynamic needs --scheme int8")
		}
		opt.Activations = nn.ActDynamic
	case "none":
	default:
		return opt, usagef("--activations %q: want static, dynamic or none", o.activations)
	}
	if _, err := quantize.NewObserver(o.observer, 0); err != nil {
		return opt, usagef("--observer: %v", err)
	}
	if o.calib <= 0 {
		return opt, usagef("--calib %d must be positive", o.calib)
	}
	if o.qatEpochs < 0 || o.batch <= 0 || !(o.lr > 0) {
		return opt, usagef("--qat-epochs, --batch and --lr must be positive")
	}
	if !(o.valFraction > 0 && o.valFraction < 1) {
		return opt, usagef("--val-fraction %v must be in (0, 1)", o.valFraction)
	}
	if o.out == "" && !o.dryRun {
		return opt, usagef("-o/--output is required (or --dry-run)")
	}
	return opt, nil
}

func (o *quantizeOptions) passOptions() map[string]string {
	return map[string]string{
		"scheme": o.scheme, "granularity": o.granularity, "activations": o.activations, "observer": o.observer,
		"calib": strconv.Itoa(o.calib), "qat_epochs": strconv.Itoa(o.qatEpochs), "teacher": o.teacher, "keep_float": strings.Join(o.keepFloat, ","),
		"bias_correction": strconv.FormatBool(o.biasCorrection), "lr": strconv.FormatFloat(o.lr, 'g', -1, 64), "batch": strconv.Itoa(o.batch),
	}
}

func runQuantize(ctx context.Context, g *globals, o *quantizeOptions) error {
	opt, err := o.parse()
	if err != nil {
		return err
	}
	if err := checkOutput(g, o.out, o.model, o.teacher, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	opt.Seed = g.seed
	in, err := loadModel(o.model)
	if err != nil {
		return err
	}
	m := in.Model
	for _, l := range o.keepFloat {
		if m.Layer(l) == nil {
			return usagef("--keep-float: the model has no layer %q", l)
		}
	}
	ds, err := loadData(&o.data, g.seed, in)
	if err != nil {
		return err
	}
	if err := checkFits(m, ds); err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	start := time.Now()
	before, err := nn.EvaluateWithin(m, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return err
	}
	res := &quantizeResult{Input: o.model, Activations: opt.Activations.String(), AccuracyBefore: before.Accuracy, FileBytesIn: fileSize(o.model), DryRun: o.dryRun}
	if o.sensitivity {
		rest, val := ds.Train.Split(o.valFraction, g.seed)
		if val.Len() == 0 || rest.Len() == 0 {
			return usagef("--val-fraction %v leaves no validation or calibration images of %d", o.valFraction, ds.Train.Len())
		}
		g.logf("sensitivity: quantizing one layer at a time, measured on %d validation images carved from the training data\n", val.Len())
		if res.Sensitivity, err = quantize.Sensitivity(m, rest, val, opt); err != nil {
			return err
		}
		res.ValImages = val.Len()
	}
	cfg := nn.TrainConfig{Epochs: o.qatEpochs, Batch: o.batch, Optimizer: "adam",
		Schedule: nn.Schedule{Kind: "cosine", Base: o.lr}, Seed: uint64(g.seed)}
	cfg.OnBatch, cfg.OnEpoch = trainProgress(g, "qat", o.qatEpochs)
	if o.teacher != "" {
		if o.qatEpochs == 0 {
			return usagef("--teacher needs --qat-epochs > 0")
		}
		tf, err := loadModel(o.teacher)
		if err != nil {
			return fmt.Errorf("--teacher: %w", err)
		}
		if err := checkFits(tf.Model, ds); err != nil {
			return fmt.Errorf("--teacher %s: %w", o.teacher, err)
		}
		if cfg.Loss, err = distill.Loss(tf.Model, ds.Train.X, o.temperature, o.alpha); err != nil {
			return fmt.Errorf("--teacher %s: %w", o.teacher, err)
		}
	}
	_, codebook := opt.Scheme.(quantize.Codebook)
	if o.qatEpochs > 0 && !o.dryRun && !codebook {
		qr, err := quantize.QAT(ctx, m, ds.Train, ds.Train, opt, cfg)
		if err != nil {
			return err
		}
		opt.Act, res.QATEpochs = qr.Act, qr.Epochs
	}
	rep, err := quantize.Quantize(m, ds.Train, opt)
	if err != nil {
		return err
	}
	if o.qatEpochs > 0 && !o.dryRun && codebook {
		if res.QATEpochs, err = quantize.FineTuneCodebook(ctx, m, ds.Train, cfg); err != nil {
			return err
		}
	}
	res.Scheme, res.Layers, res.BitsPerWeight = rep.Scheme, rep.Layers, rep.BitsPerWeight
	after := before
	if !o.dryRun {
		if after, err = nn.EvaluateWithin(m, ds.Test.X, ds.Test.Y, limits); err != nil {
			return err
		}
	}
	res.Accuracy = after.Accuracy
	st := m.Stats()
	res.Params, res.NonzeroParams, res.MACs = st.Params, st.NonZero, st.MACs
	res.Paths = m.Paths()
	if !o.dryRun {
		f := &format.File{Model: m, Compress: true, Provenance: in.Provenance}
		if err := format.Choose(f, format.ChooseOptions{}); err != nil {
			return err
		}
		f.Provenance = g.stamp(in.Provenance, "quantize", o.passOptions(), after.Accuracy)
		if err := writeModel(g, o.out, f); err != nil {
			return err
		}
		res.Model = o.out
		res.FileBytes = fileSize(o.out)
	}
	res.Seconds = time.Since(start).Seconds()
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printQuantize(g.stdout, res)
	return nil
}

func printQuantize(w io.Writer, r *quantizeResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tscheme\tbits/weight\tbytes before\tbytes after\tSQNR dB\tactivations\tpath")
	for _, l := range r.Layers {
		act := l.Activation
		if l.Activation == "static" {
			act = fmt.Sprintf("static s=%.4g z=%d", l.ActScale, l.ActZero)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%d\t%d\t%.1f\t%s\t%s\n", l.Layer, l.Scheme, l.BitsPerWeight, l.BytesBefore, l.BytesAfter, l.SQNR, act, r.Paths[l.Layer])
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(r.Sensitivity) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(w, "sensitivity on %d validation images carved from the training data\n", r.ValImages)
		fmt.Fprintln(tw, "sensitivity: layer\taccuracy alone\tdrop (points)\tSQNR dB")
		for _, s := range r.Sensitivity {
			fmt.Fprintf(tw, "%s\t%.2f%%\t%+.2f\t%.1f\n", s.Layer, 100*s.Accuracy, 100*s.Drop, s.SQNR)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "scheme %s, activations %s, %.2f bits per weight\n", r.Scheme, r.Activations, r.BitsPerWeight)
	fmt.Fprintf(w, "accuracy %.2f%% -> %.2f%% (%+.2f points)\n", 100*r.AccuracyBefore, 100*r.Accuracy, 100*(r.Accuracy-r.AccuracyBefore))
	if r.DryRun {
		fmt.Fprintln(w, "dry run: no file written")
		return
	}
	fmt.Fprintf(w, "file %s: %d bytes (%.1f%% of %d)\n", r.Model, r.FileBytes, 100*float64(r.FileBytes)/float64(max(r.FileBytesIn, 1)), r.FileBytesIn)
}
