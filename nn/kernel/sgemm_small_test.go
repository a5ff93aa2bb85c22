package kernel

import (
	"math/rand/v2"
	"testing"
)

// smallNs and smallKs are the n and k edges the small-m tests cross: around
// the 16-column panel, the 64-column row-kernel group and ncBlock, and around
// the 4-step unroll and kcBlock.
var (
	smallNs = []int{1, 5, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 79, 80, 100, 127, 128, 129, 300, ncBlock + 17}
	smallKs = []int{1, 2, 3, 4, 5, 7, 8, 9, 255, 256, 257, 300, 784}
)

// TestSgemmSmallM runs every m in 1..7 (the row kernel at m = 1, partial
// micro-kernel tiles above) against the float64 reference over the n and k
// edges, every transpose combination, sub-slices (padded leading
// dimensions), and NaN-filled C with beta = 0.
func TestSgemmSmallM(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 22))
		idx := 0
		for m := 1; m <= 7; m++ {
			for _, n := range smallNs {
				for _, k := range smallKs {
					if n > 1000 && k > 8 && m > 1 {
						continue // keep the run short; m = 1 covers them
					}
					idx++
					combo := idx % 4
					ab := alphaBetas[idx%len(alphaBetas)]
					g := newCase(r, combo&1 != 0, combo&2 != 0, m, n, k, ab[0], ab[1], idx%4)
					g.check(t, callSgemm)
				}
			}
		}
	})
}

// TestSgemmSmallMPacked covers the inference entry points (pre-packed
// weight, bias, ReLU) at m in 1..7.
func TestSgemmSmallMPacked(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		idx := 0
		for m := 1; m <= 7; m++ {
			for _, n := range smallNs {
				for _, k := range []int{1, 3, 4, 17, 256, 257, 784} {
					if n > 1000 && k > 4 {
						continue
					}
					idx++
					relu := idx%2 == 0
					g := newCase(r, false, true, m, n, k, 1, 0, idx%3)
					if idx%3 != 0 {
						g.bias = randMat(r, 1, n, n)
					}
					g.relu = relu
					pb := PackB(true, k, n, g.b, g.ldb)
					g.check(t, func(g *gemmCase) {
						SgemmBiasActPacked(g.m, g.a, g.lda, pb, g.bias, g.relu, g.c, g.ldc)
					})
					g.check(t, func(g *gemmCase) {
						SgemmBiasAct(g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, g.bias, g.relu, g.c, g.ldc)
					})
					// alpha/beta through SgemmPacked.
					ab := alphaBetas[idx%len(alphaBetas)]
					h := newCase(r, idx%2 == 1, false, m, n, k, ab[0], ab[1], idx%3)
					ph := PackB(false, k, n, h.b, h.ldb)
					h.check(t, func(g *gemmCase) {
						SgemmPacked(g.transA, g.m, g.alpha, g.a, g.lda, ph, g.beta, g.c, g.ldc)
					})
				}
			}
		}
	})
}

// TestSgemmRowSplit forces the column split of one-row GEMMs across
// goroutines (off by default, see rowParMinBytes) and checks it.
func TestSgemmRowSplit(t *testing.T) {
	saved := rowParMinBytes
	rowParMinBytes = 0
	defer func() { rowParMinBytes = saved }()
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(25, 26))
		for i, n := range []int{1, 17, 33, 100, 300, 1000} {
			g := newCase(r, false, true, 1, n, 784, 1, 0, i%3)
			g.bias, g.relu = randMat(r, 1, n, n), true
			pb := PackB(true, g.k, n, g.b, g.ldb)
			g.check(t, func(g *gemmCase) {
				SgemmBiasActPacked(1, g.a, g.lda, pb, g.bias, g.relu, g.c, g.ldc)
			})
			h := newCase(r, i%2 == 1, i%3 == 0, 1, n, 300, -0.5, 2, i%3)
			h.check(t, callSgemm)
		}
	})
}
