package prune

import (
	"context"
	"fmt"
	"math"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// Schedule says how pruning is interleaved with fine-tuning.
type Schedule struct {
	// Kind is "oneshot" (prune, then fine-tune), "gradual" (Zhu & Gupta
	// 2017: the sparsity follows s_t = s_f·(1 − (1 − t/n)³) over n pruning
	// events spread evenly over the first three quarters of training) or
	// "iterative" (Han et al. 2015: n rounds of prune then retrain; round k
	// keeps the fraction (1 − s_f)^(k/n) of the weights).
	Kind string
	// Steps is n: pruning events (gradual) or rounds (iterative).
	Steps int
}

// Finetune runs the schedule on m with the training data train. cfg is the
// fine-tuning configuration: for oneshot and gradual, cfg.Epochs is the
// whole fine-tuning budget; for iterative, every round retrains cfg.Epochs
// epochs. cfg.AfterStep, if set, is called after the pruning hook. Masks
// keep pruned weights at exactly zero throughout. It returns the report of
// the whole run (before: m as given; after: m as returned) and the epochs
// trained.
func Finetune(ctx context.Context, m *nn.Model, train *data.Set, opt Options, sch Schedule, cfg nn.TrainConfig) (Report, []nn.EpochInfo, error) {
	if opt.DryRun {
		return Report{}, nil, fmt.Errorf("prune: a dry run does not fine-tune; call Prune")
	}
	if err := opt.validate(m); err != nil {
		return Report{}, nil, err
	}
	if cfg.Batch <= 0 {
		return Report{}, nil, fmt.Errorf("prune: batch %d must be positive", cfg.Batch)
	}
	if train == nil || train.Len() == 0 {
		return Report{}, nil, fmt.Errorf("prune: no training samples")
	}
	x, y := train.X, train.Y
	before := snapshot(m)
	var hist []nn.EpochInfo
	fit := func(cfg nn.TrainConfig) error {
		if cfg.Epochs == 0 {
			return nil
		}
		h, err := nn.Train(ctx, m, x, y, cfg)
		hist = append(hist, h...)
		if err != nil {
			return fmt.Errorf("prune: fine-tuning: %w", err)
		}
		return nil
	}
	kind := sch.Kind
	if kind == "" {
		kind = "oneshot"
	}
	if kind != "oneshot" && (opt.Method == Structured || opt.Method == NM) {
		return Report{}, nil, fmt.Errorf("prune: the %s schedule needs magnitude or random pruning, not %s", kind, opt.Method)
	}
	switch kind {
	case "oneshot":
		if _, err := Prune(m, opt); err != nil {
			return Report{}, nil, err
		}
		if err := fit(cfg); err != nil {
			return Report{}, hist, err
		}
	case "gradual":
		if sch.Steps <= 0 {
			return Report{}, nil, fmt.Errorf("prune: gradual schedule needs steps > 0, got %d", sch.Steps)
		}
		total := cfg.Epochs * ((len(y) + cfg.Batch - 1) / cfg.Batch)
		dt := max(1, total*3/4/sch.Steps)
		var perr error
		event := func(k int) {
			f := 1 - math.Pow(1-float64(k)/float64(sch.Steps), 3)
			o := scaled(opt, func(s float64) float64 { return s * f })
			if _, err := Prune(m, o); err != nil && perr == nil {
				perr = err
			}
			m.ClearAccel() // training continues on the float32 weights
		}
		event(1)
		done := 1
		user := cfg.AfterStep
		cfg.AfterStep = func(step int) {
			if step%dt == 0 && done < sch.Steps {
				done++
				event(done)
			}
			if user != nil {
				user(step)
			}
		}
		if err := fit(cfg); err != nil {
			return Report{}, hist, err
		}
		if perr != nil {
			return Report{}, hist, perr
		}
		for done < sch.Steps { // too few steps to finish the schedule
			done++
			event(done)
		}
	case "iterative":
		if sch.Steps <= 0 {
			return Report{}, nil, fmt.Errorf("prune: iterative schedule needs steps > 0, got %d", sch.Steps)
		}
		for k := 1; k <= sch.Steps; k++ {
			e := float64(k) / float64(sch.Steps)
			o := scaled(opt, func(s float64) float64 { return 1 - math.Pow(1-s, e) })
			if _, err := Prune(m, o); err != nil {
				return Report{}, hist, err
			}
			if err := fit(cfg); err != nil {
				return Report{}, hist, err
			}
		}
	default:
		return Report{}, nil, fmt.Errorf("prune: unknown schedule %q (want oneshot, gradual or iterative)", sch.Kind)
	}
	m.Prepare()
	rep := Report{Method: opt.Method}
	rep.Layers, rep.Total = compare(before, snapshot(m), opt)
	return rep, hist, nil
}

// scaled returns opt with every sparsity target mapped through f.
func scaled(opt Options, f func(float64) float64) Options {
	o := opt
	o.Sparsity = f(opt.Sparsity)
	if opt.Layers != nil {
		o.Layers = make(map[string]float64, len(opt.Layers))
		for k, v := range opt.Layers {
			o.Layers[k] = f(v)
		}
	}
	return o
}
