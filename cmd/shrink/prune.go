package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
)

// pruneOptions are the flags of `shrink prune`.
type pruneOptions struct {
	model          string
	data           dataFlags
	sparsity       float64
	method         string
	scope          string
	criterion      string
	schedule       string
	steps          int
	finetuneEpochs int
	batch          int
	lr             float64
	optimizer      string
	layerSparsity  string
	sensitivity    bool
	sensLevels     []float64
	valFraction    float64
	teacher        string
	temperature    float64
	alpha          float64
	half           bool
	dryRun         bool
	out            string
	json           bool
}

func init() { commands = append(commands, newPruneCmd) }

func newPruneCmd(g *globals) *cobra.Command {
	o := &pruneOptions{}
	c := &cobra.Command{
		Use:   "prune MODEL [--data DATA] --sparsity S [--method M] -o OUT",
		Short: "remove weights, units or filters from a model and fine-tune it",
		Long: `Prune a model and write the smaller model. Methods:

  magnitude   remove the fraction S of weights with the smallest |w|, in every
              layer (--scope layer) or with one threshold across the layers
              (--scope global); --layer-sparsity overrides S per layer
  random      the same counts chosen at random (seeded): the control
  structured  remove the fraction S of each layer's units (dense) or filters
              (conv) ranked by --criterion, shrinking the following layer and
              any batch norm: the result is an ordinary smaller model
  nm:N:M      keep the N largest of every M consecutive weights of a row
              (nm:2:4 is the 2:4 pattern of sparse tensor cores)

Pruned weights are held at exactly zero through fine-tuning. Schedules:
oneshot prunes then fine-tunes for --finetune-epochs; gradual raises the
sparsity along Zhu & Gupta's cubic schedule in --steps pruning events over
the first three quarters of --finetune-epochs; iterative (Han et al.) runs
--steps rounds of prune then retrain --finetune-epochs, keeping the fraction
(1−S)^(k/steps) of the weights after round k. Fine-tuning uses the training
part of the data only; with --teacher it distils from that model.

Weights are written in whichever encoding is smallest per tensor (dense,
bitmask, relative indices, CSR or N:M; float32 values, or float16 with
--f16), so the file shrinks with sparsity, and a layer runs the sparse
kernel when that is faster. The table shows, per layer, parameters,
non-zeros, sparsity, bytes in the file and MACs before and after, and the
test accuracy before and after.

--sensitivity instead prunes each layer alone at several sparsities (no
fine-tuning) and prints the accuracy on a validation split carved from the
training data (--val-fraction), to choose --layer-sparsity.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runPrune(cmd.Context(), g, o)
		},
	}
	f := c.Flags()
	o.data.register(f)
	f.Float64Var(&o.sparsity, "sparsity", 0, "fraction of weights (structured: of units) to remove, in [0, 1)")
	f.StringVar(&o.method, "method", "magnitude", "magnitude, random, structured or nm:N:M")
	f.StringVar(&o.scope, "scope", "layer", "magnitude/random: layer (each layer loses S) or global (one threshold)")
	f.StringVar(&o.criterion, "criterion", "l1", "structured: rank units by l1, l2 or taylor (first-order, on 512 training samples)")
	f.StringVar(&o.schedule, "schedule", "oneshot", "oneshot, gradual or iterative")
	f.IntVar(&o.steps, "steps", 0, "pruning events (gradual, default 10) or rounds (iterative, default 3)")
	f.IntVar(&o.finetuneEpochs, "finetune-epochs", 0, "fine-tuning epochs (iterative: per round)")
	f.IntVar(&o.batch, "batch", 128, "fine-tuning mini-batch size")
	f.Float64Var(&o.lr, "lr", 0, "fine-tuning learning rate, cosine schedule (default 0.0005 for adam, 0.01 for sgd)")
	f.StringVar(&o.optimizer, "optimizer", "adam", "fine-tuning optimizer: adam or sgd (momentum 0.9)")
	f.StringVar(&o.layerSparsity, "layer-sparsity", "", "per-layer overrides, e.g. fc1=0.95,fc3=0.7 (layer names from shrink inspect)")
	f.BoolVar(&o.sensitivity, "sensitivity", false, "scan accuracy against sparsity for each layer alone, print it, and write nothing")
	f.Float64SliceVar(&o.sensLevels, "sensitivity-levels", prune.DefaultSensitivities, "sparsities the scan tries")
	f.Float64Var(&o.valFraction, "val-fraction", 0, "carve this fraction of the training data (seeded) out as a validation split: fine-tuning trains on the rest and reports val_accuracy before, after and per epoch; the sensitivity scan measures on it (default 0.1 there)")
	f.StringVar(&o.teacher, "teacher", "", "fine-tune by distillation from this model (e.g. the unpruned one)")
	f.Float64Var(&o.temperature, "temperature", 4, "distillation temperature (with --teacher)")
	f.Float64Var(&o.alpha, "alpha", 0.9, "weight of the soft-target loss (with --teacher)")
	f.BoolVar(&o.half, "f16", false, "allow float16 values (sparse or dense) where they store a tensor in fewer bytes (lossy)")
	f.BoolVar(&o.dryRun, "dry-run", false, "report what pruning (without fine-tuning) would do; write nothing")
	f.StringVarP(&o.out, "output", "o", "", "model file to write (required unless --sensitivity or --dry-run)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

func runPrune(ctx context.Context, g *globals, o *pruneOptions) error {
	opt, err := o.validate()
	if err != nil {
		return err
	}
	if err := checkOutput(g, o.out, o.model, o.teacher, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	in, err := loadModel(o.model)
	if err != nil {
		return err
	}
	m := in.Model
	ds, err := loadData(&o.data, g.seed, in)
	if err != nil {
		return err
	}
	if err := checkFits(m, ds); err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	if ds.Test == nil || ds.Test.Len() == 0 {
		return fmt.Errorf("--data %s: the test part is empty", ds.Name)
	}
	opt.Seed = uint64(g.seed)
	for name := range opt.Layers {
		if a, ok := m.Layer(name).(nn.Accelerated); !ok || a == nil {
			return usagef("--layer-sparsity: %s has no dense or convolution layer %q (see shrink inspect %s)", o.model, name, o.model)
		}
	}
	start := time.Now()
	res := &pruneResult{Input: o.model, Method: o.method, Target: o.sparsity, FileBytesBefore: fileSize(o.model)}
	if opt.Method == prune.NM {
		res.Target = 1 - float64(opt.N)/float64(opt.M)
	}
	if opt.Method != prune.Structured {
		res.Scope = o.scope
	}
	if o.sensitivity {
		frac := o.valFraction
		if frac == 0 {
			frac = 0.1
		}
		_, val := ds.Train.Split(frac, g.seed)
		g.logf("shrink prune: sensitivity of %s on %d validation images carved from the training data\n", o.model, val.Len())
		pts, err := prune.Sensitivity(m, val.X, val.Y, o.sensLevels, opt)
		if err != nil {
			return err
		}
		res.Method, res.Sensitivity = "sensitivity", pts
		res.Seconds = time.Since(start).Seconds()
		if o.json {
			return writeJSON(g.stdout, res)
		}
		printSensitivity(g.stdout, pts)
		return nil
	}
	evBefore, err := nn.EvaluateWithin(m, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return err
	}
	res.AccuracyBefore = evBefore.Accuracy
	// With --val-fraction, fine-tuning (and a teacher's cached logits) sees
	// only the training part; the validation part is for choosing settings.
	train := ds.Train
	var val *data.Set
	if o.valFraction > 0 {
		train, val = ds.Train.Split(o.valFraction, g.seed)
		evVal, err := nn.EvaluateWithin(m, val.X, val.Y, limits)
		if err != nil {
			return err
		}
		res.ValImages, res.ValAccuracyBefore = val.Len(), evVal.Accuracy
	}
	stBefore := m.Stats()
	res.ParamsBefore, res.NonzeroParamsBefore, res.MACsBefore = stBefore.Params, stBefore.NonZero, stBefore.MACs
	beforeBytes := layerFileBytes(in.Tensors())
	if opt.Criterion == prune.Taylor {
		s := train.Head(512)
		opt.X, opt.Y = s.X, s.Y
	}

	var rep prune.Report
	if o.dryRun {
		opt.DryRun = true
		if rep, err = prune.Prune(m, opt); err != nil {
			return fmt.Errorf("pruning %s: %w", o.model, err)
		}
		// Measure what the pass would do on a copy.
		opt.DryRun = false
		m = m.Clone()
		if _, err := prune.Prune(m, opt); err != nil {
			return fmt.Errorf("pruning %s: %w", o.model, err)
		}
		res.DryRun = true
	} else if o.finetuneEpochs > 0 || o.schedule != "oneshot" {
		cfg := o.trainConfig(g.seed)
		cfg.OnBatch, cfg.OnEpoch = trainProgress(g, "prune "+o.method, o.finetuneEpochs)
		if val != nil {
			cfg.ValX, cfg.ValY = val.X, val.Y
		}
		if o.teacher != "" {
			tf, err := loadModel(o.teacher)
			if err != nil {
				return err
			}
			if err := checkFits(tf.Model, ds); err != nil {
				return fmt.Errorf("--teacher %s: %w", o.teacher, err)
			}
			if cfg.Loss, err = distill.Loss(tf.Model, train.X, o.temperature, o.alpha); err != nil {
				return fmt.Errorf("--teacher %s: %w", o.teacher, err)
			}
		}
		g.logf("shrink prune: %s %s to %.4g, %s schedule, fine-tuning on %d training images\n", o.model, o.method, res.Target, o.schedule, train.Len())
		var hist []nn.EpochInfo
		rep, hist, err = prune.Finetune(ctx, m, train, opt, prune.Schedule{Kind: o.schedule, Steps: o.stepCount()}, cfg)
		if err != nil {
			return fmt.Errorf("pruning %s: %w", o.model, err)
		}
		res.Epochs = hist
	} else {
		if rep, err = prune.Prune(m, opt); err != nil {
			return fmt.Errorf("pruning %s: %w", o.model, err)
		}
	}
	ev, err := nn.EvaluateWithin(m, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return err
	}
	res.Accuracy = ev.Accuracy
	if val != nil {
		evVal, err := nn.EvaluateWithin(m, val.X, val.Y, limits)
		if err != nil {
			return err
		}
		res.ValAccuracy = evVal.Accuracy
	}
	st := m.Stats()
	res.Params, res.NonzeroParams, res.MACs, res.EffectiveMACs = st.Params, st.NonZero, st.MACs, st.EffectiveMACs
	res.Sparsity = rep.Total.Sparsity

	// The output file: every tensor in its smallest encoding (quantized
	// tensors keep their codes; float16 only with --f16).
	file := &format.File{Model: m, Compress: true, Provenance: in.Provenance}
	if err := format.Choose(file, format.ChooseOptions{Lossy: o.half}); err != nil {
		return err
	}
	file.Provenance = g.stamp(in.Provenance, "prune", o.passOptions(), ev.Accuracy)
	var after map[string]int64
	encs := map[string]string{}
	for _, t := range file.Tensors() {
		if strings.HasSuffix(t.Name, ".weight") {
			encs[strings.TrimSuffix(t.Name, ".weight")] = t.Encoding.String()
		}
	}
	after = layerFileBytes(file.Tensors())
	if !o.dryRun {
		if err := writeModel(g, o.out, file); err != nil {
			return err
		}
		res.Model = o.out
		res.FileBytes = fileSize(o.out)
	} else {
		cw := &countWriter{}
		if err := format.Encode(cw, file); err != nil {
			return fmt.Errorf("sizing the pruned model: %w", err)
		}
		res.FileBytes = cw.n
	}
	m.Prepare()
	paths := m.Paths()
	for _, lr := range rep.Layers {
		res.Layers = append(res.Layers, pruneLayer{LayerReport: lr, FileBytesBefore: beforeBytes[lr.Layer],
			FileBytesAfter: after[lr.Layer], Encoding: encs[lr.Layer], Path: paths[lr.Layer]})
	}
	res.Seconds = time.Since(start).Seconds()
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printPrune(g.stdout, res)
	return nil
}
