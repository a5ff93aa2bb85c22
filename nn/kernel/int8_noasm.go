//go:build !amd64 || purego

package kernel

// i8RectAVX2 is never reached without assembly (hasAsm is false); it exists
// so that the dispatch in i8Rect compiles everywhere.
func i8RectAVX2(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, o *i8Out) {
	i8RectGeneric(r0, r1, q0, q1, a, lda, p, o)
}

// quantizeU8Fast is never reached without assembly.
func quantizeU8Fast(x []float32, scale float32, zero int32, dst []uint8) int { return 0 }
