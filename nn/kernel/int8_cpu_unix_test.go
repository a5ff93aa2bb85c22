//go:build unix

package kernel

import "syscall"

// cpuSeconds returns the user+system CPU time consumed by this process so
// far, so benchmarks can report throughput per busy core, which a loaded
// machine distorts much less than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
