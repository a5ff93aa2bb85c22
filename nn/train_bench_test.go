//go:build unix

package nn_test

import (
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/shrink-ml/shrink/nn"
)

// cpuSeconds returns the user+system CPU time of this process: throughput
// per busy CPU-second is what a loaded, shared machine distorts least.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func lenet300(tb testing.TB) *nn.Model {
	specs, err := nn.ParseArch("lenet300", nn.Shape{784}, 10)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := nn.Build(nn.Shape{784}, specs)
	if err != nil {
		tb.Fatal(err)
	}
	m.Init(1)
	return m
}

// BenchmarkTrainLenet300 trains lenet300 with Adam at batch 128 on random
// MNIST-shaped data, one op being 6,016 samples (47 batches, a tenth of an
// MNIST epoch), and reports images/s (wall) and images per CPU-second.
// A full-MNIST epoch (60,000 images) takes 60000/(images/s) seconds.
func BenchmarkTrainLenet300(b *testing.B) {
	const n = 47 * 128
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*784)
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = r.IntN(10)
	}
	m := lenet300(b)
	cfg := nn.TrainConfig{Epochs: 1, Batch: 128, Optimizer: "adam", Schedule: nn.Schedule{Kind: "const", Base: 1e-3}, Seed: 3}
	b.ResetTimer()
	c0 := cpuSeconds()
	for b.Loop() {
		if _, err := nn.Train(b.Context(), m, x, y, cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
	if c := cpuSeconds() - c0; c > 0 {
		b.ReportMetric(float64(n*b.N)/c, "images/cpu-s")
	}
}
