package compress

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
	"github.com/shrink-ml/shrink/quantize"
)

// PassInfo describes a registered pass: its name, what it does and its
// options.
type PassInfo struct {
	Name    string
	Doc     string
	Options map[string]OptionSpec
}

// passDef is one entry of the pass registry.
type passDef struct {
	doc  string
	opts map[string]OptionSpec
	run  func(e *passEnv, a Options) error
}

// Limits of the training options every pass shares (the CLI's flags use
// the same).
const (
	MaxEpochs = 10000
	MaxBatch  = 1 << 16
)

// trainOpts are the fine-tuning options every training pass takes.
var trainOpts = map[string]OptionSpec{
	"epochs":    {Kind: OptInt, Max: MaxEpochs, Doc: "fine-tuning epochs"},
	"batch":     {Kind: OptInt, Max: MaxBatch, Doc: "mini-batch size (default 128)"},
	"lr":        {Kind: OptFloat, Max: 10, Doc: "initial learning rate, cosine schedule (default 0.0005 adam, 0.01 sgd)"},
	"optimizer": {Kind: OptString, Choices: []string{"adam", "sgd"}, Doc: "adam (default) or sgd"},
}

// distillOpts are the options of the passes that can fine-tune against a
// teacher's logits instead of the labels alone.
var distillOpts = map[string]OptionSpec{
	"distill":     {Kind: OptBool, Doc: "fine-tune with the distillation loss (teacher: option teacher, else Env.Teacher, else the recipe's input model)"},
	"teacher":     {Kind: OptString, Doc: "distill: a model file to use as teacher instead of the recipe's input model"},
	"temperature": {Kind: OptFloat, Max: 1000, Doc: "distill: default 4"},
	"alpha":       {Kind: OptFrac, Doc: "distill: default 0.9"},
}

// withTrain returns the union of the option tables and trainOpts.
func withTrain(opts ...map[string]OptionSpec) map[string]OptionSpec {
	out := map[string]OptionSpec{}
	for _, o := range opts {
		maps.Copy(out, o)
	}
	maps.Copy(out, trainOpts)
	return out
}

// registry holds the recipe passes, by name.
var registry map[string]passDef

func init() {
	registry = map[string]passDef{
		"prune": {
			doc: "remove weights (prune.Prune / prune.Finetune)",
			opts: withTrain(map[string]OptionSpec{
				"method":    {Kind: OptString, Choices: []string{"magnitude", "random", "structured", "nm"}, Doc: "default magnitude"},
				"sparsity":  {Kind: OptFrac, Doc: "fraction of weights (units for structured) removed"},
				"scope":     {Kind: OptString, Choices: []string{"layer", "global"}, Doc: "default layer"},
				"layers":    {Kind: OptLayerF, Doc: "per-layer sparsity overrides"},
				"n":         {Kind: OptInt, Max: 256, Doc: "N of N:M"},
				"m":         {Kind: OptInt, Max: 256, Doc: "M of N:M"},
				"criterion": {Kind: OptString, Choices: []string{"l1", "l2", "taylor"}, Doc: "structured ranking"},
				"schedule":  {Kind: OptString, Choices: []string{"oneshot", "gradual", "iterative"}, Doc: "default oneshot"},
				"steps":     {Kind: OptInt, Max: 1000, Doc: "pruning events (gradual) or rounds (iterative)"},
			}, distillOpts),
			run: runPrunePass,
		},
		"quantize": {
			doc: "quantize weights (quantize.Quantize, QAT or codebook fine-tuning)",
			opts: withTrain(map[string]OptionSpec{
				"scheme":          {Kind: OptString, Doc: "int8, int4, int4_asym, q8_0, q4_0, fp16 or cluster:K"},
				"granularity":     {Kind: OptString, Doc: "channel, tensor or block:N"},
				"layers":          {Kind: OptLayerS, Doc: "per-layer scheme overrides (e.g. fc3: cluster:32)"},
				"activations":     {Kind: OptString, Choices: []string{"none", "dynamic", "static"}, Doc: "default none (weight-only)"},
				"observer":        {Kind: OptString, Doc: "static calibration observer (minmax, ema, percentile:P, mse, entropy)"},
				"calib":           {Kind: OptInt, Max: 1 << 20, Doc: "calibration samples (default 512)"},
				"keep_float":      {Kind: OptStrings, Doc: "layers left in float32"},
				"bias_correction": {Kind: OptBool, Doc: "correct the bias for the weight error"},
			}, distillOpts),
			run: runQuantizePass,
		},
		"distill": {
			doc: "train a new student of the given architecture to imitate the current model (distill.Distill)",
			opts: withTrain(map[string]OptionSpec{
				"arch":        {Kind: OptString, Doc: "student architecture (required)"},
				"temperature": {Kind: OptFloat, Max: 1000, Doc: "default 4"},
				"alpha":       {Kind: OptFrac, Doc: "default 0.9"},
				"augment":     {Kind: OptBool, Doc: "random ±2 pixel shifts"},
			}),
			run: runDistillPass,
		},
		"finetune": {
			doc:  "train the current model on labels (masks keep pruned weights at zero)",
			opts: withTrain(nil),
			run:  runFinetunePass,
		},
		"encode": {
			doc: "choose how tensors are stored (entropy coding)",
			opts: map[string]OptionSpec{
				"encoding": {Kind: OptString, Doc: "auto (smallest exact encoding per tensor, default) or an encoding name for every tensor"},
				"compress": {Kind: OptBool, Doc: "zstd-compress tensors when smaller (default true)"},
				"lossy":    {Kind: OptBool, Doc: "auto may pick lossy encodings such as float16 (default false)"},
			},
			run: runEncodePass,
		},
	}
}

// Passes lists the registered passes, sorted by name.
func Passes() []PassInfo {
	var out []PassInfo
	for _, n := range slices.Sorted(maps.Keys(registry)) {
		out = append(out, PassInfo{Name: n, Doc: registry[n].doc, Options: maps.Clone(registry[n].opts)})
	}
	return out
}

// PassNames lists the registered passes' names, comma-separated.
func PassNames() string {
	return strings.Join(slices.Sorted(maps.Keys(registry)), ", ")
}

// passEnv is the state a recipe's passes work on.
type passEnv struct {
	ctx        context.Context
	env        *Env
	m          *nn.Model
	teacher    *nn.Model            // the default teacher: Env.Teacher, else the recipe's input model
	teachers   map[string]*nn.Model // the recipe's teacher files, by path, read before the first pass
	train, val *data.Set            // val is carved from the training data; no pass sees a test split
	seed       int64
	step       int
	// File encoding, set by the encode pass.
	encoding string // "auto" or an encoding name
	compress bool
	lossy    bool
	// summary is a one-line description of what the last pass did.
	summary string
}

// trainConfig builds a fine-tuning configuration from a pass's options.
func (e *passEnv) trainConfig(a Options, defEpochs int, label string) nn.TrainConfig {
	opt := a.str("optimizer", "adam")
	lr := a.float("lr", 0)
	if lr == 0 {
		lr = 0.0005
		if opt == "sgd" {
			lr = 0.01
		}
	}
	epochs := a.int("epochs", defEpochs)
	cfg := nn.TrainConfig{
		Epochs: epochs, Batch: a.int("batch", 128), Optimizer: opt, Momentum: 0.9,
		Schedule: nn.Schedule{Kind: "cosine", Base: lr}, Seed: uint64(e.seed) + uint64(e.step)*0x9e3779b97f4a7c15,
	}
	cfg.OnBatch, cfg.OnEpoch = e.env.progress(label, epochs)
	return cfg
}

// distillLoss sets cfg.Loss to the distillation loss when the pass asks for
// it (option distill) and trains at all. The teacher is the model file
// named by option teacher (read by Run), else Env.Teacher, else the
// recipe's input model; its logits on the training images are computed
// once per pass and cached.
func (e *passEnv) distillLoss(a Options, cfg *nn.TrainConfig) error {
	if !a.bool("distill", false) || cfg.Epochs == 0 {
		return nil
	}
	teacher := e.teacher
	if path := a.str("teacher", ""); path != "" {
		teacher = e.teachers[path]
	}
	loss, err := distill.Loss(teacher, e.train.X, a.float("temperature", 4), a.float("alpha", 0.9))
	if err != nil {
		return fmt.Errorf("distill: %w", err)
	}
	cfg.Loss = loss
	return nil
}

func runPrunePass(e *passEnv, a Options) error {
	opt := prune.Options{
		Method: prune.Method(a.str("method", "magnitude")), Sparsity: a.float("sparsity", 0.5),
		Scope: prune.Scope(a.str("scope", "layer")), Layers: a.layerF("layers"),
		N: a.int("n", 0), M: a.int("m", 0), Criterion: prune.Criterion(a.str("criterion", "")), Seed: uint64(e.seed),
	}
	if opt.Criterion == prune.Taylor {
		s := e.train.Draw(512, e.seed)
		opt.X, opt.Y = s.X, s.Y
	}
	cfg := e.trainConfig(a, 0, "prune")
	if err := e.distillLoss(a, &cfg); err != nil {
		return err
	}
	var rep prune.Report
	var err error
	if cfg.Epochs > 0 {
		rep, _, err = prune.Finetune(e.ctx, e.m, e.train, opt, prune.Schedule{Kind: a.str("schedule", "oneshot"), Steps: a.int("steps", 0)}, cfg)
	} else {
		rep, err = prune.Prune(e.m, opt)
	}
	if err != nil {
		return err
	}
	e.summary = fmt.Sprintf("%s, sparsity %.1f%%, non-zero %d of %d", opt.Method, 100*rep.Total.Sparsity, rep.Total.NonZeroAfter, rep.Total.ParamsAfter)
	return nil
}

func runQuantizePass(e *passEnv, a Options) error {
	scheme, err := quantize.Parse(a.str("scheme", "int8"), a.str("granularity", ""))
	if err != nil {
		return err
	}
	var act nn.ActMode
	switch a.str("activations", "none") {
	case "dynamic":
		act = nn.ActDynamic
	case "static":
		act = nn.ActStatic
	}
	over := a.layerS("layers")
	for l := range over {
		if e.m.Layer(l) == nil {
			return fmt.Errorf("layers: the model has no layer %q", l)
		}
	}
	base := quantize.Options{
		Scheme: scheme, Activations: act, Observer: a.str("observer", ""), Calib: a.int("calib", 0),
		Seed: e.seed, KeepFloat: append(a.strs("keep_float"), slices.Collect(maps.Keys(over))...), BiasCorrection: a.bool("bias_correction", false),
	}
	cfg := e.trainConfig(a, 0, "quantize")
	if err := e.distillLoss(a, &cfg); err != nil {
		return err
	}
	_, codebook := scheme.(quantize.Codebook)
	if cfg.Epochs > 0 && !codebook {
		res, err := quantize.QAT(e.ctx, e.m, e.train, e.train, base, cfg)
		if err != nil {
			return err
		}
		base.Act = res.Act
	}
	rep, err := quantize.Quantize(e.m, e.train, base)
	if err != nil {
		return err
	}
	bits := rep.BitsPerWeight
	// Per-layer overrides, one layer at a time.
	for _, l := range slices.Sorted(maps.Keys(over)) {
		s, err := quantize.Parse(over[l], "")
		if err != nil {
			return fmt.Errorf("layers: %s: %w", l, err)
		}
		lo := base
		lo.Scheme, lo.KeepFloat, lo.Only = s, nil, []string{l}
		if _, err := quantize.Quantize(e.m, e.train, lo); err != nil {
			return fmt.Errorf("layer %s: %w", l, err)
		}
		_, cb := s.(quantize.Codebook)
		codebook = codebook || cb
	}
	if cfg.Epochs > 0 && codebook {
		if _, err := quantize.FineTuneCodebook(e.ctx, e.m, e.train, cfg); err != nil {
			return err
		}
	}
	if len(over) == 0 {
		e.summary = fmt.Sprintf("%s, %.2f bits per weight", scheme, bits)
		return nil
	}
	// With overrides, the index bits per weight of the layers as they are
	// now (float32 layers count 32), and the per-layer schemes.
	var nbits, n float64
	for _, l := range e.m.Layers {
		a, ok := l.(nn.Accelerated)
		if !ok {
			continue
		}
		w := a.Weight()
		b := 32.0
		if w.Quant != nil {
			b = float64(w.Quant.Bits)
		}
		nbits += b * float64(len(w.W))
		n += float64(len(w.W))
	}
	var parts []string
	for _, l := range slices.Sorted(maps.Keys(over)) {
		parts = append(parts, l+" "+over[l])
	}
	e.summary = fmt.Sprintf("%s (%s), %.2f index bits per weight", scheme, strings.Join(parts, ", "), nbits/max(n, 1))
	return nil
}

func runDistillPass(e *passEnv, a Options) error {
	arch := a.str("arch", "")
	specs, err := nn.ParseArch(arch, e.m.Input, e.m.Classes())
	if err != nil {
		return fmt.Errorf("arch: %w", err)
	}
	student, err := nn.Build(e.m.Input, specs)
	if err != nil {
		return fmt.Errorf("arch: %w", err)
	}
	student.Init(uint64(e.seed))
	cfg := e.trainConfig(a, 10, "distill "+arch)
	cfg.Schedule.Base = a.float("lr", 0.001) // a student trains from scratch: a higher default rate
	opt := distill.Options{Temperature: a.float("temperature", 4), Alpha: a.float("alpha", 0.9), Augment: a.bool("augment", false)}
	if _, err := distill.Distill(e.ctx, e.m, student, e.train, opt, cfg); err != nil {
		return err
	}
	e.m = student
	e.summary = fmt.Sprintf("student %s, %d parameters", arch, student.Stats().Params)
	return nil
}

func runFinetunePass(e *passEnv, a Options) error {
	cfg := e.trainConfig(a, 1, "finetune")
	for _, p := range e.m.Params() {
		if p.Quant != nil {
			return fmt.Errorf("the model is quantized; fine-tune before quantizing (or give the quantize pass epochs)")
		}
	}
	if _, err := nn.Train(e.ctx, e.m, e.train.X, e.train.Y, cfg); err != nil {
		return fmt.Errorf("fine-tuning: %w", err)
	}
	e.m.Prepare()
	e.summary = fmt.Sprintf("%d epochs", cfg.Epochs)
	return nil
}

func runEncodePass(e *passEnv, a Options) error {
	e.encoding = a.str("encoding", "auto")
	if e.encoding != "auto" {
		if _, err := format.ParseEncoding(e.encoding); err != nil {
			return err
		}
	}
	e.compress = a.bool("compress", true)
	e.lossy = a.bool("lossy", false)
	e.summary = fmt.Sprintf("encoding %s, compress %v", e.encoding, e.compress)
	return nil
}
