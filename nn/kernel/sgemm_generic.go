package kernel

// kernelGeneric is the portable micro-kernel (see microKernel). Go has no
// SIMD and its register allocator spills wide scalar tiles, so the mr×nr tile
// is computed as nr column strips of mr accumulators each (one B value in a
// register, the A panel row read as memory operands), which measured fastest
// among the 1×8, 2×4, 3×4, 6×2 and 6×1 register blocks tried.
func kernelGeneric(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	a = a[:k*mr]
	b = b[:k*nr]
	for j := 0; j < nr; j++ {
		var c0, c1, c2, c3, c4, c5 float32
		i, q := 0, j
		// Two k steps per iteration (same summation order) halve the loop
		// and bounds-check overhead.
		for ; i+2*mr <= len(a) && q+nr < len(b); i, q = i+2*mr, q+2*nr {
			x := a[i : i+2*mr : i+2*mr]
			b0, b1 := b[q], b[q+nr]
			c0 += x[0] * b0
			c1 += x[1] * b0
			c2 += x[2] * b0
			c3 += x[3] * b0
			c4 += x[4] * b0
			c5 += x[5] * b0
			c0 += x[6] * b1
			c1 += x[7] * b1
			c2 += x[8] * b1
			c3 += x[9] * b1
			c4 += x[10] * b1
			c5 += x[11] * b1
		}
		for ; i+mr <= len(a) && q < len(b); i, q = i+mr, q+nr {
			x := a[i : i+mr : i+mr]
			bv := b[q]
			c0 += x[0] * bv
			c1 += x[1] * bv
			c2 += x[2] * bv
			c3 += x[3] * bv
			c4 += x[4] * bv
			c5 += x[5] * bv
		}
		col := [mr]float32{c0, c1, c2, c3, c4, c5}
		for i, v := range col {
			p := &c[i*ldc+j]
			v *= alpha
			if flags&flagBeta != 0 {
				v += beta * *p
			}
			if flags&flagBias != 0 {
				v += bias[j]
			}
			if flags&flagRelu != 0 && v < 0 {
				v = 0
			}
			*p = v
		}
	}
}
