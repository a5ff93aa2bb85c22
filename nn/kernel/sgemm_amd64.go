//go:build amd64 && !purego

package kernel

// sgemmKernel6x16 is the AVX2+FMA micro-kernel in sgemm_amd64.s: the 6×16
// tile of microKernel, from a (k·6 floats) and b (k·16 floats), k ≥ 1, into
// c at leading dimension ldc (in elements). bias is read only with flagBias.
//
//go:noescape
func sgemmKernel6x16(k int, a, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

func kernelAVX2(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	_ = a[k*mr-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	var bp *float32
	if flags&flagBias != 0 {
		_ = bias[nr-1]
		bp = &bias[0]
	}
	sgemmKernel6x16(k, &a[0], &b[0], &c[0], ldc, alpha, beta, bp, flags)
}
