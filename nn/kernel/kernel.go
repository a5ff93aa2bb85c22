// Package kernel holds the numeric kernels that the nn core calls: float32
// GEMM, im2col/col2im for convolution. Every kernel has a plain Go reference
// implementation that is its specification; faster paths must agree with it.
package kernel

// Sgemm computes C = alpha·op(A)·op(B) + beta·C on row-major float32
// matrices, where op(X) is X or Xᵀ as transA/transB say.
//
//	op(A): (m, k), stored with leading dimension lda
//	op(B): (k, n), stored with leading dimension ldb
//	C:     (m, n), stored with leading dimension ldc
//
// When beta is 0, C is overwritten without being read (NaNs in C vanish).
// It panics if a slice is too short for the shape it is given.
//
// It packs A and B into panels, blocks for the caches and runs the
// micro-kernel of the active Level (see Active); calls of at least
// parMinFlops flops are split across GOMAXPROCS goroutines.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	gemm(&gemmArgs{
		transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
	})
}

func checkGemm(transA, transB bool, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("kernel: negative dimension")
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	need := func(rows, cols, ld, l int, what string) {
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic("kernel: leading dimension of " + what + " too small")
		}
		if l < (rows-1)*ld+cols {
			panic("kernel: " + what + " too short")
		}
	}
	need(ar, ac, lda, la, "A")
	need(br, bc, ldb, lb, "B")
	need(m, n, ldc, lc, "C")
}

// sgemmRef is the reference: a straightforward triple loop accumulating in
// float32 in k order.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}
