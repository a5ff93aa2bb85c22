package main

import (
	"math"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
)

// The flags of `shrink prune`: parsing and validation.

// parseLayerSparsity parses NAME=S[,NAME=S...].
func parseLayerSparsity(s string) (map[string]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]float64{}
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		v, err := strconv.ParseFloat(val, 64)
		if !ok || name == "" || err != nil || !(v >= 0 && v < 1) {
			return nil, usagef("--layer-sparsity %q: want NAME=S with S in [0, 1), e.g. fc1=0.95", kv)
		}
		if _, dup := out[name]; dup {
			return nil, usagef("--layer-sparsity: layer %s given twice", name)
		}
		out[name] = v
	}
	return out, nil
}

// parseMethod parses --method into the library's method and N:M.
func parseMethod(s string) (prune.Method, int, int, error) {
	if rest, ok := strings.CutPrefix(s, "nm:"); ok {
		a, b, ok := strings.Cut(rest, ":")
		n, err1 := strconv.Atoi(a)
		m, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || n <= 0 || m < 2 || n >= m || m > 64 {
			return "", 0, 0, usagef("--method %q: want nm:N:M with 0 < N < M ≤ 64, e.g. nm:2:4", s)
		}
		return prune.NM, n, m, nil
	}
	switch prune.Method(s) {
	case prune.Magnitude, prune.Random, prune.Structured:
		return prune.Method(s), 0, 0, nil
	}
	return "", 0, 0, usagef("--method %q: want magnitude, random, structured or nm:N:M", s)
}

func (o *pruneOptions) validate() (prune.Options, error) {
	method, n, m, err := parseMethod(o.method)
	if err != nil {
		return prune.Options{}, err
	}
	layers, err := parseLayerSparsity(o.layerSparsity)
	if err != nil {
		return prune.Options{}, err
	}
	if !(o.sparsity >= 0 && o.sparsity < 1) {
		return prune.Options{}, usagef("--sparsity %v must be in [0, 1)", o.sparsity)
	}
	if !o.sensitivity && method != prune.NM && o.sparsity == 0 && len(layers) == 0 {
		return prune.Options{}, usagef("--sparsity is required (e.g. --sparsity 0.9), or --layer-sparsity")
	}
	if o.out == "" && !o.sensitivity && !o.dryRun {
		return prune.Options{}, usagef("-o/--output is required")
	}
	switch o.scope {
	case "layer", "global":
	default:
		return prune.Options{}, usagef("--scope %q: want layer or global", o.scope)
	}
	switch o.criterion {
	case "l1", "l2", "taylor":
	default:
		return prune.Options{}, usagef("--criterion %q: want l1, l2 or taylor", o.criterion)
	}
	switch o.schedule {
	case "oneshot":
	case "gradual", "iterative":
		if method == prune.Structured || method == prune.NM {
			return prune.Options{}, usagef("--schedule %s works with magnitude or random pruning; use oneshot with %s", o.schedule, o.method)
		}
		if o.finetuneEpochs <= 0 {
			return prune.Options{}, usagef("--schedule %s needs --finetune-epochs > 0", o.schedule)
		}
	default:
		return prune.Options{}, usagef("--schedule %q: want oneshot, gradual or iterative", o.schedule)
	}
	if o.steps < 0 || o.finetuneEpochs < 0 {
		return prune.Options{}, usagef("--steps and --finetune-epochs must not be negative")
	}
	if o.batch <= 0 {
		return prune.Options{}, usagef("--batch %d must be positive", o.batch)
	}
	if o.optimizer != "adam" && o.optimizer != "sgd" {
		return prune.Options{}, usagef("--optimizer %q: want adam or sgd", o.optimizer)
	}
	if o.lr < 0 || math.IsNaN(o.lr) || math.IsInf(o.lr, 0) {
		return prune.Options{}, usagef("--lr %v must be positive", o.lr)
	}
	if !(o.valFraction >= 0 && o.valFraction < 1) {
		return prune.Options{}, usagef("--val-fraction %v must be in [0, 1)", o.valFraction)
	}
	if o.dryRun && (o.finetuneEpochs > 0 || o.schedule != "oneshot") {
		return prune.Options{}, usagef("--dry-run does not fine-tune: drop --finetune-epochs and --schedule")
	}
	if o.teacher != "" && o.finetuneEpochs == 0 {
		return prune.Options{}, usagef("--teacher needs --finetune-epochs > 0")
	}
	if !(o.temperature > 0) || !(o.alpha >= 0 && o.alpha <= 1) {
		return prune.Options{}, usagef("--temperature must be positive and --alpha in [0, 1]")
	}
	scope := prune.PerLayer
	if o.scope == "global" {
		scope = prune.Global
	}
	return prune.Options{Method: method, Sparsity: o.sparsity, Scope: scope, Layers: layers, N: n, M: m,
		Criterion: prune.Criterion(o.criterion)}, nil
}

func (o *pruneOptions) stepCount() int {
	switch {
	case o.steps > 0:
		return o.steps
	case o.schedule == "gradual":
		return 10
	}
	return 3
}

func (o *pruneOptions) trainConfig(seed int64) nn.TrainConfig {
	lr := o.lr
	if lr == 0 {
		lr = 0.0005
		if o.optimizer == "sgd" {
			lr = 0.01
		}
	}
	return nn.TrainConfig{
		Epochs: o.finetuneEpochs, Batch: o.batch, Optimizer: o.optimizer, Momentum: 0.9,
		Schedule: nn.Schedule{Kind: "cosine", Base: lr}, Seed: uint64(seed),
	}
}

func (o *pruneOptions) passOptions() map[string]string {
	p := map[string]string{
		"method": o.method, "sparsity": fmtFloat(o.sparsity), "scope": o.scope, "schedule": o.schedule,
		"finetune_epochs": strconv.Itoa(o.finetuneEpochs), "f16": strconv.FormatBool(o.half),
	}
	if o.method == "structured" {
		p["criterion"] = o.criterion
	}
	if o.schedule != "oneshot" {
		p["steps"] = strconv.Itoa(o.stepCount())
	}
	if o.finetuneEpochs > 0 {
		p["lr"] = fmtFloat(o.trainConfig(0).Schedule.Base)
		p["optimizer"], p["batch"] = o.optimizer, strconv.Itoa(o.batch)
	}
	if o.layerSparsity != "" {
		p["layer_sparsity"] = o.layerSparsity
	}
	if o.teacher != "" {
		p["teacher"], p["temperature"], p["alpha"] = o.teacher, fmtFloat(o.temperature), fmtFloat(o.alpha)
	}
	if o.valFraction > 0 && !o.sensitivity {
		p["val_fraction"] = fmtFloat(o.valFraction)
	}
	return p
}
