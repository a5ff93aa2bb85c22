// Package ctx is the "ctx" byte coder of shrink's model files: a
// context-mixing binary arithmetic coder for matrices of one-byte codes
// (pruned Int8 and Codebook8 tensors), bytes in, bytes out. Compress and
// Decompress are all of its API; the layout is documented below and in
// the format package's documentation.
package ctx

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// The "ctx" compression codes a tensor's bytes as a matrix of codes
// (Codebook8 indices, Int8 codes) with a context-mixing binary arithmetic
// coder. It is made for pruned tensors: whether a code is the zero symbol
// depends on its column (an input every output ignores), its row (a dense
// or a sparse output) and its neighbours along the row (nearby pixels of
// an image, nearby channels), which an order-0 coder (fse) cannot see.
//
// The stored bytes are (the format package's doc.go has the format text)
//
//	uvarint P    verbatim length, P < raw_length
//	P bytes      the first P raw bytes, as they are
//	uvarint C    row length in bytes, 1 ≤ C ≤ min(raw_length − P, 65536)
//	u8      Z    the zero symbol
//	u8      A−1  every coded byte is < A, and Z < A
//	uvarint D    a second neighbour's distance along the row: 0 (none) or
//	             2 ≤ D < C
//	body         the arithmetic code of the other m = raw_length − P bytes
//
// The m bytes form rows of C bytes (the last row may be shorter). Each is
// coded as a flag, "is not Z", then, if it is not Z, as its value in
// bits.Len(A−1) binary decisions from the top bit down. Each decision's
// probability comes from ctxModel, which the encoder and the decoder both
// run on the bytes coded so far: it is integer arithmetic only, so that
// both ends agree bit for bit on every platform.
//
// The flag's model mixes (a logistic mix, its weights learnt online) three
// adaptive probabilities: one per pattern of the flags 1, 2, D−1, D, D+1
// and 2D places left; one per column (the column's density so far); one
// per bucket of (column density, density of the row so far, left flag, D
// flag). A value bit's model mixes three more: one per tree node, one per
// (byte left, node), one per (byte D places left, node).
const (
	// ctxMaxCols caps C, so that the per-column state stays small.
	ctxMaxCols = 1 << 16
	// ctxMaxLag is the longest D the writer considers.
	ctxMaxLag = 255
)

// Model constants, measured on the lenet300 and lenet5 recipe files.
const (
	ctxLimit     = 1023 // count limit of adaptive probabilities
	ctxMaskLR    = 6    // flag mixer learning rate, in 1/16384
	ctxValLR     = 6    // value mixer learning rate
	ctxSkip      = 64   // the flag mixer learns from errors above 64/4096
	ctxBias      = 256  // the mixers' constant input
	ctxInitW     = 22000
	ctxBuckets   = 8    // density buckets: (logit + 9) / 1.5, clamped to 0..7
	ctxBucketOff = 2304 // 9, in 1/256 units
	ctxBucketW   = 384  // 1.5, in 1/256 units
	ctxPatterns  = 64
	ctxBucketCtx = ctxBuckets * ctxBuckets * 4
)

// ctxSquashKnots[i] = round(4096 / (1 + e^(−(i−16)/2))): the logistic
// function at every half unit from −8 to 8, in 12-bit fixed point.
var ctxSquashKnots = [33]int32{
	1, 2, 4, 6, 10, 17, 27, 45, 74, 120, 194, 311, 488, 747, 1102, 1546,
	2048, 2550, 2994, 3349, 3608, 3785, 3902, 3976, 4022, 4051, 4069, 4079, 4086, 4090, 4092, 4094, 4095,
}

// ctxSquashAt maps a logit x (in 1/256 units, |x| ≤ 2047) to a
// probability in 1/4096 units, within [1, 4095], interpolating the knots.
func ctxSquashAt(x int32) int32 {
	w := x & 127
	i := x>>7 + 16
	return (ctxSquashKnots[i]*(128-w) + ctxSquashKnots[i+1]*w + 64) >> 7
}

// ctxSquashTable[x+2048] is ctxSquashAt(x) for |x| ≤ 2047.
var ctxSquashTable = func() (t [4096]int16) {
	for x := int32(-2047); x <= 2047; x++ {
		t[x+2048] = int16(ctxSquashAt(x))
	}
	t[0] = t[1]
	return t
}()

// ctxSquash is ctxSquashAt of a logit clamped to ±2047.
func ctxSquash(x int64) int32 {
	return int32(ctxSquashTable[(min(max(x, -2047), 2047)+2048)&4095])
}

// ctxStretch[p] is the smallest x with ctxSquashAt(x) ≥ p (2047 if none):
// the logit of a 12-bit probability.
var ctxStretch = func() (t [4096]int16) {
	p := int32(0)
	for x := int32(-2047); x <= 2047; x++ {
		for v := ctxSquashAt(x); p <= v; p++ {
			t[p] = int16(x)
		}
	}
	for ; p < 4096; p++ {
		t[p] = 2047
	}
	return t
}()

// ctxRate[n] = 2^17 / (2n + 3), about 2^16 / (n + 1.5): how far a
// probability that has seen n bits moves towards the next one, so that it
// follows the bits' frequency.
var ctxRate = func() (t [ctxLimit + 1]uint32) {
	for n := range t {
		t[n] = uint32(2 << 16 / (2*n + 3))
	}
	return t
}()

// ctxBucketOf[p] is the density bucket of a 12-bit probability p.
var ctxBucketOf = func() (t [4096]uint8) {
	for p := range t {
		s := int32(ctxStretch[p])
		t[p] = uint8(min(max((s+ctxBucketOff)/ctxBucketW, 0), ctxBuckets-1))
	}
	return t
}()

// ctxMove moves a probability p (1/65536 units) towards bit by r/65536 of
// the way; p stays within [0, 65535].
func ctxMove(p *uint16, bit uint32, r uint32) {
	d := int64(bit*65535) - int64(*p)
	*p = uint16(int64(*p) + d*int64(r)>>16)
}

// ctxProb is an adaptive probability that a bit is 1, in 1/65536 units,
// and the number of bits it has seen (up to ctxLimit).
type ctxProb struct{ p, n uint16 }

func (m *ctxProb) update(bit uint32) {
	ctxMove(&m.p, bit, ctxRate[m.n&ctxLimit])
	if m.n < ctxLimit {
		m.n++
	}
}

func (m *ctxProb) stretch() int32 { return int32(ctxStretch[m.p>>4]) }

func newCtxProbs(n int) []ctxProb {
	t := make([]ctxProb, n)
	for i := range t {
		t[i].p = 1 << 15
	}
	return t
}

// ctxMix is a logistic mix of three logits and the bias, weights w in
// 16.16 fixed point: it returns the mixed probability (1/4096).
func ctxMix(x0, x1, x2 int32, w *[4]int32) int32 {
	dot := int64(x0)*int64(w[0]) + int64(x1)*int64(w[1]) + int64(x2)*int64(w[2]) + ctxBias*int64(w[3])
	return ctxSquash(dot >> 16)
}

// ctxLearn moves the weights w of inputs x0..x2 and the bias against the
// error err = 4096·bit − p, times the learning rate lr (in 1/16384).
func ctxLearn(x0, x1, x2, err, lr int32, w *[4]int32) {
	err *= lr
	w[0] += (x0*err + 1<<13) >> 14
	w[1] += (x1*err + 1<<13) >> 14
	w[2] += (x2*err + 1<<13) >> 14
	w[3] += (ctxBias*err + 1<<13) >> 14
}

// ctxModel is the state both ends keep while coding a body.
type ctxModel struct {
	cols, lag int
	z         byte
	alphabet  int
	depth     uint // value bits: bits.Len(alphabet − 1)

	col     []uint16 // per column: probability of not Z (its count is the row)
	pattern [ctxPatterns]ctxProb
	bucket  [ctxBucketCtx]ctxProb
	maskW   [4]int32 // flag mixer weights, 16.16 fixed point

	val0, valL, valD []ctxProb // by node; by (byte left, node); by (byte D left, node)
	valMask          int       // index mask of valL and valD
	valW             [][4]int32
}

// newCtxModel makes the model for m coded bytes in rows of cols; the
// header has been checked. Its tables take 2·cols bytes, 4·2^depth bytes
// and twice 4·min(4^depth, max(64, 2^(bits.Len(m)−1))) ≤ 4·max(64, m)
// bytes, plus about 2 KiB: at most 10m bytes + 3 KiB, and 2^17 + 2^19 +
// 3 KiB at most.
func newCtxModel(m, cols, lag int, z byte, alphabet int) *ctxModel {
	depth := uint(bits.Len(uint(alphabet - 1)))
	md := &ctxModel{cols: cols, lag: lag, z: z, alphabet: alphabet, depth: depth, col: make([]uint16, cols)}
	for i := range md.col {
		md.col[i] = 1 << 15
	}
	for i := range md.pattern {
		md.pattern[i].p = 1 << 15
	}
	for i := range md.bucket {
		md.bucket[i].p = 1 << 15
	}
	md.maskW = [4]int32{ctxInitW, ctxInitW, ctxInitW, 0}
	// Value contexts index ctx<<depth | node, masked to a size m bounds.
	md.val0 = newCtxProbs(1 << depth)
	tb := min(2*depth, uint(max(6, bits.Len(uint(m))-1)))
	md.valMask = 1<<tb - 1
	md.valL = newCtxProbs(1 << tb)
	md.valD = newCtxProbs(1 << tb)
	md.valW = make([][4]int32, max(depth, 1))
	for i := range md.valW {
		md.valW[i] = [4]int32{ctxInitW, ctxInitW, ctxInitW, 0}
	}
	return md
}

// run codes buf in order: with e it encodes buf's bytes; with d it decodes
// them into buf. It fails (decoding only) on a value the header rules out
// or a body that ends early.
func (md *ctxModel) run(buf []byte, e *ctxEncoder, d *ctxDecoder) error {
	z, lag, cols := md.z, md.lag, md.cols
	colP := md.col[:cols]
	pattern, bucket, w := &md.pattern, &md.bucket, &md.maskW
	var notZ [256]uint8 // 1 for the bytes that are not Z
	for v := range notZ {
		if byte(v) != z {
			notZ[v] = 1
		}
	}
	row := ctxProb{p: 1 << 15} // not Z in the current row
	colRate, rows := ctxRate[0], 0
	c := 0
	for i := range buf {
		if c == cols {
			c = 0
			rows++
			colRate = ctxRate[min(rows, ctxLimit)]
			row = ctxProb{p: 1 << 15}
		}
		// The flags 1, 2, D, D+1, D−1 and 2D places left (bits 0 to 5),
		// 0 outside the row.
		var pat int
		if c >= 2*lag+2 {
			pat = int(notZ[buf[i-1]]) | int(notZ[buf[i-2]])<<1
			if lag > 0 {
				pat |= int(notZ[buf[i-lag]])<<2 | int(notZ[buf[i-lag-1]])<<3 | int(notZ[buf[i-lag+1]])<<4 | int(notZ[buf[i-2*lag]])<<5
			}
		} else {
			at := func(k int) int {
				if k >= 1 && k <= c {
					return int(notZ[buf[i-k]])
				}
				return 0
			}
			pat = at(1) | at(2)<<1
			if lag > 0 {
				pat |= at(lag)<<2 | at(lag+1)<<3 | at(lag-1)<<4 | at(2*lag)<<5
			}
		}
		cp := &colP[c]
		bk := (int(ctxBucketOf[*cp>>4])*ctxBuckets+int(ctxBucketOf[row.p>>4]))<<2 | pat&1<<1 | pat>>2&1
		pm, bm := &pattern[pat&(ctxPatterns-1)], &bucket[bk&(ctxBucketCtx-1)]
		x0, x1, x2 := pm.stretch(), int32(ctxStretch[*cp>>4]), bm.stretch()
		p := ctxMix(x0, x1, x2, w)
		var bit uint32
		if d != nil {
			if bit = d.decode(uint32(p)); d.pos > len(d.in) {
				return ctxErr("the body ends before byte %d of %d", i, len(buf))
			}
		} else {
			bit = uint32(notZ[buf[i]])
			e.encode(bit, uint32(p))
		}
		if err := int32(bit)<<12 - p; err > ctxSkip || err < -ctxSkip {
			ctxLearn(x0, x1, x2, err, ctxMaskLR, w)
		}
		pm.update(bit)
		bm.update(bit)
		ctxMove(cp, bit, colRate)
		row.update(bit)
		c++
		if bit == 0 {
			if d != nil {
				buf[i] = z
			}
			continue
		}
		if err := md.value(buf, i, c-1, e, d); err != nil {
			return err
		}
	}
	return nil
}

// value codes the byte at position i (column c), which is not Z, as
// depth binary decisions down a tree, the top bit first.
func (md *ctxModel) value(buf []byte, i, c int, e *ctxEncoder, d *ctxDecoder) error {
	left, back := int(md.z), int(md.z)
	if c >= 1 {
		left = int(buf[i-1])
	}
	if md.lag > 0 && md.lag <= c {
		back = int(buf[i-md.lag])
	}
	left, back = left<<md.depth, back<<md.depth
	node := 1
	for level := range md.depth {
		m0, ml, mb := &md.val0[node], &md.valL[(left|node)&md.valMask], &md.valD[(back|node)&md.valMask]
		x0, x1, x2 := m0.stretch(), ml.stretch(), mb.stretch()
		w := &md.valW[level]
		p := ctxMix(x0, x1, x2, w)
		var bit uint32
		if d != nil {
			bit = d.decode(uint32(p))
		} else {
			bit = uint32(buf[i]>>(md.depth-1-level)) & 1
			e.encode(bit, uint32(p))
		}
		ctxLearn(x0, x1, x2, int32(bit)<<12-p, ctxValLR, w)
		m0.update(bit)
		ml.update(bit)
		mb.update(bit)
		node = 2*node + int(bit)
	}
	if d == nil {
		return nil
	}
	if d.pos > len(d.in) {
		return ctxErr("the body ends in byte %d", i)
	}
	v := node - 1<<md.depth
	if v >= md.alphabet || v == int(md.z) {
		return ctxErr("byte %d decodes to %d (zero symbol %d, alphabet %d)", i, v, md.z, md.alphabet)
	}
	buf[i] = byte(v)
	return nil
}

// ctxSplit returns the top of the part of the interval [lo, hi] that codes
// a 1, of probability p/4096 (1 ≤ p ≤ 4095): lo ≤ split < hi.
func ctxSplit(lo, hi, p uint32) uint32 {
	r := hi - lo
	return lo + (r>>12)*p + (r&0xfff)*p>>12
}

// ctxEncoder is a binary arithmetic coder over the 32-bit interval
// [lo, hi]: each bit keeps the part of it its probability sizes, and once
// lo and hi agree on their top byte that byte is final and goes out.
type ctxEncoder struct {
	lo, hi uint32
	out    []byte
}

func (e *ctxEncoder) encode(bit, p uint32) {
	mid := ctxSplit(e.lo, e.hi, p)
	if bit != 0 {
		e.hi = mid
	} else {
		e.lo = mid + 1
	}
	for (e.lo^e.hi)&0xff000000 == 0 {
		e.out = append(e.out, byte(e.hi>>24))
		e.lo <<= 8
		e.hi = e.hi<<8 | 0xff
	}
}

// finish writes lo, 4 bytes: the decoder reads them last, as a value in
// [lo, hi], so that it reads exactly the body and can check that it ends
// with lo (1 to 3 bytes would do with padding, but then a body cut short
// could decode without an error, and other last bytes decode the same).
func (e *ctxEncoder) finish() []byte { return binary.BigEndian.AppendUint32(e.out, e.lo) }

// ctxDecoder reads what ctxEncoder wrote. pos counts every byte read,
// the ones past the end of in too (as 0): the caller checks it.
type ctxDecoder struct {
	lo, hi, x uint32
	in        []byte
	pos       int
}

func (d *ctxDecoder) next() uint32 {
	d.pos++
	if d.pos <= len(d.in) {
		return uint32(d.in[d.pos-1])
	}
	return 0
}

func (d *ctxDecoder) init(in []byte) {
	d.in, d.lo, d.hi = in, 0, 0xffffffff
	for range 4 {
		d.x = d.x<<8 | d.next()
	}
}

func (d *ctxDecoder) decode(p uint32) uint32 {
	mid := ctxSplit(d.lo, d.hi, p)
	var bit uint32
	if d.x <= mid {
		bit, d.hi = 1, mid
	} else {
		d.lo = mid + 1
	}
	for (d.lo^d.hi)&0xff000000 == 0 {
		d.lo <<= 8
		d.hi = d.hi<<8 | 0xff
		d.x = d.x<<8 | d.next()
	}
	return bit
}

// ctxAlphabet returns the most frequent byte of b (the smallest of ties)
// and 1 + the largest byte of b.
func ctxAlphabet(b []byte) (z byte, alphabet int) {
	var h [256]int
	for _, v := range b {
		h[v]++
	}
	for v := range h {
		if h[v] > h[z] {
			z = byte(v)
		}
		if h[v] > 0 {
			alphabet = v + 1
		}
	}
	return z, alphabet
}

// ctxChooseLag returns the distance D along rows of cols at which the
// not-Z flags of coded tell the most about a flag, given its left
// neighbour (their conditional mutual information times the positions,
// in bits), or 0 when no D tells at least 64 bits. It reads at most about
// 2^18 words of flags, sampling the rows of a large tensor.
func ctxChooseLag(coded []byte, cols int, z byte) int {
	maxLag := min(cols-1, ctxMaxLag)
	if maxLag < 2 {
		return 0
	}
	words := (cols + 63) / 64
	rows := (len(coded) + cols - 1) / cols
	step := max(1, rows*words*(maxLag-1)>>18)
	y := make([]uint64, words)    // a row's flags
	left := make([]uint64, words) // the flags moved 1 along: the left flags
	var valid [2][]uint64         // the row's positions with left flag 0, 1
	valid[0], valid[1] = make([]uint64, words), make([]uint64, words)
	var n, ny [2]int               // by left flag: positions, flags set
	ng := make([][2]int, maxLag+1) // by D and left flag: D flags set
	nyg := make([][2]int, maxLag+1)
	for r := 0; r < rows; r += step {
		clear(y)
		rowBytes := coded[r*cols : min((r+1)*cols, len(coded))]
		for c, v := range rowBytes {
			if v != z {
				y[c/64] |= 1 << (c % 64)
			}
		}
		ctxShift(left, y, 1)
		for k := range words {
			all := ^uint64(0)
			if rem := len(rowBytes) - 64*k; rem < 64 {
				all = 1<<max(rem, 0) - 1
			}
			valid[0][k], valid[1][k] = all&^left[k], all&left[k]
			for l := range 2 {
				n[l] += bits.OnesCount64(valid[l][k])
				ny[l] += bits.OnesCount64(y[k] & valid[l][k])
			}
		}
		for lag := 2; lag <= maxLag; lag++ {
			w, sh := lag/64, uint(lag%64)
			var g0, g1, yg0, yg1 int
			for k := w; k < words; k++ {
				g := y[k-w] << sh // the flags lag places left
				if sh > 0 && k > w {
					g |= y[k-w-1] >> (64 - sh)
				}
				a, b := g&valid[0][k], g&valid[1][k]
				g0 += bits.OnesCount64(a)
				g1 += bits.OnesCount64(b)
				yg0 += bits.OnesCount64(a & y[k])
				yg1 += bits.OnesCount64(b & y[k])
			}
			ng[lag][0] += g0
			ng[lag][1] += g1
			nyg[lag][0] += yg0
			nyg[lag][1] += yg1
		}
	}
	best, bestInfo := 0, 64.0
	for lag := 2; lag <= maxLag; lag++ {
		var info float64
		for l := range 2 {
			// Cells (y, g) of the table for left flag l.
			cells := [2][2]int{
				{n[l] - ny[l] - ng[lag][l] + nyg[lag][l], ng[lag][l] - nyg[lag][l]},
				{ny[l] - nyg[lag][l], nyg[lag][l]},
			}
			for yi := range 2 {
				for gi := range 2 {
					k := cells[yi][gi]
					if k == 0 {
						continue
					}
					ry := cells[yi][0] + cells[yi][1]
					rg := cells[0][gi] + cells[1][gi]
					info += float64(k) * math.Log2(float64(k)*float64(n[l])/(float64(ry)*float64(rg)))
				}
			}
		}
		// Whole bits, so that the choice (and the file's bytes) cannot
		// hang on the last bits of a logarithm.
		if info = math.Floor(info); info > bestInfo {
			best, bestInfo = lag, info
		}
	}
	return best
}

// ctxShift sets dst to the bitset src moved k places towards higher
// indices: bit c of dst is bit c−k of src, 0 for c < k.
func ctxShift(dst, src []uint64, k int) {
	w, s := k/64, uint(k%64)
	for i := range dst {
		var v uint64
		if j := i - w; j >= 0 {
			v = src[j] << s
			if s > 0 && j > 0 {
				v |= src[j-1] >> (64 - s)
			}
		}
		dst[i] = v
	}
}

// MaxLen is the longest input Compress takes (the format's cap on one
// tensor's raw bytes).
const MaxLen = 1 << 30

// Compress returns raw in the ctx layout, the first tables bytes verbatim
// and the rest in rows of cols bytes, with the D ctxChooseLag finds; nil
// when the layout cannot hold raw (tables outside [0, len(raw)), cols
// outside [1, min(len(raw) − tables, 65536)], or raw longer than MaxLen).
func Compress(raw []byte, tables, cols int) []byte {
	if len(raw) > MaxLen || tables < 0 || tables >= len(raw) {
		return nil
	}
	coded := raw[tables:]
	if cols < 1 || cols > len(coded) || cols > ctxMaxCols {
		return nil
	}
	z, _ := ctxAlphabet(coded)
	return encodeCtx(raw, tables, cols, ctxChooseLag(coded, cols, z))
}

// encodeCtx is Compress with a given D (0, or 2 ≤ D < cols); the
// other arguments are valid.
func encodeCtx(raw []byte, tables, cols, lag int) []byte {
	coded := raw[tables:]
	z, alphabet := ctxAlphabet(coded)
	out := make([]byte, 0, 3*binary.MaxVarintLen32+tables+2+len(coded)/4)
	out = binary.AppendUvarint(out, uint64(tables))
	out = append(out, raw[:tables]...)
	out = binary.AppendUvarint(out, uint64(cols))
	out = append(out, z, byte(alphabet-1))
	out = binary.AppendUvarint(out, uint64(lag))
	e := &ctxEncoder{hi: 0xffffffff, out: out}
	if err := newCtxModel(len(coded), cols, lag, z, alphabet).run(coded, e, nil); err != nil {
		return nil // the encoder does not fail
	}
	return e.finish()
}

// ErrCorrupt is matched (errors.Is) by every error Decompress returns: the
// stream is not one Compress wrote for that length.
var ErrCorrupt = errors.New("ctx: corrupt stream")

// corruptError is an error about a corrupt stream.
type corruptError struct{ msg string }

func (e corruptError) Error() string        { return e.msg }
func (e corruptError) Is(target error) bool { return target == ErrCorrupt }

// ctxErr is an error about a corrupt stream.
func ctxErr(format string, args ...any) error {
	return corruptError{fmt.Sprintf("ctx: "+format, args...)}
}

// Decompress decodes the ctx layout (see Compress) to exactly rawLen
// bytes. Besides the rawLen bytes it returns it allocates only the model
// (newCtxModel: at most 10·rawLen bytes + 3 KiB, and 640 KiB + 3 KiB
// at most), and it stops as soon as it reads past the end of the body. A
// body decoding to other bytes of the right length fails the caller's
// CRC-32C. Every error matches ErrCorrupt.
func Decompress(stored []byte, rawLen int) ([]byte, error) {
	p, n := binary.Uvarint(stored)
	if n <= 0 || n > binary.MaxVarintLen32 {
		return nil, ctxErr("bad verbatim length")
	}
	if p >= uint64(rawLen) || p > uint64(len(stored)-n) {
		return nil, ctxErr("%d verbatim bytes, raw_length %d, %d stored bytes", p, rawLen, len(stored))
	}
	tables, verbatim := int(p), stored[n:n+int(p)]
	rest := stored[n+tables:]
	m := rawLen - tables
	c, n := binary.Uvarint(rest)
	if n <= 0 || n > binary.MaxVarintLen32 || c < 1 || c > uint64(min(m, ctxMaxCols)) {
		return nil, ctxErr("row length %d for %d coded bytes", c, m)
	}
	rest = rest[n:]
	if len(rest) < 2 {
		return nil, ctxErr("header cut short")
	}
	cols, z, alphabet := int(c), rest[0], int(rest[1])+1
	if int(z) >= alphabet {
		return nil, ctxErr("zero symbol %d outside the alphabet of %d", z, alphabet)
	}
	lag, n := binary.Uvarint(rest[2:])
	if n <= 0 || n > binary.MaxVarintLen32 || lag == 1 || lag >= c {
		return nil, ctxErr("neighbour distance %d for rows of %d", lag, cols)
	}
	body := rest[2+n:]
	out := make([]byte, rawLen)
	copy(out, verbatim)
	var d ctxDecoder
	d.init(body)
	if err := newCtxModel(m, cols, int(lag), z, alphabet).run(out[tables:], nil, &d); err != nil {
		return nil, err
	}
	if d.pos != len(body) {
		return nil, ctxErr("body of %d bytes, the decoder read %d", len(body), d.pos)
	}
	if d.x != d.lo {
		return nil, ctxErr("the body does not end with the coder's final state")
	}
	return out, nil
}
