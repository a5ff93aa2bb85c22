//go:build !amd64 || purego

package kernel

// kernelAVX2 is never selected without the assembly (hasAsm is false).
func kernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	panic("kernel: AVX2 micro-kernel not built")
}

// directAVX2 is never selected without the assembly (hasAsm is false).
func directAVX2(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	panic("kernel: AVX2 micro-kernel not built")
}
