package kernel

import (
	"math"
	"runtime"
	"sync"
)

// int8 GEMM for quantized dense layers.
//
// Exactness scheme. The AVX2 kernels use VPMADDUBSW, which multiplies
// uint8 activations with int8 weights and adds adjacent products into a
// saturating int16, then VPMADDWD with int16 ones to add those pairs into
// int32. VPMADDUBSW is exact as long as every activation byte is at most
// 127: |a1·w1 + a2·w2| ≤ 2·127·128 = 32512 < 32767. Static activation
// calibration (quantize.Quantize) maps the calibrated range onto 0..127 for
// this reason, so rows of activations normally take this path straight from
// the caller's memory. Any uint8 input stays exact: a block of rows that
// holds a byte ≥ 128 is split as a = (a & 127) + 128·(a >> 7) and run twice
// (both parts are 7-bit), and the two int32 results combined. All further
// accumulation is int32 with two's-complement wraparound, exactly like the
// Go reference, so every level gives the bit-identical result for every
// input (even when k is so large that the int32 result wraps).
//
// The VNNI kernels (AVX512-VNNI on zmm, AVX-VNNI on ymm; int8vnni_amd64.s)
// use VPDPBUSD, which adds the four u8×s8 products of a dword into the
// int32 lane without any intermediate saturation, so they read every input
// in place, with no 7-bit split, and are exact too.

const (
	i8NR = 16 // output channels per packed panel (two 8-lane int32 vectors)
	i8MR = 6  // activation rows per AVX2 micro-kernel tile
)

// PackedI8 holds int8 weights W, shape (n, k) row-major (PyTorch layout: one
// row per output channel, symmetric quantization with zero point 0),
// rearranged for the int8 GEMM kernels, together with the per-channel sums
// rowSum[j] = Σ_p W[j,p] used to remove the activation zero point.
//
// Layout: the n channels are cut into panels of 16 (the last one padded with
// zero channels) and k is padded with zeros to a multiple of 4. Inside a
// panel, for each quad t of k indices (4t..4t+3), the weights of channels
// 0-7 come first, four bytes per channel, then those of channels 8-15:
// data[panel·kp·16 + t·64 + 4c + e] = W[16·panel+c, 4t+e] (c < 16, e < 4),
// so one 32-byte load holds one quad of 8 channels.
// A PackedI8 is immutable after PackI8 and safe for concurrent use.
type PackedI8 struct {
	n, k   int
	kp     int // k rounded up to a multiple of 4
	panels int
	data   []int8
	rowSum []int32 // length panels·16, zero for padding channels
}

// N returns the number of output channels (rows of W).
func (p *PackedI8) N() int { return p.n }

// K returns the reduction length (columns of W).
func (p *PackedI8) K() int { return p.k }

// RowSums returns Σ_p W[j,p] for each output channel j (length N). The
// slice is shared; do not modify it.
func (p *PackedI8) RowSums() []int32 { return p.rowSum[:p.n] }

// PackI8 packs the int8 weight matrix w, shape (n, k) row-major, for
// GemmU8I8. w is not retained. It panics if len(w) < n·k or a dimension is
// negative.
func PackI8(w []int8, n, k int) *PackedI8 {
	if n < 0 || k < 0 {
		panic("kernel: negative dimension")
	}
	if len(w) < n*k {
		panic("kernel: PackI8 weights too short")
	}
	kp := (k + 3) &^ 3
	panels := (n + i8NR - 1) / i8NR
	p := &PackedI8{n: n, k: k, kp: kp, panels: panels,
		data:   make([]int8, panels*kp*i8NR),
		rowSum: make([]int32, panels*i8NR)}
	for j := 0; j < n; j++ {
		q, c := j/i8NR, j%i8NR
		base := q*kp*i8NR + 4*c
		row := w[j*k : j*k+k]
		var s int32
		for e, v := range row {
			p.data[base+(e>>2)*4*i8NR+(e&3)] = v
			s += int32(v)
		}
		p.rowSum[j] = s
	}
	return p
}

// GemmU8I8 computes the int32 accumulators of a quantized dense layer:
//
//	acc[i·ldc+j] = Σ_t (A[i·lda+t] − za)·W[j,t]
//	             = Σ_t A[i·lda+t]·W[j,t] − za·rowSum[j]
//
// for 0 ≤ i < m, 0 ≤ j < p.N(), summing over 0 ≤ t < p.K(), with uint8
// activations A, shape (m, K) row-major with leading dimension lda and zero
// point za, and the int8 weights W packed by PackI8 (rowSum = p.RowSums()).
// All arithmetic is int32 with two's-complement wraparound, so every kernel
// level gives the bit-identical result (no saturation anywhere; see the
// exactness note at the top of this file). Activations ≤ 127 are the fast
// case. acc, shape (m, N) with leading dimension ldc, is overwritten; the
// padding between its rows is not touched. Large problems are split over
// GOMAXPROCS goroutines. It panics if a slice is too short for its shape.
func GemmU8I8(m int, a []uint8, lda int, za int32, p *PackedI8, acc []int32, ldc int) {
	gemmU8I8(m, a, lda, za, p, acc, ldc, runtime.GOMAXPROCS(0))
}

// GemmU8I8F32 is GemmU8I8 followed by DequantizeF32, fused (the int32
// accumulators never reach memory):
//
//	out[i, j] = float32(float32(acc[i, j]) · float32(scaleA·scaleW[j])) + bias[j]
//	if relu:    out[i, j] = max(out[i, j], 0)
//
// with acc[i, j] as computed by GemmU8I8; the result is bit-identical to
// calling the two. scaleW has n entries or 1; bias is nil or has n entries.
// out has leading dimension ldo ≥ n.
func GemmU8I8F32(m int, a []uint8, lda int, za int32, p *PackedI8, scaleA float32, scaleW, bias []float32, relu bool, out []float32, ldo int) {
	gemmU8I8F32(m, a, lda, za, p, scaleA, scaleW, bias, relu, out, ldo, runtime.GOMAXPROCS(0))
}

func checkGemmU8I8(m int, a []uint8, lda int, p *PackedI8, acc int, ldc int) {
	if m < 0 {
		panic("kernel: negative dimension")
	}
	if m == 0 {
		return
	}
	if p.k > 0 {
		if lda < p.k {
			panic("kernel: leading dimension of A too small")
		}
		if len(a) < (m-1)*lda+p.k {
			panic("kernel: A too short")
		}
	}
	if p.n > 0 {
		if ldc < p.n {
			panic("kernel: leading dimension of acc too small")
		}
		if acc < (m-1)*ldc+p.n {
			panic("kernel: acc too short")
		}
	}
}

// i8Out says where and how a GEMM writes its results: int32 accumulators
// (acc, ldc) or, when out is not nil, the dequantized float32 values (out,
// ldo) with the padded per-channel vectors scale and bias. corr holds the
// zero-point correction −za·rowSum[j], padded to whole panels.
type i8Out struct {
	acc   []int32
	ldc   int
	out   []float32
	ldo   int
	corr  []int32
	scale []float32
	bias  []float32
	relu  bool
}

// i8Scratch is the per-call scratch of a GEMM, recycled through i8Pool.
type i8Scratch struct {
	o     i8Out
	corr  []int32
	scale []float32
	bias  []float32
}

var i8Pool = sync.Pool{New: func() any { return new(i8Scratch) }}

// i8Grow returns s resliced to n entries, reallocated if too small.
func i8Grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// i8MinParallel is the number of multiply-adds below which GemmU8I8 stays
// on the calling goroutine.
//
// The VNNI kernels are 2-4× faster than VPMADDUBSW, which moves the
// crossover up: i8MinParallelVNNI applies when they run. Measured with
// BenchmarkGemmI8Crossover (AVX512-VNNI, square n³, wall GOP/s
// serial/parallel, two runs) on the shared 2-core AMD EPYC Zen 5 at load
// average 7.4: n=96 307-382/119-250, n=128 416-491/226-418, n=160
// 484-614/443-522, n=192 526-728/469-589. Parallel does not yet win
// reliably at n=192 on a loaded machine; 2^22 multiply-adds (n≈161) leaves
// room for an idle second core. Re-measure on an idle machine.
var (
	i8MinParallel     = 1 << 19
	i8MinParallelVNNI = 1 << 22
)

// i8Setup fills the zero-point correction of s for za and p.
func (s *i8Scratch) setup(za int32, p *PackedI8) {
	s.corr = i8Grow(s.corr, p.panels*i8NR)
	for j, r := range p.rowSum {
		s.corr[j] = -za * r
	}
	s.o = i8Out{corr: s.corr}
}

func gemmU8I8(m int, a []uint8, lda int, za int32, p *PackedI8, acc []int32, ldc int, procs int) {
	checkGemmU8I8(m, a, lda, p, len(acc), ldc)
	if m == 0 || p.n == 0 {
		return
	}
	if p.k == 0 {
		for i := 0; i < m; i++ {
			clear(acc[i*ldc : i*ldc+p.n])
		}
		return
	}
	s := i8Pool.Get().(*i8Scratch)
	defer i8Pool.Put(s)
	s.setup(za, p)
	s.o.acc, s.o.ldc = acc, ldc
	i8Run(m, a, lda, p, &s.o, procs)
}

func gemmU8I8F32(m int, a []uint8, lda int, za int32, p *PackedI8, scaleA float32, scaleW, bias []float32, relu bool, out []float32, ldo int, procs int) {
	checkGemmU8I8(m, a, lda, p, len(out), ldo)
	if m == 0 || p.n == 0 {
		return
	}
	sw := perChannel(scaleW, p.n, "scaleW")
	if bias != nil && len(bias) < p.n {
		panic("kernel: bias must have n entries")
	}
	s := i8Pool.Get().(*i8Scratch)
	defer i8Pool.Put(s)
	s.setup(za, p)
	np := p.panels * i8NR
	s.scale, s.bias = i8Grow(s.scale, np), i8Grow(s.bias, np)
	clear(s.scale[p.n:])
	clear(s.bias)
	for j := range p.n {
		s.scale[j] = scaleA * sw(j)
	}
	if bias != nil {
		copy(s.bias, bias[:p.n])
	}
	s.o.out, s.o.ldo, s.o.scale, s.o.bias, s.o.relu = out, ldo, s.scale, s.bias, relu
	if p.k == 0 {
		// Every accumulator is zero.
		for i := 0; i < m; i++ {
			i8EpilogueGeneric(out[i*ldo:i*ldo+p.n], make([]int32, p.n), &s.o, 0)
		}
		return
	}
	i8Run(m, a, lda, p, &s.o, procs)
}

// i8Run computes all m rows and panels of p into o, on procs goroutines
// for large problems.
func i8Run(m int, a []uint8, lda int, p *PackedI8, o *i8Out, procs int) {
	work := m * p.n * p.k
	minPar := i8MinParallel
	if use.vnni512 || use.avxvnni {
		minPar = i8MinParallelVNNI
	}
	if procs <= 1 || work < minPar {
		i8Rect(0, m, 0, p.panels, a, lda, p, o)
		return
	}
	var wg sync.WaitGroup
	rowBlocks := (m + i8MR - 1) / i8MR
	if rowBlocks >= 2*procs || rowBlocks >= p.panels {
		// Split the rows, in whole micro-kernel tiles.
		per := (rowBlocks + procs - 1) / procs
		for r0 := 0; r0 < m; r0 += per * i8MR {
			r1 := min(m, r0+per*i8MR)
			wg.Go(func() { i8Rect(r0, r1, 0, p.panels, a, lda, p, o) })
		}
	} else {
		// Few rows (e.g. batch 1): split the output channels.
		per := (p.panels + procs - 1) / procs
		for q0 := 0; q0 < p.panels; q0 += per {
			q1 := min(p.panels, q0+per)
			wg.Go(func() { i8Rect(0, m, q0, q1, a, lda, p, o) })
		}
	}
	wg.Wait()
}

// i8Rect computes rows [r0,r1) and panels [q0,q1) of the product at the
// active level.
func i8Rect(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, o *i8Out) {
	switch {
	case use.vnni512:
		i8RectVNNI(r0, r1, q0, q1, a, lda, p, o, &i8VNNI512, true)
		return
	case use.avxvnni:
		i8RectVNNI(r0, r1, q0, q1, a, lda, p, o, &i8AVXVNNI, false)
		return
	}
	if use.avx2 {
		i8RectAVX2(r0, r1, q0, q1, a, lda, p, o)
		return
	}
	i8RectGeneric(r0, r1, q0, q1, a, lda, p, o)
}

// i8RectGeneric is the portable path: it reads the packed panels directly,
// one activation row at a time.
func i8RectGeneric(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, o *i8Out) {
	k := p.k
	var s [i8NR]int32
	for i := r0; i < r1; i++ {
		arow := a[i*lda : i*lda+k]
		for q := q0; q < q1; q++ {
			s = [i8NR]int32{}
			pw := p.data[q*p.kp*i8NR : (q+1)*p.kp*i8NR]
			for t, v := range arow {
				av := int32(v)
				ws := pw[(t>>2)*4*i8NR+(t&3):]
				for c := range s {
					s[c] += av * int32(ws[4*c])
				}
			}
			for c := range s {
				s[c] += o.corr[q*i8NR+c]
			}
			o.store(i, q, s[:], p.n)
		}
	}
}

// store writes the valid channels of panel q's accumulators s (zero-point
// correction included) for row i.
func (o *i8Out) store(i, q int, s []int32, n int) {
	j0 := q * i8NR
	nc := min(i8NR, n-j0)
	if o.out == nil {
		copy(o.acc[i*o.ldc+j0:i*o.ldc+j0+nc], s)
		return
	}
	i8EpilogueGeneric(o.out[i*o.ldo+j0:i*o.ldo+j0+nc], s, o, j0)
}

// i8EpilogueGeneric is DequantizeF32's formula for one row piece starting
// at channel j0.
func i8EpilogueGeneric(out []float32, s []int32, o *i8Out, j0 int) {
	sc, b := o.scale[j0:j0+len(out)], o.bias[j0:j0+len(out)]
	for c := range out {
		x := float32(float32(s[c])*sc[c]) + b[c]
		if o.relu && !(x > 0) {
			x = 0
		}
		out[c] = x
	}
}

// gemmU8I8Ref is the specification: a plain triple loop over the unpacked
// weights w, shape (n, k), in int32 with wraparound.
func gemmU8I8Ref(m, n, k int, a []uint8, lda int, za int32, w []int8, acc []int32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s int32
			for p := 0; p < k; p++ {
				s += (int32(a[i*lda+p]) - za) * int32(w[j*k+p])
			}
			acc[i*ldc+j] = s
		}
	}
}

// perChannel returns v[j] when v has one entry per channel and v[0] when it
// has a single (per-tensor) entry.
func perChannel[T any](v []T, n int, what string) func(j int) T {
	switch len(v) {
	case n:
		return func(j int) T { return v[j] }
	case 1:
		return func(int) T { return v[0] }
	}
	panic("kernel: " + what + " must have 1 or n entries")
}

func checkEpilogue(m, n int, lacc, ldc, lout, ldo int) {
	if m < 0 || n < 0 {
		panic("kernel: negative dimension")
	}
	if m == 0 || n == 0 {
		return
	}
	if ldc < n || lacc < (m-1)*ldc+n {
		panic("kernel: acc too short for its shape")
	}
	if ldo < n || lout < (m-1)*ldo+n {
		panic("kernel: out too short for its shape")
	}
}

// DequantizeF32 turns the (m, n) int32 accumulators acc (leading dimension
// ldc) of a quantized dense layer into float32 outputs (leading dimension
// ldo):
//
//	s_j         = float32(scaleA · scaleW[j])
//	out[i, j]   = float32(float32(acc[i, j]) · s_j) + bias[j]
//	if relu:      out[i, j] = max(out[i, j], 0)
//
// with each operation rounded to float32 separately (no fused multiply-add),
// so the result is the same on every platform. float32(acc) is exact while
// |acc| < 2²⁴. scaleW may have n entries (per channel) or 1 (per tensor);
// bias may be nil (zero), or have n entries.
func DequantizeF32(m, n int, acc []int32, ldc int, scaleA float32, scaleW []float32, bias []float32, relu bool, out []float32, ldo int) {
	checkEpilogue(m, n, len(acc), ldc, len(out), ldo)
	if m == 0 || n == 0 {
		return
	}
	sw := perChannel(scaleW, n, "scaleW")
	s := make([]float32, n)
	b := make([]float32, n)
	for j := range s {
		s[j] = scaleA * sw(j)
	}
	if bias != nil {
		if len(bias) < n {
			panic("kernel: bias must have n entries")
		}
		copy(b, bias)
	}
	for i := 0; i < m; i++ {
		ar := acc[i*ldc : i*ldc+n]
		or := out[i*ldo : i*ldo+n]
		for j, v := range ar {
			x := float32(float32(v)*s[j]) + b[j]
			if relu && !(x > 0) {
				x = 0
			}
			or[j] = x
		}
	}
}

// RequantizeU8 turns the (m, n) int32 accumulators acc (leading dimension
// ldc) into the uint8 activations of the next quantized layer (leading
// dimension ldo):
//
//	v         = float64(acc[i, j] + bias[j]) · float64(multiplier[j])
//	q         = RoundHalfToEven(v) + zOut
//	if relu:    q = max(q, zOut)
//	out[i, j] = clamp(q, 0, 255)
//
// where multiplier[j] = scaleA·scaleW[j]/scaleOut is the real rescale factor
// and bias[j] is the bias quantized with scale scaleA·scaleW[j] (the int32
// sum wraps on overflow). multiplier may have n entries or 1; bias may be nil
// (zero) or have n entries.
func RequantizeU8(m, n int, acc []int32, ldc int, multiplier []float32, bias []int32, zOut int32, relu bool, out []uint8, ldo int) {
	checkEpilogue(m, n, len(acc), ldc, len(out), ldo)
	if m == 0 || n == 0 {
		return
	}
	mu := perChannel(multiplier, n, "multiplier")
	mv := make([]float64, n)
	b := make([]int32, n)
	for j := range mv {
		mv[j] = float64(mu(j))
	}
	if bias != nil {
		if len(bias) < n {
			panic("kernel: bias must have n entries")
		}
		copy(b, bias)
	}
	lo := 0.0
	if relu {
		lo = max(0, float64(zOut))
	}
	for i := 0; i < m; i++ {
		ar := acc[i*ldc : i*ldc+n]
		or := out[i*ldo : i*ldo+n]
		for j, v := range ar {
			q := math.RoundToEven(float64(v+b[j])*mv[j]) + float64(zOut)
			q = min(max(q, lo), 255)
			or[j] = uint8(q)
		}
	}
}

// QuantizeU8 quantizes float32 activations to uint8 with the given scale and
// zero point:
//
//	dst[i] = clamp(RoundHalfToEven(x[i] / scale) + zero, 0, 255)
//
// (round half to even, like PyTorch's quantize_per_tensor and
// std::nearbyint; the division is done in float32). NaN maps to zero (then
// clamped), ±Inf to 0 or 255. It panics if len(dst) < len(x) or scale is
// not positive.
func QuantizeU8(x []float32, scale float32, zero int32, dst []uint8) {
	if len(dst) < len(x) {
		panic("kernel: QuantizeU8 dst too short")
	}
	if !(scale > 0) {
		panic("kernel: QuantizeU8 scale must be positive")
	}
	i0 := 0
	if zero > -(1<<20) && zero < 1<<20 {
		// The assembly adds zero in float32, exact for such zero points
		// (and any rounding there happens far outside [0, 255]).
		i0 = quantizeU8Fast(x, scale, zero, dst)
	}
	quantizeU8Ref(x[i0:], scale, zero, dst[i0:])
}

// quantizeU8Ref is QuantizeU8's formula, one value at a time.
func quantizeU8Ref(x []float32, scale float32, zero int32, dst []uint8) {
	z := float64(zero)
	for i, v := range x {
		q := z
		if v == v {
			q = math.RoundToEven(float64(v/scale)) + z
		}
		dst[i] = uint8(min(max(q, 0), 255))
	}
}
