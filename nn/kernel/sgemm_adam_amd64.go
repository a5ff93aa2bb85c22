//go:build amd64 && !purego

package kernel

// adamAVX2 is the AVX2 Adam update in sgemm_adam_amd64.s over the first n
// elements (n a multiple of 8); see adamRef.
//
//go:noescape
func adamAVX2(n int, w, grad, m, v *float32, a, b1, c1, b2, c2, eps, wd float32)

func adamFast(w, grad, m, v []float32, a, b1, b2, eps, wd float32) int {
	n := len(w) &^ 7
	if n == 0 {
		return 0
	}
	adamAVX2(n, &w[0], &grad[0], &m[0], &v[0], a, b1, 1-b1, b2, 1-b2, eps, wd)
	return n
}
