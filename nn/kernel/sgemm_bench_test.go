package kernel

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
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
	c0 := cpuSeconds()
	for b.Loop() {
		Sgemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
	}
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if c := cpuSeconds() - c0; c > 0 {
		// Per busy core: insensitive to time-slicing on a shared machine.
		// peak-fraction divides by one core's FMA throughput measured in
		// the same process (levelPeak: the probe of the level's units).
		b.ReportMetric(flops/c/1e9, "GFLOP/cpu-s")
		if peak, _ := levelPeak(); peak > 0 {
			b.ReportMetric(flops/c/1e9/peak, "peak-fraction")
		}
	}
}

// BenchmarkGEMM: f32/N is a square GEMM on one goroutine, f32/N/par on all
// cores, f32/MxKxN model shapes (batch M, K inputs, N outputs) on all cores;
// f32-generic/... the same on the portable Go path.
func BenchmarkGEMM(b *testing.B) {
	shapes := [][3]int{{256, 784, 300}, {256, 300, 100}, {1, 784, 300}, {3136, 576, 64}}
	for _, l := range levels() {
		// f32 is the best level (the names bench scripts read); the
		// others are f32-<level>.
		name := "f32"
		if l != Best() {
			name = "f32-" + l.String()
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
			parMin[Active()] = 0
			defer func() { parMin = saved }()
			benchGemm(b, n, n, n, 0)
		})
	}
}

// abRounds times two variants of the same work in alternating rounds on one
// goroutine and reports each one's best CPU time per call (µs) and their
// ratio, which a loaded, shared machine distorts far less than separate
// wall-clock benchmarks.
func abRounds(b *testing.B, nameA, nameB string, setA, setB func(), call func()) {
	const rounds = 15
	// Calls per round: enough for ≥ 20 ms of CPU time, well above the
	// resolution of the process CPU clock.
	calls := 1
	for {
		c0 := cpuSeconds()
		for range calls {
			call()
		}
		if cpuSeconds()-c0 >= 0.02 || calls >= 1<<20 {
			break
		}
		calls *= 2
	}
	best := [2]float64{1e9, 1e9}
	for b.Loop() {
		for r := 0; r < rounds; r++ {
			for v, set := range []func(){setA, setB} {
				set()
				c0 := cpuSeconds()
				for range calls {
					call()
				}
				best[v] = min(best[v], (cpuSeconds()-c0)/float64(calls)*1e6)
			}
		}
	}
	b.ReportMetric(best[0], nameA+"-cpu-µs")
	b.ReportMetric(best[1], nameB+"-cpu-µs")
	b.ReportMetric(best[1]/best[0], nameB+"/"+nameA)
}

// BenchmarkSgemmRow compares the m = 1 row kernel with the 6×16
// micro-kernel on the lenet300 layer shapes (pre-packed weight, bias, ReLU).
func BenchmarkSgemmRow(b *testing.B) {
	if Active() != AVX2 {
		b.Skip("no row kernel at this level")
	}
	for _, s := range [][2]int{{784, 300}, {300, 100}, {100, 10}} {
		k, n := s[0], s[1]
		b.Run(fmt.Sprintf("1x%dx%d", k, n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, w, bias, c := randMat(r, 1, k, k), randMat(r, n, k, k), randMat(r, 1, n, n), make([]float32, n)
			pb := PackB(true, k, n, w, k)
			defer func() { rowKernels = true }()
			abRounds(b, "row", "tile", func() { rowKernels = true }, func() { rowKernels = false }, func() {
				SgemmBiasActPacked(1, a, k, pb, bias, true, c, n)
			})
		})
	}
}

// BenchmarkSgemmDirect compares reading A in place (direct-A kernel) with
// packing it, on the square 1024 GEMM (one goroutine) and the lenet300
// training and inference shapes at batch 128 (all cores), and a 3×3
// convolution's im2col GEMM, at the active level (AVX2 or AVX512).
func BenchmarkSgemmDirect(b *testing.B) {
	if Active() == Generic {
		b.Skip("no direct-A kernel at this level")
	}
	type shape struct {
		name            string
		m, n, k, procs  int
		transB, packedB bool
	}
	for _, s := range []shape{
		{"1024", 1024, 1024, 1024, 1, false, false},
		{"fwd128x784x300", 128, 300, 784, 0, true, false},
		{"dx128x300x784", 128, 784, 300, 0, false, false},
		{"infer128x784x300", 128, 300, 784, 0, true, true},
		{"conv3136x576x64", 3136, 64, 576, 0, true, false},
	} {
		b.Run(s.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, c := randMat(r, s.m, s.k, s.k), make([]float32, s.m*s.n)
			var bb []float32
			ldb := s.n
			if s.transB {
				bb, ldb = randMat(r, s.n, s.k, s.k), s.k
			} else {
				bb = randMat(r, s.k, s.n, s.n)
			}
			pb := PackB(s.transB, s.k, s.n, bb, ldb)
			if s.procs > 0 {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(s.procs))
			}
			defer func() { directKernels, direct512Kernels = true, true }()
			on := func() { directKernels, direct512Kernels = true, true }
			off := func() { directKernels, direct512Kernels = false, false }
			abRounds(b, "direct", "packA", on, off, func() {
				if s.packedB {
					SgemmPacked(false, s.m, 1, a, s.k, pb, 0, c, s.n)
				} else {
					Sgemm(false, s.transB, s.m, s.n, s.k, 1, a, s.k, bb, ldb, 0, c, s.n)
				}
			})
		})
	}
}

// abWall is abRounds on wall time: the best round of each variant
// approximates what an idle machine shows, even on a loaded one.
func abWall(b *testing.B, nameA, nameB string, setA, setB func(), call func()) {
	const rounds = 25
	calls := 1
	for {
		t0 := time.Now()
		for range calls {
			call()
		}
		if time.Since(t0) >= 2*time.Millisecond || calls >= 1<<20 {
			break
		}
		calls *= 2
	}
	best := [2]float64{1e9, 1e9}
	for b.Loop() {
		for r := 0; r < rounds; r++ {
			for v, set := range []func(){setA, setB} {
				set()
				t0 := time.Now()
				for range calls {
					call()
				}
				best[v] = min(best[v], time.Since(t0).Seconds()/float64(calls)*1e6)
			}
		}
	}
	b.ReportMetric(best[0], nameA+"-µs")
	b.ReportMetric(best[1], nameB+"-µs")
	b.ReportMetric(best[1]/best[0], nameB+"/"+nameA)
}

// BenchmarkSgemmRowPar compares one goroutine with a column split across
// all cores for one-row GEMMs with a pre-packed B (batch-1 dense layers),
// on best-of-rounds wall time.
func BenchmarkSgemmRowPar(b *testing.B) {
	if Active() != AVX2 {
		b.Skip("no row kernel at this level")
	}
	for _, s := range [][2]int{{784, 300}, {300, 100}, {1024, 1024}, {512, 256}} {
		k, n := s[0], s[1]
		b.Run(fmt.Sprintf("1x%dx%d", k, n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, w, bias, c := randMat(r, 1, k, k), randMat(r, n, k, k), randMat(r, 1, n, n), make([]float32, n)
			pb := PackB(true, k, n, w, k)
			saved := rowParMinBytes
			defer func() { rowParMinBytes = saved }()
			abWall(b, "serial", "par", func() { rowParMinBytes = 1 << 62 }, func() { rowParMinBytes = 0 }, func() {
				SgemmBiasActPacked(1, a, k, pb, bias, true, c, n)
			})
		})
	}
}

// BenchmarkSgemmRowM compares m one-row GEMMs (row kernel) with the 6×16
// micro-kernel for small m on lenet300's first layer (packed weight).
func BenchmarkSgemmRowM(b *testing.B) {
	if Active() != AVX2 {
		b.Skip("no row kernel at this level")
	}
	k, n := 784, 300
	for _, m := range []int{2, 3, 4} {
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			a, w, bias, c := randMat(r, m, k, k), randMat(r, n, k, k), randMat(r, 1, n, n), make([]float32, m*n)
			pb := PackB(true, k, n, w, k)
			saved := rowMaxM
			defer func() { rowMaxM = saved }()
			abRounds(b, "rows", "tile", func() { rowMaxM = m }, func() { rowMaxM = 0 }, func() {
				SgemmBiasActPacked(m, a, k, pb, bias, true, c, n)
			})
		})
	}
}
