//go:build !amd64 || purego

package kernel

// levelPeak has no probes off amd64 (or with purego): no peak-fraction.
func levelPeak() (f32, i8 float64) { return 0, 0 }
