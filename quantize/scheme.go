// Package quantize turns a float32 model's weights (and, for the integer
// path, its activations) into low-bit codes: int8 per channel or per
// tensor, int4 in blocks, ggml's Q8_0 and Q4_0 block formats, float16, and
// k-means weight sharing (codebooks). Every scheme has a plain reference
// quantizer whose output is bit-exact and deterministic, so model files are
// reproducible.
//
// The pass, Quantize, quantizes a model in place and returns a per-layer
// report; observers calibrate activation ranges on a seeded sample of a
// data set; QAT fine-tunes with fake quantization; Sensitivity measures the
// accuracy cost of quantizing each layer alone.
package quantize

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/nn"
)

// Scheme is one weight quantization format. Quantize is the reference
// quantizer: it maps a (rows, cols) row-major weight to codes, and the
// returned nn.Quant's Dequantize gives the values the model keeps.
type Scheme interface {
	// ID is the scheme's stable identifier (see the table in Schemes).
	ID() uint8
	// Name is the stable name stored in nn.Quant.Scheme ("int8", "q4_0", …).
	Name() string
	// Quantize returns the codes of w, shape (rows, cols) row-major.
	Quantize(w []float32, rows, cols int) *nn.Quant
	// Bytes is the encoded size of a (rows, cols) weight in this scheme,
	// codes plus scales, as the model file stores it before compression.
	Bytes(rows, cols int) int64
	// String describes the configured scheme ("int4 block 32 asym").
	String() string
}

// Stable scheme IDs.
const (
	IDInt8       uint8 = 1
	IDInt8Tensor uint8 = 2
	IDInt4       uint8 = 3
	IDInt4Asym   uint8 = 4
	IDQ8_0       uint8 = 5
	IDQ4_0       uint8 = 6
	IDFP16       uint8 = 7
	IDCodebook   uint8 = 8
)

// Schemes is the table of schemes in their default configuration, by ID.
var Schemes = map[uint8]Scheme{
	IDInt8:       Int8{},
	IDInt8Tensor: Int8{PerTensor: true},
	IDInt4:       Int4{Block: 32},
	IDInt4Asym:   Int4{Block: 32, Asym: true},
	IDQ8_0:       Q8_0{},
	IDQ4_0:       Q4_0{},
	IDFP16:       FP16{},
	IDCodebook:   Codebook{K: 32},
}

// Lookup returns the default scheme with the given stable name.
func Lookup(name string) (Scheme, bool) {
	for _, s := range Schemes {
		if s.Name() == name {
			return s, true
		}
	}
	return nil, false
}

// Parse builds a scheme from the CLI's --scheme and --granularity values:
// int8 (granularity channel, the default, or tensor), int4 and int4_asym
// (block:N, default block:32, or channel), q8_0, q4_0, fp16, cluster:K
// (codebook of K centroids, 2 ≤ K ≤ 256).
func Parse(scheme, granularity string) (Scheme, error) {
	block := 0
	switch {
	case granularity == "" || granularity == "channel":
	case granularity == "tensor":
		block = -1
	case strings.HasPrefix(granularity, "block:"):
		n, err := strconv.Atoi(granularity[6:])
		if err != nil || n < 2 || n > maxBlock || n%2 != 0 {
			return nil, fmt.Errorf("quantize: granularity %q: the block must be an even number in [2, %d]", granularity, maxBlock)
		}
		block = n
	default:
		return nil, fmt.Errorf("quantize: unknown granularity %q (want channel, tensor or block:N)", granularity)
	}
	only := func(ok bool) error {
		if !ok {
			return fmt.Errorf("quantize: scheme %s does not take granularity %q", scheme, granularity)
		}
		return nil
	}
	switch {
	case scheme == "int8":
		if err := only(block <= 0); err != nil {
			return nil, err
		}
		return Int8{PerTensor: block < 0}, nil
	case scheme == "int4" || scheme == "int4_asym":
		if err := only(block >= 0); err != nil {
			return nil, err
		}
		if granularity == "" {
			block = 32
		}
		return Int4{Block: block, Asym: scheme == "int4_asym"}, nil
	case scheme == "q8_0" || scheme == "q4_0" || scheme == "fp16":
		if err := only(granularity == ""); err != nil {
			return nil, err
		}
		s, _ := Lookup(scheme)
		return s, nil
	case strings.HasPrefix(scheme, "cluster:"):
		if err := only(granularity == "" || granularity == "tensor"); err != nil {
			return nil, err
		}
		k, err := strconv.Atoi(scheme[8:])
		if err != nil || k < 2 || k > 256 {
			return nil, fmt.Errorf("quantize: scheme %q: K must be in [2, 256]", scheme)
		}
		return Codebook{K: k}, nil
	}
	return nil, fmt.Errorf("quantize: unknown scheme %q (want int8, int4, int4_asym, q8_0, q4_0, fp16 or cluster:K)", scheme)
}

// maxBlock caps int4 block sizes (the file format's limit).
const maxBlock = 1 << 16

// roundEven is round half to even of a float32 value.
func roundEven(x float32) float64 { return math.RoundToEven(float64(x)) }

func clampInt(v float64, lo, hi int) int16 {
	return int16(min(max(v, float64(lo)), float64(hi)))
}

// Int8 is symmetric int8 with one scale per output channel (row) or, with
// PerTensor, one for the whole tensor; zero point 0:
//
//	s = max|w| / 127   (float32; over the row or the tensor)
//	q = clamp(RoundHalfToEven(w / s), −127, 127),   ŵ = float32(q) · s
//
// When max|w| == 0 (an all-zero row) s = 0 and every code is 0. The file
// stores float32 scales and int8 codes (format.Int8). Its codes run on the
// integer GEMM when activations are quantized too.
type Int8 struct {
	PerTensor bool
}

// ID implements Scheme.
func (s Int8) ID() uint8 {
	if s.PerTensor {
		return IDInt8Tensor
	}
	return IDInt8
}

// Name implements Scheme.
func (s Int8) Name() string {
	if s.PerTensor {
		return "int8_tensor"
	}
	return "int8"
}

// String implements Scheme.
func (s Int8) String() string {
	if s.PerTensor {
		return "int8 per-tensor"
	}
	return "int8 per-channel"
}

// Bytes implements Scheme.
func (s Int8) Bytes(rows, cols int) int64 {
	ns := rows
	if s.PerTensor {
		ns = 1
	}
	return 12 + 4*int64(ns) + int64(rows)*int64(cols)
}

// Quantize implements Scheme.
func (s Int8) Quantize(w []float32, rows, cols int) *nn.Quant {
	q := &nn.Quant{Scheme: s.Name(), Bits: 8, Rows: rows, Cols: cols, Block: cols, Codes: make([]int16, rows*cols)}
	scale := func(v []float32) float32 {
		var amax float32
		for _, x := range v {
			amax = max(amax, float32(math.Abs(float64(x))))
		}
		return amax / 127
	}
	if s.PerTensor {
		q.Scales = []float32{scale(w[:rows*cols])}
	} else {
		q.Scales = make([]float32, rows)
		for r := range q.Scales {
			q.Scales[r] = scale(w[r*cols : (r+1)*cols])
		}
	}
	for r := 0; r < rows; r++ {
		sc := q.Scales[0]
		if !s.PerTensor {
			sc = q.Scales[r]
		}
		if sc == 0 {
			continue
		}
		for c := 0; c < cols; c++ {
			i := r*cols + c
			q.Codes[i] = clampInt(roundEven(w[i]/sc), -127, 127)
		}
	}
	return q
}

// Int4 is 4-bit quantization in blocks of Block values along each row (the
// last block of a row is padded with zeros: rows need not be a multiple of
// the block). Symmetric:
//
//	s = fp16(max|w| / 7),  q = clamp(RoundHalfToEven(w / s), −8, 7),  ŵ = float32(q) · s
//
// Asymmetric (Asym), over the block's range [lo, hi]:
//
//	s = fp16((hi − lo) / 15), m = fp16(lo)
//	q = clamp(RoundHalfToEven((w − m) / s), 0, 15),  ŵ = float32(float32(q) · s) + m
//
// Scales (and mins) are rounded to float16 before the codes are computed,
// so the file stores exactly what the model uses. When s rounds to 0 (an
// all-zero block, or min == max) every code is 0 (ŵ = 0, or ŵ = m). The
// file packs two codes per byte, low nibble first (format.Int4).
type Int4 struct {
	Block int // values per block; ≥ 2 and even
	Asym  bool
}

// ID implements Scheme.
func (s Int4) ID() uint8 {
	if s.Asym {
		return IDInt4Asym
	}
	return IDInt4
}

// Name implements Scheme.
func (s Int4) Name() string {
	if s.Asym {
		return "int4_asym"
	}
	return "int4"
}

// String implements Scheme.
func (s Int4) String() string {
	a := "sym"
	if s.Asym {
		a = "asym"
	}
	if s.Block == 0 {
		return "int4 per-channel " + a
	}
	return fmt.Sprintf("int4 block %d %s", s.Block, a)
}

// block is the block size for a row of cols values (per channel when 0).
func (s Int4) block(cols int) int {
	if s.Block > 0 {
		return s.Block
	}
	return cols + cols%2
}

// Bytes implements Scheme.
func (s Int4) Bytes(rows, cols int) int64 {
	b := s.block(cols)
	per := int64(2 + b/2)
	if s.Asym {
		per += 2
	}
	return 8 + int64(rows)*int64((cols+b-1)/b)*per
}

// Quantize implements Scheme.
func (s Int4) Quantize(w []float32, rows, cols int) *nn.Quant {
	b := s.block(cols)
	gpr := (cols + b - 1) / b
	q := &nn.Quant{Scheme: s.Name(), Bits: 4, Rows: rows, Cols: cols, Block: b,
		Codes: make([]int16, rows*cols), Scales: make([]float32, rows*gpr)}
	if s.Asym {
		q.Mins = make([]float32, rows*gpr)
	}
	for r := 0; r < rows; r++ {
		for g := 0; g < gpr; g++ {
			lo, hi := r*cols+g*b, r*cols+min((g+1)*b, cols)
			v := w[lo:hi]
			codes := q.Codes[lo:hi]
			if !s.Asym {
				var amax float32
				for _, x := range v {
					amax = max(amax, float32(math.Abs(float64(x))))
				}
				sc := fp16Round(amax / 7)
				q.Scales[r*gpr+g] = sc
				if sc == 0 {
					continue
				}
				for i, x := range v {
					codes[i] = clampInt(roundEven(x/sc), -8, 7)
				}
				continue
			}
			vmin, vmax := v[0], v[0]
			for _, x := range v {
				vmin, vmax = min(vmin, x), max(vmax, x)
			}
			m := fp16Round(vmin)
			sc := fp16Round((vmax - vmin) / 15)
			q.Scales[r*gpr+g], q.Mins[r*gpr+g] = sc, m
			if sc == 0 {
				continue
			}
			for i, x := range v {
				codes[i] = clampInt(roundEven((x-m)/sc), 0, 15)
			}
		}
	}
	return q
}

// QK is the block size of ggml's Q8_0 and Q4_0 formats.
const QK = 32

// Q8_0 is ggml's Q8_0 block format (quantize_row_q8_0_ref), byte for byte:
// blocks of 32 values, each stored as a float16 scale d then 32 int8 codes
// (34 bytes):
//
//	d = max|w| / 127,  id = 1/d (0 when d == 0)
//	q = roundf(w · id)  (round half away from zero, w·id in float32)
//	ŵ = float32(q) · fp16(d)
//
// Rows are padded with zeros to a multiple of 32 (code 0).
type Q8_0 struct{}

// ID implements Scheme.
func (Q8_0) ID() uint8 { return IDQ8_0 }

// Name implements Scheme.
func (Q8_0) Name() string { return "q8_0" }

// String implements Scheme.
func (Q8_0) String() string { return "q8_0 (ggml, block 32)" }

// Bytes implements Scheme.
func (Q8_0) Bytes(rows, cols int) int64 { return int64(rows) * int64((cols+QK-1)/QK) * 34 }

// Quantize implements Scheme.
func (s Q8_0) Quantize(w []float32, rows, cols int) *nn.Quant {
	gpr := (cols + QK - 1) / QK
	q := &nn.Quant{Scheme: s.Name(), Bits: 8, Rows: rows, Cols: cols, Block: QK,
		Codes: make([]int16, rows*cols), Scales: make([]float32, rows*gpr)}
	for r := 0; r < rows; r++ {
		for g := 0; g < gpr; g++ {
			lo, hi := r*cols+g*QK, r*cols+min((g+1)*QK, cols)
			var amax float32
			for _, x := range w[lo:hi] {
				amax = max(amax, float32(math.Abs(float64(x))))
			}
			d := amax / 127
			var id float32
			if d != 0 {
				id = 1 / d
			}
			q.Scales[r*gpr+g] = fp16Round(d)
			for i := lo; i < hi; i++ {
				q.Codes[i] = int16(math.Round(float64(w[i] * id)))
			}
		}
	}
	return q
}

// Q4_0 is ggml's Q4_0 block format (quantize_row_q4_0_ref), byte for byte:
// blocks of 32 values, each stored as a float16 scale d then 16 bytes whose
// low nibbles hold values 0..15 and high nibbles values 16..31 of the
// block (18 bytes):
//
//	m = the value of largest magnitude (signed; the first on ties)
//	d = m / −8,  id = 1/d (0 when d == 0)
//	n = min(15, int8(w·id + 8.5))   (float32, truncation),  ŵ = float32(n − 8) · fp16(d)
//
// nn.Quant holds the codes n − 8 in [−8, 7]. Rows are padded with zeros
// to a multiple of 32 (nibble 8).
type Q4_0 struct{}

// ID implements Scheme.
func (Q4_0) ID() uint8 { return IDQ4_0 }

// Name implements Scheme.
func (Q4_0) Name() string { return "q4_0" }

// String implements Scheme.
func (Q4_0) String() string { return "q4_0 (ggml, block 32)" }

// Bytes implements Scheme.
func (Q4_0) Bytes(rows, cols int) int64 { return int64(rows) * int64((cols+QK-1)/QK) * 18 }

// Quantize implements Scheme.
func (s Q4_0) Quantize(w []float32, rows, cols int) *nn.Quant {
	gpr := (cols + QK - 1) / QK
	q := &nn.Quant{Scheme: s.Name(), Bits: 4, Rows: rows, Cols: cols, Block: QK,
		Codes: make([]int16, rows*cols), Scales: make([]float32, rows*gpr)}
	for r := 0; r < rows; r++ {
		for g := 0; g < gpr; g++ {
			lo, hi := r*cols+g*QK, r*cols+min((g+1)*QK, cols)
			var amax, m float32
			for _, x := range w[lo:hi] {
				if a := float32(math.Abs(float64(x))); amax < a {
					amax, m = a, x
				}
			}
			d := m / -8
			var id float32
			if d != 0 {
				id = 1 / d
			}
			q.Scales[r*gpr+g] = fp16Round(d)
			for i := lo; i < hi; i++ {
				n := int8(float32(w[i]*id) + 8.5)
				q.Codes[i] = int16(min(15, n)) - 8
			}
		}
	}
	return q
}

// FP16 stores weights as IEEE 754 binary16 (round to nearest even). It has
// no codes: Quantize returns an nn.Quant whose Codes are the float16 bit
// patterns, and the pass keeps only the rounded float32 values (the file
// stores them as format.Float16).
type FP16 struct{}

// ID implements Scheme.
func (FP16) ID() uint8 { return IDFP16 }

// Name implements Scheme.
func (FP16) Name() string { return "fp16" }

// String implements Scheme.
func (FP16) String() string { return "fp16" }

// Bytes implements Scheme.
func (FP16) Bytes(rows, cols int) int64 { return 2 * int64(rows) * int64(cols) }

// Quantize implements Scheme.
func (s FP16) Quantize(w []float32, rows, cols int) *nn.Quant {
	q := &nn.Quant{Scheme: s.Name(), Bits: 16, Rows: rows, Cols: cols, Block: cols, Codes: make([]int16, rows*cols)}
	for i, x := range w[:rows*cols] {
		q.Codes[i] = int16(fp16Bits(x))
	}
	return q
}

// Dequantize returns the values of an FP16 quant.
func (FP16) Dequantize(q *nn.Quant, dst []float32) {
	for i, c := range q.Codes {
		dst[i] = fp16From(uint16(c))
	}
}

// Codebook is k-means weight sharing (Deep Compression): the tensor's
// weights are clustered into K centroids and each weight is replaced by
// the index of its centroid, ⌈log2 K⌉ bits:
//
//	init:    c_k = lo + k·(hi − lo)/(K − 1)   (linear, over [min w, max w])
//	assign:  code(w) = argmin_k |w − c_k|    (the lower index on ties)
//	update:  c_k = mean of the weights assigned to k (float64 sums; an
//	         empty cluster keeps its centroid)
//
// repeated until no assignment changes or Iters rounds (default 30). When
// min == max every centroid equals that value. The file stores K float32
// centroids and the packed indices (format.Codebook).
//
// Pruned tensors keep their zeros: when some but not all weights are
// exactly zero and K ≥ 3, centroid 0 is reserved as exactly 0 for them and
// only the non-zero weights are clustered, into the other K − 1 centroids
// (Deep Compression clusters the surviving weights only).
type Codebook struct {
	K     int // centroids, 2..256
	Iters int // Lloyd iterations (30 when 0)
}

// ID implements Scheme.
func (Codebook) ID() uint8 { return IDCodebook }

// Name implements Scheme.
func (Codebook) Name() string { return "codebook" }

// String implements Scheme.
func (s Codebook) String() string { return fmt.Sprintf("codebook K=%d (%d-bit)", s.K, s.bits()) }

func (s Codebook) bits() int {
	b := 1
	for 1<<b < s.K {
		b++
	}
	return b
}

// Bytes implements Scheme.
func (s Codebook) Bytes(rows, cols int) int64 {
	return 4 + 4*int64(s.K) + (int64(rows)*int64(cols)*int64(s.bits())+7)/8
}

// Quantize implements Scheme.
func (s Codebook) Quantize(w []float32, rows, cols int) *nn.Quant {
	n := rows * cols
	w = w[:n]
	if nz := countNonZero(w); s.K >= 3 && nz > 0 && nz < n {
		vals := make([]float32, 0, nz)
		for _, x := range w {
			if x != 0 {
				vals = append(vals, x)
			}
		}
		sub := Codebook{K: s.K - 1, Iters: s.Iters}.Quantize(vals, 1, nz)
		q := &nn.Quant{Scheme: s.Name(), Bits: s.bits(), Rows: rows, Cols: cols, Block: cols,
			Codes: make([]int16, n), Codebook: append([]float32{0}, sub.Codebook...)}
		j := 0
		for i, x := range w {
			if x != 0 {
				q.Codes[i] = sub.Codes[j] + 1
				j++
			}
		}
		return q
	}
	k := s.K
	iters := s.Iters
	if iters == 0 {
		iters = 30
	}
	q := &nn.Quant{Scheme: s.Name(), Bits: s.bits(), Rows: rows, Cols: cols, Block: cols,
		Codes: make([]int16, n), Codebook: make([]float32, k)}
	lo, hi := w[0], w[0]
	for _, x := range w {
		lo, hi = min(lo, x), max(hi, x)
	}
	c := make([]float64, k)
	for i := range c {
		c[i] = float64(lo) + float64(i)*(float64(hi)-float64(lo))/float64(k-1)
	}
	for i := range q.Codebook {
		q.Codebook[i] = float32(c[i])
	}
	assign := func() bool {
		idx := sortedIndex(q.Codebook)
		changed := false
		for i, x := range w {
			code := nearest(q.Codebook, idx, x)
			if code != q.Codes[i] {
				q.Codes[i] = code
				changed = true
			}
		}
		return changed
	}
	assign()
	sum := make([]float64, k)
	cnt := make([]int, k)
	for it := 0; it < iters; it++ {
		clear(sum)
		clear(cnt)
		for i, x := range w {
			sum[q.Codes[i]] += float64(x)
			cnt[q.Codes[i]]++
		}
		for j := range q.Codebook {
			if cnt[j] > 0 {
				q.Codebook[j] = float32(sum[j] / float64(cnt[j]))
			}
		}
		if !assign() {
			break
		}
	}
	return q
}

func countNonZero(w []float32) int {
	n := 0
	for _, x := range w {
		if x != 0 {
			n++
		}
	}
	return n
}

// sortedIndex returns the centroid indices ordered by value (then index).
func sortedIndex(c []float32) []int {
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(c[a], c[b]) })
	return idx
}

// nearest returns the index of the centroid closest to x (the lower index
// on ties), by binary search over idx, the centroids in value order.
func nearest(c []float32, idx []int, x float32) int16 {
	p, _ := slices.BinarySearchFunc(idx, x, func(j int, x float32) int { return cmp.Compare(c[j], x) })
	best, bd := -1, float32(math.Inf(1))
	for _, t := range []int{p - 1, p} {
		if t < 0 || t >= len(idx) {
			continue
		}
		j := idx[t]
		d := float32(math.Abs(float64(x - c[j])))
		if d < bd || (d == bd && j < best) {
			best, bd = j, d
		}
	}
	// Equal centroids: the lowest index among those with the same value.
	for t := p - 1; t >= 0 && c[idx[t]] == c[best]; t-- {
		best = min(best, idx[t])
	}
	if best < 0 {
		best = 0
	}
	return int16(best)
}

// Dequantize writes the values of q to dst, for any scheme.
func Dequantize(q *nn.Quant, dst []float32) {
	if q.Scheme == "fp16" {
		FP16{}.Dequantize(q, dst)
		return
	}
	q.Dequantize(dst)
}
