//go:build !amd64 || purego

package kernel

// rowAVX2 is never selected without the assembly (hasAsm is false).
func rowAVX2(kc int, a, bp []float32, nc int, c []float32, alpha, beta float32, bias []float32, flags int) {
	panic("kernel: AVX2 row kernel not built")
}
