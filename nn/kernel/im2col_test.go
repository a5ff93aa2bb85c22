package kernel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConvOut(t *testing.T) {
	require.Equal(t, 26, ConvOut(28, 3, 1, 0))
	require.Equal(t, 28, ConvOut(28, 3, 1, 1))
	require.Equal(t, 14, ConvOut(28, 3, 2, 1))
	require.Equal(t, 1, ConvOut(1, 1, 1, 0))
	require.Equal(t, 0, ConvOut(2, 5, 1, 1))
	require.Equal(t, 3, ConvOut(5, 1, 2, 0))
	require.Panics(t, func() { ConvOut(5, 0, 1, 0) })
	require.Panics(t, func() { ConvOut(5, 3, 0, 0) })
	require.Panics(t, func() { ConvOut(5, 3, 1, -1) })
}

type convGeom struct{ h, w, c, kh, kw, stride, pad int }

var convGeoms = []convGeom{
	{1, 1, 1, 1, 1, 1, 0}, {5, 5, 1, 3, 3, 1, 0}, {5, 4, 2, 3, 3, 1, 1}, {7, 6, 3, 3, 2, 2, 1},
	{4, 4, 3, 5, 5, 1, 2}, {8, 9, 4, 1, 1, 2, 0}, {6, 6, 2, 4, 4, 3, 3}, {3, 10, 5, 3, 7, 2, 2},
}

// im2colNaive is the definition of Im2col, element by element.
func im2colNaive(src []float32, g convGeom) []float32 {
	outH, outW := ConvOut(g.h, g.kh, g.stride, g.pad), ConvOut(g.w, g.kw, g.stride, g.pad)
	out := make([]float32, 0, outH*outW*g.kh*g.kw*g.c)
	for oy := 0; oy < outH; oy++ {
		for ox := 0; ox < outW; ox++ {
			for ky := 0; ky < g.kh; ky++ {
				for kx := 0; kx < g.kw; kx++ {
					for ch := 0; ch < g.c; ch++ {
						y, x := oy*g.stride-g.pad+ky, ox*g.stride-g.pad+kx
						var v float32
						if y >= 0 && y < g.h && x >= 0 && x < g.w {
							v = src[(y*g.w+x)*g.c+ch]
						}
						out = append(out, v)
					}
				}
			}
		}
	}
	return out
}

func randVec(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = r.Float32()*2 - 1
	}
	return v
}

func TestIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range convGeoms {
		src := randVec(r, g.h*g.w*g.c)
		want := im2colNaive(src, g)
		dst := randVec(r, len(want)) // stale values must be overwritten
		src0 := slices.Clone(src)
		Im2col(src, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.pad, dst)
		require.Equal(t, want, dst, "%+v", g)
		require.Equal(t, src0, src)
	}
	require.Panics(t, func() { Im2col(make([]float32, 3), 2, 2, 1, 1, 1, 1, 0, make([]float32, 4)) })
	require.Panics(t, func() { Im2col(make([]float32, 4), 2, 2, 1, 1, 1, 1, 0, make([]float32, 3)) })
}

// TestCol2imAdjoint checks ⟨Im2col(x), y⟩ = ⟨x, Col2im(y)⟩ and that Col2im
// accumulates.
func TestCol2imAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range convGeoms {
		x := randVec(r, g.h*g.w*g.c)
		cols := make([]float32, len(im2colNaive(x, g)))
		Im2col(x, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.pad, cols)
		y := randVec(r, len(cols))
		back := make([]float32, len(x))
		Col2im(y, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.pad, back)
		var lhs, rhs float64
		for i := range y {
			lhs += float64(cols[i]) * float64(y[i])
		}
		for i := range x {
			rhs += float64(x[i]) * float64(back[i])
		}
		require.InDelta(t, lhs, rhs, 1e-4*(1+math.Abs(lhs)), "%+v", g)

		acc := slices.Clone(back)
		Col2im(y, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.pad, acc)
		for i := range acc {
			require.InDelta(t, 2*back[i], acc[i], 1e-5)
		}
	}
}

// TestConvViaIm2col checks a convolution built from Im2col and SgemmBiasAct
// against a direct loop.
func TestConvViaIm2col(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	g := convGeom{9, 7, 3, 3, 3, 2, 1}
	outC := 5
	outH, outW := ConvOut(g.h, g.kh, g.stride, g.pad), ConvOut(g.w, g.kw, g.stride, g.pad)
	x := randVec(r, g.h*g.w*g.c)
	wt := randVec(r, outC*g.kh*g.kw*g.c) // (outC, kh, kw, c)
	bias := randVec(r, outC)
	kk := g.kh * g.kw * g.c
	cols := make([]float32, outH*outW*kk)
	Im2col(x, g.h, g.w, g.c, g.kh, g.kw, g.stride, g.pad, cols)
	out := make([]float32, outH*outW*outC)
	SgemmBiasAct(outH*outW, outC, kk, cols, kk, wt, kk, bias, false, out, outC)
	for oy := 0; oy < outH; oy++ {
		for ox := 0; ox < outW; ox++ {
			for o := 0; o < outC; o++ {
				s := float64(bias[o])
				for ky := 0; ky < g.kh; ky++ {
					for kx := 0; kx < g.kw; kx++ {
						y, xx := oy*g.stride-g.pad+ky, ox*g.stride-g.pad+kx
						if y < 0 || y >= g.h || xx < 0 || xx >= g.w {
							continue
						}
						for ch := 0; ch < g.c; ch++ {
							s += float64(x[(y*g.w+xx)*g.c+ch]) * float64(wt[((o*g.kh+ky)*g.kw+kx)*g.c+ch])
						}
					}
				}
				require.InDelta(t, s, out[(oy*outW+ox)*outC+o], 1e-4)
			}
		}
	}
}
