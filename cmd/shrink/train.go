package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// trainOptions are the flags of `shrink train`.
type trainOptions struct {
	arch        string
	data        dataFlags
	epochs      int
	batch       int
	lr          float64
	optimizer   string
	momentum    float64
	weightDecay float64
	schedule    string
	stepSize    int
	gamma       float64
	valFraction float64
	out         string
	json        bool
}

func init() { commands = append(commands, newTrainCmd) }

func newTrainCmd(g *globals) *cobra.Command {
	o := &trainOptions{}
	c := &cobra.Command{
		Use:   "train --arch ARCH [--data DATA] -o MODEL",
		Short: "train a baseline network and write it to a model file",
		Long: `Train a network from scratch and write it to a model file. The model file
records the architecture, the data set and its split, the options, the seed
and the test accuracy measured when it was written.

` + nn.ArchHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runTrain(cmd.Context(), g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.arch, "arch", "", "architecture: a preset (lenet300, lenet5, mlp:H1,H2,...) or a layer list (required)")
	o.data.register(f)
	f.IntVar(&o.epochs, "epochs", 10, "training epochs")
	f.IntVar(&o.batch, "batch", 128, "mini-batch size")
	f.Float64Var(&o.lr, "lr", 0, "initial learning rate (default 0.001 for adam, 0.05 for sgd)")
	f.StringVar(&o.optimizer, "optimizer", "adam", "optimizer: adam or sgd (with momentum)")
	f.Float64Var(&o.momentum, "momentum", 0.9, "SGD momentum")
	f.Float64Var(&o.weightDecay, "weight-decay", 0, "L2 weight decay on weights (not biases)")
	f.StringVar(&o.schedule, "schedule", "cosine", "learning-rate schedule: const, step or cosine")
	f.IntVar(&o.stepSize, "step-size", 5, "step schedule: epochs between decays")
	f.Float64Var(&o.gamma, "gamma", 0.1, "step schedule: decay factor")
	f.Float64Var(&o.valFraction, "val-fraction", 0, "fraction of the training data carved out (seeded) for per-epoch validation; 0 trains on all of it")
	f.StringVarP(&o.out, "output", "o", "", "model file to write (required)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// trainResult is what `train --json` prints.
type trainResult struct {
	Model         string         `json:"model"`
	Arch          string         `json:"arch"`
	Accuracy      float64        `json:"accuracy"`
	Loss          float64        `json:"loss"`
	Params        int64          `json:"params"`
	NonzeroParams int64          `json:"nonzero_params"`
	MACs          int64          `json:"macs"`
	FileBytes     int64          `json:"file_bytes"`
	Seconds       float64        `json:"seconds"`
	Epochs        []nn.EpochInfo `json:"epochs"`
}

func (o *trainOptions) validate() error {
	if o.arch == "" {
		return usagef("--arch is required (e.g. lenet300, lenet5, mlp:100)")
	}
	if o.out == "" {
		return usagef("-o/--output is required")
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
	if o.lr < 0 || math.IsNaN(o.lr) {
		return usagef("--lr %v must be positive", o.lr)
	}
	if o.valFraction < 0 || o.valFraction >= 1 {
		return usagef("--val-fraction %v must be in [0, 1)", o.valFraction)
	}
	switch o.schedule {
	case "const", "step", "cosine":
	default:
		return usagef("--schedule %q: want const, step or cosine", o.schedule)
	}
	return nil
}

func (o *trainOptions) config(seed int64) nn.TrainConfig {
	lr := o.lr
	if lr == 0 {
		lr = 0.001
		if o.optimizer == "sgd" {
			lr = 0.05
		}
	}
	return nn.TrainConfig{
		Epochs: o.epochs, Batch: o.batch, Optimizer: o.optimizer, Momentum: o.momentum, WeightDecay: o.weightDecay,
		Schedule: nn.Schedule{Kind: o.schedule, Base: lr, StepSize: o.stepSize, Gamma: o.gamma, Min: 0},
		Seed:     uint64(seed),
	}
}

func runTrain(ctx context.Context, g *globals, o *trainOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := checkOutput(g, o.out, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	ds, err := loadData(&o.data, g.seed, nil)
	if err != nil {
		return err
	}
	res, err := trainModel(ctx, g, o, ds)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printTrainResult(g.stdout, res)
	return nil
}

// trainModel trains and writes a model; shared by train and demo.
func trainModel(ctx context.Context, g *globals, o *trainOptions, ds *data.Data) (*trainResult, error) {
	specs, err := nn.ParseArch(o.arch, nn.Shape(ds.Train.Shape), ds.Train.Classes)
	if err != nil {
		return nil, usagef("--arch: %v", err)
	}
	m, err := nn.Build(nn.Shape(ds.Train.Shape), specs)
	if err != nil {
		return nil, usagef("--arch: %v", err)
	}
	m.Init(uint64(g.seed))
	if err := m.CheckTrain(limits, o.batch, o.optimizer); err != nil {
		return nil, err
	}
	train := ds.Train
	cfg := o.config(g.seed)
	if o.valFraction > 0 {
		var val *data.Set
		train, val = ds.Train.Split(o.valFraction, g.seed)
		cfg.ValX, cfg.ValY = val.X, val.Y
		ds.Train = nil // the split holds copies; let the original go
	}
	cfg.OnBatch, cfg.OnEpoch = trainProgress(g, o.arch, o.epochs)
	start := time.Now()
	hist, err := nn.Train(ctx, m, train.X, train.Y, cfg)
	if err != nil {
		return nil, fmt.Errorf("training %s: %w", o.arch, err)
	}
	secs := time.Since(start).Seconds()
	ev, err := nn.EvaluateWithin(m, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return nil, err
	}
	info, _ := json.Marshal(ds.Info)
	f := &format.File{Model: m, Compress: true, Provenance: format.Provenance{
		Command: commandLine(), Seed: g.seed, Data: ds.Info.Source, DataInfo: info, Accuracy: ev.Accuracy, Tool: "shrink",
		Created: created(),
		Options: map[string]string{
			"arch": o.arch, "epochs": strconv.Itoa(o.epochs), "batch": strconv.Itoa(o.batch), "optimizer": o.optimizer,
			"lr": strconv.FormatFloat(cfg.Schedule.Base, 'g', -1, 64), "schedule": o.schedule,
			"weight_decay": strconv.FormatFloat(o.weightDecay, 'g', -1, 64), "val_fraction": strconv.FormatFloat(o.valFraction, 'g', -1, 64),
		},
	}}
	if err := writeModel(g, o.out, f); err != nil {
		return nil, err
	}
	st := m.Stats()
	return &trainResult{
		Model: o.out, Arch: o.arch, Accuracy: ev.Accuracy, Loss: ev.Loss, Params: st.Params, NonzeroParams: st.NonZero,
		MACs: st.MACs, FileBytes: fileSize(o.out), Seconds: secs, Epochs: hist,
	}, nil
}

func printTrainResult(w io.Writer, r *trainResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", r.Model)
	fmt.Fprintf(tw, "arch\t%s\n", r.Arch)
	fmt.Fprintf(tw, "test accuracy\t%.2f%%\n", 100*r.Accuracy)
	fmt.Fprintf(tw, "test loss\t%.4f\n", r.Loss)
	fmt.Fprintf(tw, "parameters\t%d\n", r.Params)
	fmt.Fprintf(tw, "MACs/sample\t%d\n", r.MACs)
	fmt.Fprintf(tw, "file bytes\t%d\n", r.FileBytes)
	fmt.Fprintf(tw, "training time\t%.1fs\n", r.Seconds)
	tw.Flush()
}
