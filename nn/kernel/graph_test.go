package kernel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// graphTol is the allowed error of the graph kernels' float32 results
// relative to the float64 references' scale (Σ|terms| for sums).
const graphTol = 1e-5

func requireClose(t *testing.T, want, scale []float64, got []float32, what string) {
	t.Helper()
	require.Len(t, got, len(want), what)
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= graphTol*scale[i]+1e-30) {
			t.Fatalf("%s: [%d] = %v, want %v (scale %v)", what, i, got[i], want[i], scale[i])
		}
	}
}

func TestConv1x1(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(31, 32))
		for _, s := range [][5]int{{5, 7, 3, 17, 1}, {8, 8, 16, 32, 2}, {9, 5, 13, 40, 3}, {1, 1, 70, 1, 1}, {6, 6, 24, 33, 1}} {
			h, w, c, oc, stride := s[0], s[1], s[2], s[3], s[4]
			relu := oc%2 == 1
			src, wt, bias := randVec(r, h*w*c), randVec(r, oc*c), randVec(r, oc)
			outH, outW := ConvOut(h, 1, stride, 0), ConvOut(w, 1, stride, 0)
			want, scale := make([]float64, outH*outW*oc), make([]float64, outH*outW*oc)
			for oy := range outH {
				for ox := range outW {
					for o := range oc {
						v, sc := float64(bias[o]), math.Abs(float64(bias[o]))
						for ch := range c {
							p := float64(src[((oy*stride)*w+ox*stride)*c+ch]) * float64(wt[o*c+ch])
							v, sc = v+p, sc+math.Abs(p)
						}
						if relu && v < 0 {
							v = 0
						}
						want[(oy*outW+ox)*oc+o], scale[(oy*outW+ox)*oc+o] = v, sc
					}
				}
			}
			got := randVec(r, len(want))
			Conv1x1(src, h, w, c, wt, oc, bias, relu, stride, got)
			requireClose(t, want, scale, got, "Conv1x1")
		}
	})
}

func TestDepthwiseConv2D(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, s := range [][7]int{{7, 9, 5, 3, 3, 1, 1}, {8, 8, 16, 3, 3, 2, 1}, {5, 6, 3, 5, 5, 1, 2}, {4, 4, 1, 1, 1, 1, 0}, {10, 3, 33, 3, 2, 3, 0}} {
		h, w, c, kh, kw, stride, pad := s[0], s[1], s[2], s[3], s[4], s[5], s[6]
		for _, relu := range []bool{false, true} {
			src, wt := randVec(r, h*w*c), randVec(r, kh*kw*c)
			var bias []float32
			if relu {
				bias = randVec(r, c)
			}
			want, scale := depthwiseRef(src, h, w, c, wt, kh, kw, bias, relu, stride, pad)
			got := randVec(r, len(want))
			DepthwiseConv2D(src, h, w, c, wt, kh, kw, bias, relu, stride, pad, got)
			requireClose(t, want, scale, got, "DepthwiseConv2D")
		}
	}
}

// depthwiseRef is DepthwiseConv2D in float64, with the error scale of each
// output (Σ|terms|).
func depthwiseRef(src []float32, h, w, c int, wt []float32, kh, kw int, bias []float32, relu bool, stride, pad int) (want, scale []float64) {
	outH, outW := ConvOut(h, kh, stride, pad), ConvOut(w, kw, stride, pad)
	want, scale = make([]float64, outH*outW*c), make([]float64, outH*outW*c)
	for oy := range outH {
		for ox := range outW {
			for ch := range c {
				var v, sc float64
				if bias != nil {
					v, sc = float64(bias[ch]), math.Abs(float64(bias[ch]))
				}
				for ky := range kh {
					for kx := range kw {
						y, x := oy*stride-pad+ky, ox*stride-pad+kx
						if y < 0 || y >= h || x < 0 || x >= w {
							continue
						}
						p := float64(src[(y*w+x)*c+ch]) * float64(wt[(ky*kw+kx)*c+ch])
						v, sc = v+p, sc+math.Abs(p)
					}
				}
				if relu && v < 0 {
					v = 0
				}
				want[(oy*outW+ox)*c+ch], scale[(oy*outW+ox)*c+ch] = v, sc
			}
		}
	}
	return want, scale
}

func TestSgemmBatched(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(35, 36))
		for _, s := range [][4]int{{8, 17, 9, 16}, {3, 64, 64, 32}, {5, 1, 30, 7}, {1, 40, 40, 40}} {
			batch, m, n, k := s[0], s[1], s[2], s[3]
			for combo := range 4 {
				tA, tB := combo&1 != 0, combo&2 != 0
				ar, ac, br, bc := m, k, k, n
				if tA {
					ar, ac = k, m
				}
				if tB {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+1, bc+2, n+1
				sa, sb, sc := ar*lda+3, br*ldb+1, m*ldc+2
				a, b, c := randVec(r, batch*sa), randVec(r, batch*sb), randVec(r, batch*sc)
				want, scale := make([]float64, 0, batch*m*n), make([]float64, 0, batch*m*n)
				var alpha, beta float32 = 1.5, 0.5
				for bi := range batch {
					g := &gemmCase{transA: tA, transB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta,
						a: a[bi*sa:], lda: lda, b: b[bi*sb:], ldb: ldb, c: c[bi*sc:], ldc: ldc}
					w, s := g.want()
					want, scale = append(want, w...), append(scale, s...)
				}
				SgemmBatched(batch, tA, tB, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc)
				got := make([]float32, 0, len(want))
				for bi := range batch {
					for i := range m {
						got = append(got, c[bi*sc+i*ldc:bi*sc+i*ldc+n]...)
					}
				}
				requireClose(t, want, scale, got, "SgemmBatched")
			}
		}
	})
	require.Panics(t, func() {
		SgemmBatched(2, false, false, 2, 2, 2, 1, make([]float32, 5), 2, 4, make([]float32, 8), 2, 4, 0, make([]float32, 8), 2, 4)
	})
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, s := range [][3]int{{1, 1, 1}, {3, 10, 12}, {7, 100, 100}, {2, 513, 600}} {
		rows, n, ld := s[0], s[1], s[2]
		x := randVec(r, (rows-1)*ld+n)
		for i := range x {
			x[i] *= 20 // large logits: the max subtraction matters
		}
		want := make([]float64, 0, rows*n)
		for i := range rows {
			row := x[i*ld : i*ld+n]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var s float64
			for _, v := range row {
				s += math.Exp(float64(v) - mx)
			}
			for _, v := range row {
				want = append(want, math.Exp(float64(v)-mx)/s)
			}
		}
		pad := x[n:min(len(x), ld)]
		pad0 := slices.Clone(pad)
		Softmax(rows, n, x, ld)
		got := make([]float32, 0, rows*n)
		for i := range rows {
			got = append(got, x[i*ld:i*ld+n]...)
		}
		scale := make([]float64, len(want))
		for i := range scale {
			scale[i] = 1
		}
		requireClose(t, want, scale, got, "Softmax")
		require.Equal(t, pad0, pad, "padding modified")
	}
	x := []float32{float32(math.Inf(-1)), 0, 0}
	Softmax(1, 3, x, 3)
	require.Equal(t, []float32{0, 0.5, 0.5}, x)
	x = []float32{1, float32(math.NaN()), 2}
	Softmax(1, 3, x, 3)
	require.True(t, math.IsNaN(float64(x[0])) && math.IsNaN(float64(x[2])))
}

func TestLayerNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	for _, s := range [][2]int{{1, 1}, {4, 7}, {9, 64}, {3, 768}} {
		rows, n := s[0], s[1]
		x := randVec(r, rows*(n+1))
		for i := range x {
			x[i] = x[i]*3 + 5 // an offset mean
		}
		gamma, beta := randVec(r, n), randVec(r, n)
		const eps = 1e-5
		want, scale := make([]float64, 0, rows*n), make([]float64, 0, rows*n)
		for i := range rows {
			row := x[i*(n+1) : i*(n+1)+n]
			var m, q float64
			for _, v := range row {
				m += float64(v)
			}
			m /= float64(n)
			for _, v := range row {
				q += (float64(v) - m) * (float64(v) - m)
			}
			sd := math.Sqrt(q/float64(n) + eps)
			for j, v := range row {
				z := (float64(v) - m) / sd
				want = append(want, z*float64(gamma[j])+float64(beta[j]))
				scale = append(scale, 10*(math.Abs(z*float64(gamma[j]))+math.Abs(float64(beta[j]))+1))
			}
		}
		dst := make([]float32, rows*n)
		LayerNorm(rows, n, x, n+1, gamma, beta, eps, dst, n)
		requireClose(t, want, scale, dst, "LayerNorm")
		// In place, with no gamma and beta: mean 0, variance 1.
		LayerNorm(rows, n, x, n+1, nil, nil, 0, x, n+1)
		if n > 1 {
			var m, q float64
			for _, v := range x[:n] {
				m += float64(v)
				q += float64(v) * float64(v)
			}
			require.InDelta(t, 0, m/float64(n), 1e-5)
			require.InDelta(t, 1, q/float64(n), 1e-4)
		}
	}
}

func TestActivate(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	x := randVec(r, 257)
	for i := range x {
		x[i] *= 8
	}
	x = append(x, 0, -3, 3, 40, -40)
	refs := map[Activation]func(float64) float64{
		ActGELU:      func(v float64) float64 { return v * 0.5 * math.Erfc(-v/math.Sqrt2) },
		ActGELUTanh:  func(v float64) float64 { return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))) },
		ActSiLU:      func(v float64) float64 { return v / (1 + math.Exp(-v)) },
		ActHardSwish: func(v float64) float64 { return v * math.Min(math.Max(v+3, 0), 6) / 6 },
	}
	for act, ref := range refs {
		got := append([]float32(nil), x...)
		Activate(act, got)
		want, scale := make([]float64, len(x)), make([]float64, len(x))
		for i, v := range x {
			want[i], scale[i] = ref(float64(v)), math.Abs(float64(v))+1e-3
		}
		requireClose(t, want, scale, got, "Activate")
	}
	require.Panics(t, func() { Activate(Activation(99), x) })
}

// FuzzDepthwiseConv2D compares DepthwiseConv2D with depthwiseRef on fuzzed
// geometry (sizes, kernel, stride, padding, channels).
func FuzzDepthwiseConv2D(f *testing.F) {
	f.Add(uint8(7), uint8(9), uint8(5), uint8(3), uint8(3), uint8(1), uint8(1), int64(1))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), int64(2))
	f.Add(uint8(4), uint8(6), uint8(33), uint8(5), uint8(2), uint8(3), uint8(2), int64(3))
	f.Fuzz(func(t *testing.T, hb, wb, cb, khb, kwb, sb, pb uint8, seed int64) {
		h, w, c := int(hb%12)+1, int(wb%12)+1, int(cb%40)+1
		kh, kw, stride, pad := int(khb%5)+1, int(kwb%5)+1, int(sb%3)+1, int(pb%3)
		r := rand.New(rand.NewPCG(uint64(seed), 43))
		src, wt, bias := randVec(r, h*w*c), randVec(r, kh*kw*c), randVec(r, c)
		relu := seed%2 == 0
		want, scale := depthwiseRef(src, h, w, c, wt, kh, kw, bias, relu, stride, pad)
		got := randVec(r, len(want))
		DepthwiseConv2D(src, h, w, c, wt, kh, kw, bias, relu, stride, pad, got)
		requireClose(t, want, scale, got, "DepthwiseConv2D")
	})
}
