//go:build amd64 && !purego

package kernel

// i8Kernel6x16 computes a 6×16 int32 tile
//
//	c[r·ldc+j] = Σ_t a[t·6+r]·w[t] + corr[j]   (r < 6, j < 16)
//
// where a holds, for each pair t of k indices, six dwords (one per row) with
// the two activations zero-extended to int16 (low word first), and w is one
// packed 16-channel panel of PackedI8 (32 int8 per pair). kp2 is the number
// of k pairs (may be 0); ldc is in elements.
//
//go:noescape
func i8Kernel6x16(kp2 int, a *uint32, w *int8, corr *int32, c *int32, ldc int)

// i8Kernel1x16 is the one-row version: a holds one dword per k pair, and
// kp4 is the number of k quads (pairs of pairs; may be 0).
//
//go:noescape
func i8Kernel1x16(kp4 int, a *uint32, w *int8, corr *int32, c *int32)

// i8PackRows widens rows [r0, r0+rows) of A (rows ≤ 6) into the pair layout
// the 6×16 kernel reads, padding missing rows and k up to kp with zeros.
func i8PackRows(buf []uint32, a []uint8, lda, r0, rows, k, kp int) {
	for r := 0; r < i8MR; r++ {
		if r >= rows {
			for t := 0; t < kp/2; t++ {
				buf[t*i8MR+r] = 0
			}
			continue
		}
		row := a[(r0+r)*lda : (r0+r)*lda+k]
		t := 0
		for ; 2*t+1 < k; t++ {
			buf[t*i8MR+r] = uint32(row[2*t]) | uint32(row[2*t+1])<<16
		}
		for ; t < kp/2; t++ {
			var v uint32
			if 2*t < k {
				v = uint32(row[2*t])
			}
			buf[t*i8MR+r] = v
		}
	}
}

// i8RectAVX2 computes rows [r0,r1) and panels [q0,q1) with the assembly
// kernels: full groups of six rows with the 6×16 tile, two to five leftover
// rows with a zero-padded 6×16 tile, a single row with the 1×16 kernel;
// tiles that stick out past m or n go through a scratch tile.
func i8RectAVX2(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, corr []int32, acc []int32, ldc int) {
	k, kp, n := p.k, p.kp, p.n
	need := kp / 2 // one row
	if r1-r0 >= 2 {
		need = kp / 2 * i8MR
	}
	sp := scratch[uint32](&i8BufPool, max(need, 1))
	defer i8BufPool.Put(sp)
	buf := *sp
	var tile [i8MR * i8NR]int32
	i := r0
	for ; i+i8MR <= r1; i += i8MR {
		i8PackRows(buf, a, lda, i, i8MR, k, kp)
		for q := q0; q < q1; q++ {
			j0 := q * i8NR
			w := &p.data[q*kp*i8NR:][0]
			if j0+i8NR <= n {
				i8Kernel6x16(kp/2, &buf[0], w, &corr[j0], &acc[i*ldc+j0], ldc)
				continue
			}
			i8Kernel6x16(kp/2, &buf[0], w, &corr[j0], &tile[0], i8NR)
			for r := 0; r < i8MR; r++ {
				copy(acc[(i+r)*ldc+j0:(i+r)*ldc+n], tile[r*i8NR:])
			}
		}
	}
	if rows := r1 - i; rows >= 2 {
		// Two to five leftover rows: one padded 6×16 tile per panel is
		// cheaper than a 1×16 pass per row.
		i8PackRows(buf, a, lda, i, rows, k, kp)
		for q := q0; q < q1; q++ {
			j0 := q * i8NR
			nc := min(i8NR, n-j0)
			i8Kernel6x16(kp/2, &buf[0], &p.data[q*kp*i8NR:][0], &corr[j0], &tile[0], i8NR)
			for r := 0; r < rows; r++ {
				copy(acc[(i+r)*ldc+j0:(i+r)*ldc+j0+nc], tile[r*i8NR:])
			}
		}
		return
	}
	for ; i < r1; i++ {
		row := a[i*lda : i*lda+k]
		t := 0
		for ; 2*t+1 < k; t++ {
			buf[t] = uint32(row[2*t]) | uint32(row[2*t+1])<<16
		}
		for ; t < kp/2; t++ {
			var v uint32
			if 2*t < k {
				v = uint32(row[2*t])
			}
			buf[t] = v
		}
		for q := q0; q < q1; q++ {
			j0 := q * i8NR
			w := &p.data[q*kp*i8NR:][0]
			if j0+i8NR <= n {
				i8Kernel1x16(kp/4, &buf[0], w, &corr[j0], &acc[i*ldc+j0])
				continue
			}
			i8Kernel1x16(kp/4, &buf[0], w, &corr[j0], &tile[0])
			copy(acc[i*ldc+j0:i*ldc+n], tile[:n-j0])
		}
	}
}
