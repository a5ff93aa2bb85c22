//go:build amd64 && !purego

package kernel

import (
	"encoding/binary"
	"sync"
	"unsafe"
)

// i8Kernel6x16 computes a 6×16 tile of the product (see int8_amd64.s):
//
//	v[r][j] = Σ_{t<4·kq} a[r·lda+t]·w[j][t] + tail part + corr[j]   (r < 6, j < 16)
//
// where a points at six activation rows (every byte ≤ 127) with leading
// dimension lda, w at one packed 16-channel panel of PackedI8, and tail,
// when not nil, at six dwords holding each row's last k mod 4 activations
// (zero-padded), multiplied with the panel's quad kq. flags bit 0 selects
// the float32 epilogue (v·scale[j] + bias[j], bit 1: ReLU) over the int32
// store; c (leading dimension ldc, in elements) receives the tile.
//
//go:noescape
func i8Kernel6x16(kq int, a *uint8, lda int, tail *uint32, w *int8, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

// i8Kernel1x16 is the one-row version of i8Kernel6x16 (lda and ldc are
// ignored; tail points at one dword).
//
//go:noescape
func i8Kernel1x16(kq int, a *uint8, lda int, tail *uint32, w *int8, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

// i8QuantizeU8 is QuantizeU8 with the upper clamp hi for n values, n a
// multiple of 32; zero and hi are passed as float32.
//
//go:noescape
func i8QuantizeU8(n int, x *float32, scale, zero, hi float32, dst *uint8)

// quantizeU8Fast quantizes the longest prefix of x whose length is a
// multiple of 32 with the assembly loop and returns its length.
func quantizeU8Fast(x []float32, scale float32, zero int32, dst []uint8) int {
	n := len(x) &^ 31
	if n == 0 || !use.avx2 {
		return 0
	}
	_ = dst[n-1]
	i8QuantizeU8(n, &x[0], scale, float32(zero), 255, &dst[0])
	return n
}

// i8BufPool recycles the row copies of tiles that need them.
var i8BufPool = sync.Pool{New: func() any { return new([]uint8) }}

// i8AnyHigh reports whether rows [i, i+rows) of A hold a byte ≥ 128 in
// their first k columns.
func i8AnyHigh(a []uint8, i, rows, lda, k int) bool {
	var acc uint64
	for r := i; r < i+rows; r++ {
		row := a[r*lda : r*lda+k]
		for len(row) >= 8 {
			acc |= binary.LittleEndian.Uint64(row)
			row = row[8:]
		}
		for _, v := range row {
			acc |= uint64(v)
		}
	}
	return acc&0x8080808080808080 != 0
}

// i8Tiler runs the micro-kernels for one block of rows.
type i8Tiler struct {
	p     *PackedI8
	o     *i8Out
	tileI [i8MR * i8NR]int32
	tileH [i8MR * i8NR]int32
	tileF [i8MR * i8NR]float32
	tail  [i8MR]uint32
}

var i8TilerPool = sync.Pool{New: func() any { return new(i8Tiler) }}

var i8ZeroCorr [i8NR]int32

// tile computes panel q for rows [i0, i0+rows) from krows (1 or 6) kernel
// rows at src (leading dimension ld, kq quads, optional tail), writing
// through o.
func (t *i8Tiler) tile(krows, rows, i0, q, kq int, src *uint8, ld int, tail *uint32) {
	p, o := t.p, t.o
	kern := i8Kernel6x16
	if krows == 1 {
		kern = i8Kernel1x16
	}
	j0 := q * i8NR
	full := rows == krows && j0+i8NR <= p.n
	w := &p.data[q*p.kp*i8NR]
	corr := &o.corr[j0]
	if o.out == nil {
		if full {
			kern(kq, src, ld, tail, w, corr, nil, nil, 0, unsafe.Pointer(&o.acc[i0*o.ldc+j0]), o.ldc)
			return
		}
		kern(kq, src, ld, tail, w, corr, nil, nil, 0, unsafe.Pointer(&t.tileI[0]), i8NR)
		for r := range rows {
			o.store(i0+r, q, t.tileI[r*i8NR:(r+1)*i8NR], p.n)
		}
		return
	}
	flags := 1
	if o.relu {
		flags |= 2
	}
	if full {
		kern(kq, src, ld, tail, w, corr, &o.scale[j0], &o.bias[j0], flags, unsafe.Pointer(&o.out[i0*o.ldo+j0]), o.ldo)
		return
	}
	kern(kq, src, ld, tail, w, corr, &o.scale[j0], &o.bias[j0], flags, unsafe.Pointer(&t.tileF[0]), i8NR)
	nc := min(i8NR, p.n-j0)
	for r := range rows {
		copy(o.out[(i0+r)*o.ldo+j0:(i0+r)*o.ldo+j0+nc], t.tileF[r*i8NR:])
	}
}

// split computes panel q for rows [i0, i0+rows) whose copies lo = a & 127
// and hi = a >> 7 (krows rows each, leading dimension kp) are at lo and hi:
// v = v(lo) + 128·v(hi), then the int32 store or the epilogue in Go.
func (t *i8Tiler) split(krows, rows, i0, q int, lo, hi *uint8) {
	p, o := t.p, t.o
	kern := i8Kernel6x16
	if krows == 1 {
		kern = i8Kernel1x16
	}
	j0 := q * i8NR
	w := &p.data[q*p.kp*i8NR]
	kq := p.kp / 4
	kern(kq, lo, p.kp, nil, w, &o.corr[j0], nil, nil, 0, unsafe.Pointer(&t.tileI[0]), i8NR)
	kern(kq, hi, p.kp, nil, w, &i8ZeroCorr[0], nil, nil, 0, unsafe.Pointer(&t.tileH[0]), i8NR)
	for x := range krows * i8NR {
		t.tileI[x] += 128 * t.tileH[x]
	}
	for r := range rows {
		o.store(i0+r, q, t.tileI[r*i8NR:(r+1)*i8NR], p.n)
	}
}

// i8RectAVX2 computes rows [r0,r1) and panels [q0,q1) with the assembly
// kernels: blocks of six rows (or a single row) whose bytes are all ≤ 127
// are read in place; leftover blocks of two to five rows are copied into a
// zero-padded six-row block, and blocks with a byte ≥ 128 are copied as two
// 7-bit halves and run twice (see the exactness note in int8.go).
func i8RectAVX2(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, o *i8Out) {
	k, kp := p.k, p.kp
	kq, rem := k/4, k%4
	// Pooled: t escapes through the kernels' function values.
	t := i8TilerPool.Get().(*i8Tiler)
	t.p, t.o = p, o
	tail := &t.tail
	var bufp *[]uint8
	defer func() {
		t.p, t.o = nil, nil
		i8TilerPool.Put(t)
		if bufp != nil {
			i8BufPool.Put(bufp)
		}
	}()
	for i := r0; i < r1; i += i8MR {
		rows := min(i8MR, r1-i)
		high := i8AnyHigh(a, i, rows, lda, k)
		if !high && (rows == i8MR || rows == 1) {
			var tp *uint32
			if rem > 0 {
				for r := range rows {
					row := a[(i+r)*lda+4*kq : (i+r)*lda+k]
					var v uint32
					for e, b := range row {
						v |= uint32(b) << (8 * e)
					}
					tail[r] = v
				}
				tp = &tail[0]
			}
			for q := q0; q < q1; q++ {
				t.tile(rows, rows, i, q, kq, &a[i*lda], lda, tp)
			}
			continue
		}
		// Copy the block, zero-padded to krows rows of kp bytes.
		krows := i8MR
		if rows == 1 {
			krows = 1
		}
		if bufp == nil {
			bufp = i8BufPool.Get().(*[]uint8)
		}
		*bufp = i8Grow(*bufp, 2*i8MR*kp)
		lo, hi := (*bufp)[:krows*kp], (*bufp)[i8MR*kp:i8MR*kp+krows*kp]
		clear(lo)
		if high {
			clear(hi)
		}
		for r := range rows {
			row := a[(i+r)*lda : (i+r)*lda+k]
			dl := lo[r*kp : r*kp+k]
			if !high {
				copy(dl, row)
				continue
			}
			dh := hi[r*kp : r*kp+k]
			for x, v := range row {
				dl[x], dh[x] = v&127, v>>7
			}
		}
		for q := q0; q < q1; q++ {
			if high {
				t.split(krows, rows, i, q, &lo[0], &hi[0])
			} else {
				t.tile(krows, rows, i, q, kp/4, &lo[0], kp, nil)
			}
		}
	}
}
