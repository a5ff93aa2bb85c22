package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/nn/kernel"
)

// sparseTol bounds |sparse − dense| relative to the largest logit: the
// sparse kernel sums the same products in a different order.
const sparseTol = 1e-5

// pruneRandom zeroes (and masks) the given fraction of every weight.
func pruneRandom(m *Model, frac float64, rng *rand.Rand) {
	for _, l := range m.Layers {
		a, ok := l.(Accelerated)
		if !ok {
			continue
		}
		w := a.Weight()
		w.Mask = make([]bool, len(w.W))
		for i := range w.Mask {
			w.Mask[i] = rng.Float64() >= frac
		}
		w.ApplyMask()
	}
}

func TestSparsePathMatchesDense(t *testing.T) {
	specs, err := ParseArch("conv:6:3:1:1,relu,maxpool:2,dense:40,relu,dense:7", Shape{9, 9, 2}, 7)
	require.NoError(t, err)
	m, err := Build(Shape{9, 9, 2}, specs)
	require.NoError(t, err)
	m.Init(3)
	rng := rand.New(rand.NewPCG(5, 5))
	pruneRandom(m, 0.9, rng)
	for _, n := range []int{1, 3, 70, 300} {
		x := FromData(n, m.Input, randn(rng, n*m.Input.Size()))
		m.ClearAccel()
		want := m.Infer(x)
		m.Prepare()
		paths := m.Paths()
		require.Equal(t, "sparse", paths["conv1"])
		require.Equal(t, "sparse", paths["fc1"])
		got := m.Infer(x)
		var scale float64
		for _, v := range want.Data {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i := range want.Data {
			require.InDelta(t, want.Data[i], got.Data[i], sparseTol*scale, "batch %d value %d", n, i)
		}
	}
}

func TestSparsePathOnlyWhenFaster(t *testing.T) {
	specs, err := ParseArch("dense:50,relu,dense:4", Shape{64}, 4)
	require.NoError(t, err)
	m, err := Build(Shape{64}, specs)
	require.NoError(t, err)
	m.Init(1)
	rng := rand.New(rand.NewPCG(1, 2))
	pruneRandom(m, 0.3, rng)
	m.Prepare()
	require.Equal(t, "float32", m.Paths()["fc1"], "30%% zeros: dense is faster")
	pruneRandom(m, 0.95, rng)
	m.Prepare()
	w := m.Layer("fc1").(Accelerated).Weight()
	require.True(t, kernel.SparseFaster(1, 50, 64, int(w.NonZero())))
	require.Equal(t, "sparse", m.Paths()["fc1"])
}

func BenchmarkSparseLenet300(b *testing.B) {
	specs, err := ParseArch("lenet300", Shape{784}, 10)
	require.NoError(b, err)
	for _, frac := range []float64{0, 0.9} {
		for _, n := range []int{1, 256} {
			m, err := Build(Shape{784}, specs)
			require.NoError(b, err)
			m.Init(1)
			rng := rand.New(rand.NewPCG(1, 1))
			if frac > 0 {
				pruneRandom(m, frac, rng)
			}
			m.Prepare()
			x := FromData(n, m.Input, randn(rng, n*784))
			b.Run(map[bool]string{true: "sparse90", false: "dense"}[frac > 0]+"/batch"+map[int]string{1: "1", 256: "256"}[n], func(b *testing.B) {
				for b.Loop() {
					m.Infer(x)
				}
				b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}
