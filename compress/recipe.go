package compress

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shrink-ml/shrink/quantize"
)

// Recipe is an ordered list of passes with their options. Build one in Go
// or parse one from YAML with ParseRecipe:
//
//	name: deep-compression-lenet300        # optional
//	val_fraction: 0.1                       # optional
//	passes:
//	  - prune:    {sparsity: 0.92, schedule: iterative, steps: 3, epochs: 3}
//	  - quantize: {scheme: "cluster:16", epochs: 1}
//	  - encode:   {encoding: auto}
type Recipe struct {
	Name        string
	Description string
	// ValFraction is the fraction of the training data carved out for
	// validation when the caller does not choose one (0: the caller's
	// default).
	ValFraction float64
	Steps       []Step
	// Text is the recipe as read (empty for a recipe built in Go), kept in
	// the output file's provenance.
	Text string
	// File names the recipe in errors (e.g. its path).
	File string
}

// Step is one pass of a recipe with its options.
type Step struct {
	Pass string
	// Options are the pass's options by name (see Passes for the names
	// and their kinds): int, float64, bool, string, []string,
	// map[string]float64 (per-layer numbers) or map[string]string
	// (per-layer strings). Validate converts whole float64s to int, ints
	// to float64 and a string to []string where the kind asks for it.
	Options Options
	// Line is the step's line in Text (0 for a recipe built in Go).
	Line int
}

// Options are a step's options, typed by their kind.
type Options map[string]any

func (a Options) int(k string, def int) int {
	if v, ok := a[k]; ok {
		return v.(int)
	}
	return def
}

func (a Options) float(k string, def float64) float64 {
	if v, ok := a[k]; ok {
		return v.(float64)
	}
	return def
}

func (a Options) str(k, def string) string {
	if v, ok := a[k]; ok {
		return v.(string)
	}
	return def
}

func (a Options) bool(k string, def bool) bool {
	if v, ok := a[k]; ok {
		return v.(bool)
	}
	return def
}

func (a Options) strs(k string) []string {
	if v, ok := a[k]; ok {
		return v.([]string)
	}
	return nil
}

func (a Options) layerF(k string) map[string]float64 {
	if v, ok := a[k]; ok {
		return v.(map[string]float64)
	}
	return nil
}

func (a Options) layerS(k string) map[string]string {
	if v, ok := a[k]; ok {
		return v.(map[string]string)
	}
	return nil
}

// Strings formats the options for provenance: one string per option.
func (a Options) Strings() map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = formatOpt(v)
	}
	return out
}

// where prefixes an error with the recipe's file and a line.
func (r *Recipe) where(line int) string {
	name := r.File
	if name == "" {
		name = "recipe"
		if r.Name != "" {
			name = "recipe " + r.Name
		}
	}
	if line > 0 {
		return fmt.Sprintf("%s:%d", name, line)
	}
	return name
}

// Validate checks every step against the pass registry: known passes,
// known options of the right kind (converting between the number kinds
// where no value is lost), and the checks a pass can make without a model
// (scheme names, required options). Run calls it; a recipe that fails it
// runs no pass.
func (r *Recipe) Validate() error {
	if len(r.Steps) == 0 {
		return fmt.Errorf("%s: no passes", r.where(0))
	}
	if r.ValFraction != 0 && !(r.ValFraction > 0 && r.ValFraction < 1) {
		return fmt.Errorf("%s: val_fraction %v: want a number in (0, 1)", r.where(0), r.ValFraction)
	}
	for i := range r.Steps {
		st := &r.Steps[i]
		def, ok := registry[st.Pass]
		if !ok {
			return fmt.Errorf("%s: unknown pass %q (known: %s)", r.where(st.Line), st.Pass, PassNames())
		}
		if st.Options == nil {
			st.Options = Options{}
		}
		for k, v := range st.Options {
			spec, ok := def.opts[k]
			if !ok {
				return fmt.Errorf("%s: %s: unknown option %q (known: %s)", r.where(st.Line), st.Pass, k, strings.Join(slices.Sorted(maps.Keys(def.opts)), ", "))
			}
			nv, err := spec.check(v)
			if err != nil {
				return fmt.Errorf("%s: %s.%s: %v", r.where(st.Line), st.Pass, k, err)
			}
			st.Options[k] = nv
		}
		if err := checkStep(st); err != nil {
			return fmt.Errorf("%s: %s: %v", r.where(st.Line), st.Pass, err)
		}
	}
	return nil
}

// MaxRecipeBytes bounds a recipe's text: recipes are a few lines.
const MaxRecipeBytes = 1 << 20

// ParseRecipe parses recipe YAML; name (usually the file's path) prefixes
// every error with the line it is about. Unknown keys, unknown passes and
// options, and keys given twice are errors.
func ParseRecipe(name string, text []byte) (*Recipe, error) {
	if len(text) > MaxRecipeBytes {
		return nil, fmt.Errorf("%s: %d bytes: a recipe is at most %d bytes", name, len(text), MaxRecipeBytes)
	}
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
	r := &Recipe{Text: string(text), File: name}
	var passesNode *yaml.Node
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, errf(k, "key %q given twice", k.Value)
		}
		seen[k.Value] = true
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
		def, ok := registry[pname.Value]
		if !ok {
			return nil, errf(pname, "unknown pass %q (known: %s)", pname.Value, PassNames())
		}
		st := Step{Pass: pname.Value, Line: pname.Line, Options: Options{}}
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
				if _, dup := st.Options[k.Value]; dup {
					return nil, errf(k, "%s: option %q given twice", pname.Value, k.Value)
				}
				val, err := parseOpt(v, spec)
				if err != nil {
					return nil, errf(v, "%s.%s: %v", pname.Value, k.Value, err)
				}
				st.Options[k.Value] = val
			}
		}
		if err := checkStep(&st); err != nil {
			return nil, errf(pname, "%s: %v", pname.Value, err)
		}
		r.Steps = append(r.Steps, st)
	}
	return r, nil
}

// OptionKind is the type of a pass option.
type OptionKind int

// The option kinds.
const (
	OptInt     OptionKind = iota // a non-negative integer
	OptFloat                     // a non-negative number
	OptFrac                      // a number in [0, 1]
	OptString                    // a string (one of Choices, when given)
	OptBool                      // true or false
	OptStrings                   // a list of strings (or one string)
	OptLayerF                    // a mapping layer name → number in [0, 1)
	OptLayerS                    // a mapping layer name → string
)

func (k OptionKind) String() string {
	return [...]string{"a non-negative integer", "a non-negative number", "a number in [0, 1]", "a string", "true or false",
		"a list of strings", "a mapping of layer names to numbers in [0, 1)", "a mapping of layer names to strings"}[k]
}

// OptionSpec describes one option of a pass.
type OptionSpec struct {
	Kind    OptionKind
	Choices []string // allowed values of an OptString, when not empty
	Doc     string
	// Max bounds an OptInt or OptFloat (0: no bound beyond the kind's).
	Max float64
}

// check validates a Go value against the spec, converting between number
// kinds where no value is lost.
func (s OptionSpec) check(v any) (any, error) {
	num := func() (float64, bool) {
		switch v := v.(type) {
		case int:
			return float64(v), true
		case int64:
			return float64(v), true
		case float64:
			return v, true
		case float32:
			return float64(v), true
		}
		return 0, false
	}
	switch s.Kind {
	case OptInt:
		f, ok := num()
		if !ok || f != math.Trunc(f) || f < 0 || f > math.MaxInt32 {
			return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
		}
		if s.Max > 0 && f > s.Max {
			return nil, fmt.Errorf("%v is more than %g", v, s.Max)
		}
		return int(f), nil
	case OptFloat, OptFrac:
		f, ok := num()
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || (s.Kind == OptFrac && f > 1) {
			return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
		}
		if s.Max > 0 && f > s.Max {
			return nil, fmt.Errorf("%v is more than %g", v, s.Max)
		}
		return f, nil
	case OptString:
		str, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
		}
		if s.Choices != nil && !slices.Contains(s.Choices, str) {
			return nil, fmt.Errorf("%q: want one of %s", str, strings.Join(s.Choices, ", "))
		}
		return str, nil
	case OptBool:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
		}
		return b, nil
	case OptStrings:
		switch v := v.(type) {
		case string:
			return []string{v}, nil
		case []string:
			return v, nil
		}
		return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
	case OptLayerF:
		m, ok := v.(map[string]float64)
		if !ok {
			return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
		}
		for l, f := range m {
			if !(f >= 0 && f < 1) {
				return nil, fmt.Errorf("layer %s: want a number in [0, 1), got %v", l, f)
			}
		}
		return m, nil
	case OptLayerS:
		m, ok := v.(map[string]string)
		if !ok {
			return nil, fmt.Errorf("want %s, got %v", s.Kind, v)
		}
		return m, nil
	}
	return nil, fmt.Errorf("unknown option kind %d", s.Kind)
}

// parseOpt converts one option value node to its kind.
func parseOpt(v *yaml.Node, spec OptionSpec) (any, error) {
	scalar := func() (string, error) {
		if v.Kind != yaml.ScalarNode {
			return "", fmt.Errorf("want %s", spec.Kind)
		}
		return v.Value, nil
	}
	switch spec.Kind {
	case OptInt:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("want %s, got %q", spec.Kind, s)
		}
		return spec.check(n)
	case OptFloat, OptFrac:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("want %s, got %q", spec.Kind, s)
		}
		return spec.check(f)
	case OptString:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		return spec.check(s)
	case OptBool:
		s, err := scalar()
		if err != nil {
			return nil, err
		}
		b, err := strconv.ParseBool(s)
		if err != nil {
			return nil, fmt.Errorf("want true or false, got %q", s)
		}
		return b, nil
	case OptStrings:
		if v.Kind == yaml.ScalarNode {
			return []string{v.Value}, nil
		}
		if v.Kind != yaml.SequenceNode {
			return nil, fmt.Errorf("want %s", spec.Kind)
		}
		var out []string
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("want %s", spec.Kind)
			}
			out = append(out, c.Value)
		}
		return out, nil
	case OptLayerF, OptLayerS:
		if v.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("want %s", spec.Kind)
		}
		mf, ms := map[string]float64{}, map[string]string{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, c := v.Content[i], v.Content[i+1]
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("layer %s: want a scalar", k.Value)
			}
			if _, dup := mf[k.Value]; dup {
				return nil, fmt.Errorf("layer %s given twice", k.Value)
			}
			if _, dup := ms[k.Value]; dup {
				return nil, fmt.Errorf("layer %s given twice", k.Value)
			}
			if spec.Kind == OptLayerS {
				ms[k.Value] = c.Value
				continue
			}
			f, err := strconv.ParseFloat(c.Value, 64)
			if err != nil || !(f >= 0 && f < 1) {
				return nil, fmt.Errorf("layer %s: want a number in [0, 1), got %q", k.Value, c.Value)
			}
			mf[k.Value] = f
		}
		if spec.Kind == OptLayerS {
			return ms, nil
		}
		return mf, nil
	}
	return nil, fmt.Errorf("unknown option kind %d", spec.Kind)
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
func checkStep(st *Step) error {
	if st.Options.str("teacher", "") != "" && !st.Options.bool("distill", false) {
		return fmt.Errorf("option teacher needs distill: true")
	}
	switch st.Pass {
	case "quantize":
		if _, err := quantize.Parse(st.Options.str("scheme", "int8"), st.Options.str("granularity", "")); err != nil {
			return err
		}
		for l, s := range st.Options.layerS("layers") {
			if _, err := quantize.Parse(s, ""); err != nil {
				return fmt.Errorf("layer %s: %w", l, err)
			}
		}
	case "distill":
		if st.Options.str("arch", "") == "" {
			return fmt.Errorf("option arch is required")
		}
	case "prune":
		if st.Options.str("method", "magnitude") == "nm" && (st.Options.int("n", 0) == 0 || st.Options.int("m", 0) == 0) {
			return fmt.Errorf("method nm needs n and m")
		}
	}
	return nil
}
