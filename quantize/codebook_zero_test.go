package quantize

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
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
