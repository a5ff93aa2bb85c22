package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"

	"github.com/shrink-ml/shrink/nn"
)

// Sparse encodings store only the non-zero values of a pruned tensor plus
// where they are, so a file shrinks with sparsity. Each comes with float32
// values and with float16 values (rounded to nearest even; a value that
// rounds to zero is stored as zero). All integers are little-endian; bit
// streams are filled from the least significant bit of each byte. A tensor
// of shape (R, C...) is read as R rows of n/R values; a vector is one row.
//
//	SparseBitmask   ⌈n/8⌉-byte bitmask (bit i set ⇔ value i stored; bits
//	                past n zero), then the stored values in order.
//	SparseRelative  relative indices with filler entries (Han et al., Deep
//	                Compression): u8 gap width b (1..8), u32 entry count E
//	                (≤ n), E b-bit gaps in a bit stream padded to a byte,
//	                then E values. Entry t sits at p_t = p_{t−1} + gap_t + 1
//	                (p_{−1} = −1); a gap wider than 2^b − 1 is bridged by
//	                filler entries holding zero. The writer picks the b that
//	                makes the tensor smallest.
//	CSR             u8 index width w (2 if n/R ≤ 65535, else 4), R row
//	                counts, then the column index of every stored value
//	                (strictly increasing within a row), each w bytes; then
//	                the values.
//	SparseNM        N:M semi-structured: u8 N, u8 M (0 ≤ N ≤ M, 2 ≤ M ≤
//	                64); each row is cut into groups of M values (the last
//	                may be shorter, of length L) and every group stores
//	                exactly min(N, L) entries: their offsets in the group,
//	                strictly increasing, as ⌈log2 M⌉-bit fields in one bit
//	                stream padded to a byte, then all values in order. A
//	                group with fewer than N non-zeros stores zeros. This is
//	                the layout of 2:4 sparse tensor-core kernels (values plus
//	                2-bit metadata); the writer picks the M (and smallest N)
//	                that makes the tensor smallest.
//
// The sparse encodings store W only; quantized tensors (Param.Quant set)
// keep their quantized encodings. Tags 10 to 17 are theirs (7 stays
// unassigned: the format tests use it as an unknown tag).
const (
	SparseBitmask    Encoding = 10
	SparseBitmask16  Encoding = 11
	SparseRelative   Encoding = 12
	SparseRelative16 Encoding = 13
	CSR              Encoding = 14
	CSR16            Encoding = 15
	SparseNM         Encoding = 16
	SparseNM16       Encoding = 17
)

// values is how a sparse encoding stores each value.
type values struct {
	size int // bytes per value
	put  func(b []byte, v float32)
	get  func(b []byte) float32
}

var (
	valF32 = values{4,
		func(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) },
		func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }}
	valF16 = values{2,
		func(b []byte, v float32) { binary.LittleEndian.PutUint16(b, Float16Bits(v)) },
		func(b []byte) float32 { return Float16From(binary.LittleEndian.Uint16(b)) }}
)

func init() {
	for _, s := range []struct {
		enc  Encoding
		name string
		v    values
		c    func(string, values) *codec
	}{
		{SparseBitmask, "sparse-bitmask", valF32, bitmaskCodec},
		{SparseBitmask16, "sparse-bitmask-f16", valF16, bitmaskCodec},
		{SparseRelative, "sparse-relative", valF32, relativeCodec},
		{SparseRelative16, "sparse-relative-f16", valF16, relativeCodec},
		{CSR, "csr", valF32, csrCodec},
		{CSR16, "csr-f16", valF16, csrCodec},
		{SparseNM, "sparse-nm", valF32, nmCodec},
		{SparseNM16, "sparse-nm-f16", valF16, nmCodec},
	} {
		codecs[s.enc] = s.c(s.name, s.v)
	}
}

// rowsCols is how sparse encodings see a tensor: rows × cols.
func rowsCols(p *nn.Param) (int, int) {
	n := len(p.W)
	if len(p.Shape) < 2 || p.Shape[0] <= 0 || n == 0 || n%p.Shape[0] != 0 {
		return 1, n
	}
	return p.Shape[0], n / p.Shape[0]
}

func noQuant(p *nn.Param) error {
	if p.Quant != nil {
		return fmt.Errorf("quantized tensor: sparse encodings store float values only; use its quantized encoding")
	}
	return nil
}

func bitmaskCodec(name string, v values) *codec {
	return &codec{
		name:      name,
		rawBounds: func(n int64) (int64, int64) { return (n + 7) / 8, (n+7)/8 + int64(v.size)*n },
		encode: func(p *nn.Param) ([]byte, error) {
			if err := noQuant(p); err != nil {
				return nil, err
			}
			n := len(p.W)
			nz := int(p.NonZero())
			b := make([]byte, (n+7)/8+v.size*nz)
			out := b[(n+7)/8:]
			for i, w := range p.W {
				if w != 0 {
					b[i/8] |= 1 << (i % 8)
					v.put(out, w)
					out = out[v.size:]
				}
			}
			return b, nil
		},
		decode: func(p *nn.Param, b []byte) error {
			n := len(p.W)
			mb := (n + 7) / 8
			if len(b) < mb {
				return fmt.Errorf("%s: %d bytes, the bitmask of %d values needs %d: %w", name, len(b), n, mb, ErrCorrupt)
			}
			nz := 0
			for _, x := range b[:mb] {
				nz += bits.OnesCount8(x)
			}
			if n%8 != 0 && b[mb-1]>>(n%8) != 0 {
				return fmt.Errorf("%s: bits set past the last of %d values: %w", name, n, ErrCorrupt)
			}
			if len(b) != mb+v.size*nz {
				return fmt.Errorf("%s: %d bytes for a bitmask with %d values set (want %d): %w", name, len(b), nz, mb+v.size*nz, ErrCorrupt)
			}
			vals := b[mb:]
			for i := range p.W {
				if b[i/8]>>(i%8)&1 != 0 {
					p.W[i] = v.get(vals)
					vals = vals[v.size:]
				} else {
					p.W[i] = 0
				}
			}
			return nil
		},
	}
}

// bitWriter appends fields of up to 8 bits to a byte slice, LSB first.
type bitWriter struct {
	b    []byte
	used uint // bits used in the last byte (0 = start a new byte)
}

func (w *bitWriter) put(x uint32, n uint) {
	for n > 0 {
		if w.used == 0 {
			w.b = append(w.b, 0)
		}
		k := min(n, 8-w.used)
		w.b[len(w.b)-1] |= byte(x&(1<<k-1)) << w.used
		x >>= k
		n -= k
		w.used = (w.used + k) % 8
	}
}

// getBits returns the n-bit field (n ≤ 8) at bit offset off of b, which
// the caller has sized to hold it.
func getBits(b []byte, off int, n uint) uint32 {
	v := uint32(b[off/8])
	if off/8+1 < len(b) {
		v |= uint32(b[off/8+1]) << 8
	}
	return v >> (off % 8) & (1<<n - 1)
}

// relativeEntries returns the positions of the entries (fillers included)
// that store p with b-bit gaps.
func relativeEntries(w []float32, b uint) []int {
	maxGap := 1<<b - 1
	var pos []int
	prev := -1
	for i, v := range w {
		if v == 0 {
			continue
		}
		for i-prev-1 > maxGap {
			prev += maxGap + 1
			pos = append(pos, prev)
		}
		pos = append(pos, i)
		prev = i
	}
	return pos
}

func relativeCodec(name string, v values) *codec {
	return &codec{
		name:      name,
		rawBounds: func(n int64) (int64, int64) { return 5, 5 + n + int64(v.size)*n },
		encode: func(p *nn.Param) ([]byte, error) {
			if err := noQuant(p); err != nil {
				return nil, err
			}
			var best []int
			bestB, bestSize := uint(0), math.MaxInt
			for b := uint(1); b <= 8; b++ {
				pos := relativeEntries(p.W, b)
				if s := (len(pos)*int(b)+7)/8 + v.size*len(pos); s < bestSize {
					best, bestB, bestSize = pos, b, s
				}
			}
			if int64(len(best)) > math.MaxUint32 {
				return nil, fmt.Errorf("%s: %d entries do not fit a u32", name, len(best))
			}
			out := make([]byte, 5, 5+bestSize)
			out[0] = byte(bestB)
			binary.LittleEndian.PutUint32(out[1:], uint32(len(best)))
			bw := bitWriter{b: out}
			prev := -1
			for _, q := range best {
				bw.put(uint32(q-prev-1), bestB)
				prev = q
			}
			out = bw.b
			for _, q := range best {
				out = append(out, make([]byte, v.size)...)
				v.put(out[len(out)-v.size:], p.W[q])
			}
			return out, nil
		},
		decode: func(p *nn.Param, raw []byte) error {
			n := len(p.W)
			if len(raw) < 5 {
				return fmt.Errorf("%s: %d bytes, the header needs 5: %w", name, len(raw), ErrCorrupt)
			}
			b := uint(raw[0])
			if b < 1 || b > 8 {
				return fmt.Errorf("%s: gap width %d not in 1..8: %w", name, b, ErrCorrupt)
			}
			e := int64(binary.LittleEndian.Uint32(raw[1:]))
			if e > int64(n) {
				return fmt.Errorf("%s: %d entries for %d values: %w", name, e, n, ErrCorrupt)
			}
			gapBytes := (e*int64(b) + 7) / 8
			if int64(len(raw)) != 5+gapBytes+int64(v.size)*e {
				return fmt.Errorf("%s: %d bytes, %d entries of %d-bit gaps need %d: %w", name, len(raw), e, b, 5+gapBytes+int64(v.size)*e, ErrCorrupt)
			}
			gaps, vals := raw[5:5+gapBytes], raw[5+gapBytes:]
			clear(p.W)
			pos := -1
			for t := 0; t < int(e); t++ {
				pos += int(getBits(gaps, t*int(b), b)) + 1
				if pos >= n {
					return fmt.Errorf("%s: entry %d at position %d past the %d values: %w", name, t, pos, n, ErrCorrupt)
				}
				p.W[pos] = v.get(vals[t*v.size:])
			}
			return nil
		},
	}
}

func csrCodec(name string, v values) *codec {
	width := func(cols int) int {
		if cols <= math.MaxUint16 {
			return 2
		}
		return 4
	}
	put := func(b []byte, w, x int) {
		if w == 2 {
			binary.LittleEndian.PutUint16(b, uint16(x))
		} else {
			binary.LittleEndian.PutUint32(b, uint32(x))
		}
	}
	get := func(b []byte, w int) int64 {
		if w == 2 {
			return int64(binary.LittleEndian.Uint16(b))
		}
		return int64(binary.LittleEndian.Uint32(b))
	}
	return &codec{
		name:      name,
		rawBounds: func(n int64) (int64, int64) { return 3, 1 + 4*n + (4+int64(v.size))*n },
		encode: func(p *nn.Param) ([]byte, error) {
			if err := noQuant(p); err != nil {
				return nil, err
			}
			rows, cols := rowsCols(p)
			w := width(cols)
			nz := int(p.NonZero())
			out := make([]byte, 1+w*rows+w*nz+v.size*nz)
			out[0] = byte(w)
			idx := out[1+w*rows:]
			vals := out[1+w*rows+w*nz:]
			for r := 0; r < rows; r++ {
				c := 0
				for j, x := range p.W[r*cols : (r+1)*cols] {
					if x != 0 {
						put(idx, w, j)
						v.put(vals, x)
						idx, vals = idx[w:], vals[v.size:]
						c++
					}
				}
				put(out[1+w*r:], w, c)
			}
			return out, nil
		},
		decode: func(p *nn.Param, raw []byte) error {
			rows, cols := rowsCols(p)
			w := width(cols)
			if len(raw) < 1 || int(raw[0]) != w {
				return fmt.Errorf("%s: index width must be %d for rows of %d: %w", name, w, cols, ErrCorrupt)
			}
			if int64(len(raw)) < 1+int64(w)*int64(rows) {
				return fmt.Errorf("%s: %d bytes, the counts of %d rows need %d: %w", name, len(raw), rows, 1+w*rows, ErrCorrupt)
			}
			var nz int64
			for r := 0; r < rows; r++ {
				c := get(raw[1+w*r:], w)
				if c > int64(cols) {
					return fmt.Errorf("%s: row %d holds %d values of %d: %w", name, r, c, cols, ErrCorrupt)
				}
				nz += c
			}
			if int64(len(raw)) != 1+int64(w)*(int64(rows)+nz)+int64(v.size)*nz {
				return fmt.Errorf("%s: %d bytes for %d stored values: %w", name, len(raw), nz, ErrCorrupt)
			}
			idx := raw[1+w*rows:]
			vals := idx[int64(w)*nz:]
			clear(p.W)
			t := 0
			for r := 0; r < rows; r++ {
				c := int(get(raw[1+w*r:], w))
				prev := int64(-1)
				for range c {
					j := get(idx[t*w:], w)
					if j <= prev || j >= int64(cols) {
						return fmt.Errorf("%s: row %d: column %d out of order or past %d: %w", name, r, j, cols, ErrCorrupt)
					}
					prev = j
					p.W[r*cols+int(j)] = v.get(vals[t*v.size:])
					t++
				}
			}
			return nil
		},
	}
}

// nmEntries is the number of entries an N:M layout stores for rows × cols.
func nmEntries(rows, cols, n, m int) int64 {
	return int64(rows) * int64(cols/m*n+min(n, cols%m))
}

// nmBits is the width of an offset within a group of m.
func nmBits(m int) uint { return uint(bits.Len(uint(m - 1))) }

// nmMaxGroup is the largest number of non-zeros in any group of m.
func nmMaxGroup(p *nn.Param, m int) int {
	rows, cols := rowsCols(p)
	most := 0
	for r := 0; r < rows; r++ {
		row := p.W[r*cols : (r+1)*cols]
		for g := 0; g < cols; g += m {
			c := 0
			for _, x := range row[g:min(g+m, cols)] {
				if x != 0 {
					c++
				}
			}
			most = max(most, c)
		}
	}
	return most
}

func nmCodec(name string, v values) *codec {
	size := func(e int64, m int) int64 { return 2 + (e*int64(nmBits(m))+7)/8 + int64(v.size)*e }
	return &codec{
		name:      name,
		rawBounds: func(n int64) (int64, int64) { return 2, 2 + n + int64(v.size)*n },
		encode: func(p *nn.Param) ([]byte, error) {
			if err := noQuant(p); err != nil {
				return nil, err
			}
			rows, cols := rowsCols(p)
			bestN, bestM, best := 0, 0, int64(math.MaxInt64)
			for m := 2; m <= 64; m *= 2 {
				n := nmMaxGroup(p, m)
				if s := size(nmEntries(rows, cols, n, m), m); s < best {
					bestN, bestM, best = n, m, s
				}
			}
			n, m, b := bestN, bestM, nmBits(bestM)
			out := make([]byte, 2, best)
			out[0], out[1] = byte(n), byte(m)
			bw := bitWriter{b: out}
			var vals []float32
			for r := 0; r < rows; r++ {
				row := p.W[r*cols : (r+1)*cols]
				for g := 0; g < cols; g += m {
					grp := row[g:min(g+m, cols)]
					k := min(n, len(grp))
					need := k
					for _, x := range grp {
						if x != 0 {
							need--
						}
					}
					// Store the non-zeros, plus the first zero slots as
					// padding when the group has fewer than k.
					for off, x := range grp {
						if x != 0 || need > 0 {
							if x == 0 {
								need--
							}
							bw.put(uint32(off), b)
							vals = append(vals, x)
						}
					}
				}
			}
			out = bw.b
			for _, x := range vals {
				out = append(out, make([]byte, v.size)...)
				v.put(out[len(out)-v.size:], x)
			}
			return out, nil
		},
		decode: func(p *nn.Param, raw []byte) error {
			if len(raw) < 2 {
				return fmt.Errorf("%s: %d bytes, the header needs 2: %w", name, len(raw), ErrCorrupt)
			}
			n, m := int(raw[0]), int(raw[1])
			if m < 2 || m > 64 || n > m {
				return fmt.Errorf("%s: pattern %d:%d (want 0 ≤ N ≤ M, 2 ≤ M ≤ 64): %w", name, n, m, ErrCorrupt)
			}
			rows, cols := rowsCols(p)
			e := nmEntries(rows, cols, n, m)
			if int64(len(raw)) != size(e, m) {
				return fmt.Errorf("%s: %d bytes, %d:%d over %d×%d values needs %d: %w", name, len(raw), n, m, rows, cols, size(e, m), ErrCorrupt)
			}
			b := nmBits(m)
			offs := raw[2 : 2+(e*int64(b)+7)/8]
			vals := raw[2+len(offs):]
			clear(p.W)
			t := 0
			for r := 0; r < rows; r++ {
				for g := 0; g < cols; g += m {
					l := min(m, cols-g)
					prev := -1
					for range min(n, l) {
						off := int(getBits(offs, t*int(b), b))
						if off <= prev || off >= l {
							return fmt.Errorf("%s: row %d group %d: offset %d out of order or past %d: %w", name, r, g/m, off, l, ErrCorrupt)
						}
						prev = off
						p.W[r*cols+g+off] = v.get(vals[t*v.size:])
						t++
					}
				}
			}
			return nil
		},
	}
}
