//go:build unix

package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shrink-ml/shrink/nn"
)

// BenchmarkInferLenet300 runs float32 lenet300 inference (packed weights,
// Model.Infer) at batch 1 and 256 and reports images/s (wall) and CPU µs
// per image (the process's CPU time, all goroutines): at batch 1, on one
// goroutine, the CPU time is the latency an idle machine would show.
func BenchmarkInferLenet300(b *testing.B) {
	m := lenet300(b)
	m.Prepare()
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) {
			x := nn.NewTensor(batch, m.Input)
			r := rand.New(rand.NewPCG(3, 4))
			for i := range x.Data {
				x.Data[i] = r.Float32()
			}
			b.ResetTimer()
			c0 := cpuSeconds()
			for b.Loop() {
				m.Infer(x)
			}
			imgs := float64(b.N * batch)
			b.ReportMetric(imgs/b.Elapsed().Seconds(), "images/s")
			if c := cpuSeconds() - c0; c > 0 {
				b.ReportMetric(c/imgs*1e6, "cpu-µs/image")
			}
		})
	}
}

// BenchmarkInferLenet300Best reports the best of 25 rounds (each ≥ 5 ms)
// of wall time per image at batch 1 and 256: on a loaded, shared machine
// the best round approximates what an idle one shows.
func BenchmarkInferLenet300Best(b *testing.B) {
	m := lenet300(b)
	m.Prepare()
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprint(batch), func(b *testing.B) {
			x := nn.NewTensor(batch, m.Input)
			r := rand.New(rand.NewPCG(3, 4))
			for i := range x.Data {
				x.Data[i] = r.Float32()
			}
			calls := 1
			for {
				t0 := time.Now()
				for range calls {
					m.Infer(x)
				}
				if time.Since(t0) >= 5*time.Millisecond {
					break
				}
				calls *= 2
			}
			best := math.Inf(1)
			for b.Loop() {
				for range 25 {
					t0 := time.Now()
					for range calls {
						m.Infer(x)
					}
					best = min(best, time.Since(t0).Seconds()/float64(calls*batch))
				}
			}
			b.ReportMetric(best*1e6, "best-µs/image")
			b.ReportMetric(1/best, "best-images/s")
		})
	}
}
