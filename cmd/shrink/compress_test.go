package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
			_, err := parseRecipe("r.yaml", []byte(tc.text))
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}
	r, err := parseRecipe("r.yaml", []byte("name: ok\nval_fraction: 0.2\npasses:\n  - prune: {sparsity: 0.9, layers: {fc1: 0.95}}\n  - quantize:\n      scheme: \"cluster:16\"\n      keep_float: [fc3]\n  - encode\n"))
	require.NoError(t, err)
	require.Equal(t, "ok", r.Name)
	require.Equal(t, 0.2, r.ValFraction)
	require.Len(t, r.Steps, 3)
	require.Equal(t, 0.9, r.Steps[0].Args.float("sparsity", 0))
	require.Equal(t, map[string]float64{"fc1": 0.95}, r.Steps[0].Args.layerF("layers"))
	require.Equal(t, `{"fc1":0.95}`, r.Steps[0].Options["layers"])
	require.Equal(t, []string{"fc3"}, r.Steps[1].Args.strs("keep_float"))
	require.Equal(t, 5, r.Steps[1].Line)
	require.Equal(t, "encode", r.Steps[2].Pass)

	// Every committed recipe parses.
	files, _ := filepath.Glob("../../recipes/*.yaml")
	for _, f := range files {
		text, err := os.ReadFile(f)
		require.NoError(t, err)
		_, err = parseRecipe(f, text)
		require.NoError(t, err, f)
	}
}

func TestCompressRecipe(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:32", "--epochs", "2", "-q", "-o", in)
	require.Equal(t, 0, code, errs)
	rec := filepath.Join(dir, "r.yaml")
	text := "name: t\npasses:\n  - prune: {sparsity: 0.8, epochs: 1, distill: true}\n  - quantize: {scheme: \"cluster:16\", epochs: 1}\n  - encode: {encoding: auto}\n"
	require.NoError(t, os.WriteFile(rec, []byte(text), 0o644))
	out := filepath.Join(dir, "out.shrink")
	code, stdout, errs := shrinkRun(t, "compress", in, "--recipe", rec, "-o", out, "--json", "-q", "--seed", "5")
	require.Equal(t, 0, code, errs)
	var res compressResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Len(t, res.Steps, 3)
	require.Less(t, res.FileBytes, res.BaseBytes/4)
	require.Equal(t, fileSize(out), res.FileBytes)
	require.Greater(t, res.Accuracy, 0.5)

	f, err := format.Read(out)
	require.NoError(t, err)
	require.Equal(t, res.Accuracy, f.Provenance.Accuracy)
	require.Equal(t, text, f.Provenance.Options["recipe"])
	require.EqualValues(t, 5, f.Provenance.Seed)
	require.Len(t, f.Provenance.Passes, 3)
	for i, p := range f.Provenance.Passes {
		require.Equal(t, res.Steps[i].Pass, p.Name)
		require.Equal(t, res.Steps[i].ValAccuracy, p.Accuracy)
		require.EqualValues(t, 5, p.Seed)
	}
	require.Equal(t, "0.8", f.Provenance.Passes[0].Options["sparsity"])
	require.Equal(t, "true", f.Provenance.Passes[0].Options["distill"])
	html, err := os.ReadFile(filepath.Join(dir, "out.html"))
	require.NoError(t, err)
	require.Contains(t, string(html), "<td>out (out)</td>")
	require.Contains(t, string(html), "<td>1 prune</td>")

	// A recipe error is a usage error with the line.
	require.NoError(t, os.WriteFile(rec, []byte("passes:\n  - prune: {sparsity: 2}\n"), 0o644))
	code, _, errs = shrinkRun(t, "compress", in, "--recipe", rec, "-o", out)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "r.yaml:2:")
	code, _, _ = shrinkRun(t, "compress", in, "-o", out)
	require.Equal(t, exitUsage, code)
	code, _, _ = shrinkRun(t, "compress", in, "--max-drop", "x%", "-o", out)
	require.Equal(t, exitUsage, code)
}

func TestParseDrop(t *testing.T) {
	v, err := parseDrop("0.1%")
	require.NoError(t, err)
	require.InDelta(t, 0.001, v, 1e-15)
	v, err = parseDrop("0.02")
	require.NoError(t, err)
	require.Equal(t, 0.02, v)
	for _, s := range []string{"", "-1%", "abc", "100%", "NaN"} {
		_, err := parseDrop(s)
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

	g := &globals{quiet: true, stdout: io.Discard, stderr: io.Discard}
	o := searchOptions{MaxDrop: 0.01, Objective: "size", ValFraction: 0.2, ValSeed: 1, Epochs: 1, Seed: 1, Ratios: []float64{4, 16, 64}}
	res, f, err := searchBudget(context.Background(), g, m, ds.Train, o)
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
		size, err := encodedSize(f)
		require.NoError(t, err)
		require.Equal(t, best.FileBytes, size)
	}
	secs := searchSections(res)
	require.True(t, secs[0].Frontier)
	require.Len(t, secs[0].Rows, len(res.Candidates))
	require.True(t, strings.HasPrefix(secs[0].Rows[0].Name, "c1"))

	// A budget every rung meets: the search goes past the ladder's end
	// until a candidate fails or the allocation stops changing.
	o.MaxDrop, o.Ratios, o.Samples = 0.9, []float64{2, 3}, 500
	res, _, err = searchBudget(context.Background(), g, m, ds.Train, o)
	require.NoError(t, err)
	var top float64
	for _, c := range res.Candidates {
		top = max(top, c.Target)
	}
	require.Greater(t, top, 3.0)
	require.LessOrEqual(t, len(res.Candidates), 2+searchMoreRungs)
	require.GreaterOrEqual(t, res.Best, 0)
}

func TestDemoStoryShort(t *testing.T) {
	dir := t.TempDir()
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	ds.Train, ds.Test = ds.Train.Head(1000), ds.Test.Head(300)
	g := &globals{quiet: true, seed: 1, stdout: &strings.Builder{}, stderr: io.Discard}
	o := &demoOptions{out: dir, epochs: 1, short: true}
	to := &trainOptions{arch: "lenet300", epochs: 1, batch: 64, optimizer: "adam", schedule: "cosine", out: filepath.Join(dir, "lenet300.shrink")}
	_, err = trainModel(context.Background(), g, to, ds)
	require.NoError(t, err)
	st, err := runDemoStory(context.Background(), g, o, ds, to.out)
	require.NoError(t, err)
	require.Len(t, st.Rows, 5)
	require.EqualValues(t, 1, st.Rows[0].Agreement)
	for i, r := range st.Rows[1:] {
		require.Greater(t, r.Ratio, 1.0, r.Name)
		require.Greater(t, r.Accuracy, 0.3, r.Name)
		f, err := format.Read(st.Models[i+1])
		require.NoError(t, err)
		require.NotEmpty(t, f.Provenance.Passes)
	}
	out := g.stdout.(*strings.Builder).String()
	for _, n := range []string{"baseline", "pruned", "int8", "distilled", "compressed"} {
		require.Contains(t, out, n)
	}
	html, err := os.ReadFile(st.HTML)
	require.NoError(t, err)
	for _, r := range st.Rows {
		require.Contains(t, string(html), "<td>"+r.Name+"</td>")
	}
	_, err = os.Stat(st.Plot)
	require.NoError(t, err)
}

// TestCompressTeacher runs a recipe whose passes distill from a teacher
// file, with the validation split's seed fixed apart from the training seed,
// and checks the teacher option's errors.
func TestCompressTeacher(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:32", "--epochs", "2", "-q", "-o", in)
	require.Equal(t, 0, code, errs)
	teacher := filepath.Join(dir, "teacher.shrink")
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:64", "--epochs", "2", "-q", "-o", teacher)
	require.Equal(t, 0, code, errs)
	rec := filepath.Join(dir, "r.yaml")
	text := fmt.Sprintf("passes:\n  - prune: {sparsity: 0.8, epochs: 1, distill: true, teacher: %q}\n  - quantize: {scheme: \"cluster:16\", epochs: 1, distill: true, temperature: 2}\n", teacher)
	require.NoError(t, os.WriteFile(rec, []byte(text), 0o644))
	out := filepath.Join(dir, "out.shrink")
	run := func(args ...string) compressResult {
		code, stdout, errs := shrinkRun(t, append([]string{"compress", in, "--recipe", rec, "-o", out, "--json", "-q"}, args...)...)
		require.Equal(t, 0, code, errs)
		var res compressResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &res))
		return res
	}
	a := run("--seed", "5", "--val-seed", "1")
	f, err := format.Read(out)
	require.NoError(t, err)
	require.Equal(t, "1", f.Provenance.Options["val_seed"])
	require.Equal(t, teacher, f.Provenance.Passes[0].Options["teacher"])
	require.Equal(t, "true", f.Provenance.Passes[1].Options["distill"])
	require.Greater(t, a.Accuracy, 0.5)
	// The same held-out images as a run with --seed 1: the input model's
	// validation accuracy is the same.
	b := run("--seed", "1")
	require.Equal(t, b.BaseVal, a.BaseVal)
	f, err = format.Read(out)
	require.NoError(t, err)
	require.Equal(t, "1", f.Provenance.Options["val_seed"])

	// --teacher: the default teacher of passes that name none, recorded.
	norec := filepath.Join(dir, "n.yaml")
	require.NoError(t, os.WriteFile(norec, []byte("passes:\n  - prune: {sparsity: 0.8, epochs: 1, distill: true}\n"), 0o644))
	code, _, errs = shrinkRun(t, "compress", in, "--recipe", norec, "--teacher", teacher, "-o", out, "-q")
	require.Equal(t, 0, code, errs)
	f, err = format.Read(out)
	require.NoError(t, err)
	require.Equal(t, teacher, f.Provenance.Options["teacher"])
	code, _, errs = shrinkRun(t, "compress", in, "--recipe", norec, "--teacher", rec, "-o", filepath.Join(dir, "bad.shrink"), "-q")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--teacher")
	code, _, errs = shrinkRun(t, "compress", in, "--max-drop", "1%", "--no-distill", "--teacher", teacher, "-o", filepath.Join(dir, "bad.shrink"), "-q")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--no-distill")

	for _, c := range []struct{ teacher, want string }{
		{filepath.Join(dir, "missing.shrink"), "missing.shrink"},
		{rec, "r.yaml"}, // not a model file
	} {
		bad := fmt.Sprintf("passes:\n  - quantize: {scheme: \"cluster:4\", epochs: 1, distill: true, teacher: %q}\n", c.teacher)
		require.NoError(t, os.WriteFile(rec, []byte(bad), 0o644))
		code, _, errs := shrinkRun(t, "compress", in, "--recipe", rec, "-o", filepath.Join(dir, "bad.shrink"), "-q")
		require.NotEqual(t, 0, code)
		require.Contains(t, errs, "teacher")
		require.Contains(t, errs, c.want)
		require.NoFileExists(t, filepath.Join(dir, "bad.shrink"))
	}
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
	c := candidate{Sparsity: map[string]float64{"fc1": 0.935}, Bits: map[string]int{"fc1": 3, "fc2": 4}}
	require.Equal(t, "fc1 93.5%/3b fc2 0%/4b", c.config())
	c = candidate{Sparsity: map[string]float64{"fc1": 0.5}}
	require.Equal(t, "fc1 50%/32b", c.config())
}
