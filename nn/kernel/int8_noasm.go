//go:build !amd64 || purego

package kernel

// i8RectAVX2 is never reached without assembly (hasAsm is false); it exists
// so that the dispatch in i8Rect compiles everywhere.
func i8RectAVX2(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, corr []int32, acc []int32, ldc int) {
	i8RectGeneric(r0, r1, q0, q1, a, lda, p, corr, acc, ldc)
}
