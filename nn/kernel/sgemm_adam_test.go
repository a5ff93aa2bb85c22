package kernel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestAdam checks every level against a float64 evaluation of the update
// and requires the levels to agree bit for bit, for lengths around the
// 8-lane step and on sub-slices.
func TestAdam(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 100, 1001} {
		w0, g0 := randMat(r, 1, n+3, n+3), randMat(r, 1, n+3, n+3)
		m0, v0 := randMat(r, 1, n+3, n+3), randMat(r, 1, n+3, n+3)
		for i := range v0 {
			v0[i] = v0[i] * v0[i] // second moments are non-negative
		}
		a, b1, b2, eps, wd := float32(1e-3), float32(0.9), float32(0.999), float32(1e-8), float32(1e-4)
		var first []float32
		for _, l := range levels() {
			prev := SetLevel(l)
			w, g, m, v := slices.Clone(w0), slices.Clone(g0), slices.Clone(m0), slices.Clone(v0)
			Adam(w[1:n+1], g[1:n+1], m[1:n+1], v[1:n+1], a, b1, b2, eps, wd)
			SetLevel(prev)
			require.Equal(t, g0, g, "grad modified")
			for j, s := range [][]float32{w, m, v} {
				orig := [][]float32{w0, m0, v0}[j]
				require.Equal(t, orig[0], s[0], "element before the slice modified")
				require.Equal(t, orig[n+1:], s[n+1:], "elements after the slice modified")
			}
			for i := 1; i <= n; i++ {
				c1, c2 := float64(1-b1), float64(1-b2) // as float32 constants
				gg := float64(g0[i]) + float64(wd)*float64(w0[i])
				mm := float64(b1)*float64(m0[i]) + c1*gg
				vv := float64(b2)*float64(v0[i]) + c2*gg*gg
				du := float64(a) * mm / (math.Sqrt(vv) + float64(eps))
				ww := float64(w0[i]) - du
				// Scales: the magnitudes of the terms summed.
				gs := math.Abs(float64(g0[i])) + math.Abs(float64(wd)*float64(w0[i]))
				ms := math.Abs(float64(b1)*float64(m0[i])) + c1*gs
				vs := math.Abs(float64(b2)*float64(v0[i])) + c2*gs*gs
				us := float64(a) * ms / (math.Sqrt(vv) + float64(eps))
				require.InDelta(t, mm, m[i], 1e-6*ms+1e-30, "m[%d] n=%d level=%v", i, n, l)
				require.InDelta(t, vv, v[i], 1e-6*vs+1e-30, "v[%d] n=%d level=%v", i, n, l)
				require.InDelta(t, ww, w[i], 1e-6*(math.Abs(float64(w0[i]))+us)+1e-30, "w[%d] n=%d level=%v", i, n, l)
			}
			if first == nil {
				first = slices.Concat(w, m, v)
			} else {
				require.Equal(t, first, slices.Concat(w, m, v), "levels differ, n=%d", n)
			}
		}
	}
	require.Panics(t, func() {
		Adam(make([]float32, 2), make([]float32, 1), make([]float32, 2), make([]float32, 2), 1, 0.9, 0.999, 1e-8, 0)
	})
}
