package compress

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
	"github.com/shrink-ml/shrink/quantize"
)

func TestParseRecipeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
	}{
		{"unknown pass", "passes:\n  - prune: {sparsity: 0.5}\n  - prnue: {}\n", "r.yaml:3: unknown pass \"prnue\""},
		{"teacher without distill", "passes:\n  - quantize: {scheme: int8, epochs: 1, teacher: t.shrink}\n", "r.yaml:2: quantize: option teacher needs distill: true"},
		{"unknown option", "passes:\n  - prune:\n      sparsty: 0.5\n", "r.yaml:3: prune: unknown option \"sparsty\""},
		{"wrong type", "passes:\n  - prune:\n      sparsity: 0.5\n      epochs: many\n", "r.yaml:4: prune.epochs: want a non-negative integer, got \"many\""},
		{"out of range", "passes:\n  - prune: {sparsity: 1.5}\n", "r.yaml:2: prune.sparsity: want a number in [0, 1]"},
		{"bad choice", "passes:\n  - prune: {schedule: sometimes}\n", "r.yaml:2: prune.schedule: \"sometimes\": want one of oneshot, gradual, iterative"},
		{"bad scheme", "passes:\n  - quantize: {scheme: int3}\n", "r.yaml:2: quantize: quantize: unknown scheme \"int3\""},
		{"bool", "passes:\n  - encode: {compress: maybe}\n", "r.yaml:2: encode.compress: want true or false"},
		{"missing arch", "passes:\n  - distill: {epochs: 1}\n", "r.yaml:2: distill: option arch is required"},
		{"no passes", "name: x\n", "r.yaml:1: no passes list"},
		{"unknown key", "nmae: x\npasses: [prune]\n", "r.yaml:1: unknown key \"nmae\""},
		{"mapping", "passes:\n  - prune: 3\n", "r.yaml:2: prune: options are a mapping"},
		{"yaml syntax", "passes: [\n", "r.yaml: yaml: line"},
		{"layers", "passes:\n  - prune:\n      layers: {fc1: high}\n", "r.yaml:3: prune.layers: layer fc1: want a number in [0, 1)"},
		{"distill flag", "passes:\n  - prune:\n      distill: sometimes\n", "r.yaml:3: prune.distill: want true or false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecipe("r.yaml", []byte(tc.text))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	r, err := ParseRecipe("r.yaml", []byte("name: ok\nval_fraction: 0.2\npasses:\n  - prune: {sparsity: 0.9, layers: {fc1: 0.95}}\n  - quantize:\n      scheme: \"cluster:16\"\n      keep_float: [fc3]\n  - encode\n"))
	require.NoError(t, err)
	require.Equal(t, "ok", r.Name)
	require.Equal(t, 0.2, r.ValFraction)
	require.Len(t, r.Steps, 3)
	require.Equal(t, 0.9, r.Steps[0].Options.float("sparsity", 0))
	require.Equal(t, map[string]float64{"fc1": 0.95}, r.Steps[0].Options.layerF("layers"))
	require.Equal(t, `{"fc1":0.95}`, r.Steps[0].Options.Strings()["layers"])
	require.Equal(t, []string{"fc3"}, r.Steps[1].Options.strs("keep_float"))
	require.Equal(t, 5, r.Steps[1].Line)
	require.Equal(t, "encode", r.Steps[2].Pass)

	// Every committed recipe parses.
	files, _ := filepath.Glob("../recipes/*.yaml")
	for _, f := range files {
		text, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = ParseRecipe(f, text)
		require.NoError(t, err, f)
	}
}

func TestParseDrop(t *testing.T) {
	v, err := ParseDrop("0.1%")
	require.NoError(t, err)
	require.InDelta(t, 0.001, v, 1e-15)
	v, err = ParseDrop("0.02")
	require.NoError(t, err)
	require.Equal(t, 0.02, v)
	for _, s := range []string{"", "-1%", "abc", "100%", "NaN"} {
		_, err := ParseDrop(s)
		require.Error(t, err, s)
	}
}

// TestSearch runs the budget search on a small model. The search takes the
// training Set only; the test Set handed to it would be the only way to
// read the test split, and there is none: the signature is the assertion,
// and here the test part is additionally poisoned so that any use of it
// would break the run's accuracy.
func TestSearch(t *testing.T) {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	ds.Train = ds.Train.Head(3000)
	for i := range ds.Test.X {
		ds.Test.X[i] = float32(math.NaN()) // never read
	}
	specs, err := nn.ParseArch("mlp:32", nn.Shape(ds.Train.Shape), 10)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape(ds.Train.Shape), specs)
	require.NoError(t, err)
	m.Init(1)
	_, err = nn.Train(context.Background(), m, ds.Train.X, ds.Train.Y, nn.TrainConfig{Epochs: 3, Batch: 64, Optimizer: "adam", Schedule: nn.Schedule{Kind: "cosine", Base: 0.002}, Seed: 1})
	require.NoError(t, err)
	before := m.Stats()

	env := &Env{Seed: 1}
	d := Holdout(ds.Train, 0.2, 1)
	o := Budget{MaxDrop: 0.01, Objective: Size, Epochs: 1, Ratios: []float64{4, 16, 64}}
	res, err := Search(context.Background(), m, d, o, env)
	require.NoError(t, err)
	require.Equal(t, before, m.Stats(), "the input model is not changed")
	require.NotEmpty(t, res.Candidates)
	require.NotEmpty(t, res.PruneSens)
	for _, c := range res.Candidates {
		require.Greater(t, c.FileBytes, int64(0))
		require.Equal(t, res.BaseVal-c.ValAccuracy <= o.MaxDrop+1e-12, c.Within)
	}
	if res.Best >= 0 {
		best := res.Candidates[res.Best]
		require.True(t, best.Within)
		for _, c := range res.Candidates {
			if c.Within {
				require.LessOrEqual(t, best.FileBytes, c.FileBytes)
			}
		}
		// The candidate's bytes are the file's without its provenance.
		size, err := encodedSize(&format.File{Model: res.File.Model, Compress: true, Encodings: res.File.Encodings})
		require.NoError(t, err)
		require.Equal(t, best.FileBytes, size)
		require.Len(t, res.File.Provenance.Passes, 3)
		require.Equal(t, best.Name, res.File.Provenance.Passes[0].Options["search"])
	}
	secs := res.Sections()
	require.True(t, secs[0].Frontier)
	require.Len(t, secs[0].Rows, len(res.Candidates))
	require.True(t, strings.HasPrefix(secs[0].Rows[0].Name, "c1"))

	// A budget every rung meets: the search goes past the ladder's end
	// until a candidate fails or the allocation stops changing.
	o.MaxDrop, o.Ratios, o.Samples = 0.9, []float64{2, 3}, 500
	res, err = Search(context.Background(), m, d, o, env)
	require.NoError(t, err)
	var top float64
	for _, c := range res.Candidates {
		top = max(top, c.Target)
	}
	require.Greater(t, top, 3.0)
	require.LessOrEqual(t, len(res.Candidates), 2+searchMoreRungs)
	require.GreaterOrEqual(t, res.Best, 0)
}

// TestSearchAllocator checks the Lagrangian allocation on made-up
// sensitivities: a big sensitive layer, a big layer that loses nothing
// however it is compressed, and a small layer.
func TestSearchAllocator(t *testing.T) {
	layers := []string{"big", "free", "small"}
	weights := map[string]float64{"big": 10000, "free": 8000, "small": 100}
	var ps []prune.SensitivityPoint
	qs := map[int][]quantize.LayerSensitivity{}
	for _, sp := range searchSparsities {
		ps = append(ps,
			prune.SensitivityPoint{Layer: "big", Sparsity: sp, Accuracy: 0.98 - 0.5*sp*sp*sp},
			prune.SensitivityPoint{Layer: "free", Sparsity: sp, Accuracy: 0.98},
			prune.SensitivityPoint{Layer: "small", Sparsity: sp, Accuracy: 0.98 - 0.3*sp*sp})
	}
	for _, b := range searchBits {
		d := 0.02 / float64(b*b)
		qs[b] = []quantize.LayerSensitivity{{Layer: "big", Drop: d}, {Layer: "free", Drop: 0}, {Layer: "small", Drop: d}}
	}
	assign := searchAllocator("size", layers, weights, 0.98, ps, qs)
	var dense float64
	for _, l := range layers {
		dense += searchEstimate("size", weights[l], 0, 32)
	}
	est := func(sp map[string]float64, bits map[string]int) float64 {
		var e float64
		for _, l := range layers {
			e += searchEstimate("size", weights[l], sp[l], bits[l])
		}
		return e
	}
	maxS, minB := slices.Max(searchSparsities), slices.Min(searchBits)
	prev := math.Inf(1)
	for _, r := range []float64{2, 8, 16, 32, 64} {
		sp, bits := assign(r)
		e := est(sp, bits)
		require.LessOrEqual(t, e, dense/r, "ratio %g: %v %v", r, sp, bits)
		require.LessOrEqual(t, e, prev, "ratio %g", r)
		prev = e
		// The layer that loses nothing is compressed all the way first.
		require.Equal(t, maxS, sp["free"], "ratio %g", r)
		require.Equal(t, minB, bits["free"], "ratio %g", r)
	}
	// At a mild ratio the sensitive layers keep more than the minimum.
	sp, bits := assign(2)
	require.Less(t, sp["big"], maxS)
	require.Greater(t, bits["big"], minB)
	// Out of reach: the smallest allocation of every layer.
	sp, bits = assign(1e9)
	for _, l := range layers {
		require.Equal(t, maxS, sp[l], l)
		require.Equal(t, minB, bits[l], l)
	}
}

func TestCandidateConfig(t *testing.T) {
	c := Candidate{Sparsity: map[string]float64{"fc1": 0.935}, Bits: map[string]int{"fc1": 3, "fc2": 4}}
	require.Equal(t, "fc1 93.5%/3b fc2 0%/4b", c.Config())
	c = Candidate{Sparsity: map[string]float64{"fc1": 0.5}}
	require.Equal(t, "fc1 50%/32b", c.Config())
}

// TestRunValidates checks a recipe built in Go: numbers are converted to
// the option's kind where no value is lost, and a bad option stops the run
// before any pass trains.
func TestRunValidates(t *testing.T) {
	r := &Recipe{Steps: []Step{{Pass: "prune", Options: Options{"sparsity": 0.5, "epochs": 2.0, "steps": 3}}}}
	require.NoError(t, r.Validate())
	require.Equal(t, 2, r.Steps[0].Options["epochs"])
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Step{Pass: "prune", Options: Options{"epochs": 1.5}}, "prune.epochs: want a non-negative integer, got 1.5"},
		{Step{Pass: "prune", Options: Options{"epochs": 1e9}}, "prune.epochs: 1e+09 is more than 10000"},
		{Step{Pass: "prune", Options: Options{"batch": 100000000000}}, "prune.batch"},
		{Step{Pass: "prune", Options: Options{"sparsity": "half"}}, "prune.sparsity: want a number in [0, 1]"},
		{Step{Pass: "prnue"}, "unknown pass \"prnue\""},
		{Step{Pass: "quantize", Options: Options{"scheme": "int3"}}, "unknown scheme"},
	} {
		r := &Recipe{Name: "go", Steps: []Step{tc.step}}
		_, err := Run(context.Background(), nil, Data{}, r, nil)
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, "recipe go")
	}
	_, err := ParseRecipe("r.yaml", []byte("name: a\nname: b\npasses: [encode]\n"))
	require.ErrorContains(t, err, "r.yaml:2: key \"name\" given twice")
	_, err = ParseRecipe("r.yaml", []byte("passes:\n  - prune: {layers: {fc1: 0.5, fc1: 0.6}}\n"))
	require.ErrorContains(t, err, "fc1")
	_, err = ParseRecipe("r.yaml", make([]byte, MaxRecipeBytes+1))
	require.ErrorContains(t, err, "a recipe is at most")
}

// TestRunNeverChangesInput runs a recipe directly and checks the input
// model is untouched, the steps are recorded and the validation part is
// what is measured.
func TestRunNeverChangesInput(t *testing.T) {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	specs, err := nn.ParseArch("mlp:16", nn.Shape(ds.Train.Shape), 10)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape(ds.Train.Shape), specs)
	require.NoError(t, err)
	m.Init(2)
	_, err = nn.Train(context.Background(), m, ds.Train.X[:1000*784], ds.Train.Y[:1000], nn.TrainConfig{Epochs: 2, Batch: 64, Optimizer: "adam", Schedule: nn.Schedule{Kind: "cosine", Base: 0.003}, Seed: 2})
	require.NoError(t, err)
	before := m.Tensors()
	snapshot := map[string][]float32{}
	for k, v := range before {
		snapshot[k] = slices.Clone(v)
	}
	var lines []string
	env := &Env{Seed: 3, Logf: func(f string, a ...any) { lines = append(lines, f) }}
	d := Holdout(ds.Train.Head(1500), 0.2, 3)
	r := &Recipe{Steps: []Step{{Pass: "prune", Options: Options{"sparsity": 0.7}}, {Pass: "encode"}}}
	res, err := Run(context.Background(), m, d, r, env)
	require.NoError(t, err)
	for k, v := range m.Tensors() {
		require.Equal(t, snapshot[k], v, k)
	}
	require.Len(t, res.Steps, 2)
	ev, err := nn.Evaluate(res.File.Model, d.Val.X, d.Val.Y)
	require.NoError(t, err)
	require.Equal(t, ev.Accuracy, res.ValAccuracy)
	require.NotEmpty(t, lines, "the log hook is called")
	st := res.File.Model.Stats()
	require.InDelta(t, 0.3, float64(st.NonZero)/float64(st.Params), 0.02)
}
