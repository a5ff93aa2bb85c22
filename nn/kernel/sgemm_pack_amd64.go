//go:build amd64 && !purego

package kernel

// packPanel16 is the copy loop of sgemm_pack_amd64.s (AVX).
//
//go:noescape
func packPanel16(k int, src *float32, ldb int, dst *float32)

// copyPanel16 copies kc rows of 16 values from src (rows ldb apart) into
// dst (k-major panel), with the AVX loop when the CPU has it.
func copyPanel16(dst, src []float32, ldb, kc int) {
	_ = src[(kc-1)*ldb+nr-1]
	_ = dst[kc*nr-1]
	if use.avx2 {
		packPanel16(kc, &src[0], ldb, &dst[0])
		return
	}
	copyPanel16Go(dst, src, ldb, kc)
}
