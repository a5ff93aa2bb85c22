package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/nn/kernel"
)

func TestQuantizeU8MatchesKernel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := []float32{0, -0, 0.5, 1.5, 2.5, -0.5, -1.5, 127.5, 128.5, 254.5, 255.5, -128.5, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3e-39, 1 << 22, -(1 << 22), 600, -600}
	for i := 0; i < 100000; i++ {
		x = append(x, float32(r.NormFloat64()*100), float32(r.IntN(1200)-600)/2, float32(r.IntN(1200)-600)/2*0.1)
	}
	for _, sc := range []float32{1, 0.1, 0.0039215689, 3, 1e-6} {
		for _, z := range []int32{0, 1, 128, 255} {
			want := make([]uint8, len(x))
			got := make([]uint8, len(x))
			kernel.QuantizeU8(x, sc, z, want)
			quantizeU8(x, sc, z, got)
			require.Equal(t, want, got, "scale %v zero %d", sc, z)
		}
	}
}
