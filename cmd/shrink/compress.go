package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
	"github.com/shrink-ml/shrink/quantize"
	"github.com/shrink-ml/shrink/report"
)

// compressOptions are the flags of `shrink compress`.
type compressOptions struct {
	model       string
	recipe      string
	data        dataFlags
	maxDrop     string
	noDistill   bool
	objective   string
	valFraction float64
	valSeed     int64
	valSeedSet  bool
	teacher     string
	epochs      int
	html        string
	out         string
	json        bool
}

func init() { commands = append(commands, newCompressCmd) }

func newCompressCmd(g *globals) *cobra.Command {
	o := &compressOptions{}
	c := &cobra.Command{
		Use:   "compress MODEL (--recipe FILE.yaml | --max-drop PCT) [--data DATA] -o OUT",
		Short: "chain compression passes from a recipe, or search for the smallest model within an accuracy budget",
		Long: `Compress a model by a recipe or by a search.

--recipe FILE.yaml runs an ordered list of passes with their options:

  name: deep-compression-lenet300        # optional
  val_fraction: 0.1                       # optional: validation carved from the training data
  passes:
    - prune:    {sparsity: 0.92, schedule: iterative, steps: 3, epochs: 3}
    - quantize: {scheme: "cluster:16", epochs: 1}
    - encode:   {encoding: auto}

Passes: ` + passNames() + ` (see recipes/README.md for every option).
After each pass the accuracy on the validation split (carved, seeded, from
the training data) is measured; the recipe, the seed and each step's
accuracy go into the output file's provenance. The test accuracy is
measured once, at the end.

--max-drop 0.1% measures each layer's sensitivity to pruning and to weight
sharing on the validation split, then tries per-layer sparsity and bit-width
assignments of growing aggressiveness (each pruned gradually and clustered,
fine-tuned on the training part against the input model's own logits, or on
the labels with --no-distill), keeps the smallest (--objective size,
macs or latency) whose validation accuracy is within the budget of the
uncompressed model's, and writes it. The search never reads the test split.
Every candidate, with the Pareto frontier marked, goes into the HTML report
written beside OUT (OUT without extension + ".html", or --html).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			o.valSeedSet = cmd.Flags().Changed("val-seed")
			return runCompress(cmd.Context(), g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.recipe, "recipe", "", "YAML recipe: an ordered list of passes with options")
	o.data.register(f)
	f.StringVar(&o.maxDrop, "max-drop", "", `search: accuracy budget, in points ("0.1%") or as a fraction ("0.001")`)
	f.StringVar(&o.objective, "objective", "size", "search: what to minimise: size (file bytes), macs (effective MACs) or latency (batch 1)")
	f.Float64Var(&o.valFraction, "val-fraction", 0, "fraction of the training data carved out for validation (default: the recipe's val_fraction, else 0.1)")
	f.Int64Var(&o.valSeed, "val-seed", 0, "seed of the validation split (default: --seed); fix it to compare training seeds on the same held-out images")
	f.IntVar(&o.epochs, "epochs", 8, "search: fine-tuning epochs of each candidate's gradual pruning (centroid fine-tuning gets a tenth, at least one)")
	f.StringVar(&o.teacher, "teacher", "", "model file to distil from instead of the input model: the search's candidates and recipe passes with distill: true that name no teacher")
	f.BoolVar(&o.noDistill, "no-distill", false, "search: fine-tune candidates on the labels alone instead of the input model's logits")
	f.StringVar(&o.html, "html", "", "HTML report (default: beside OUT, same name with .html)")
	f.StringVarP(&o.out, "output", "o", "", "compressed model file to write (required)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// ---------------------------------------------------------------- recipes

// optKind is the type of a pass option.
type optKind int

const (
	optInt     optKind = iota // an integer
	optFloat                  // a number
	optFrac                   // a number in [0, 1]
	optString                 // a string (one of choices, when given)
	optBool                   // true or false
	optStrings                // a list of strings (or one string)
	optLayerF                 // a mapping layer name → number in [0, 1)
	optLayerS                 // a mapping layer name → string
)

func (k optKind) String() string {
	return [...]string{"an integer", "a number", "a number in [0, 1]", "a string", "true or false",
		"a list of strings", "a mapping of layer names to numbers", "a mapping of layer names to strings"}[k]
}

// optSpec describes one option of a pass.
type optSpec struct {
	kind    optKind
	choices []string
	doc     string
}

// passDef is one entry of the pass registry.
type passDef struct {
	doc  string
	opts map[string]optSpec
	run  func(e *passEnv, a passArgs) error
}

// passArgs are a step's options, typed by the parser.
type passArgs map[string]any

func (a passArgs) int(k string, def int) int {
	if v, ok := a[k]; ok {
		return v.(int)
	}
	return def
}

func (a passArgs) float(k string, def float64) float64 {
	if v, ok := a[k]; ok {
		return v.(float64)
	}
	return def
}

func (a passArgs) str(k, def string) string {
	if v, ok := a[k]; ok {
		return v.(string)
	}
	return def
}

func (a passArgs) bool(k string, def bool) bool {
	if v, ok := a[k]; ok {
		return v.(bool)
	}
	return def
}

func (a passArgs) strs(k string) []string {
	if v, ok := a[k]; ok {
		return v.([]string)
	}
	return nil
}

func (a passArgs) layerF(k string) map[string]float64 {
	if v, ok := a[k]; ok {
		return v.(map[string]float64)
	}
	return nil
}

func (a passArgs) layerS(k string) map[string]string {
	if v, ok := a[k]; ok {
		return v.(map[string]string)
	}
	return nil
}

// trainOpts are the fine-tuning options every training pass takes.
var trainOpts = map[string]optSpec{
	"epochs":    {kind: optInt, doc: "fine-tuning epochs"},
	"batch":     {kind: optInt, doc: "mini-batch size (default 128)"},
	"lr":        {kind: optFloat, doc: "initial learning rate, cosine schedule (default 0.0005 adam, 0.01 sgd)"},
	"optimizer": {kind: optString, choices: []string{"adam", "sgd"}, doc: "adam (default) or sgd"},
}

// distillOpts are the options of the passes that can fine-tune against a
// teacher's logits instead of the labels alone.
var distillOpts = map[string]optSpec{
	"distill":     {kind: optBool, doc: "fine-tune with the distillation loss (teacher: option teacher, else compress --teacher, else the recipe's input model)"},
	"teacher":     {kind: optString, doc: "distill: a model file to use as teacher instead of the recipe's input model"},
	"temperature": {kind: optFloat, doc: "distill: default 4"},
	"alpha":       {kind: optFrac, doc: "distill: default 0.9"},
}

// withTrain returns the union of the option tables and trainOpts.
func withTrain(opts ...map[string]optSpec) map[string]optSpec {
	out := map[string]optSpec{}
	for _, o := range opts {
		maps.Copy(out, o)
	}
	maps.Copy(out, trainOpts)
	return out
}

// passes is the registry of recipe passes, by name.
var passes map[string]passDef

func init() {
	passes = map[string]passDef{
		"prune": {
			doc: "remove weights (prune.Prune / prune.Finetune)",
			opts: withTrain(map[string]optSpec{
				"method":    {kind: optString, choices: []string{"magnitude", "random", "structured", "nm"}, doc: "default magnitude"},
				"sparsity":  {kind: optFrac, doc: "fraction of weights (units for structured) removed"},
				"scope":     {kind: optString, choices: []string{"layer", "global"}, doc: "default layer"},
				"layers":    {kind: optLayerF, doc: "per-layer sparsity overrides"},
				"n":         {kind: optInt, doc: "N of N:M"},
				"m":         {kind: optInt, doc: "M of N:M"},
				"criterion": {kind: optString, choices: []string{"l1", "l2", "taylor"}, doc: "structured ranking"},
				"schedule":  {kind: optString, choices: []string{"oneshot", "gradual", "iterative"}, doc: "default oneshot"},
				"steps":     {kind: optInt, doc: "pruning events (gradual) or rounds (iterative)"},
			}, distillOpts),
			run: runPrunePass,
		},
		"quantize": {
			doc: "quantize weights (quantize.Quantize, QAT or codebook fine-tuning)",
			opts: withTrain(map[string]optSpec{
				"scheme":          {kind: optString, doc: "int8, int4, int4_asym, q8_0, q4_0, fp16 or cluster:K"},
				"granularity":     {kind: optString, doc: "channel, tensor or block:N"},
				"layers":          {kind: optLayerS, doc: "per-layer scheme overrides (e.g. fc3: cluster:32)"},
				"activations":     {kind: optString, choices: []string{"none", "dynamic", "static"}, doc: "default none (weight-only)"},
				"observer":        {kind: optString, doc: "static calibration observer (minmax, ema, percentile:P, mse, entropy)"},
				"calib":           {kind: optInt, doc: "calibration samples (default 512)"},
				"keep_float":      {kind: optStrings, doc: "layers left in float32"},
				"bias_correction": {kind: optBool, doc: "correct the bias for the weight error"},
			}, distillOpts),
			run: runQuantizePass,
		},
		"distill": {
			doc: "train a new student of the given architecture to imitate the current model (distill.Distill)",
			opts: withTrain(map[string]optSpec{
				"arch":        {kind: optString, doc: "student architecture (required)"},
				"temperature": {kind: optFloat, doc: "default 4"},
				"alpha":       {kind: optFrac, doc: "default 0.9"},
				"augment":     {kind: optBool, doc: "random ±2 pixel shifts"},
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
			opts: map[string]optSpec{
				"encoding": {kind: optString, doc: "auto (smallest exact encoding per tensor, default) or an encoding name for every tensor"},
				"compress": {kind: optBool, doc: "zstd-compress tensors when smaller (default true)"},
				"lossy":    {kind: optBool, doc: "auto may pick lossy encodings such as float16 (default false)"},
			},
			run: runEncodePass,
		},
	}
}

func passNames() string {
	return strings.Join(slices.Sorted(maps.Keys(passes)), ", ")
}

// recipe is a parsed recipe file.
type recipe struct {
	Name        string
	Description string
	ValFraction float64
	Steps       []recipeStep
	Text        string // the file as read
	File        string // its name, for errors
}

// recipeStep is one pass of a recipe with its typed options.
type recipeStep struct {
	Pass    string
	Line    int
	Args    passArgs
	Options map[string]string // as written, for provenance
}

// parseRecipe parses recipe text; name prefixes every error with its line.
func parseRecipe(name string, text []byte) (*recipe, error) {
	errf := func(n *yaml.Node, format string, a ...any) error {
		line := 0
		if n != nil {
			line = n.Line
		}
		return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, a...))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, fmt.Errorf("%s: empty recipe", name)
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, errf(root, "a recipe is a mapping with a passes list")
	}
	r := &recipe{Text: string(text), File: name}
	var passesNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "name":
			r.Name = v.Value
		case "description":
			r.Description = v.Value
		case "val_fraction":
			f, err := strconv.ParseFloat(v.Value, 64)
			if v.Kind != yaml.ScalarNode || err != nil || !(f > 0 && f < 1) {
				return nil, errf(v, "val_fraction: want a number in (0, 1), got %q", v.Value)
			}
			r.ValFraction = f
		case "passes":
			passesNode = v
		default:
			return nil, errf(k, "unknown key %q (want name, description, val_fraction, passes)", k.Value)
		}
	}
	if passesNode == nil {
		return nil, errf(root, "no passes list")
	}
	if passesNode.Kind != yaml.SequenceNode || len(passesNode.Content) == 0 {
		return nil, errf(passesNode, "passes: want a non-empty list of passes")
	}
	for _, item := range passesNode.Content {
		var pname *yaml.Node
		var opts *yaml.Node
		switch {
		case item.Kind == yaml.ScalarNode:
			pname = item
		case item.Kind == yaml.MappingNode && len(item.Content) == 2:
			pname, opts = item.Content[0], item.Content[1]
		default:
			return nil, errf(item, "a pass is written `- NAME: {OPTION: VALUE, ...}`")
		}
		def, ok := passes[pname.Value]
		if !ok {
			return nil, errf(pname, "unknown pass %q (known: %s)", pname.Value, passNames())
		}
		st := recipeStep{Pass: pname.Value, Line: pname.Line, Args: passArgs{}, Options: map[string]string{}}
		if opts != nil && !(opts.Kind == yaml.ScalarNode && opts.Tag == "!!null") {
			if opts.Kind != yaml.MappingNode {
				return nil, errf(opts, "%s: options are a mapping OPTION: VALUE", pname.Value)
			}
			for i := 0; i+1 < len(opts.Content); i += 2 {
				k, v := opts.Content[i], opts.Content[i+1]
				spec, ok := def.opts[k.Value]
				if !ok {
					return nil, errf(k, "%s: unknown option %q (known: %s)", pname.Value, k.Value, strings.Join(slices.Sorted(maps.Keys(def.opts)), ", "))
				}
				if _, dup := st.Args[k.Value]; dup {
					return nil, errf(k, "%s: option %q given twice", pname.Value, k.Value)
				}
				val, err := parseOpt(v, spec)
				if err != nil {
					return nil, errf(v, "%s.%s: %v", pname.Value, k.Value, err)
				}
				st.Args[k.Value] = val
				st.Options[k.Value] = formatOpt(val)
			}
		}
		if err := checkStep(&st); err != nil {
			return nil, errf(pname, "%s: %v", pname.Value, err)
		}
		r.Steps = append(r.Steps, st)
	}
	return r, nil
}

// parseOpt converts one option value node to its kind.
func parseOpt(v *yaml.Node, spec optSpec) (any, error) {
	scalar := func() (string, error) {
		if v.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("want %s", spec.kind)
		}
		return v.Value, nil
	}
	switch spec.kind {
	case optInt:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("want a non-negative integer, got %q", s)
		}
		return n, nil
	case optFloat, optFrac:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
			return nil, fmt.Errorf("want %s, got %q", spec.kind, s)
		}
		if spec.kind == optFrac && f > 1 {
			return nil, fmt.Errorf("want %s, got %q", spec.kind, s)
		}
		return f, nil
	case optString:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		if spec.choices != nil && !slices.Contains(spec.choices, s) {
			return nil, fmt.Errorf("%q: want one of %s", s, strings.Join(spec.choices, ", "))
		}
		return s, nil
	case optBool:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", s)
		}
		return b, nil
	case optStrings:
		if v.Kind == yaml.ScalarNode {
			return []string{v.Value}, nil
		}
		if v.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("want %s", spec.kind)
		}
		var out []string
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("want %s", spec.kind)
			}
			out = append(out, c.Value)
		}
		return out, nil
	case optLayerF, optLayerS:
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("want %s", spec.kind)
		}
		mf, ms := map[string]float64{}, map[string]string{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, c := v.Content[i], v.Content[i+1]
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("layer %s: want a scalar", k.Value)
			}
			if spec.kind == optLayerS {
				ms[k.Value] = c.Value
				continue
			}
			f, err := strconv.ParseFloat(c.Value, 64)
			if err != nil || !(f >= 0 && f < 1) {
				return nil, fmt.Errorf("layer %s: want a number in [0, 1), got %q", k.Value, c.Value)
			}
			mf[k.Value] = f
		}
		if spec.kind == optLayerS {
			return ms, nil
		}
		return mf, nil
	}
	return nil, fmt.Errorf("unknown option kind %d", spec.kind)
}

// formatOpt formats a parsed option for provenance.
func formatOpt(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []string:
		return strings.Join(v, ",")
	case map[string]float64, map[string]string:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return fmt.Sprint(v)
}

// checkStep validates what a pass's options can be checked for without a
// model (scheme names, required options).
func checkStep(st *recipeStep) error {
	if st.Args.str("teacher", "") != "" && !st.Args.bool("distill", false) {
		return fmt.Errorf("option teacher needs distill: true")
	}
	switch st.Pass {
	case "quantize":
		if _, err := quantize.Parse(st.Args.str("scheme", "int8"), st.Args.str("granularity", "")); err != nil {
			return err
		}
		for l, s := range st.Args.layerS("layers") {
			if _, err := quantize.Parse(s, ""); err != nil {
				return fmt.Errorf("layer %s: %w", l, err)
			}
		}
	case "distill":
		if st.Args.str("arch", "") == "" {
			return fmt.Errorf("option arch is required")
		}
	case "prune":
		if st.Args.str("method", "magnitude") == "nm" && (st.Args.int("n", 0) == 0 || st.Args.int("m", 0) == 0) {
			return fmt.Errorf("method nm needs n and m")
		}
	}
	return nil
}

// ---------------------------------------------------------------- passes

// passEnv is the state a recipe's passes work on.
type passEnv struct {
	ctx        context.Context
	g          *globals
	m          *nn.Model
	teacher    *nn.Model            // the default teacher: --teacher, else the recipe's input model
	teachers   map[string]*nn.Model // the recipe's teacher files, by path, read before the first pass
	train, val *data.Set            // val is carved from the training data; no pass sees the test split
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
func (e *passEnv) trainConfig(a passArgs, defEpochs int, label string) nn.TrainConfig {
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
	cfg.OnBatch, cfg.OnEpoch = trainProgress(e.g, label, epochs)
	return cfg
}

// loadTeacher reads a teacher model file and checks that it takes the
// data's inputs and has m's classes. Its errors name the file; the caller
// names the flag or recipe option.
func loadTeacher(path string, m *nn.Model, train *data.Set) (*nn.Model, error) {
	f, err := loadModel(path)
	if err != nil {
		return nil, err
	}
	if !nn.Shape(train.Shape).Equal(f.Model.Input) {
		return nil, fmt.Errorf("%s takes inputs of shape %v, the data %v", path, f.Model.Input, nn.Shape(train.Shape))
	}
	if f.Model.Classes() != m.Classes() {
		return nil, fmt.Errorf("%s has %d classes, the model %d", path, f.Model.Classes(), m.Classes())
	}
	return f.Model, nil
}

// distillLoss sets cfg.Loss to the distillation loss when the pass asks for
// it (option distill) and trains at all. The teacher is the model file
// named by option teacher (read by runRecipe), else --teacher, else the
// recipe's input model; its logits on the training images are computed
// once per pass and cached.
func (e *passEnv) distillLoss(a passArgs, cfg *nn.TrainConfig) error {
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

func runPrunePass(e *passEnv, a passArgs) error {
	opt := prune.Options{
		Method: prune.Method(a.str("method", "magnitude")), Sparsity: a.float("sparsity", 0.5),
		Scope: prune.Scope(a.str("scope", "layer")), Layers: a.layerF("layers"),
		N: a.int("n", 0), M: a.int("m", 0), Criterion: prune.Criterion(a.str("criterion", "")), Seed: uint64(e.seed),
	}
	if opt.Criterion == prune.Taylor {
		s := quantize.CalibBatch(e.train, 512, e.seed)
		opt.X, opt.Y = s.X, s.Y
	}
	cfg := e.trainConfig(a, 0, "prune")
	if err := e.distillLoss(a, &cfg); err != nil {
		return err
	}
	var rep prune.Report
	var err error
	if cfg.Epochs > 0 {
		rep, _, err = prune.Finetune(e.ctx, e.m, e.train.X, e.train.Y, opt, prune.Schedule{Kind: a.str("schedule", "oneshot"), Steps: a.int("steps", 0)}, cfg)
	} else {
		rep, err = prune.Prune(e.m, opt)
	}
	if err != nil {
		return err
	}
	e.summary = fmt.Sprintf("%s, sparsity %.1f%%, non-zero %d of %d", opt.Method, 100*rep.Total.Sparsity, rep.Total.NonZeroAfter, rep.Total.ParamsAfter)
	return nil
}

func runQuantizePass(e *passEnv, a passArgs) error {
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

func runDistillPass(e *passEnv, a passArgs) error {
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
	lr := a.float("lr", 0.001)
	opt := distill.Options{
		Temperature: a.float("temperature", 4), Alpha: a.float("alpha", 0.9), Augment: a.bool("augment", false),
		Epochs: cfg.Epochs, Batch: cfg.Batch, LR: lr, Optimizer: cfg.Optimizer, Seed: cfg.Seed,
	}
	if _, err := distill.Distill(e.ctx, e.m, student, e.train, opt, distill.Hooks{OnBatch: cfg.OnBatch, OnEpoch: cfg.OnEpoch}); err != nil {
		return err
	}
	e.m = student
	e.summary = fmt.Sprintf("student %s, %d parameters", arch, student.Stats().Params)
	return nil
}

func runFinetunePass(e *passEnv, a passArgs) error {
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

func runEncodePass(e *passEnv, a passArgs) error {
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

// encodingNames are the encodings "auto" tries, when the format package
// knows them.
var encodingNames = []string{"float32", "float16", "int8", "int4", "q8_0", "q4_0", "codebook", "codebook8", "sparse-bitmask", "sparse-relative", "csr", "sparse-nm", "sparse-bitmask-f16", "sparse-relative-f16", "csr-f16", "sparse-nm-f16"}

// chooseEncodings sets f.Encodings: for "auto" the smallest encoding per
// tensor among those the format package knows (float16 only with lossy);
// for a name, that encoding for every tensor that takes it. A full
// encode/decode round trip then sends every tensor that does not come back
// exactly (unless lossy) back to float32.
func chooseEncodings(f *format.File, name string, lossy bool) error {
	var cands []format.Encoding
	if name == "auto" {
		for _, n := range encodingNames {
			enc, err := format.ParseEncoding(n)
			if err != nil || slices.Contains(cands, enc) || ((enc == format.Float16 || strings.HasSuffix(n, "-f16")) && !lossy) {
				continue
			}
			cands = append(cands, enc)
		}
	} else {
		enc, err := format.ParseEncoding(name)
		if err != nil {
			return err
		}
		cands = []format.Encoding{enc}
	}
	names := slices.Sorted(maps.Keys(tensorMap(f.Model)))
	best := map[string]format.TensorInfo{}
	for _, enc := range cands {
		probe := &format.File{Model: f.Model, Compress: f.Compress, Encodings: map[string]format.Encoding{}}
		for _, n := range names {
			probe.Encodings[n] = enc
		}
		for _, ti := range probe.Tensors() {
			if b, ok := best[ti.Name]; ti.Encoding == enc && (!ok || ti.Bytes < b.Bytes) {
				best[ti.Name] = ti
			}
		}
	}
	f.Encodings = map[string]format.Encoding{}
	for n, ti := range best {
		f.Encodings[n] = ti.Encoding
	}
	var b bytes.Buffer
	if err := format.Encode(&b, f); err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	back, err := format.Decode(b.Bytes())
	if err != nil {
		return fmt.Errorf("encoding: reading back: %w", err)
	}
	if lossy {
		return nil
	}
	orig, got := tensorMap(f.Model), tensorMap(back.Model)
	for n, w := range orig {
		if !slices.Equal(w, got[n]) {
			f.Encodings[n] = format.Float32
		}
	}
	return nil
}

// tensorMap returns each parameter's values by file name (layer.param).
func tensorMap(m *nn.Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			out[l.Name()+"."+p.Name] = p.W
		}
	}
	return out
}

// encodedSize returns the bytes f would take on disk.
func encodedSize(f *format.File) (int64, error) {
	cw := &countWriter{}
	if err := format.Encode(cw, f); err != nil {
		return 0, err
	}
	return cw.n, nil
}

// ---------------------------------------------------------------- running

// stepResult is one executed pass, for the report.
type stepResult struct {
	Pass        string            `json:"pass"`
	Options     map[string]string `json:"options,omitempty"`
	ValAccuracy float64           `json:"val_accuracy"`
	FileBytes   int64             `json:"file_bytes"`
	Summary     string            `json:"summary"`
	Seconds     float64           `json:"seconds"`
	model       *nn.Model
}

// compressResult is what `compress --json` prints.
type compressResult struct {
	Model         string            `json:"model"`
	Input         string            `json:"input"`
	Recipe        string            `json:"recipe,omitempty"`
	Accuracy      float64           `json:"accuracy"` // test, measured once at the end
	BaseAccuracy  float64           `json:"base_accuracy"`
	ValAccuracy   float64           `json:"val_accuracy"`
	BaseVal       float64           `json:"base_val_accuracy"`
	FileBytes     int64             `json:"file_bytes"`
	BaseBytes     int64             `json:"base_file_bytes"`
	Ratio         float64           `json:"ratio"`
	Params        int64             `json:"params"`
	NonzeroParams int64             `json:"nonzero_params"`
	MACs          int64             `json:"macs"`
	Steps         []stepResult      `json:"steps,omitempty"`
	Search        *searchResult     `json:"search,omitempty"`
	Rows          []report.Row      `json:"rows"`
	HTML          string            `json:"html"`
	Seconds       float64           `json:"seconds"`
	Encodings     map[string]string `json:"encodings,omitempty"`
}

func (o *compressOptions) validate() error {
	if o.out == "" {
		return usagef("-o/--output is required")
	}
	if (o.recipe == "") == (o.maxDrop == "") {
		return usagef("give exactly one of --recipe and --max-drop")
	}
	if o.valFraction < 0 || o.valFraction >= 1 {
		return usagef("--val-fraction %v must be in [0, 1)", o.valFraction)
	}
	if o.maxDrop != "" {
		if _, err := parseDrop(o.maxDrop); err != nil {
			return usagef("--max-drop: %v", err)
		}
	}
	switch o.objective {
	case "size", "macs", "latency":
	default:
		return usagef("--objective %q: want size, macs or latency", o.objective)
	}
	if o.epochs < 0 {
		return usagef("--epochs %d must not be negative", o.epochs)
	}
	if o.noDistill && o.teacher != "" {
		return usagef("--no-distill and --teacher contradict each other: the search would not use the teacher")
	}
	return nil
}

// parseDrop parses an accuracy budget: "0.1%" is 0.001, "0.001" is 0.001.
func parseDrop(s string) (float64, error) {
	pct := strings.HasSuffix(s, "%")
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a non-negative number or percentage", s)
	}
	if pct {
		v /= 100
	}
	if v >= 1 {
		return 0, fmt.Errorf("%q is a budget of 100%% or more", s)
	}
	return v, nil
}

func runCompress(ctx context.Context, g *globals, o *compressOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	var rec *recipe
	if o.recipe != "" {
		text, err := os.ReadFile(o.recipe)
		if err != nil {
			return usagef("--recipe: %v", err)
		}
		if rec, err = parseRecipe(o.recipe, text); err != nil {
			return usageError{err}
		}
	}
	in, err := loadModel(o.model)
	if err != nil {
		return err
	}
	ds, err := loadData(&o.data, g.seed, in)
	if err != nil {
		return err
	}
	if err := checkFits(in.Model, ds); err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	if ds.Test == nil || ds.Test.Len() == 0 {
		return fmt.Errorf("--data %s: the test part is empty", ds.Name)
	}
	valFrac := o.valFraction
	if valFrac == 0 && rec != nil {
		valFrac = rec.ValFraction
	}
	if valFrac == 0 {
		valFrac = 0.1
	}
	start := time.Now()
	valSeed := g.seed
	if o.valSeedSet {
		valSeed = o.valSeed
	}
	train, val := ds.Train.Split(valFrac, valSeed)
	baseVal, err := nn.Evaluate(in.Model, val.X, val.Y)
	if err != nil {
		return err
	}
	teacher := in.Model
	if o.teacher != "" {
		if teacher, err = loadTeacher(o.teacher, in.Model, ds.Train); err != nil {
			return usagef("--teacher: %v", err)
		}
	}
	res := &compressResult{Model: o.out, Input: o.model, BaseVal: baseVal.Accuracy, BaseBytes: fileSize(o.model)}
	prov := format.Provenance{
		Command: commandLine(), Seed: g.seed, Data: ds.Info.Source, DataInfo: in.Provenance.DataInfo, Tool: "shrink",
		Created: time.Now().UTC().Format(time.RFC3339),
		Options: map[string]string{"input": o.model, "val_fraction": fmtFloat(valFrac), "val_seed": strconv.FormatInt(valSeed, 10)},
		Passes:  append([]format.Pass(nil), in.Provenance.Passes...),
	}
	if o.teacher != "" {
		prov.Options["teacher"] = o.teacher
	}
	if len(prov.DataInfo) == 0 {
		prov.DataInfo, _ = json.Marshal(ds.Info)
	}
	var out *format.File
	var search *searchResult
	if rec != nil {
		res.Recipe = o.recipe
		prov.Options["recipe"] = rec.Text
		prov.Options["recipe_file"] = o.recipe
		out, res.Steps, err = runRecipe(ctx, g, rec, in.Model, teacher, train, val, prov)
		if err != nil {
			return err
		}
	} else {
		budget, _ := parseDrop(o.maxDrop)
		prov.Options["max_drop"] = o.maxDrop
		prov.Options["objective"] = o.objective
		so := searchOptions{MaxDrop: budget, Objective: o.objective, ValFraction: valFrac, ValSeed: valSeed, Epochs: o.epochs, Seed: g.seed, NoDistill: o.noDistill, Teacher: teacher}
		// The search gets the training data only: it cannot read the test split.
		search, out, err = searchBudget(ctx, g, in.Model, ds.Train, so)
		if err != nil {
			return err
		}
		for _, p := range search.passes {
			prov.Passes = append(prov.Passes, p)
		}
		res.Search = search
	}

	// Test accuracy, once.
	ev, err := nn.Evaluate(out.Model, ds.Test.X, ds.Test.Y)
	if err != nil {
		return err
	}
	vev, err := nn.Evaluate(out.Model, val.X, val.Y)
	if err != nil {
		return err
	}
	baseTest, err := nn.Evaluate(in.Model, ds.Test.X, ds.Test.Y)
	if err != nil {
		return err
	}
	out.Provenance.Accuracy = ev.Accuracy
	if err := format.Write(o.out, out); err != nil {
		return err
	}
	st := out.Model.Stats()
	res.Accuracy, res.BaseAccuracy, res.ValAccuracy = ev.Accuracy, baseTest.Accuracy, vev.Accuracy
	res.FileBytes, res.Params, res.NonzeroParams, res.MACs = fileSize(o.out), st.Params, st.NonZero, st.MACs
	if res.FileBytes > 0 {
		res.Ratio = float64(res.BaseBytes) / float64(res.FileBytes)
	}
	res.Encodings = map[string]string{}
	for n, e := range out.Encodings {
		res.Encodings[n] = e.String()
	}
	res.Seconds = time.Since(start).Seconds()
	rows, err := compareModels(g, []string{modelNames([]string{o.model})[0], modelNames([]string{o.out})[0] + " (out)"},
		[]*nn.Model{in.Model, out.Model}, []int64{res.BaseBytes, res.FileBytes}, ds.Test, 0)
	if err != nil {
		return err
	}
	res.Rows = rows
	res.HTML = o.html
	if res.HTML == "" {
		res.HTML = strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".html"
	}
	if err := report.SaveHTML(res.HTML, compressPage(res, rec, search)); err != nil {
		return err
	}
	g.logf("report written to %s\n", res.HTML)
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printCompress(g, res)
	return nil
}

// runRecipe applies the recipe's passes to a copy of m and returns the file
// to write, with provenance.
func runRecipe(ctx context.Context, g *globals, rec *recipe, m, teacher *nn.Model, train, val *data.Set, prov format.Provenance) (*format.File, []stepResult, error) {
	work, err := quantize.Clone(m)
	if err != nil {
		return nil, nil, fmt.Errorf("copying the model: %w", err)
	}
	e := &passEnv{ctx: ctx, g: g, m: work, teacher: teacher, teachers: map[string]*nn.Model{}, train: train, val: val, seed: g.seed, encoding: "auto", compress: true}
	// Teacher files are read (and checked) once, before any pass trains.
	for _, st := range rec.Steps {
		path := st.Args.str("teacher", "")
		if path == "" || e.teachers[path] != nil {
			continue
		}
		t, err := loadTeacher(path, m, train)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %s.teacher: %w", rec.File, st.Line, st.Pass, err)
		}
		e.teachers[path] = t
	}
	var steps []stepResult
	for i, st := range rec.Steps {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		e.step, e.summary = i+1, ""
		g.logf("shrink compress: step %d/%d: %s\n", i+1, len(rec.Steps), st.Pass)
		t0 := time.Now()
		if err := passes[st.Pass].run(e, st.Args); err != nil {
			return nil, nil, fmt.Errorf("%s:%d: step %d (%s): %w", rec.File, st.Line, i+1, st.Pass, err)
		}
		ev, err := nn.Evaluate(e.m, val.X, val.Y)
		if err != nil {
			return nil, nil, err
		}
		f := &format.File{Model: e.m, Compress: e.compress}
		if err := chooseEncodings(f, e.encoding, e.lossy); err != nil {
			return nil, nil, fmt.Errorf("step %d (%s): %w", i+1, st.Pass, err)
		}
		size, err := encodedSize(f)
		if err != nil {
			return nil, nil, fmt.Errorf("step %d (%s): %w", i+1, st.Pass, err)
		}
		sr := stepResult{Pass: st.Pass, Options: st.Options, ValAccuracy: ev.Accuracy, FileBytes: size, Summary: e.summary, Seconds: time.Since(t0).Seconds(), model: e.m}
		steps = append(steps, sr)
		g.logf("  %s: val accuracy %.2f%%, %s on disk; %s\n", st.Pass, 100*ev.Accuracy, report.HumanBytes(size), e.summary)
		opts := maps.Clone(st.Options)
		if opts == nil {
			opts = map[string]string{}
		}
		opts["step"] = strconv.Itoa(i + 1)
		prov.Passes = append(prov.Passes, format.Pass{Name: st.Pass, Options: opts, Seed: g.seed, Accuracy: ev.Accuracy})
	}
	f := &format.File{Model: e.m, Compress: e.compress, Provenance: prov}
	if err := chooseEncodings(f, e.encoding, e.lossy); err != nil {
		return nil, nil, err
	}
	return f, steps, nil
}

func printCompress(g *globals, r *compressResult) {
	w := g.stdout
	_ = report.WriteText(w, r.Rows)
	fmt.Fprintf(w, "\n%s: %s → %s (%.1f× smaller), test accuracy %.2f%% → %.2f%% (%+.2f points), validation %.2f%% → %.2f%%\n",
		r.Model, report.HumanBytes(r.BaseBytes), report.HumanBytes(r.FileBytes), r.Ratio,
		100*r.BaseAccuracy, 100*r.Accuracy, 100*(r.Accuracy-r.BaseAccuracy), 100*r.BaseVal, 100*r.ValAccuracy)
	fmt.Fprintf(w, "report: %s\n", r.HTML)
}

// compressPage builds the HTML report of a compress run.
func compressPage(r *compressResult, rec *recipe, s *searchResult) *report.Page {
	p := &report.Page{
		Title: "shrink compress: " + filepath.Base(r.Model),
		Intro: []string{fmt.Sprintf("%s → %s: %s → %s (%.1f× smaller); test accuracy %.2f%% → %.2f%% (%+.2f points), measured once at the end. Validation accuracy (carved from the training data) %.2f%% → %.2f%%.",
			r.Input, r.Model, report.HumanBytes(r.BaseBytes), report.HumanBytes(r.FileBytes), r.Ratio,
			100*r.BaseAccuracy, 100*r.Accuracy, 100*(r.Accuracy-r.BaseAccuracy), 100*r.BaseVal, 100*r.ValAccuracy)},
		Sections: []report.Section{{Title: "input and output (test split)", Rows: r.Rows, Plot: true}},
	}
	if len(r.Steps) > 0 {
		var rows []report.Row
		var extra []string
		base := r.Rows[0]
		rows = append(rows, report.Row{Name: "0 input", Accuracy: r.BaseVal, Agreement: 1, FileBytes: base.FileBytes, Ratio: 1,
			Params: base.Params, NonzeroParams: base.NonzeroParams, MACs: base.MACs, EffectiveMACs: base.EffectiveMACs})
		extra = append(extra, "")
		for i, st := range r.Steps {
			ms := st.model.Stats()
			row := report.Row{Name: fmt.Sprintf("%d %s", i+1, st.Pass), Accuracy: st.ValAccuracy, FileBytes: st.FileBytes,
				Params: ms.Params, NonzeroParams: ms.NonZero, MACs: ms.MACs, EffectiveMACs: ms.EffectiveMACs}
			if st.FileBytes > 0 {
				row.Ratio = float64(base.FileBytes) / float64(st.FileBytes)
			}
			rows = append(rows, row)
			extra = append(extra, st.Summary)
		}
		p.Sections = append(p.Sections, report.Section{Title: "recipe steps (validation accuracy; agreement not measured)",
			Rows: rows, Extra: extra, ExtraTitle: "what the pass did", Plot: true})
	}
	if s != nil {
		p.Sections = append(p.Sections, searchSections(s)...)
	}
	if rec != nil {
		p.Sections = append(p.Sections, report.Section{Title: "recipe " + r.Recipe, Pre: rec.Text})
	}
	var fields [][2]string
	for _, k := range slices.Sorted(maps.Keys(r.Encodings)) {
		fields = append(fields, [2]string{k, r.Encodings[k]})
	}
	if len(fields) > 0 {
		p.Sections = append(p.Sections, report.Section{Title: "tensor encodings", Fields: fields})
	}
	return p
}

// ---------------------------------------------------------------- search

// searchOptions configure searchBudget.
type searchOptions struct {
	MaxDrop     float64 // validation accuracy budget, a fraction
	Objective   string  // size, macs or latency
	ValFraction float64 // carved from the training data
	ValSeed     int64   // seed of the validation split
	Epochs      int     // fine-tuning epochs after pruning and after clustering
	Seed        int64
	// Ratios is the ladder of estimated compression ratios tried (default
	// searchRatios).
	Ratios []float64
	// Samples, when positive, caps the training samples used for
	// fine-tuning (tests).
	Samples int
	// NoDistill fine-tunes candidates on the labels alone.
	NoDistill bool
	// Teacher, when set, is distilled from instead of the input model.
	Teacher *nn.Model
}

// searchRatios are the ladder's targets, least aggressive first: each
// candidate is the per-layer allocation that the sensitivities rate best
// among those whose estimated cost (bytes for --objective size, non-zero
// weights otherwise) is the float32 model's divided by the ratio (see
// searchAllocator).
var searchRatios = []float64{8, 16, 32, 40, 50, 64, 96, 128}

// searchMoreRungs caps the rungs tried beyond the ladder when its most
// aggressive one is within budget.
const searchMoreRungs = 6

// searchBitsWeight weighs a layer's one-shot clustering drop against its
// one-shot pruning drop: fine-tuning recovers most of what pruning loses
// (lenet300's fc1 loses 14 points at 93% one-shot and 0.1 after gradual
// pruning) but less of what a coarse codebook loses. Chosen on lenet300's
// validation split (bench/COMPRESS.md): at 25 fc1 never left 4 bits and
// was pruned to 95% instead, at 3 every layer took 2-bit codebooks near
// 50×; 6 to 10 give the recipe's allocation (fc1 93%/3 bits) there.
const searchBitsWeight = 10

// searchAllocator returns the search's per-layer assignment for a target
// compression ratio.
//
// The assignment for ratio r is a Lagrangian allocation: each
// layer takes the (sparsity, bits) option minimising est + λ·drop, where
// est is the option's estimated cost and drop its one-shot pruning drop
// plus searchBitsWeight times its one-shot clustering drop, each
// measured with that layer alone; λ is the largest (most cautious) for
// which the layers' estimates sum to at most the float32 cost / r. With
// one λ for every layer, a layer is compressed further only where that
// buys more cost per point of estimated drop than elsewhere, so a small
// layer is not given a coarse codebook that saves it a few bytes.
func searchAllocator(objective string, layers []string, weights map[string]float64, baseAcc float64, pruneSens []prune.SensitivityPoint, quantSens map[int][]quantize.LayerSensitivity) func(ratio float64) (map[string]float64, map[string]int) {
	type option struct {
		sparsity  float64
		bits      int
		est, drop float64
	}
	opts := map[string][]option{}
	var dense float64
	for _, l := range layers {
		n := weights[l]
		dense += searchEstimate(objective, n, 0, 32)
		dp := map[float64]float64{0: 0}
		for _, p := range pruneSens {
			if p.Layer == l {
				dp[p.Sparsity] = max(0, baseAcc-p.Accuracy)
			}
		}
		dq := map[int]float64{8: 0}
		for _, b := range searchBits {
			for _, s := range quantSens[b] {
				if s.Layer == l {
					dq[b] = max(0, s.Drop)
				}
			}
		}
		for _, sp := range slices.Sorted(maps.Keys(dp)) {
			for _, b := range slices.Sorted(maps.Keys(dq)) {
				opts[l] = append(opts[l], option{sp, b, searchEstimate(objective, n, sp, b), dp[sp] + searchBitsWeight*dq[b]})
			}
		}
	}
	allocate := func(lambda float64) (map[string]float64, map[string]int, float64) {
		sp, bits := map[string]float64{}, map[string]int{}
		var total float64
		for _, l := range layers {
			best := -1
			for i, op := range opts[l] {
				if best < 0 {
					best = i
					continue
				}
				a, b := op.est+lambda*op.drop, opts[l][best].est+lambda*opts[l][best].drop
				if a < b || (a == b && op.drop < opts[l][best].drop) {
					best = i
				}
			}
			if best < 0 {
				continue
			}
			op := opts[l][best]
			if op.sparsity > 0 {
				sp[l] = op.sparsity
			}
			bits[l] = op.bits
			total += op.est
		}
		return sp, bits, total
	}
	return func(ratio float64) (map[string]float64, map[string]int) {
		target := dense / ratio
		// est(λ) grows with λ: bisect log λ for the largest λ within target.
		lo, hi := -30.0, 30.0 // log₂ of λ in cost units per unit of accuracy
		if _, _, e := allocate(math.Exp2(lo) * dense); e > target {
			sp, bits, _ := allocate(0) // the target is out of reach: the smallest allocation
			return sp, bits
		}
		for range 80 {
			mid := (lo + hi) / 2
			if _, _, e := allocate(math.Exp2(mid) * dense); e <= target {
				lo = mid
			} else {
				hi = mid
			}
		}
		sp, bits, _ := allocate(math.Exp2(lo) * dense)
		return sp, bits
	}
}

// searchEstimate is the estimated cost of a layer of n weights at the given
// sparsity and codebook bits (32: float32): for --objective size its bytes
// as codebook indices entropy-coded with the zeros (H(density) + density ×
// bits per weight, which FSE over codebook8 comes close to and ctx beats
// on structured masks); otherwise its
// non-zero weights, with the bytes as a small tie-break so that bits are
// not wasted.
func searchEstimate(objective string, n, sparsity float64, bits int) float64 {
	d := 1 - sparsity
	var b float64
	switch {
	case bits >= 32:
		b = n * 4
	case d >= 1:
		b = n * float64(bits) / 8
	default:
		h := -d*math.Log2(d) - (1-d)*math.Log2(1-d)
		b = n * (h + d*float64(bits)) / 8
	}
	if objective == "size" {
		return b
	}
	return n*d + b/1e6
}

// searchSparsities and searchBits are the per-layer grids.
var (
	searchSparsities = []float64{0.5, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99}
	searchBits       = []int{2, 3, 4, 5, 6}
)

// candidate is one configuration the search tried.
type candidate struct {
	Name        string             `json:"name"`
	Target      float64            `json:"target_ratio"` // the ladder's estimated compression ratio
	Sparsity    map[string]float64 `json:"sparsity"`
	Bits        map[string]int     `json:"bits"`
	ValAccuracy float64            `json:"val_accuracy"`
	FileBytes   int64              `json:"file_bytes"`
	Within      bool               `json:"within_budget"`
	Row         report.Row         `json:"row"`
}

// config describes a candidate's per-layer choices.
func (c *candidate) config() string {
	layers := slices.Collect(maps.Keys(c.Bits))
	for l := range c.Sparsity {
		if _, ok := c.Bits[l]; !ok {
			layers = append(layers, l)
		}
	}
	slices.Sort(layers)
	var parts []string
	for _, l := range layers {
		b := "32b"
		if c.Bits[l] > 0 {
			b = fmt.Sprintf("%db", c.Bits[l])
		}
		parts = append(parts, fmt.Sprintf("%s %.4g%%/%s", l, 100*c.Sparsity[l], b))
	}
	return strings.Join(parts, " ")
}

// searchResult is what the search measured and tried.
type searchResult struct {
	BaseVal    float64                             `json:"base_val_accuracy"`
	MaxDrop    float64                             `json:"max_drop"`
	Objective  string                              `json:"objective"`
	PruneSens  []prune.SensitivityPoint            `json:"prune_sensitivity"`
	QuantSens  map[int][]quantize.LayerSensitivity `json:"quant_sensitivity"` // by bits
	Candidates []candidate                         `json:"candidates"`
	Best       int                                 `json:"best"` // index into Candidates; -1 when none is within budget
	passes     []format.Pass
}

// searchBudget searches per-layer sparsity and bit width for the smallest
// model (by o.Objective) whose accuracy on a validation split carved from
// train is within o.MaxDrop of m's. It takes the training data only, so it
// cannot read a test split. m is not changed. When no candidate is within
// the budget the returned file holds m unchanged.
func searchBudget(ctx context.Context, g *globals, m *nn.Model, train *data.Set, o searchOptions) (*searchResult, *format.File, error) {
	tr, val := train.Split(o.ValFraction, o.ValSeed)
	if val.Len() == 0 || tr.Len() == 0 {
		return nil, nil, fmt.Errorf("search: the validation split of %d training samples is empty", train.Len())
	}
	if o.Samples > 0 && tr.Len() > o.Samples {
		tr = tr.Head(o.Samples)
	}
	base, err := nn.Evaluate(m, val.X, val.Y)
	if err != nil {
		return nil, nil, err
	}
	// Every candidate fine-tunes against the teacher's logits (m's, unless
	// o.Teacher) on the training part, computed once here (the loss only
	// reads them).
	var teacher nn.LossFunc
	if o.Epochs > 0 && !o.NoDistill {
		tm := m
		if o.Teacher != nil {
			tm = o.Teacher
		}
		if teacher, err = distill.Loss(tm, tr.X, searchTemperature, searchAlpha); err != nil {
			return nil, nil, fmt.Errorf("search: %w", err)
		}
	}
	res := &searchResult{BaseVal: base.Accuracy, MaxDrop: o.MaxDrop, Objective: o.Objective, Best: -1, QuantSens: map[int][]quantize.LayerSensitivity{}}
	g.logf("shrink compress: search: validation accuracy %.2f%% on %d samples, budget %.2f points\n", 100*base.Accuracy, val.Len(), 100*o.MaxDrop)
	if base.Accuracy == 1 {
		g.logf("shrink compress: warning: the input model scores 100%% on the validation split, so it has probably been trained on it; fine-tuned candidates forget those images and the budget cannot be met (train the baseline with --val-fraction %g --seed %d to hold them out)\n", o.ValFraction, o.ValSeed)
	}

	// Sensitivity, each layer alone, no fine-tuning.
	g.logf("  per-layer pruning sensitivity ...\n")
	if res.PruneSens, err = prune.Sensitivity(m, val.X, val.Y, searchSparsities, prune.Options{Method: prune.Magnitude}); err != nil {
		return nil, nil, fmt.Errorf("search: %w", err)
	}
	g.logf("  per-layer weight-sharing sensitivity ...\n")
	for _, b := range searchBits {
		ls, err := quantize.Sensitivity(m, tr, val, quantize.Options{Scheme: quantize.Codebook{K: 1 << b}, Seed: o.Seed})
		if err != nil {
			return nil, nil, fmt.Errorf("search: %w", err)
		}
		res.QuantSens[b] = ls
	}
	var layers []string
	for _, p := range res.PruneSens {
		if !slices.Contains(layers, p.Layer) {
			layers = append(layers, p.Layer)
		}
	}
	weights := map[string]float64{}
	for _, l := range layers {
		if a, ok := m.Layer(l).(nn.Accelerated); ok {
			weights[l] = float64(len(a.Weight().W))
		}
	}
	assign := searchAllocator(o.Objective, layers, weights, base.Accuracy, res.PruneSens, res.QuantSens)
	cost := report.CostBytes
	switch o.Objective {
	case "macs":
		cost = report.CostMACs
	case "latency":
		cost = report.CostLatency
	}
	baseBytes, err := encodedSize(&format.File{Model: m, Compress: true})
	if err != nil {
		return nil, nil, err
	}
	var files []*format.File
	// try builds and scores the candidate for ratio; an allocation tried
	// before is not trained again.
	try := func(ratio float64) (bool, error) {
		sp, bits := assign(ratio)
		for _, c := range res.Candidates {
			if maps.Equal(c.Sparsity, sp) && maps.Equal(c.Bits, bits) {
				return c.Within, nil
			}
		}
		c := candidate{Name: fmt.Sprintf("c%d ×%.3g", len(res.Candidates)+1, ratio), Target: ratio, Sparsity: sp, Bits: bits}
		g.logf("  candidate %s: %s\n", c.Name, c.config())
		f, err := buildCandidate(ctx, g, m, tr, teacher, c, o)
		if err != nil {
			return false, err
		}
		ev, err := nn.Evaluate(f.Model, val.X, val.Y)
		if err != nil {
			return false, err
		}
		if c.FileBytes, err = encodedSize(f); err != nil {
			return false, err
		}
		st := f.Model.Stats()
		c.ValAccuracy = ev.Accuracy
		c.Within = base.Accuracy-ev.Accuracy <= o.MaxDrop+1e-12
		c.Row = report.Row{Name: c.Name, Accuracy: ev.Accuracy, FileBytes: c.FileBytes, Ratio: float64(baseBytes) / float64(c.FileBytes),
			Params: st.Params, NonzeroParams: st.NonZero, MACs: st.MACs, EffectiveMACs: st.EffectiveMACs}
		if o.Objective == "latency" {
			c.Row.LatencyUS = latencyUS(f.Model, 3, uint64(o.Seed))
		}
		g.logf("    val accuracy %.2f%% (%+.2f points), %s: %s\n", 100*ev.Accuracy, 100*(ev.Accuracy-base.Accuracy), report.HumanBytes(c.FileBytes),
			map[bool]string{true: "within budget", false: "over budget"}[c.Within])
		res.Candidates = append(res.Candidates, c)
		files = append(files, f)
		return c.Within, nil
	}
	ratios := o.Ratios
	if len(ratios) == 0 {
		ratios = searchRatios
	}
	// Every rung of the ladder is tried: at a 0.1-point budget the
	// mildest candidates can miss by noise (or by over-fitting the
	// fine-tuning) while more aggressive ones pass, so a failure does not
	// end the search.
	var okR, badR []float64
	for _, r := range ratios {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		ok, err := try(r)
		if err != nil {
			return nil, nil, err
		}
		if ok {
			okR = append(okR, r)
		} else {
			badR = append(badR, r)
		}
	}
	// When the most aggressive rung is within budget, the ladder did not
	// reach the limit: go on, ×1.5 a rung, until a candidate fails or the
	// smallest allocation there is has been tried.
	if top := slices.Max(ratios); len(okR) > 0 && slices.Max(okR) == top {
		spMin, bitsMin := assign(math.Inf(1))
		for r, i := top*1.5, 0; i < searchMoreRungs; r, i = r*1.5, i+1 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			ok, err := try(r)
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				badR = append(badR, r)
				break
			}
			okR = append(okR, r)
			if sp, bits := assign(r); maps.Equal(sp, spMin) && maps.Equal(bits, bitsMin) {
				break
			}
		}
	}
	// Refine between the most aggressive success and the next failure.
	if len(okR) > 0 {
		lo, hi := slices.Max(okR), -1.0
		for _, r := range badR {
			if r > lo && (hi < 0 || r < hi) {
				hi = r
			}
		}
		for i := 0; i < 2 && hi > lo; i++ {
			mid := math.Sqrt(lo * hi)
			ok, err := try(mid)
			if err != nil {
				return nil, nil, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
	}
	for i, c := range res.Candidates {
		if !c.Within {
			continue
		}
		if res.Best < 0 || cost.Of(c.Row) < cost.Of(res.Candidates[res.Best].Row) {
			res.Best = i
		}
	}
	if res.Best < 0 {
		g.logf("  no candidate within budget; the model is written unchanged\n")
		f := &format.File{Model: m, Compress: true}
		return res, f, nil
	}
	best := res.Candidates[res.Best]
	g.logf("  best: %s (%s, val accuracy %.2f%%)\n", best.Name, report.HumanBytes(best.FileBytes), 100*best.ValAccuracy)
	spj, _ := json.Marshal(best.Sparsity)
	bj, _ := json.Marshal(best.Bits)
	res.passes = []format.Pass{
		{Name: "prune", Seed: o.Seed, Options: map[string]string{"method": "magnitude", "schedule": "gradual", "steps": strconv.Itoa(searchGradualSteps),
			"layers": string(spj), "epochs": strconv.Itoa(o.Epochs), "distill": strconv.FormatBool(!o.NoDistill), "search": best.Name}},
		{Name: "quantize", Seed: o.Seed, Options: map[string]string{"scheme": "codebook", "bits": string(bj), "epochs": strconv.Itoa(searchClusterEpochs(o.Epochs))}, Accuracy: best.ValAccuracy},
		{Name: "encode", Seed: o.Seed, Options: map[string]string{"encoding": "auto"}, Accuracy: best.ValAccuracy},
	}
	return res, files[res.Best], nil
}

// buildCandidate prunes a copy of m to c's per-layer sparsities, clusters
// each layer's weights to c's bits, and chooses the encodings. With
// fine-tuning epochs it trains the way the recipes do: gradual (Zhu & Gupta)
// pruning spread over the epochs, then centroid fine-tuning, both with the
// loss teacher when it is set (distillation from the teacher's logits on
// train, m's own by default, which was worth +0.3 to +0.5 validation
// points at 92–96% sparsity in bench/COMPRESS.md) and on the labels
// otherwise.
func buildCandidate(ctx context.Context, g *globals, m *nn.Model, train *data.Set, teacher nn.LossFunc, c candidate, o searchOptions) (*format.File, error) {
	work, err := quantize.Clone(m)
	if err != nil {
		return nil, err
	}
	e := &passEnv{ctx: ctx, g: &globals{quiet: true, stderr: g.stderr, stdout: g.stdout}, m: work, train: train, seed: o.Seed}
	args := passArgs{"epochs": o.Epochs, "lr": searchPruneLR}
	cfg := e.trainConfig(args, o.Epochs, "search prune")
	cfg.Loss = teacher
	popt := prune.Options{Method: prune.Magnitude, Layers: c.Sparsity}
	if cfg.Epochs > 0 {
		sch := prune.Schedule{Kind: "gradual", Steps: searchGradualSteps}
		_, _, err = prune.Finetune(ctx, work, train.X, train.Y, popt, sch, cfg)
	} else {
		_, err = prune.Prune(work, popt)
	}
	if err != nil {
		return nil, fmt.Errorf("search: %s: %w", c.Name, err)
	}
	byBits := map[int][]string{}
	for l, b := range c.Bits {
		byBits[b] = append(byBits[b], l)
	}
	for _, b := range slices.Sorted(maps.Keys(byBits)) {
		only := byBits[b]
		slices.Sort(only)
		if _, err := quantize.Quantize(work, nil, quantize.Options{Scheme: quantize.Codebook{K: 1 << b}, Only: only, Seed: o.Seed}); err != nil {
			return nil, fmt.Errorf("search: %s: %w", c.Name, err)
		}
	}
	e.step = 2
	if ce := searchClusterEpochs(o.Epochs); ce > 0 {
		ccfg := e.trainConfig(passArgs{"epochs": ce, "lr": searchClusterLR}, 0, "search cluster")
		ccfg.Loss = teacher
		if _, err := quantize.FineTuneCodebook(ctx, work, train, ccfg); err != nil {
			return nil, fmt.Errorf("search: %s: %w", c.Name, err)
		}
	}
	// Encodings as the recipes' encode pass (lossy: float16 where it is
	// smaller); the candidate is the model as read back from those bytes,
	// so its validation accuracy is the written file's.
	f := &format.File{Model: work, Compress: true}
	if err := chooseEncodings(f, "auto", true); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := format.Encode(&b, f); err != nil {
		return nil, fmt.Errorf("search: %s: %w", c.Name, err)
	}
	back, err := format.Decode(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("search: %s: reading back: %w", c.Name, err)
	}
	back.Encodings = f.Encodings
	back.Compress = true
	return back, nil
}

// The fine-tuning of search candidates: the settings of the committed
// Deep Compression recipes (gradual pruning in 10 events at Adam lr 1e-3,
// distilled at T = 4, alpha = 0.9, then centroid fine-tuning at 2e-4).
const (
	searchGradualSteps = 10
	searchPruneLR      = 0.001
	searchClusterLR    = 0.0002
	searchTemperature  = 4
	searchAlpha        = 0.9
)

// searchClusterEpochs is the centroid fine-tuning budget of a candidate
// pruned for epochs epochs: a tenth, at least one (centroids settle
// quickly), and none without pruning epochs.
func searchClusterEpochs(epochs int) int {
	if epochs <= 0 {
		return 0
	}
	return max(1, epochs/10)
}

// searchSections are the HTML report's sections about a search.
func searchSections(s *searchResult) []report.Section {
	var rows []report.Row
	var extra []string
	for _, c := range s.Candidates {
		r := c.Row
		if !c.Within {
			r.Name += " (over)"
		}
		rows = append(rows, r)
		extra = append(extra, c.config())
	}
	text := []string{fmt.Sprintf("Validation accuracy of the input %.2f%%, budget %.2f points, objective %s. Accuracy is on the validation split carved from the training data; ★ marks the Pareto frontier of validation accuracy against file size.",
		100*s.BaseVal, 100*s.MaxDrop, s.Objective)}
	if s.Best >= 0 {
		text = append(text, "Chosen: "+s.Candidates[s.Best].Name+" ("+s.Candidates[s.Best].config()+").")
	} else {
		text = append(text, "No candidate was within the budget; the input was written unchanged.")
	}
	var sens [][2]string
	for _, p := range s.PruneSens {
		sens = append(sens, [2]string{fmt.Sprintf("prune %s %.0f%%", p.Layer, 100*p.Sparsity), fmt.Sprintf("%.2f%%", 100*p.Accuracy)})
	}
	for _, b := range slices.Sorted(maps.Keys(s.QuantSens)) {
		for _, l := range s.QuantSens[b] {
			sens = append(sens, [2]string{fmt.Sprintf("%d-bit codebook %s", b, l.Layer), fmt.Sprintf("%.2f%%", 100*l.Accuracy)})
		}
	}
	return []report.Section{
		{Title: "search candidates (per layer: sparsity / codebook bits)", Text: text, Rows: rows, Frontier: true, Plot: true, Extra: extra, ExtraTitle: "per-layer sparsity / bits"},
		{Title: "per-layer sensitivity (validation accuracy, one layer changed, no fine-tuning)", Fields: sens},
	}
}
