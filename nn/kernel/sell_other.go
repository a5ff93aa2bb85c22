//go:build !amd64 || purego

package kernel

// sellSlice computes one SELL-8 slice; y and b have 8 elements.
func sellSlice(y, x []float32, idx []uint16, val []float32, b []float32, relu bool) {
	sellSliceGo(y, x, idx, val, b, relu)
}
