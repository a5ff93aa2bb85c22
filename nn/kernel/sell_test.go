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

func checkSpMVCase(t *testing.T, r *rand.Rand, n, k int, sparsity float64) {
	x := randF32(r, k+r.IntN(3))
	wd := randSparse(r, n, k, sparsity)
	if n > 2 {
		clear(wd[k : 2*k]) // an empty row
	}
	var bias []float32
	if r.IntN(2) == 0 {
		bias = randF32(r, n)
	}
	relu := r.IntN(2) == 0
	s := NewSELL(NewCSR(wd, n, k))
	require.Equal(t, wd, sellDense(s))
	x0, v0, i0 := slices.Clone(x), slices.Clone(s.val), slices.Clone(s.colIdx)
	want := make([]float64, n)
	spmmRef(1, n, k, x, k, wd, bias, relu, want, n)
	got := make([]float32, n+2)
	got[n], got[n+1] = 42, 42
	SpMV(x, s, bias, relu, got)
	for j := range n {
		require.InDelta(t, want[j], float64(got[j]), 1e-5*float64(k+1), "n=%d k=%d j=%d", n, k, j)
	}
	require.Equal(t, []float32{42, 42}, got[n:], "wrote past y")
	require.Equal(t, x0, x, "x modified")
	require.Equal(t, v0, s.val, "W modified")
	require.Equal(t, i0, s.colIdx, "W modified")
}

// sellDense expands s back to a dense row-major matrix.
func sellDense(s *SELL) []float32 {
	d := make([]float32, s.rows*s.cols)
	for sl := 0; sl+1 < len(s.slicePtr); sl++ {
		for e := int(s.slicePtr[sl]); e < int(s.slicePtr[sl+1]); e++ {
			r := 8*sl + (e-int(s.slicePtr[sl]))%8
			if p := int(s.colIdx[e]); p < s.cols {
				j := int(s.perm[r])
				d[j*s.cols+p] = s.val[e]
			} else if s.val[e] != 0 {
				panic("nonzero padding")
			}
		}
	}
	return d
}

func TestSpMV(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, n := range []int{1, 2, 7, 8, 9, 16, 33, 70, 300} {
			for _, k := range []int{1, 3, 8, 17, 64, 70, 784} {
				for _, sp := range []float64{0, 0.5, 0.9, 0.99} {
					checkSpMVCase(t, r, n, k, sp)
				}
			}
		}
	})
}

// TestSpMVNaN checks that padding reads nothing: a NaN in an input column
// no row uses must not reach any output (the dense path would propagate it,
// the sparse forms must agree with each other).
func TestSpMVNaN(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		// Row 0 has three entries, rows 1..8 one each: rows 1..7 are padded.
		w := make([]float32, 9*4)
		w[0], w[1], w[2] = 1, 2, 3
		for j := 1; j < 9; j++ {
			w[j*4+1] = float32(j)
		}
		s := NewSELL(NewCSR(w, 9, 4))
		x := []float32{float32(math.NaN()), 1, 1, float32(math.Inf(1))}
		y := make([]float32, 9)
		SpMV(x, s, nil, false, y)
		require.True(t, math.IsNaN(float64(y[0])))
		for j := 1; j < 9; j++ {
			require.Equal(t, float32(j), y[j])
		}
		SpMV(x, s, nil, true, y)
		require.Equal(t, float32(0), y[0], "ReLU maps NaN to 0")
	})
}

func TestSELLMalformed(t *testing.T) {
	s := NewSELL(NewCSR([]float32{1, 0, 0, 2}, 2, 2))
	require.Equal(t, 8, s.NNZ())
	require.Panics(t, func() { SpMV([]float32{1}, s, nil, false, make([]float32, 2)) })
	require.Panics(t, func() { SpMV([]float32{1, 1}, s, nil, false, make([]float32, 1)) })
	require.Panics(t, func() { SpMV([]float32{1, 1}, s, []float32{1}, false, make([]float32, 2)) })
	require.Equal(t, 2, s.Rows())
	require.Equal(t, 2, s.Cols())
	s.check()
	bad := *s
	bad.colIdx = slices.Clone(s.colIdx)
	bad.colIdx[0] = 7
	require.Panics(t, func() { bad.check() })
	require.Panics(t, func() { SpMV([]float32{1, 1}, &SELL{rows: 9, slicePtr: []int32{0}}, nil, false, make([]float32, 9)) })
	require.Panics(t, func() { NewSELL(&CSR{Rows: 1, Cols: 1 << 16, RowPtr: []int32{0, 0}}) })
	SpMV(nil, NewSELL(NewCSR(nil, 0, 0)), nil, false, nil)
	// Rows sorted by length: one long row and seven short ones in a slice
	// would pad the short ones; sorted, the long rows share a slice.
	w := make([]float32, 16*16)
	for j := range 16 {
		n := 1
		if j%2 == 0 {
			n = 16
		}
		for p := range n {
			w[j*16+p] = 1
		}
	}
	require.Equal(t, 8*16+8*1, NewSELL(NewCSR(w, 16, 16)).NNZ())
}

func FuzzSpMV(f *testing.F) {
	f.Add(uint8(5), uint8(9), uint8(128), int64(1))
	f.Add(uint8(17), uint8(33), uint8(250), int64(2))
	f.Fuzz(func(t *testing.T, nb, kb, sp uint8, seed int64) {
		n, k := int(nb%80)+1, int(kb%200)+1
		r := rand.New(rand.NewPCG(uint64(seed), 12))
		x := randF32(r, k)
		wd := randSparse(r, n, k, float64(sp)/256)
		bias := randF32(r, n)
		want := make([]float64, n)
		spmmRef(1, n, k, x, k, wd, bias, true, want, n)
		s := NewSELL(NewCSR(wd, n, k))
		for _, l := range levels() {
			prev := SetLevel(l)
			got := make([]float32, n)
			SpMV(x, s, bias, true, got)
			SetLevel(prev)
			for i := range got {
				if math.Abs(want[i]-float64(got[i])) > 1e-5*float64(k+1) {
					require.InDelta(t, want[i], float64(got[i]), 1e-5*float64(k+1), "level %v", l)
				}
			}
		}
	})
}

// BenchmarkSpMV compares the batch-1 paths on lenet300's fc1 and fc2 shapes:
// dense (packed, row kernel), CSR gather-dot (SpMM at m = 1) and SELL-8
// (SpMV), best of interleaved rounds; "dense/sell" > 1 means SELL wins.
func BenchmarkSpMV(b *testing.B) {
	for _, sp := range []float64{0.5, 0.7, 0.8, 0.9, 0.95} {
		for _, sh := range [][2]int{{300, 784}, {100, 300}} {
			n, k := sh[0], sh[1]
			b.Run(fmt.Sprintf("%dx%d/s%.2f", n, k, sp), func(b *testing.B) {
				r := rand.New(rand.NewPCG(9, 10))
				x, bias, y := randF32(r, k), randF32(r, n), make([]float32, n)
				wd := randSparse(r, n, k, sp)
				c := NewCSR(wd, n, k)
				s := NewSELL(c)
				pb := PackB(true, k, n, wd, k)
				round := func(f func()) float64 {
					t0 := time.Now()
					for range 200 {
						f()
					}
					return time.Since(t0).Seconds() / 200
				}
				dense, csr, sell := math.Inf(1), math.Inf(1), math.Inf(1)
				for range 15 {
					dense = min(dense, round(func() { SgemmBiasActPacked(1, x, k, pb, bias, true, y, n) }))
					csr = min(csr, round(func() { SpMM(1, x, k, c, bias, true, y, n) }))
					sell = min(sell, round(func() { SpMV(x, s, bias, true, y) }))
				}
				b.ResetTimer()
				for b.Loop() {
					SpMV(x, s, bias, true, y)
				}
				b.ReportMetric(dense*1e6, "dense-µs")
				b.ReportMetric(csr*1e6, "csr-µs")
				b.ReportMetric(sell*1e6, "sell-µs")
				b.ReportMetric(dense/sell, "dense/sell")
				b.ReportMetric(float64(s.NNZ())/float64(c.NNZ()), "pad")
			})
		}
	}
}
