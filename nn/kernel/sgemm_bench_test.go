package kernel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchGemm times C = A·B for A (m, k), B (k, n) at the current level and
// reports GFLOP/s (one multiply-add = 2 flops). procs is GOMAXPROCS during
// the run (0 = unchanged).
func benchGemm(b *testing.B, m, n, k, procs int) {
	r := rand.New(rand.NewPCG(1, 1))
	a, bb, c := randMat(r, m, k, k), randMat(r, k, n, n), make([]float32, m*n)
	if procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
	}
	b.ResetTimer()
	for b.Loop() {
		Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
	}
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGEMM: f32/N is a square GEMM on one goroutine, f32/N/par on all
// cores, f32/MxKxN model shapes (batch M, K inputs, N outputs) on all cores;
// f32-generic/... the same on the portable Go path.
func BenchmarkGEMM(b *testing.B) {
	shapes := [][3]int{{256, 784, 300}, {256, 300, 100}, {1, 784, 300}, {3136, 576, 64}}
	for _, l := range levels() {
		name := "f32"
		if l == Generic {
			name = "f32-generic"
		}
		b.Run(name, func(b *testing.B) {
			prev := SetLevel(l)
			defer SetLevel(prev)
			for _, n := range []int{1024} {
				b.Run(fmt.Sprint(n), func(b *testing.B) { benchGemm(b, n, n, n, 1) })
				b.Run(fmt.Sprint(n, "/par"), func(b *testing.B) { benchGemm(b, n, n, n, 0) })
			}
			for _, s := range shapes {
				b.Run(fmt.Sprintf("%dx%dx%d", s[0], s[1], s[2]), func(b *testing.B) { benchGemm(b, s[0], s[2], s[1], 0) })
			}
		})
	}
}

// BenchmarkSgemmCrossover compares one goroutine with all cores on small
// square GEMMs, to place parMinFlops.
func BenchmarkSgemmCrossover(b *testing.B) {
	for _, n := range []int{32, 48, 64, 80, 96, 128} {
		b.Run(fmt.Sprintf("%d/serial", n), func(b *testing.B) { benchGemm(b, n, n, n, 1) })
		b.Run(fmt.Sprintf("%d/par", n), func(b *testing.B) {
			saved := parMin
			parMin = 0
			defer func() { parMin = saved }()
			benchGemm(b, n, n, n, 0)
		})
	}
}
