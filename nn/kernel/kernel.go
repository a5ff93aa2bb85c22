// Package kernel holds the numeric kernels that the nn core calls: float32
// GEMM, im2col/col2im for convolution, the Adam update. Every kernel has a
// plain Go reference implementation that is its specification; faster paths
// must agree with it.
//
// The float32 GEMM at the AVX2 level picks among hand-written assembly
// kernels (sgemm.go holds the rules, each with its measurement): the 6×16
// micro-kernel on packed panels (sgemm_amd64.s); the same reading a
// non-transposed A in place when C is narrow (sgemm_direct_amd64.s); and
// for one-row products (batch-1 inference) the 1×64 / 1×16 row kernels
// streaming the packed B panels (gemv_amd64.s).
package kernel

import "math"

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

// Adam applies one Adam update in place to the parameters w with gradient
// grad and moment estimates m and v (all of one length):
//
//	g = grad + wd·w;  m = b1·m + (1−b1)·g;  v = b2·v + (1−b2)·g²
//	w = w − a·m / (√v + eps)
//
// where a and eps already carry the bias corrections (a = lr·√(1−b2ᵗ)/(1−b1ᵗ),
// eps = ε·√(1−b2ᵗ)). Every level computes the same float32 operations in the
// same order as adamRef, so results are bit-identical across levels. It
// panics if the slices differ in length.
func Adam(w, grad, m, v []float32, a, b1, b2, eps, wd float32) {
	n := len(w)
	if len(grad) != n || len(m) != n || len(v) != n {
		panic("kernel: Adam slices differ in length")
	}
	done := 0
	if use.avx2 {
		done = adamFast(w, grad, m, v, a, b1, b2, eps, wd)
	}
	adamRef(w[done:], grad[done:], m[done:], v[done:], a, b1, b2, eps, wd)
}

// adamRef is the reference Adam update (see Adam).
func adamRef(w, grad, m, v []float32, a, b1, b2, eps, wd float32) {
	grad, m, v = grad[:len(w)], m[:len(w)], v[:len(w)]
	c1, c2 := 1-b1, 1-b2
	for i := range w {
		g := grad[i] + float32(wd*w[i])
		// The conversions forbid fusing into FMAs (which Go does on some
		// architectures), keeping every level's rounding identical.
		mi := float32(b1*m[i]) + float32(c1*g)
		vi := float32(b2*v[i]) + float32(c2*g*g)
		m[i], v[i] = mi, vi
		w[i] -= float32(a*mi) / (float32(math.Sqrt(float64(vi))) + eps)
	}
}
