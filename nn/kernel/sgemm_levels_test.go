package kernel

import (
	"math/rand/v2"
	"testing"
)

// TestSgemmTriples runs every (m, n, k) in 1..13 (all edges of the 6×16 and
// 12×32 tiles, and of the 4-step unrolled loops) and 300 triples drawn from
// 1..70, under every transpose combination and padded leading dimensions
// (sub-slices, lda > k), at every level; within gemmTol of float64.
func TestSgemmTriples(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(21, 22))
		idx := 0
		run := func(m, n, k int) {
			combo := idx % 4
			ab := alphaBetas[idx%len(alphaBetas)]
			idx++
			g := newCase(r, combo&1 != 0, combo&2 != 0, m, n, k, ab[0], ab[1], 1+idx%3)
			g.check(t, callSgemm)
		}
		for m := 1; m <= 13; m++ {
			for n := 1; n <= 13; n++ {
				for k := 1; k <= 13; k++ {
					run(m, n, k)
				}
			}
		}
		for range 300 {
			run(1+r.IntN(70), 1+r.IntN(70), 1+r.IntN(70))
		}
	})
}

// TestSgemmBiasActLevels checks the dense-layer form (bias, ReLU, packed
// and unpacked weight) on shapes around the 12×32 tile at every level.
func TestSgemmBiasActLevels(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(23, 24))
		for _, s := range [][3]int{{12, 32, 20}, {24, 64, 300}, {25, 33, 7}, {11, 31, 513}, {37, 100, 70}} {
			for _, packed := range []bool{false, true} {
				g := newCase(r, false, true, s[0], s[1], s[2], 1, 0, 1)
				g.bias = randMat(r, 1, s[1], s[1])
				g.relu = true
				g.check(t, func(g *gemmCase) {
					if packed {
						SgemmBiasActPacked(g.m, g.a, g.lda, PackB(true, g.k, g.n, g.b, g.ldb), g.bias, true, g.c, g.ldc)
						return
					}
					SgemmBiasAct(g.m, g.n, g.k, g.a, g.lda, g.b, g.ldb, g.bias, true, g.c, g.ldc)
				})
			}
		}
	})
}
