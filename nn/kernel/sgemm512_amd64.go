//go:build amd64 && !purego

package kernel

//go:generate sh -c "go run ./internal/gensgemm512 > sgemm512_amd64.s"

// The AVX-512F micro-kernels of sgemm512_amd64.s (generated): an R×(16·P)
// tile from R/6 adjacent packed A panels and P adjacent packed B panels,
// k ≥ 1 steps, into c at leading dimension ldc (elements); bias (16·P
// values) is read only with flagBias.

//go:noescape
func sgemmKernel12x32(k int, a, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

//go:noescape
func sgemmKernel12x16(k int, a, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

//go:noescape
func sgemmKernel6x32(k int, a, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

//go:noescape
func sgemmKernel6x16Z(k int, a, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

// The direct variants read their rows of A in place (row i at a + i·lda).

//go:noescape
func sgemmKernel12x32A(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

//go:noescape
func sgemmKernel12x16A(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

//go:noescape
func sgemmKernel6x32A(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

//go:noescape
func sgemmKernel6x16ZA(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)

// direct512 are the direct-A AVX-512 kernels, indexed like kernels512.
var direct512 = [2][2]directKernel{
	{asm512A(6, 1, sgemmKernel6x16ZA), asm512A(6, 2, sgemmKernel6x32A)},
	{asm512A(12, 1, sgemmKernel12x16A), asm512A(12, 2, sgemmKernel12x32A)},
}

// asm512A is asm512 for a direct-A kernel.
func asm512A(rows, panels int, f func(k int, a *float32, lda int, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)) directKernel {
	cols := nr * panels
	return func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
		_ = a[(rows-1)*lda+k-1]
		_ = b[k*cols-1]
		_ = c[(rows-1)*ldc+cols-1]
		var bp *float32
		if flags&flagBias != 0 {
			_ = bias[cols-1]
			bp = &bias[0]
		}
		f(k, &a[0], lda, &b[0], &c[0], ldc, alpha, beta, bp, flags)
	}
}

// kernels512 are the AVX-512 micro-kernels indexed by [rows/6-1][cols/16-1]
// (a variable so that the self-check test can break one).
var kernels512 = [2][2]microKernel{
	{asm512(6, 1, sgemmKernel6x16Z), asm512(6, 2, sgemmKernel6x32)},
	{asm512(12, 1, sgemmKernel12x16), asm512(12, 2, sgemmKernel12x32)},
}

// asm512 wraps an assembly kernel of rows×(16·panels) with the bounds
// checks that make it memory-safe.
func asm512(rows, panels int, f func(k int, a, b, c *float32, ldc int, alpha, beta float32, bias *float32, flags int)) microKernel {
	cols := nr * panels
	return func(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
		_ = a[k*rows-1]
		_ = b[k*cols-1]
		_ = c[(rows-1)*ldc+cols-1]
		var bp *float32
		if flags&flagBias != 0 {
			_ = bias[cols-1]
			bp = &bias[0]
		}
		f(k, &a[0], &b[0], &c[0], ldc, alpha, beta, bp, flags)
	}
}
