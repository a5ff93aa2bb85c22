//go:build amd64 && !purego

package kernel

import (
	"sync"
	"unsafe"
)

//go:generate sh -c "go run ./internal/geni8vnni > int8vnni_amd64.s"

// i8VNNIKernel is the signature of the VNNI micro-kernels of
// int8vnni_amd64.s (generated; see internal/geni8vnni): rows activation
// rows (lda apart, read in place, kq quads plus the optional tail dwords)
// times the panels at w (wstride bytes apart), plus corr, stored as int32
// or (flags 1, 2) dequantized float32 into c at leading dimension ldc.
type i8VNNIKernel func(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8VNNI6x64(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8VNNI6x32(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8VNNI6x16(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8VNNI1x64(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8VNNI1x32(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8VNNI1x16(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8AVXVNNI6x16(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

//go:noescape
func i8AVXVNNI1x16(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)

// i8VNNISet is one family of VNNI kernels: k6[P] and k1[P] compute 6 rows
// or 1 row by P panels (nil where the family has no such width).
type i8VNNISet struct {
	k6, k1 [5]i8VNNIKernel
}

// i8VNNI512 and i8AVXVNNI are the two families (variables so that the
// self-check test can break one).
var (
	i8VNNI512 = i8VNNISet{
		k6: [5]i8VNNIKernel{1: i8VNNI6x16, 2: i8VNNI6x32, 4: i8VNNI6x64},
		k1: [5]i8VNNIKernel{1: i8VNNI1x16, 2: i8VNNI1x32, 4: i8VNNI1x64},
	}
	i8AVXVNNI = i8VNNISet{
		k6: [5]i8VNNIKernel{1: i8AVXVNNI6x16},
		k1: [5]i8VNNIKernel{1: i8AVXVNNI1x16},
	}
)

// i8VNNIBlockBytes bounds the packed weights one pass over the rows reuses
// (panels of kp·16 bytes), so that they stay in the core's L2 (1 MiB on Zen
// 5, 2 MiB on Sapphire Rapids) while the rows stream past.
const i8VNNIBlockBytes = 256 << 10

// i8VNNITile is the scratch of partial tiles and of the rows' last k mod 4
// activations, recycled through i8VNNIPool (the kernels are called through
// function values, so a local one would be allocated on every call).
type i8VNNITile struct {
	i    [i8MR * 64]int32
	f    [i8MR * 64]float32
	tail [i8MR]uint32
}

var i8VNNIPool = sync.Pool{New: func() any { return new(i8VNNITile) }}

// i8RectVNNI computes rows [r0,r1) and panels [q0,q1) with the VNNI
// kernels of set ks (widths up to 4 panels when wide): blocks of six rows
// are read in place (VPDPBUSD is exact for every uint8, so no 7-bit split),
// the last two to five rows are copied into a zero-padded six-row block,
// and a single last row uses the one-row kernels. The weights are blocked
// by i8VNNIBlockBytes.
func i8RectVNNI(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, o *i8Out, ks *i8VNNISet, wide bool) {
	k, kp := p.k, p.kp
	kq, rem := k/4, k%4
	pstride := kp * i8NR
	qb := max(1, i8VNNIBlockBytes/pstride)
	t := i8VNNIPool.Get().(*i8VNNITile)
	tail := &t.tail
	var bufp *[]uint8
	defer func() {
		i8VNNIPool.Put(t)
		if bufp != nil {
			i8BufPool.Put(bufp)
		}
	}()
	for qs := q0; qs < q1; qs += qb {
		qe := min(q1, qs+qb)
		for i := r0; i < r1; {
			rows := min(i8MR, r1-i)
			krows := i8MR
			src, ld, kqs := &a[i*lda], lda, kq
			var tp *uint32
			switch {
			case rows == i8MR || rows == 1:
				krows = rows
				if rem > 0 {
					for r := range rows {
						var v uint32
						for e, b := range a[(i+r)*lda+4*kq : (i+r)*lda+k] {
							v |= uint32(b) << (8 * e)
						}
						tail[r] = v
					}
					tp = &tail[0]
				}
			default:
				// Copy the rows, zero-padded to six rows of kp bytes.
				if bufp == nil {
					bufp = i8BufPool.Get().(*[]uint8)
				}
				*bufp = i8Grow(*bufp, i8MR*kp)
				buf := *bufp
				clear(buf)
				for r := range rows {
					copy(buf[r*kp:r*kp+k], a[(i+r)*lda:(i+r)*lda+k])
				}
				src, ld, kqs = &buf[0], kp, kp/4
			}
			for q := qs; q < qe; {
				np := 1
				if wide {
					for _, w := range []int{4, 2} {
						if q+w <= qe {
							np = w
							break
						}
					}
				}
				kern := ks.k6[np]
				if krows == 1 {
					kern = ks.k1[np]
				}
				i8VNNITileRun(kern, t, krows, rows, i, q, np, kqs, src, ld, tp, p, o)
				q += np
			}
			i += rows
		}
	}
}

// i8VNNITileRun runs kern for rows [i, i+rows) (krows kernel rows) and
// panels [q, q+np), in place when the tile is whole, else through t.
func i8VNNITileRun(kern i8VNNIKernel, t *i8VNNITile, krows, rows, i, q, np, kq int, src *uint8, ld int, tail *uint32, p *PackedI8, o *i8Out) {
	j0 := q * i8NR
	nch := min(np*i8NR, p.n-j0)
	full := rows == krows && nch == np*i8NR
	w := &p.data[q*p.kp*i8NR]
	ws := p.kp * i8NR
	corr := &o.corr[j0]
	if o.out == nil {
		if full {
			kern(kq, src, ld, tail, w, ws, corr, nil, nil, 0, unsafe.Pointer(&o.acc[i*o.ldc+j0]), o.ldc)
			return
		}
		kern(kq, src, ld, tail, w, ws, corr, nil, nil, 0, unsafe.Pointer(&t.i[0]), 64)
		for r := range rows {
			copy(o.acc[(i+r)*o.ldc+j0:(i+r)*o.ldc+j0+nch], t.i[r*64:])
		}
		return
	}
	flags := 1
	if o.relu {
		flags |= 2
	}
	if full {
		kern(kq, src, ld, tail, w, ws, corr, &o.scale[j0], &o.bias[j0], flags, unsafe.Pointer(&o.out[i*o.ldo+j0]), o.ldo)
		return
	}
	kern(kq, src, ld, tail, w, ws, corr, &o.scale[j0], &o.bias[j0], flags, unsafe.Pointer(&t.f[0]), 64)
	for r := range rows {
		copy(o.out[(i+r)*o.ldo+j0:(i+r)*o.ldo+j0+nch], t.f[r*64:])
	}
}
