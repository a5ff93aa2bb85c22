package prune

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// outputTol is the largest difference allowed between logits that differ
// only in the order of float32 sums.
const outputTol = 1e-4

func mlp(t *testing.T, in int, arch string, seed uint64) *nn.Model {
	t.Helper()
	specs, err := nn.ParseArch(arch, nn.Shape{in}, 5)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape{in}, specs)
	require.NoError(t, err)
	m.Init(seed)
	return m
}

func convNet(t *testing.T, bn bool) *nn.Model {
	t.Helper()
	arch := "conv:6:3,relu,maxpool:2,conv:8:3,relu,maxpool:2,dense:12,relu,dense:4"
	if bn {
		arch = "conv:6:3,bn,relu,maxpool:2,conv:8:3,relu,bn,maxpool:2,dense:12,bn,relu,dense:4"
	}
	in := nn.Shape{14, 14, 2}
	specs, err := nn.ParseArch(arch, in, 4)
	require.NoError(t, err)
	m, err := nn.Build(in, specs)
	require.NoError(t, err)
	m.Init(7)
	// Non-trivial batch-norm statistics and biases.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			if p.Name != "weight" {
				for i := range p.W {
					p.W[i] += float32(rng.Float64()) * 0.5
				}
			}
		}
	}
	return m
}

func randData(n, d, k int, seed uint64) ([]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*d)
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(k)
		for j := 0; j < d; j++ {
			x[i*d+j] = float32(rng.NormFloat64())
			if j%k == y[i] {
				x[i*d+j] += 1.5
			}
		}
	}
	return x, y
}

func zeros(p *nn.Param) int { return len(p.W) - int(p.NonZero()) }

func TestMagnitudePerLayerExact(t *testing.T) {
	m := mlp(t, 37, "mlp:23,11", 1)
	rep, err := Prune(m, Options{Method: Magnitude, Sparsity: 0.8, Layers: map[string]float64{"fc3": 0.3}})
	require.NoError(t, err)
	want := map[string]float64{"fc1": 0.8, "fc2": 0.8, "fc3": 0.3}
	for _, l := range prunable(m) {
		w := l.Weight()
		k := int(math.Round(want[l.Name()] * float64(len(w.W))))
		require.Equal(t, k, zeros(w), l.Name())
		require.NotNil(t, w.Mask)
		// Every removed weight was no larger than every kept one: check on
		// a fresh copy of the same initialisation.
		orig := mlp(t, 37, "mlp:23,11", 1).Layer(l.Name()).(nn.Accelerated).Weight()
		var maxRemoved, minKept float64 = 0, math.Inf(1)
		for i, keep := range w.Mask {
			a := math.Abs(float64(orig.W[i]))
			if keep {
				minKept = min(minKept, a)
			} else {
				maxRemoved = max(maxRemoved, a)
			}
		}
		require.LessOrEqual(t, maxRemoved, minKept, l.Name())
	}
	require.Len(t, rep.Layers, 3)
	for _, r := range rep.Layers {
		require.InDelta(t, want[r.Layer], r.Sparsity, 0.01, r.Layer)
		require.Equal(t, r.ParamsBefore, r.ParamsAfter)
		require.Less(t, r.NonZeroAfter, r.NonZeroBefore)
		require.Less(t, r.MACsAfter, r.MACsBefore)
		require.Less(t, r.BytesAfter, r.BytesBefore)
	}
	require.Equal(t, m.Stats().NonZero, rep.Total.NonZeroAfter)
	require.Equal(t, m.Stats().EffectiveMACs, rep.Total.MACsAfter)
}

func TestGlobalExact(t *testing.T) {
	for _, method := range []Method{Magnitude, Random} {
		m := mlp(t, 31, "mlp:17,9", 2)
		orig := m.Clone()
		_, err := Prune(m, Options{Method: method, Sparsity: 0.9, Scope: Global, Seed: 5})
		require.NoError(t, err)
		n, z := 0, 0
		maxRemoved, minKept := 0.0, math.Inf(1)
		for _, l := range prunable(m) {
			w := l.Weight()
			ow := orig.Layer(l.Name()).(nn.Accelerated).Weight()
			n += len(w.W)
			z += zeros(w)
			for i, keep := range w.Mask {
				a := math.Abs(float64(ow.W[i]))
				if keep {
					minKept = min(minKept, a)
					require.Equal(t, ow.W[i], w.W[i])
				} else {
					maxRemoved = max(maxRemoved, a)
				}
			}
		}
		require.Equal(t, int(math.Round(0.9*float64(n))), z, method)
		require.InDelta(t, 0.9, Sparsity(m), 1e-3)
		if method == Magnitude {
			require.LessOrEqual(t, maxRemoved, minKept, "one threshold across layers")
		} else {
			require.Greater(t, maxRemoved, minKept, "random pruning ignores magnitude")
		}
	}
}

func TestRandomIsSeeded(t *testing.T) {
	a, b := mlp(t, 20, "mlp:10", 1), mlp(t, 20, "mlp:10", 1)
	_, err := Prune(a, Options{Method: Random, Sparsity: 0.5, Seed: 9})
	require.NoError(t, err)
	_, err = Prune(b, Options{Method: Random, Sparsity: 0.5, Seed: 9})
	require.NoError(t, err)
	require.Equal(t, a.Layers[0].(nn.Accelerated).Weight().Mask, b.Layers[0].(nn.Accelerated).Weight().Mask)
}

func TestDryRunLeavesModel(t *testing.T) {
	for _, o := range []Options{
		{Method: Magnitude, Sparsity: 0.7},
		{Method: NM, N: 2, M: 4},
		{Method: Structured, Sparsity: 0.5},
	} {
		m := mlp(t, 20, "mlp:10,8", 1)
		orig := m.Clone()
		o.DryRun = true
		rep, err := Prune(m, o)
		require.NoError(t, err)
		require.True(t, rep.DryRun)
		require.Equal(t, orig.Spec(), m.Spec())
		for i, p := range m.Params() {
			require.Equal(t, orig.Params()[i].W, p.W)
			require.Nil(t, p.Mask)
		}
		require.Less(t, rep.Total.NonZeroAfter, rep.Total.NonZeroBefore, o.Method)
	}
}

func TestOptionErrors(t *testing.T) {
	m := mlp(t, 8, "mlp:4", 1)
	for _, o := range []Options{
		{Method: Magnitude, Sparsity: 1},
		{Method: Magnitude, Sparsity: -0.1},
		{Method: Magnitude, Sparsity: math.NaN()},
		{Method: "prune-harder", Sparsity: 0.5},
		{Method: Magnitude, Sparsity: 0.5, Scope: "model"},
		{Method: Magnitude, Sparsity: 0.5, Layers: map[string]float64{"relu1": 0.5}},
		{Method: Magnitude, Sparsity: 0.5, Layers: map[string]float64{"fc1": 1.5}},
		{Method: NM, N: 4, M: 4},
		{Method: Structured, Sparsity: 0.5, Criterion: Taylor},
	} {
		_, err := Prune(m, o)
		require.Error(t, err, "%+v", o)
	}
}

func TestNMPattern(t *testing.T) {
	for _, nm := range [][2]int{{2, 4}, {1, 4}, {3, 8}} {
		m := mlp(t, 30, "mlp:7", 3) // 30 columns: the last group of 4 (or 8) is short
		conv := convNet(t, false)
		for _, model := range []*nn.Model{m, conv} {
			rep, err := Prune(model, Options{Method: NM, N: nm[0], M: nm[1]})
			require.NoError(t, err)
			for _, l := range prunable(model) {
				w := l.Weight()
				rows := w.Shape[0]
				cols := len(w.W) / rows
				for r := 0; r < rows; r++ {
					for g := 0; g < cols; g += nm[1] {
						nz := 0
						for c := g; c < min(g+nm[1], cols); c++ {
							if w.W[r*cols+c] != 0 {
								nz++
							}
						}
						require.Equal(t, min(nm[0], min(g+nm[1], cols)-g), nz, "%s row %d group %d", l.Name(), r, g)
					}
				}
			}
			require.InDelta(t, 1-float64(nm[0])/float64(nm[1]), rep.Total.Target, 1e-12)
		}
	}
}

// maskedEquivalent zeroes, in a copy of m, the consumer's input columns of
// every unit the smaller model dropped: the model that structured pruning
// replaces.
func TestStructuredMatchesMasked(t *testing.T) {
	x, y := randData(40, 14*14*2, 4, 1)
	for _, bn := range []bool{false, true} {
		for _, crit := range []Criterion{L1, L2, Taylor} {
			m := convNet(t, bn)
			masked := m.Clone()
			o := Options{Method: Structured, Sparsity: 0.5, Criterion: crit, X: x, Y: y, Layers: map[string]float64{"conv1": 0.34}}
			gs := groups(m)
			scores, err := unitScores(m, gs, o)
			require.NoError(t, err)
			rep, err := Prune(m, o)
			require.NoError(t, err)
			// Zero, in the masked copy, the inputs of each consumer that come
			// from a dropped unit.
			for _, g := range gs {
				s := scores[g.layer]
				kept := m.Layers[g.layer].Out()
				nKept := kept[len(kept)-1]
				order := seq(len(s))
				slices.SortStableFunc(order, func(a, b int) int {
					if s[a] != s[b] {
						if s[a] > s[b] {
							return -1
						}
						return 1
					}
					return 0
				})
				dropped := order[nKept:]
				cw := masked.Layers[g.consumer].(nn.Accelerated).Weight()
				rows := cw.Shape[0]
				cols := len(cw.W) / rows
				for _, c := range expandChannels(dropped, len(s), cols) {
					for r := 0; r < rows; r++ {
						cw.W[r*cols+c] = 0
					}
				}
			}
			require.Equal(t, 3, len(gs))
			require.Equal(t, 4, rep.Layers[0].UnitsAfter, "conv1 keeps 6 − round(0.34·6)")
			require.Equal(t, 4, rep.Layers[1].UnitsAfter)
			require.Equal(t, 6, rep.Layers[2].UnitsAfter)
			require.Equal(t, 4, rep.Layers[3].UnitsAfter, "the logits layer is kept")
			require.Less(t, rep.Total.ParamsAfter, rep.Total.ParamsBefore)
			require.Less(t, rep.Total.DenseMACsAfter, m.Stats().MACs+1)
			xt := nn.FromData(40, m.Input, x)
			a, b := m.Infer(xt), masked.Infer(xt)
			for i := range a.Data {
				require.InDelta(t, b.Data[i], a.Data[i], outputTol, "bn=%v %s logit %d", bn, crit, i)
			}
		}
	}
}

func TestStructuredHalvesLenet300MACs(t *testing.T) {
	m := mlp(t, 784, "lenet300", 1)
	before := m.Stats().MACs
	_, err := Prune(m, Options{Method: Structured, Sparsity: 0.5})
	require.NoError(t, err)
	require.Equal(t, 150, m.Layer("fc1").Out()[0])
	require.Equal(t, 50, m.Layer("fc2").Out()[0])
	require.InDelta(t, 0.5, float64(m.Stats().MACs)/float64(before), 0.03)
	require.NoError(t, m.Check())
}

func TestMasksSurviveFinetune(t *testing.T) {
	x, y := randData(300, 24, 5, 2)
	for _, sch := range []Schedule{{Kind: "oneshot"}, {Kind: "gradual", Steps: 4}, {Kind: "iterative", Steps: 2}} {
		for _, scope := range []Scope{PerLayer, Global} {
			m := mlp(t, 24, "mlp:16,12", 4)
			cfg := nn.TrainConfig{Epochs: 2, Batch: 32, Optimizer: "sgd", Momentum: 0.9, Schedule: nn.Schedule{Kind: "const", Base: 0.05}, Seed: 1}
			var pruned []bool
			steps := 0
			cfg.AfterStep = func(int) {
				steps++
				// Once a weight is pruned it stays exactly zero.
				w := m.Layer("fc1").(nn.Accelerated).Weight()
				if w.Mask != nil {
					if pruned == nil {
						pruned = make([]bool, len(w.W))
					}
					for i, keep := range w.Mask {
						if !keep {
							pruned[i] = true
						}
						if pruned[i] {
							require.Zero(t, w.W[i])
						}
					}
				}
			}
			o := Options{Method: Magnitude, Sparsity: 0.75, Scope: scope, Layers: map[string]float64{"fc3": 0.5}}
			rep, hist, err := Finetune(context.Background(), m, &data.Set{X: x, Y: y, Shape: []int{len(x) / len(y)}, Classes: 5}, o, sch, cfg)
			require.NoError(t, err, sch.Kind)
			require.NotEmpty(t, hist)
			require.Greater(t, steps, 0)
			fc3 := m.Layer("fc3").(nn.Accelerated).Weight()
			require.Equal(t, int(math.Round(0.5*float64(len(fc3.W)))), zeros(fc3), "%s %s", sch.Kind, scope)
			if scope == PerLayer {
				w := m.Layer("fc1").(nn.Accelerated).Weight()
				require.Equal(t, int(math.Round(0.75*float64(len(w.W)))), zeros(w), sch.Kind)
			}
			for _, p := range m.Params() {
				for i, keep := range p.Mask {
					if !keep {
						require.Zero(t, p.W[i])
					}
				}
			}
			require.Equal(t, m.Stats().NonZero, rep.Total.NonZeroAfter)
		}
	}
}

func TestFinetuneErrors(t *testing.T) {
	x, y := randData(10, 8, 5, 2)
	m := mlp(t, 8, "mlp:4", 1)
	cfg := nn.TrainConfig{Epochs: 1, Batch: 4, Optimizer: "adam", Schedule: nn.Schedule{Kind: "const", Base: 0.01}}
	for _, c := range []struct {
		o Options
		s Schedule
	}{
		{Options{Method: Magnitude, Sparsity: 0.5}, Schedule{Kind: "gradual"}},
		{Options{Method: Magnitude, Sparsity: 0.5}, Schedule{Kind: "sometimes", Steps: 2}},
		{Options{Method: Structured, Sparsity: 0.5}, Schedule{Kind: "iterative", Steps: 2}},
		{Options{Method: Magnitude, Sparsity: 0.5, DryRun: true}, Schedule{}},
	} {
		_, _, err := Finetune(context.Background(), m, &data.Set{X: x, Y: y, Shape: []int{8}, Classes: 5}, c.o, c.s, cfg)
		require.Error(t, err, "%+v", c)
	}
}

func TestSensitivity(t *testing.T) {
	x, y := randData(200, 24, 5, 3)
	m := mlp(t, 24, "mlp:16", 4)
	cfg := nn.TrainConfig{Epochs: 3, Batch: 32, Optimizer: "adam", Schedule: nn.Schedule{Kind: "const", Base: 0.01}, Seed: 1}
	_, err := nn.Train(context.Background(), m, x, y, cfg)
	require.NoError(t, err)
	orig := m.Clone()
	pts, err := Sensitivity(m, x, y, []float64{0.5, 0.99}, Options{})
	require.NoError(t, err)
	require.Len(t, pts, 2*3)
	require.Equal(t, "fc1", pts[0].Layer)
	require.Zero(t, pts[0].Sparsity)
	require.Greater(t, pts[0].Accuracy, pts[2].Accuracy, "99% of fc1 gone hurts")
	for i, p := range m.Params() {
		require.Equal(t, orig.Params()[i].W, p.W)
		require.Nil(t, p.Mask)
	}
	_, err = Sensitivity(m, x, y, []float64{1}, Options{})
	require.Error(t, err)
}

// TestGroupsStopAtOpaqueLayers: units reach a consumer through per-channel
// layers only; a softmax (opaque) in between keeps its producer whole.
func TestGroupsStopAtOpaqueLayers(t *testing.T) {
	m, err := nn.Build(nn.Shape{5}, []nn.LayerSpec{
		{Kind: "dense", Units: 8}, {Kind: "relu"}, {Kind: "dropout", Rate: 0.1},
		{Kind: "dense", Units: 6}, {Kind: "softmax"}, {Kind: "dense", Units: 4},
	})
	require.NoError(t, err)
	gs := groups(m)
	require.Equal(t, []group{{layer: 0, between: []int{1, 2}, consumer: 3}}, gs)
}
