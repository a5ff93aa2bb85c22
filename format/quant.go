package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/shrink-ml/shrink/nn"
)

// Quantized encodings. The weight is (rows, cols) with rows = shape[0] and
// cols the product of the other dimensions. All are little-endian; every
// decoder checks the length against the shape before reading, rejects
// non-finite scales, and sets both p.Quant and p.W (the dequantized values,
// nn.Quant's formulas).
const (
	// Int8 is symmetric int8 with per-channel (or per-tensor) scales:
	//
	//	u8  flags: bit 0 = per-tensor (one scale), other bits 0
	//	u8  activation mode (0 none, 1 dynamic, 2 static)
	//	u16 reserved, 0
	//	f32 activation scale (static: > 0)   i32 activation zero point (static: 0..255)
	//	f32 scales[S]        S = rows, or 1 when per-tensor
	//	i8  codes[rows·cols] row-major
	//
	// The activation fields quantize the layer's input on the integer path
	// (nn.ActQuant); they are zero for weight-only quantization.
	Int8 Encoding = 3
	// Int4 is 4-bit codes in blocks of B values along each row, each row
	// padded with zeros to a multiple of B:
	//
	//	u8  flags: bit 0 = asymmetric
	//	u8, u16 reserved, 0
	//	u32 B (even, 2..65536)
	//	per row, per block: f16 scale, [f16 min if asymmetric], B/2 bytes of
	//	codes, two per byte, low nibble first (element 2i in the low nibble
	//	of byte i)
	//
	// A nibble holds code + 8 (symmetric, code in [−8, 7]) or the code
	// (asymmetric, [0, 15]); padding nibbles are written as the code of 0
	// and ignored by the reader.
	Int4 Encoding = 4
	// Q8_0 is ggml's block_q8_0, rows padded to 32: per block f16 d then 32
	// int8 codes (34 bytes); value = code · d.
	Q8_0 Encoding = 5
	// Q4_0 is ggml's block_q4_0, rows padded to 32: per block f16 d then 16
	// bytes, byte j holding element j in its low nibble and element j+16 in
	// its high nibble (18 bytes); value = (nibble − 8) · d.
	Q4_0 Encoding = 6
	// Codebook (tag 8; 7 stays unassigned, the format tests use it as an
	// unknown tag) is weight sharing: K centroids and one index per value:
	//
	//	u8  bits per index b (1..8), u8 reserved 0, u16 K (2..2^b)
	//	f32 centroids[K]
	//	indices: rows·cols values of b bits, packed LSB-first into
	//	⌈rows·cols·b/8⌉ bytes (the last byte's spare bits are zero)
	Codebook Encoding = 8
	// Codebook8 (tag 9) is Codebook with one byte per index: the same
	// header and centroids, then rows·cols bytes, each an index < K. Packed
	// bits hide symbol boundaries from an entropy coder; whole bytes let
	// order-0 FSE spend about −log₂ p(index) bits per value, so the zeros
	// of a pruned tensor (the exact code of a zero centroid) cost about the
	// binary entropy of the density. Both layouts decode to the same
	// nn.Quant; with compression on the writer stores a codebook tensor in
	// whichever is smaller (see File.Compress).
	Codebook8 Encoding = 9
)

func init() {
	codecs[Int8] = &codec{name: "int8", rawBounds: int8Bounds, encode: encodeInt8, decode: decodeInt8, tables: int8Tables}
	codecs[Int4] = &codec{name: "int4", rawBounds: int4Bounds, encode: encodeInt4, decode: decodeInt4}
	codecs[Q8_0] = &codec{name: "q8_0", rawBounds: ggmlBounds(34), encode: encodeGGML(34), decode: decodeGGML(34)}
	codecs[Q4_0] = &codec{name: "q4_0", rawBounds: ggmlBounds(18), encode: encodeGGML(18), decode: decodeGGML(18)}
	codecs[Codebook] = &codec{name: "codebook", rawBounds: codebookBounds, encode: encodeCodebook, decode: decodeCodebook, tables: codebookTables}
	codecs[Codebook8] = &codec{name: "codebook8", rawBounds: codebook8Bounds, encode: encodeCodebook8, decode: decodeCodebook8, tables: codebookTables}
}

// schemes maps each quantization scheme (nn.Quant.Scheme, the Name of a
// quantize.Scheme) to the encodings that store its values exactly, codes
// included, the usual one first. It is the one table between quantize and
// the file format: QuantEncoding, the writer's alternates and Choose read
// it, and quantize's tests check every scheme against it.
var schemes = []struct {
	scheme string
	encs   []Encoding
}{
	{"int8", []Encoding{Int8}},
	{"int8_tensor", []Encoding{Int8}},
	{"int4", []Encoding{Int4}},
	{"int4_asym", []Encoding{Int4}},
	{"q8_0", []Encoding{Q8_0}},
	{"q4_0", []Encoding{Q4_0}},
	{"codebook", []Encoding{Codebook, Codebook8}},
	{"fp16", []Encoding{Float16}},
}

// SchemeEncodings returns the encodings that store a tensor quantized with
// the given scheme (nn.Quant.Scheme) exactly, the usual one first, and nil
// for schemes without one.
func SchemeEncodings(scheme string) []Encoding {
	for _, s := range schemes {
		if s.scheme == scheme {
			return slices.Clone(s.encs)
		}
	}
	return nil
}

// QuantEncoding returns the usual encoding of a tensor quantized with the
// given scheme (nn.Quant.Scheme), and false for schemes without one.
func QuantEncoding(scheme string) (Encoding, bool) {
	if e := SchemeEncodings(scheme); len(e) > 0 {
		return e[0], true
	}
	return 0, false
}

// QuantEncodings returns the encodings of every quantized tensor of m, for
// File.Encodings.
func QuantEncodings(m *nn.Model) map[string]Encoding {
	out := map[string]Encoding{}
	for _, t := range m.NamedParams() {
		if t.Param.Quant != nil {
			if e, ok := QuantEncoding(t.Param.Quant.Scheme); ok {
				out[t.Name] = e
			}
		}
	}
	return out
}

// quantShape splits a parameter's shape into (rows, cols).
func quantShape(p *nn.Param) (int, int) {
	if len(p.Shape) == 0 || p.Shape[0] <= 0 {
		return 0, 0
	}
	return p.Shape[0], len(p.W) / p.Shape[0]
}

// needQuant returns p.Quant when it is valid, of one of the schemes, and
// matches p's shape.
func needQuant(p *nn.Param, schemes ...string) (*nn.Quant, error) {
	q := p.Quant
	if q == nil {
		return nil, fmt.Errorf("tensor is not quantized (no codes to store)")
	}
	ok := false
	for _, s := range schemes {
		ok = ok || q.Scheme == s
	}
	if !ok {
		return nil, fmt.Errorf("quantized as %q, the encoding stores %v", q.Scheme, schemes)
	}
	rows, cols := quantShape(p)
	if q.Rows != rows || q.Cols != cols {
		return nil, fmt.Errorf("quant is %d×%d, the tensor %v", q.Rows, q.Cols, p.Shape)
	}
	if err := q.Validate(len(p.W)); err != nil {
		return nil, err
	}
	return q, nil
}

func quantFinite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

func quantF32(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// --- Int8 ---

const int8Header = 12

func int8Bounds(n int64) (int64, int64) { return int8Header + 4 + n, int8Header + 5*n }

// int8Tables is the length of the header and scales of encodeInt8's output.
func int8Tables(p *nn.Param, raw []byte) int {
	rows, _ := quantShape(p)
	if len(raw) < int8Header || raw[0]&1 != 0 {
		rows = 1
	}
	return min(int8Header+4*rows, len(raw))
}

func encodeInt8(p *nn.Param) ([]byte, error) {
	q, err := needQuant(p, "int8", "int8_tensor")
	if err != nil {
		return nil, err
	}
	perTensor := q.Scheme == "int8_tensor"
	if want := map[bool]int{true: 1, false: q.Rows}[perTensor]; len(q.Scales) != want || q.Block != q.Cols || q.Mins != nil || len(q.Codebook) > 0 {
		return nil, fmt.Errorf("int8: %d scales for %d rows", len(q.Scales), q.Rows)
	}
	b := make([]byte, int8Header, int8Header+4*len(q.Scales)+len(q.Codes))
	if perTensor {
		b[0] = 1
	}
	b[1] = byte(q.Act.Mode)
	binary.LittleEndian.PutUint32(b[4:], math.Float32bits(q.Act.Scale))
	binary.LittleEndian.PutUint32(b[8:], uint32(q.Act.Zero))
	for _, s := range q.Scales {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s))
	}
	for _, c := range q.Codes {
		if c < -128 || c > 127 {
			return nil, fmt.Errorf("int8: code %d out of range", c)
		}
		b = append(b, byte(int8(c)))
	}
	return b, nil
}

func decodeInt8(p *nn.Param, b []byte) error {
	rows, cols := quantShape(p)
	if rows == 0 || len(b) < int8Header {
		return corrupt("int8: %d bytes for shape %v", len(b), p.Shape)
	}
	flags, mode := b[0], nn.ActMode(b[1])
	if flags&^1 != 0 || b[2] != 0 || b[3] != 0 {
		return corrupt("int8: unknown flags %#x", flags)
	}
	ns := rows
	if flags&1 != 0 {
		ns = 1
	}
	if want := int8Header + 4*ns + len(p.W); len(b) != want {
		return corrupt("int8: %d bytes, shape %v needs %d", len(b), p.Shape, want)
	}
	act := nn.ActQuant{Mode: mode, Scale: quantF32(b[4:]), Zero: int32(binary.LittleEndian.Uint32(b[8:]))}
	switch mode {
	case nn.ActNone, nn.ActDynamic:
		if act.Scale != 0 || act.Zero != 0 {
			return corrupt("int8: activation parameters without static mode")
		}
	case nn.ActStatic:
		if !quantFinite(act.Scale) || !(act.Scale > 0) || act.Zero < 0 || act.Zero > 255 {
			return corrupt("int8: activation scale %v, zero point %d", act.Scale, act.Zero)
		}
	default:
		return corrupt("int8: activation mode %d", mode)
	}
	q := &nn.Quant{Scheme: "int8", Bits: 8, Rows: rows, Cols: cols, Block: cols, Act: act,
		Scales: make([]float32, ns), Codes: make([]int16, len(p.W))}
	if ns == 1 {
		q.Scheme = "int8_tensor"
	}
	for i := range q.Scales {
		q.Scales[i] = quantF32(b[int8Header+4*i:])
		if !quantFinite(q.Scales[i]) {
			return corrupt("int8: scale %v", q.Scales[i])
		}
	}
	for i, c := range b[int8Header+4*ns:] {
		q.Codes[i] = int16(int8(c))
	}
	q.Dequantize(p.W)
	p.Quant = q
	return nil
}

// --- Int4 ---

const (
	int4Header   = 8
	int4MaxBlock = 1 << 16
)

func int4Bounds(n int64) (int64, int64) {
	// Smallest: one row, one symmetric block covering it; largest: one
	// value per row in the biggest asymmetric block.
	return int4Header + 2 + (n+1)/2, int4Header + n*(4+int4MaxBlock/2)
}

func int4Layout(rows, cols, block int, asym bool) (gpr, per int) {
	gpr = (cols + block - 1) / block
	per = 2 + block/2
	if asym {
		per += 2
	}
	return gpr, per
}

func encodeInt4(p *nn.Param) ([]byte, error) {
	q, err := needQuant(p, "int4", "int4_asym")
	if err != nil {
		return nil, err
	}
	asym := q.Scheme == "int4_asym"
	if q.Block < 2 || q.Block > int4MaxBlock || q.Block%2 != 0 || (asym != (q.Mins != nil)) {
		return nil, fmt.Errorf("int4: block %d", q.Block)
	}
	gpr, per := int4Layout(q.Rows, q.Cols, q.Block, asym)
	if len(q.Scales) != q.Rows*gpr {
		return nil, fmt.Errorf("int4: %d scales for %d blocks", len(q.Scales), q.Rows*gpr)
	}
	b := make([]byte, int4Header, int4Header+q.Rows*gpr*per)
	if asym {
		b[0] = 1
	}
	binary.LittleEndian.PutUint32(b[4:], uint32(q.Block))
	off, lo, hi := int16(8), int16(-8), int16(7)
	if asym {
		off, lo, hi = 0, 0, 15
	}
	nib := make([]byte, q.Block)
	for r := 0; r < q.Rows; r++ {
		for g := 0; g < gpr; g++ {
			i := r*gpr + g
			b = binary.LittleEndian.AppendUint16(b, Float16Bits(q.Scales[i]))
			if asym {
				b = binary.LittleEndian.AppendUint16(b, Float16Bits(q.Mins[i]))
			}
			if Float16From(Float16Bits(q.Scales[i])) != q.Scales[i] || (asym && Float16From(Float16Bits(q.Mins[i])) != q.Mins[i]) {
				return nil, fmt.Errorf("int4: scale %v is not a float16 value", q.Scales[i])
			}
			for k := range nib {
				nib[k] = byte(off) // padding: the code of 0 (symmetric)
				if c := g*q.Block + k; c < q.Cols {
					v := q.Codes[r*q.Cols+c]
					if v < lo || v > hi {
						return nil, fmt.Errorf("int4: code %d out of range", v)
					}
					nib[k] = byte(v + off)
				}
			}
			for k := 0; k < q.Block; k += 2 {
				b = append(b, nib[k]|nib[k+1]<<4)
			}
		}
	}
	return b, nil
}

// half reads a finite float16 value.
func quantHalf(b []byte) (float32, bool) {
	v := Float16From(binary.LittleEndian.Uint16(b))
	return v, quantFinite(v)
}

func decodeInt4(p *nn.Param, b []byte) error {
	rows, cols := quantShape(p)
	if rows == 0 || len(b) < int4Header {
		return corrupt("int4: %d bytes for shape %v", len(b), p.Shape)
	}
	if b[0]&^1 != 0 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
		return corrupt("int4: unknown flags %#x", b[0])
	}
	asym := b[0]&1 != 0
	block := int64(binary.LittleEndian.Uint32(b[4:]))
	if block < 2 || block > int4MaxBlock || block%2 != 0 {
		return corrupt("int4: block %d", block)
	}
	gpr, per := int4Layout(rows, cols, int(block), asym)
	if want := int64(int4Header) + int64(rows)*int64(gpr)*int64(per); int64(len(b)) != want {
		return corrupt("int4: %d bytes, shape %v in blocks of %d needs %d", len(b), p.Shape, block, want)
	}
	q := &nn.Quant{Scheme: "int4", Bits: 4, Rows: rows, Cols: cols, Block: int(block),
		Codes: make([]int16, len(p.W)), Scales: make([]float32, rows*gpr)}
	off := int16(8)
	if asym {
		q.Scheme, q.Mins, off = "int4_asym", make([]float32, rows*gpr), 0
	}
	pos := int4Header
	for r := 0; r < rows; r++ {
		for g := 0; g < gpr; g++ {
			i := r*gpr + g
			var ok bool
			if q.Scales[i], ok = quantHalf(b[pos:]); !ok {
				return corrupt("int4: scale of block %d is not finite", i)
			}
			pos += 2
			if asym {
				if q.Mins[i], ok = quantHalf(b[pos:]); !ok {
					return corrupt("int4: min of block %d is not finite", i)
				}
				pos += 2
			}
			for k := 0; k < int(block); k++ {
				c := g*int(block) + k
				if c >= cols {
					break
				}
				nib := b[pos+k/2] >> (4 * (k & 1)) & 0xf
				q.Codes[r*cols+c] = int16(nib) - off
			}
			pos += int(block) / 2
		}
	}
	q.Dequantize(p.W)
	p.Quant = q
	return nil
}

// --- Q8_0 and Q4_0 (ggml) ---

const qk = 32 // ggml block size

func ggmlBounds(blockBytes int64) func(n int64) (int64, int64) {
	return func(n int64) (int64, int64) { return (n + qk - 1) / qk * blockBytes, n * blockBytes }
}

func ggmlScheme(blockBytes int) string {
	if blockBytes == 34 {
		return "q8_0"
	}
	return "q4_0"
}

func encodeGGML(blockBytes int) func(p *nn.Param) ([]byte, error) {
	scheme := ggmlScheme(blockBytes)
	return func(p *nn.Param) ([]byte, error) {
		q, err := needQuant(p, scheme)
		if err != nil {
			return nil, err
		}
		gpr := (q.Cols + qk - 1) / qk
		if q.Block != qk || len(q.Scales) != q.Rows*gpr {
			return nil, fmt.Errorf("%s: block %d with %d scales", scheme, q.Block, len(q.Scales))
		}
		b := make([]byte, 0, q.Rows*gpr*blockBytes)
		var blk [qk]int16
		for r := 0; r < q.Rows; r++ {
			for g := 0; g < gpr; g++ {
				d := q.Scales[r*gpr+g]
				if Float16From(Float16Bits(d)) != d {
					return nil, fmt.Errorf("%s: scale %v is not a float16 value", scheme, d)
				}
				b = binary.LittleEndian.AppendUint16(b, Float16Bits(d))
				clear(blk[:])
				for k := range blk {
					if c := g*qk + k; c < q.Cols {
						blk[k] = q.Codes[r*q.Cols+c]
					}
				}
				if blockBytes == 34 {
					for _, v := range blk {
						if v < -128 || v > 127 {
							return nil, fmt.Errorf("q8_0: code %d out of range", v)
						}
						b = append(b, byte(int8(v)))
					}
					continue
				}
				for j := 0; j < qk/2; j++ {
					lo, hi := blk[j]+8, blk[j+qk/2]+8
					if lo < 0 || lo > 15 || hi < 0 || hi > 15 {
						return nil, fmt.Errorf("q4_0: code out of range")
					}
					b = append(b, byte(lo)|byte(hi)<<4)
				}
			}
		}
		return b, nil
	}
}

func decodeGGML(blockBytes int) func(p *nn.Param, b []byte) error {
	scheme := ggmlScheme(blockBytes)
	return func(p *nn.Param, b []byte) error {
		rows, cols := quantShape(p)
		gpr := (cols + qk - 1) / qk
		if rows == 0 || int64(len(b)) != int64(rows)*int64(gpr)*int64(blockBytes) {
			return corrupt("%s: %d bytes for shape %v", scheme, len(b), p.Shape)
		}
		q := &nn.Quant{Scheme: scheme, Bits: 8, Rows: rows, Cols: cols, Block: qk,
			Codes: make([]int16, len(p.W)), Scales: make([]float32, rows*gpr)}
		if blockBytes == 18 {
			q.Bits = 4
		}
		for r := 0; r < rows; r++ {
			for g := 0; g < gpr; g++ {
				blk := b[(r*gpr+g)*blockBytes:]
				var ok bool
				if q.Scales[r*gpr+g], ok = quantHalf(blk); !ok {
					return corrupt("%s: scale of block %d is not finite", scheme, r*gpr+g)
				}
				for k := 0; k < qk && g*qk+k < cols; k++ {
					var v int16
					if blockBytes == 34 {
						v = int16(int8(blk[2+k]))
					} else {
						v = int16(blk[2+k%16]>>(4*(k/16))&0xf) - 8
					}
					q.Codes[r*cols+g*qk+k] = v
				}
			}
		}
		q.Dequantize(p.W)
		p.Quant = q
		return nil
	}
}

// --- Codebook and Codebook8 ---

const codebookHeader = 4

func codebookBounds(n int64) (int64, int64) {
	return codebookHeader + 4*2 + (n+7)/8, codebookHeader + 4*256 + n
}

func codebook8Bounds(n int64) (int64, int64) {
	return codebookHeader + 4*2 + n, codebookHeader + 4*256 + n
}

// codebookHead checks p's codebook quantization and returns the header and
// centroid table both codebook layouts start with; room is the number of
// index bytes to reserve capacity for.
func codebookHead(p *nn.Param, room func(n, bits int) int) (*nn.Quant, []byte, error) {
	q, err := needQuant(p, "codebook")
	if err != nil {
		return nil, nil, err
	}
	k := len(q.Codebook)
	if q.Bits < 1 || q.Bits > 8 || k < 2 || k > 1<<q.Bits {
		return nil, nil, fmt.Errorf("codebook: %d centroids with %d-bit indices", k, q.Bits)
	}
	b := make([]byte, codebookHeader, codebookHeader+4*k+room(len(q.Codes), q.Bits))
	b[0] = byte(q.Bits)
	binary.LittleEndian.PutUint16(b[2:], uint16(k))
	for _, c := range q.Codebook {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(c))
	}
	return q, b, nil
}

// codebookTables is the length of the header and centroids of either
// codebook layout.
func codebookTables(_ *nn.Param, raw []byte) int {
	if len(raw) < codebookHeader {
		return 0
	}
	return min(codebookHeader+4*int(binary.LittleEndian.Uint16(raw[2:])), len(raw))
}

func encodeCodebook(p *nn.Param) ([]byte, error) {
	q, b, err := codebookHead(p, func(n, bits int) int { return (n*bits + 7) / 8 })
	if err != nil {
		return nil, err
	}
	var acc uint32
	nb := 0
	for _, c := range q.Codes {
		acc |= uint32(c) << nb
		nb += q.Bits
		for nb >= 8 {
			b = append(b, byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	if nb > 0 {
		b = append(b, byte(acc))
	}
	return b, nil
}

func encodeCodebook8(p *nn.Param) ([]byte, error) {
	q, b, err := codebookHead(p, func(n, _ int) int { return n })
	if err != nil {
		return nil, err
	}
	for _, c := range q.Codes {
		b = append(b, byte(c)) // Validate (in needQuant) checked c < K ≤ 256
	}
	return b, nil
}

// decodeCodebookHead reads the header and centroids of either codebook
// layout, checking that the whole length is what indexBytes(n, bits) says.
func decodeCodebookHead(p *nn.Param, b []byte, name string, indexBytes func(n, bits int64) int64) (*nn.Quant, []byte, error) {
	rows, cols := quantShape(p)
	if rows == 0 || len(b) < codebookHeader {
		return nil, nil, corrupt("%s: %d bytes for shape %v", name, len(b), p.Shape)
	}
	bits, k := int(b[0]), int(binary.LittleEndian.Uint16(b[2:]))
	if bits < 1 || bits > 8 || b[1] != 0 || k < 2 || k > 1<<bits {
		return nil, nil, corrupt("%s: %d centroids with %d-bit indices", name, k, bits)
	}
	n := len(p.W)
	if want := int64(codebookHeader) + 4*int64(k) + indexBytes(int64(n), int64(bits)); int64(len(b)) != want {
		return nil, nil, corrupt("%s: %d bytes, shape %v needs %d", name, len(b), p.Shape, want)
	}
	q := &nn.Quant{Scheme: "codebook", Bits: bits, Rows: rows, Cols: cols, Block: cols,
		Codebook: make([]float32, k), Codes: make([]int16, n)}
	for i := range q.Codebook {
		q.Codebook[i] = quantF32(b[codebookHeader+4*i:])
		if !quantFinite(q.Codebook[i]) {
			return nil, nil, corrupt("%s: centroid %d is not finite", name, i)
		}
	}
	return q, b[codebookHeader+4*k:], nil
}

func decodeCodebook(p *nn.Param, b []byte) error {
	q, idx, err := decodeCodebookHead(p, b, "codebook", func(n, bits int64) int64 { return (n*bits + 7) / 8 })
	if err != nil {
		return err
	}
	bits, k := q.Bits, len(q.Codebook)
	var acc uint32
	nb, pos := 0, 0
	mask := uint32(1)<<bits - 1
	for i := range q.Codes {
		for nb < bits {
			acc |= uint32(idx[pos]) << nb
			pos++
			nb += 8
		}
		c := int(acc & mask)
		acc >>= bits
		nb -= bits
		if c >= k {
			return corrupt("codebook: index %d of value %d, only %d centroids", c, i, k)
		}
		q.Codes[i] = int16(c)
	}
	q.Dequantize(p.W)
	p.Quant = q
	return nil
}

func decodeCodebook8(p *nn.Param, b []byte) error {
	q, idx, err := decodeCodebookHead(p, b, "codebook8", func(n, _ int64) int64 { return n })
	if err != nil {
		return err
	}
	k := len(q.Codebook)
	for i, c := range idx {
		if int(c) >= k {
			return corrupt("codebook8: index %d of value %d, only %d centroids", c, i, k)
		}
		q.Codes[i] = int16(c)
	}
	q.Dequantize(p.W)
	p.Quant = q
	return nil
}
