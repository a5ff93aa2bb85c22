//go:build amd64 && !purego

package kernel

// sgemvKernel1x64 is the AVX2+FMA kernel in gemv_amd64.s: one row of C over
// four consecutive packed B panels (64 columns), k ≥ 1 steps, the panels
// bstride bytes apart; bias (64 values) is read only with flagBias.
//
//go:noescape
func sgemvKernel1x64(k int, a, b *float32, bstride int, c *float32, alpha, beta float32, bias *float32, flags int)

// sgemvKernel1x16 is sgemvKernel1x64 for a single panel (16 columns).
//
//go:noescape
func sgemvKernel1x16(k int, a, b, c *float32, alpha, beta float32, bias *float32, flags int)

// rowAVX2 implements rowKernel with the kernels above.
func rowAVX2(kc int, a, bp []float32, nc int, c []float32, alpha, beta float32, bias []float32, flags int) {
	a = a[:kc]
	panels := (nc + nr - 1) / nr
	bp = bp[:panels*nr*kc]
	c = c[:nc]
	if flags&flagBias != 0 {
		bias = bias[:nc]
	}
	full := nc / nr // panels written in place
	j := 0
	for ; j+4 <= full; j += 4 {
		var bb *float32
		if flags&flagBias != 0 {
			bb = &bias[j*nr]
		}
		sgemvKernel1x64(kc, &a[0], &bp[j*nr*kc], nr*kc*4, &c[j*nr], alpha, beta, bb, flags)
	}
	for ; j < full; j++ {
		var bb *float32
		if flags&flagBias != 0 {
			bb = &bias[j*nr]
		}
		sgemvKernel1x16(kc, &a[0], &bp[j*nr*kc], &c[j*nr], alpha, beta, bb, flags)
	}
	if j < panels {
		var t [nr]float32
		sgemvKernel1x16(kc, &a[0], &bp[j*nr*kc], &t[0], 1, 0, nil, 0)
		var bb []float32
		if flags&flagBias != 0 {
			bb = bias[j*nr:]
		}
		epilogueRow(c[j*nr:], t[:nc-j*nr], alpha, beta, bb, flags)
	}
}
