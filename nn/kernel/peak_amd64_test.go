//go:build amd64 && !purego

package kernel

import (
	"sync"
	"testing"

	"golang.org/x/sys/cpu"
)

// peakProbes are the throughput probes of peak_amd64.s: ops counts one
// multiply-add as two operations.
var peakProbes = []struct {
	name string
	run  func(n int)
	ops  float64 // per iteration
	unit string
	has  func() bool
}{
	{"fma512", peakFMA512, 384, "GFLOP/s", func() bool { return has512() }},
	{"fma256", peakFMA256, 192, "GFLOP/s", func() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }},
	{"vnni512", peakVNNI512, 1536, "GOP/s", func() bool { return has512() && cpu.X86.HasAVX512VNNI }},
	{"vnni256", peakVNNI256, 768, "GOP/s", func() bool { return cpu.X86.HasAVXVNNI }},
	{"maddubs256", peakMADDUBS, 256, "GOP/s", func() bool { return cpu.X86.HasAVX2 }},
}

// BenchmarkPeak measures this core's multiply-accumulate throughput on
// register-only loops (see peak_amd64.s): the peaks the GEMM benchmarks'
// peak-fraction divides by.
func BenchmarkPeak(b *testing.B) {
	for _, p := range peakProbes {
		if !p.has() {
			continue
		}
		b.Run(p.name, func(b *testing.B) {
			const iters = 1 << 16
			c0 := cpuSeconds()
			for b.Loop() {
				p.run(iters)
			}
			ops := p.ops * iters * float64(b.N)
			b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, p.unit)
			if c := cpuSeconds() - c0; c > 0 {
				b.ReportMetric(ops/c/1e9, p.unit[:len(p.unit)-2]+"/cpu-s")
			}
		})
	}
}

var (
	peakMu    sync.Mutex
	peakCache = map[string]float64{}
)

// measuredPeak returns the named probe's throughput in G(FL)OP per CPU
// second, measured once per process (best of five runs of about 20 ms), or
// 0 if the CPU lacks it.
func measuredPeak(name string) float64 {
	peakMu.Lock()
	defer peakMu.Unlock()
	if v, ok := peakCache[name]; ok {
		return v
	}
	var best float64
	for _, p := range peakProbes {
		if p.name != name || !p.has() {
			continue
		}
		const iters = 1 << 18
		for range 5 {
			c0 := cpuSeconds()
			p.run(iters)
			if c := cpuSeconds() - c0; c > 0 {
				best = max(best, p.ops*iters/c/1e9)
			}
		}
	}
	peakCache[name] = best
	return best
}

// levelPeak returns the float32 and int8 peaks (per CPU second) of the
// units the active level uses; the Generic level is compared with the
// machine's best units.
func levelPeak() (f32, i8 float64) {
	l := Active()
	if l == Generic {
		l = Best()
	}
	switch {
	case l >= AVX512:
		f32 = measuredPeak("fma512")
	case l >= AVX2:
		f32 = measuredPeak("fma256")
	}
	switch {
	case use.vnni512 || (Active() == Generic && l >= AVX512 && cpu.X86.HasAVX512VNNI):
		i8 = measuredPeak("vnni512")
	case use.avxvnni || (Active() == Generic && cpu.X86.HasAVXVNNI):
		i8 = measuredPeak("vnni256")
	case l >= AVX2:
		i8 = measuredPeak("maddubs256")
	}
	return f32, i8
}
