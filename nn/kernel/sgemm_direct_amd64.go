//go:build amd64 && !purego

package kernel

// sgemmKernel6x16A is the micro-kernel of sgemm_direct_amd64.s: the 6×16
// tile of microKernel with A read in place, rows lda elements apart.
//
//go:noescape
func sgemmKernel6x16A(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

// directAVX2 implements directKernel with sgemmKernel6x16A.
func directAVX2(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	_ = a[(mr-1)*lda+k-1]
	_ = b[k*nr-1]
	_ = c[(mr-1)*ldc+nr-1]
	var bp *float32
	if flags&flagBias != 0 {
		_ = bias[nr-1]
		bp = &bias[0]
	}
	sgemmKernel6x16A(k, &a[0], lda, &b[0], &c[0], ldc, alpha, beta, bp, flags)
}
