package quantize

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/nn"
)

// TestCodebookKeepsZeros: a pruned tensor stays exactly as sparse after
// weight sharing, and its non-zero weights never map to the zero centroid.
func TestCodebookKeepsZeros(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	rows, cols := 13, 37
	w := make([]float32, rows*cols)
	for i := range w {
		if rng.Float64() < 0.3 {
			w[i] = float32(rng.NormFloat64())
		}
	}
	for _, k := range []int{3, 4, 16} {
		q := Codebook{K: k}.Quantize(w, rows, cols)
		require.Len(t, q.Codebook, k)
		require.Zero(t, q.Codebook[0])
		got := make([]float32, len(w))
		q.Dequantize(got)
		for i := range w {
			require.Equal(t, w[i] == 0, got[i] == 0, "k=%d i=%d", k, i)
			require.Equal(t, w[i] == 0, q.Codes[i] == 0, "k=%d i=%d", k, i)
		}
	}
}

// TestSparseCodebookRunsSparse: a pruned, weight-shared layer runs the
// sparse kernel on its dequantized values, and gives what the dense path
// gives on the same values.
func TestSparseCodebookRunsSparse(t *testing.T) {
	specs, err := nn.ParseArch("dense:64,relu,dense:10", nn.Shape{200}, 10)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape{200}, specs)
	require.NoError(t, err)
	m.Init(5)
	rng := rand.New(rand.NewPCG(6, 6))
	w := m.Layer("fc1").(nn.Accelerated).Weight()
	for i := range w.W {
		if rng.Float64() < 0.95 {
			w.W[i] = 0
		}
	}
	_, err = Quantize(m, nil, Options{Scheme: Codebook{K: 16}, Seed: 1})
	require.NoError(t, err)
	x := nn.FromData(1, nn.Shape{200}, make([]float32, 200))
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	m.ClearAccel() // generic float32 path on W: the reference
	want := slices.Clone(m.Infer(x).Data)
	m.Prepare()
	require.Equal(t, "sparse", m.Paths()["fc1"])
	got := m.Infer(x).Data
	require.InDeltaSlice(t, want, got, 1e-4)
}
