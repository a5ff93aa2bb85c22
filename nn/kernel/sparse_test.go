package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// randSparse returns a (rows, cols) matrix with about the given fraction of
// exact zeros and nonzero entries elsewhere.
func randSparse(r *rand.Rand, rows, cols int, sparsity float64) []float32 {
	w := make([]float32, rows*cols)
	for i := range w {
		if r.Float64() >= sparsity {
			w[i] = float32(r.Float64()*2-1) + 0.01
			if w[i] == 0 {
				w[i] = 0.5
			}
		}
	}
	return w
}

func randF32(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.Float64()*2-1) + 1e-3
	}
	return s
}

// spmmRef is the dense reference in float64.
func spmmRef(m, n, k int, x []float32, ldx int, w []float32, bias []float32, relu bool, y []float64, ldy int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(x[i*ldx+p]) * float64(w[j*k+p])
			}
			if bias != nil {
				s += float64(bias[j])
			}
			if relu && s < 0 {
				s = 0
			}
			y[i*ldy+j] = s
		}
	}
}

func checkSpMMCase(t *testing.T, r *rand.Rand, m, n, k int, sparsity float64) {
	ldx, ldy := k+r.IntN(3), n+r.IntN(3)
	off := r.IntN(3)
	x := randF32(r, off+(m-1)*ldx+k)
	wd := randSparse(r, n, k, sparsity)
	var bias []float32
	if r.IntN(2) == 0 {
		bias = randF32(r, n)
	}
	relu := r.IntN(2) == 0
	c := NewCSR(wd, n, k)
	require.Equal(t, wd, c.Dense())
	x0, c0 := slices.Clone(x), *c
	c0.Val, c0.ColIdx, c0.RowPtr = slices.Clone(c.Val), slices.Clone(c.ColIdx), slices.Clone(c.RowPtr)
	want := make([]float64, (m-1)*ldy+n)
	spmmRef(m, n, k, x[off:], ldx, wd, bias, relu, want, ldy)
	got := make([]float32, len(want))
	for i := range got {
		got[i] = 42
	}
	SpMM(m, x[off:], ldx, c, bias, relu, got, ldy)
	for i := 0; i < m; i++ {
		for j := 0; j < ldy && i*ldy+j < len(got); j++ {
			w, g := 42.0, float64(got[i*ldy+j])
			if j < n {
				w = want[i*ldy+j]
			}
			if math.Abs(w-g) > 1e-5*float64(k+1) {
				require.InDelta(t, w, g, 1e-5*float64(k+1), "m=%d n=%d k=%d i=%d j=%d", m, n, k, i, j)
			}
		}
	}
	require.Equal(t, x0, x, "x modified")
	require.Equal(t, c0, *c, "W modified")
}

func TestSpMM(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, m := range []int{1, 2, 3, 4, 5, 63, 64, 65, 70, 130} {
			for _, n := range []int{1, 2, 7, 16, 33, 70} {
				for _, k := range []int{1, 3, 8, 17, 64, 70} {
					sp := []float64{0, 0.5, 0.95}[r.IntN(3)]
					checkSpMMCase(t, r, m, n, k, sp)
				}
			}
		}
		checkSpMMCase(t, r, 300, 50, 784, 0.9) // parallel blocks
	})
}

func TestCSR(t *testing.T) {
	w := []float32{0, 1, float32(math.Copysign(0, -1)), 2, 0, 0, 0, 0, 3}
	c := NewCSR(w, 3, 3)
	require.Equal(t, []int32{0, 1, 2, 3}, c.RowPtr)
	require.Equal(t, []int32{1, 0, 2}, c.ColIdx)
	require.Equal(t, []float32{1, 2, 3}, c.Val)
	require.Equal(t, 3, c.NNZ())
	y := make([]float32, 3)
	SpMM(1, []float32{1, 2, 3}, 3, c, nil, false, y, 3)
	require.Equal(t, []float32{2, 2, 9}, y)
	bad := *c
	bad.ColIdx = []int32{1, 5, 2}
	require.Panics(t, func() { SpMM(4, make([]float32, 12), 3, &bad, nil, false, make([]float32, 12), 3) })
	require.Panics(t, func() { SpMM(2, make([]float32, 5), 3, c, nil, false, make([]float32, 6), 3) })
	require.Panics(t, func() { SpMM(2, make([]float32, 6), 3, c, []float32{1}, false, make([]float32, 6), 3) })
	SpMM(0, nil, 0, c, nil, false, nil, 0)
}

func FuzzSpMM(f *testing.F) {
	f.Add(uint8(1), uint8(5), uint8(9), uint8(128), int64(1))
	f.Add(uint8(64), uint8(17), uint8(33), uint8(250), int64(2))
	f.Add(uint8(70), uint8(1), uint8(1), uint8(0), int64(3))
	f.Fuzz(func(t *testing.T, mb, nb, kb, sp uint8, seed int64) {
		m, n, k := int(mb%140)+1, int(nb%40)+1, int(kb%80)+1
		r := rand.New(rand.NewPCG(uint64(seed), 11))
		x := randF32(r, m*k)
		wd := randSparse(r, n, k, float64(sp)/256)
		bias := randF32(r, n)
		want := make([]float64, m*n)
		spmmRef(m, n, k, x, k, wd, bias, true, want, n)
		c := NewCSR(wd, n, k)
		for _, l := range levels() {
			prev := SetLevel(l)
			got := make([]float32, m*n)
			SpMM(m, x, k, c, bias, true, got, n)
			SetLevel(prev)
			for i := range got {
				if math.Abs(want[i]-float64(got[i])) > 1e-5*float64(k+1) {
					require.InDelta(t, want[i], float64(got[i]), 1e-5*float64(k+1), "level %v", l)
				}
			}
		}
	})
}

func benchSpMMvsDense(b *testing.B, m, n, k int, sparsity float64) {
	r := rand.New(rand.NewPCG(9, 10))
	x := randF32(r, m*k)
	wd := randSparse(r, n, k, sparsity)
	bias := randF32(r, n)
	c := NewCSR(wd, n, k)
	y := make([]float32, m*n)
	// The dense reference is the best dense inference path: weights packed
	// once, then SgemmBiasActPacked (bias and ReLU fused). The two paths are
	// timed in interleaved rounds and the best round of each is kept, which
	// makes the ratio robust against a busy machine.
	pb := PackB(true, k, n, wd, k)
	reps := max(1, int(2e7/float64(2*m*n*k)))
	dense, sparse := math.Inf(1), math.Inf(1)
	round := func(f func()) float64 {
		t0 := time.Now()
		for range reps {
			f()
		}
		return time.Since(t0).Seconds() / float64(reps)
	}
	for range 7 {
		dense = min(dense, round(func() { SgemmBiasActPacked(m, x, k, pb, bias, true, y, n) }))
		sparse = min(sparse, round(func() { SpMM(m, x, k, c, bias, true, y, n) }))
	}
	b.ResetTimer()
	for b.Loop() {
		SpMM(m, x, k, c, bias, true, y, n)
	}
	b.ReportMetric(dense/sparse, "speedup")
	b.ReportMetric(2*float64(m)*float64(c.NNZ())/sparse/1e9, "GFLOP/s")
}

// BenchmarkSpMM measures SpMM on a 300×784 layer against the dense path
// (pre-packed SgemmBiasActPacked with fused bias + ReLU) at the same shape; "speedup" > 1 means sparse wins.
func BenchmarkSpMM(b *testing.B) {
	for _, m := range []int{1, 256} {
		for _, sp := range []float64{0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95} {
			b.Run(fmt.Sprintf("m%d/s%.2f", m, sp), func(b *testing.B) { benchSpMMvsDense(b, m, 300, 784, sp) })
		}
	}
}

func TestSpMMU8I8(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	for _, s := range [][3]int{{1, 1, 1}, {1, 300, 784}, {5, 17, 33}, {70, 23, 70}, {130, 9, 5}} {
		m, n, k := s[0], s[1], s[2]
		a := randU8(r, m*k)
		w := randI8(r, n*k)
		for i := range w {
			if r.IntN(10) < 8 {
				w[i] = 0
			}
		}
		w[0] = -128
		a[0] = 255
		za := int32(r.IntN(256))
		c := NewCSRI8(w, n, k)
		require.Equal(t, w, c.Dense())
		want := make([]int32, m*n)
		got := make([]int32, m*n)
		gemmU8I8Ref(m, n, k, a, k, za, w, want, n)
		SpMMU8I8(m, a, k, za, c, got, n)
		require.Equal(t, want, got)
	}
}

func TestSparseFaster(t *testing.T) {
	require.True(t, SparseFaster(1, 300, 784, 300*784/20))
	require.True(t, SparseFaster(1, 300, 784, 300*784/10))
	require.False(t, SparseFaster(1, 300, 784, 300*784/4))
	require.False(t, SparseFaster(1, 300, 784, 300*784/2))
	require.True(t, SparseFaster(1, 100, 300, 100*300/20))
	require.True(t, SparseFaster(1, 100, 300, 100*300/10))
	require.False(t, SparseFaster(1, 100, 300, 100*300/6))
	require.True(t, SparseFaster(1, 2, 1<<16, 2), "too wide for SELL: the CSR rule")
	require.False(t, SparseFaster(1, 2, 1<<16, 2*(1<<16)/10))
	require.True(t, SparseFaster(4, 300, 784, 300*784/20))
	require.False(t, SparseFaster(4, 300, 784, 300*784/10))
	require.True(t, SparseFaster(256, 300, 784, 300*784/5))
	require.False(t, SparseFaster(256, 300, 784, 300*784*6/10))
	require.False(t, SparseFaster(0, 300, 784, 0))
}
