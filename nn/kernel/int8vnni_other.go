//go:build !amd64 || purego

package kernel

// i8VNNISet is empty without the assembly (use.vnni512 and use.avxvnni
// stay false).
type i8VNNISet struct{}

var i8VNNI512, i8AVXVNNI i8VNNISet

func i8RectVNNI(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, o *i8Out, ks *i8VNNISet, wide bool) {
	panic("kernel: VNNI kernels not built")
}
