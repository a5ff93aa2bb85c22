package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// gemmTol is the allowed error of each element of C, relative to the scale
// |alpha|·Σ_p |op(A)[i][p]|·|op(B)[p][j]| + |beta·C[i][j]| (float32
// accumulation over k ≤ a few thousand terms stays well inside it).
const gemmTol = 1e-5

// levels returns the kernel levels this machine can run.
func levels() []Level {
	var ls []Level
	for l := Generic; l <= AMX; l++ {
		if available(l) == nil {
			ls = append(ls, l)
		}
	}
	return ls
}

// forEachLevel runs f as a subtest under every available level.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	for _, l := range levels() {
		t.Run(l.String(), func(t *testing.T) {
			prev := SetLevel(l)
			defer SetLevel(prev)
			f(t)
		})
	}
}

// randMat returns rows×cols values at leading dimension ld, non-zero in the
// matrix and in the padding.
func randMat(r *rand.Rand, rows, cols, ld int) []float32 {
	if rows == 0 {
		return nil
	}
	s := make([]float32, (rows-1)*ld+cols)
	for i := range s {
		v := r.Float32()*2 - 1
		if v > -0.01 && v < 0.01 {
			v = 0.5
		}
		s[i] = v
	}
	return s
}

// gemmCase is one call of Sgemm with its operands.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	c              []float32
	ldc            int
	bias           []float32
	relu           bool
}

func newCase(r *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int) *gemmCase {
	g := &gemmCase{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	g.lda, g.ldb, g.ldc = ac+pad, bc+(pad*2)%5, n+(pad*3)%7
	g.a = randMat(r, ar, ac, g.lda)
	g.b = randMat(r, br, bc, g.ldb)
	g.c = randMat(r, m, n, g.ldc)
	if beta == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				g.c[i*g.ldc+j] = float32(math.NaN())
			}
		}
	}
	return g
}

func (g *gemmCase) at(x []float32, ld int, trans bool, i, j int) float64 {
	if trans {
		return float64(x[j*ld+i])
	}
	return float64(x[i*ld+j])
}

// want returns the float64 reference result and the per-element error
// scale for C as g holds it before the call.
func (g *gemmCase) want() (want, scale []float64) {
	want = make([]float64, g.m*g.n)
	scale = make([]float64, g.m*g.n)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s, abs float64
			for p := 0; p < g.k; p++ {
				av, bv := g.at(g.a, g.lda, g.transA, i, p), g.at(g.b, g.ldb, g.transB, p, j)
				s += av * bv
				abs += math.Abs(av * bv)
			}
			v := float64(g.alpha) * s
			sc := math.Abs(float64(g.alpha)) * abs
			if g.beta != 0 {
				cv := float64(g.beta) * float64(g.c[i*g.ldc+j])
				v += cv
				sc += math.Abs(cv)
			}
			if g.bias != nil {
				v += float64(g.bias[j])
				sc += math.Abs(float64(g.bias[j]))
			}
			if g.relu && v < 0 {
				v = 0
			}
			want[i*g.n+j], scale[i*g.n+j] = v, sc
		}
	}
	return want, scale
}

// check runs call on g and compares C with the float64 reference, and
// checks that A, B and the padding of C are unchanged.
func (g *gemmCase) check(t testing.TB, call func(g *gemmCase)) {
	t.Helper()
	want, scale := g.want()
	a0, b0, c0 := slices.Clone(g.a), slices.Clone(g.b), slices.Clone(g.c)
	call(g)
	require.Equal(t, a0, g.a, "A modified")
	require.Equal(t, b0, g.b, "B modified")
	for i := range g.c {
		r, col := i/g.ldc, i%g.ldc
		if col >= g.n {
			if g.c[i] != c0[i] && !(math.IsNaN(float64(g.c[i])) && math.IsNaN(float64(c0[i]))) {
				t.Fatalf("%s: C padding [%d] modified", g, i)
			}
			continue
		}
		got := float64(g.c[i])
		w, sc := want[r*g.n+col], scale[r*g.n+col]
		if math.IsNaN(got) || math.Abs(got-w) > gemmTol*sc+1e-30 {
			t.Fatalf("%s: C[%d][%d] = %v, want %v (scale %v)", g, r, col, got, w, sc)
		}
	}
}

func (g *gemmCase) String() string {
	return fmt.Sprintf("tA=%v tB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d bias=%v relu=%v level=%v",
		g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.beta, g.lda, g.ldb, g.ldc, g.bias != nil, g.relu, Active())
}

func callSgemm(g *gemmCase) {
	Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, g.c, g.ldc)
}

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2.5, 0}, {1, -1}, {0.75, 0.25}}

// TestSgemmShapes covers every m and n in 1..70 (each (m, n) pair under one
// of the four transpose combinations, so every edge modulo the 6×16 tile is
// met with each), k drawn from 1..70, varied alpha/beta and leading
// dimensions.
func TestSgemmShapes(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		idx := 0
		for m := 1; m <= 70; m++ {
			for n := 1; n <= 70; n++ {
				combo := (m*7 + n*3) % 4
				k := 1 + r.IntN(70)
				ab := alphaBetas[idx%len(alphaBetas)]
				idx++
				g := newCase(r, combo&1 != 0, combo&2 != 0, m, n, k, ab[0], ab[1], idx%4)
				g.check(t, callSgemm)
			}
		}
	})
}

// TestSgemmK covers every k in 1..70 under every transpose combination.
func TestSgemmK(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for k := 1; k <= 70; k++ {
			for combo := 0; combo < 4; combo++ {
				ab := alphaBetas[(k+combo)%len(alphaBetas)]
				g := newCase(r, combo&1 != 0, combo&2 != 0, 1+r.IntN(20), 1+r.IntN(40), k, ab[0], ab[1], k%3)
				g.check(t, callSgemm)
			}
		}
	})
}

// TestSgemmLarge covers shapes crossing the cache blocks (k > kcBlock,
// m > mcBlock, n > ncBlock) and the parallel split over M and over N.
func TestSgemmLarge(t *testing.T) {
	shapes := [][3]int{{150, 70, 300}, {13, 300, 257}, {300, 17, 513}, {7, 3100, 9}, {1, 1000, 600}, {200, 200, 1}, {97, 101, 103}}
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for i, s := range shapes {
			combo := i % 4
			ab := alphaBetas[i%len(alphaBetas)]
			g := newCase(r, combo&1 != 0, combo&2 != 0, s[0], s[1], s[2], ab[0], ab[1], i%3)
			g.check(t, callSgemm)
		}
	})
}

// TestSgemmSerialParallel checks that a GEMM above the parallel crossover
// gives the same result on one goroutine as on several.
func TestSgemmSerialParallel(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, s := range [][3]int{{96, 200, 64}, {200, 50, 64}} {
			g := newCase(r, false, true, s[0], s[1], s[2], 1, 0, 0)
			c1 := slices.Clone(g.c)
			callSgemm(g)
			prev := runtime.GOMAXPROCS(1)
			Sgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c1, g.ldc)
			runtime.GOMAXPROCS(prev)
			require.Equal(t, c1, g.c)
		}
	})
}

func TestSgemmDegenerate(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		// k = 0: C = beta·C.
		c := []float32{1, 2, 3, 4}
		Sgemm(false, false, 2, 2, 0, 1, nil, 0, nil, 0, 2, c, 2)
		require.Equal(t, []float32{2, 4, 6, 8}, c)
		nan := float32(math.NaN())
		c = []float32{nan, nan}
		Sgemm(true, true, 1, 2, 0, 1, nil, 0, nil, 0, 0, c, 2)
		require.Equal(t, []float32{0, 0}, c)
		// m = 0 or n = 0: nothing.
		Sgemm(false, false, 0, 3, 3, 1, nil, 3, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9}, 3, 0, nil, 3)
		// alpha = 0 with NaN-free inputs.
		r := rand.New(rand.NewPCG(9, 10))
		g := newCase(r, false, false, 5, 17, 7, 0, 0.5, 1)
		g.check(t, callSgemm)
	})
}

func TestSgemmPanics(t *testing.T) {
	a := make([]float32, 12)
	require.Panics(t, func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) })
	require.Panics(t, func() { Sgemm(false, false, 3, 3, 3, 1, a, 2, a, 3, 0, a, 3) }, "lda < k")
	require.Panics(t, func() { Sgemm(false, false, 4, 4, 4, 1, a, 4, a, 4, 0, a, 4) }, "A too short")
	require.Panics(t, func() { SgemmBiasAct(2, 3, 2, a, 2, a, 2, a[:2], false, a, 3) }, "bias too short")
}

func TestSgemmBiasAct(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		shapes := [][3]int{{1, 1, 1}, {1, 300, 784}, {7, 17, 5}, {6, 16, 300}, {64, 100, 300}, {33, 10, 70}, {256, 40, 20}}
		for i, s := range shapes {
			for _, relu := range []bool{false, true} {
				g := newCase(r, false, true, s[0], s[1], s[2], 1, 0, i%3)
				if i%2 == 0 || relu {
					g.bias = randMat(r, 1, s[1], s[1])
				}
				g.relu = relu
				g.check(t, func(g *gemmCase) {
					SgemmBiasAct(g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, g.bias, g.relu, g.c, g.ldc)
				})
				pb := PackB(true, g.k, g.n, g.b, g.ldb)
				require.Equal(t, g.k, pb.K())
				require.Equal(t, g.n, pb.N())
				opB := make([]float32, g.k*g.n)
				for q := 0; q < g.k; q++ {
					for j := 0; j < g.n; j++ {
						opB[q*g.n+j] = float32(g.at(g.b, g.ldb, true, q, j))
					}
				}
				require.Equal(t, opB, unpack(pb))
				g = newCase(r, false, true, s[0], s[1], s[2], 1, 0, i%3)
				g.b = nil // operands come from the packed copy above
				g2 := *g
				g2.b, g2.ldb = unpack(pb), pb.N()
				g2.transB = false
				g2.bias, g2.relu = randMat(r, 1, s[1], s[1]), relu
				g2.check(t, func(g *gemmCase) {
					SgemmBiasActPacked(g.m, g.a, g.lda, pb, g.bias, g.relu, g.c, g.ldc)
				})
			}
		}
	})
}

// unpack rebuilds op(B) (k, n) row-major from a PackedB.
func unpack(p *PackedB) []float32 {
	out := make([]float32, p.k*p.n)
	for pc := 0; pc < p.k; pc += kcBlock {
		kc := min(kcBlock, p.k-pc)
		blk := p.block(pc, 0, kc)
		for j := 0; j < p.n; j++ {
			for q := 0; q < kc; q++ {
				out[(pc+q)*p.n+j] = blk[(j/nr)*nr*kc+q*nr+j%nr]
			}
		}
	}
	return out
}

func TestSgemmPacked(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14))
		shapes := [][3]int{{1, 1, 1}, {5, 33, 7}, {70, 20, 300}, {7, 3100, 5}, {150, 64, 100}}
		for i, s := range shapes {
			transA, transB := i%2 == 1, i%3 == 1
			ab := alphaBetas[i%len(alphaBetas)]
			g := newCase(r, transA, transB, s[0], s[1], s[2], ab[0], ab[1], i%3)
			pb := PackB(transB, g.k, g.n, g.b, g.ldb)
			g.check(t, func(g *gemmCase) {
				SgemmPacked(g.transA, g.m, g.alpha, g.a, g.lda, pb, g.beta, g.c, g.ldc)
			})
		}
	})
}

// FuzzSgemm differentially tests Sgemm at every level against the float64
// reference.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), false, false, float32(1), float32(0), uint64(1))
	f.Add(uint8(7), uint8(17), uint8(13), true, false, float32(-2), float32(0.5), uint64(2))
	f.Add(uint8(13), uint8(33), uint8(70), false, true, float32(1), float32(1), uint64(3))
	f.Fuzz(func(t *testing.T, m, n, k uint8, transA, transB bool, alpha, beta float32, seed uint64) {
		if math.IsNaN(float64(alpha)) || math.IsNaN(float64(beta)) || math.Abs(float64(alpha)) > 1e3 || math.Abs(float64(beta)) > 1e3 {
			return
		}
		for _, l := range levels() {
			prev := SetLevel(l)
			r := rand.New(rand.NewPCG(seed, 99))
			g := newCase(r, transA, transB, int(m%100), int(n%100), int(k%100), alpha, beta, int(seed%3))
			g.check(t, callSgemm)
			SetLevel(prev)
		}
	})
}
