//go:build !amd64 || purego

package kernel

// adamFast is never selected without the assembly (hasAsm is false).
func adamFast(w, grad, m, v []float32, a, b1, b2, eps, wd float32) int {
	panic("kernel: AVX2 Adam not built")
}
