package kernel

import (
	"math"
	"runtime"
	"sync"
)

// int8 GEMM for quantized dense layers.
//
// Exactness scheme. The AVX2 path does not use VPMADDUBSW, whose int16
// intermediate saturates for u8·s8 pairs (255·(−128)·2 = −65280). Instead
// both operands are widened to int16 (activations zero-extended when A is
// packed, weights sign-extended with VPMOVSXBW as they are loaded) and
// multiplied with VPMADDWD, which adds two int16·int16 products into an
// int32 lane. Such a pair sum is at most 2·255·128 = 65280 in magnitude, so
// no step saturates, and all further accumulation is in int32 with
// two's-complement wraparound, exactly like the Go reference. The result is
// therefore bit-exact for every input, including all-extreme ones (and even
// when k is so large that the int32 result wraps, since both paths compute
// the same value modulo 2³²). On CPUs without VNNI, VPMADDWD costs the same
// number of multiply-port slots per multiply-add as VPMADDUBSW followed by
// VPMADDWD with ones, so exactness costs no arithmetic throughput; the
// weights stay int8 in memory.

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
// panel, for each pair of k indices (2t, 2t+1), the 16 channels' two weights
// are stored adjacent: data[panel·kp·16 + t·32 + 2c + e] = W[16·panel+c, 2t+e].
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
		base := q * kp * i8NR
		row := w[j*k : j*k+k]
		var s int32
		for e, v := range row {
			p.data[base+(e>>1)*2*i8NR+2*c+(e&1)] = v
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
// exactness note at the top of this file). acc, shape (m, N) with leading
// dimension ldc, is overwritten; the padding between its rows is not
// touched. Large problems are split over GOMAXPROCS goroutines. It panics
// if a slice is too short for its shape.
func GemmU8I8(m int, a []uint8, lda int, za int32, p *PackedI8, acc []int32, ldc int) {
	gemmU8I8(m, a, lda, za, p, acc, ldc, runtime.GOMAXPROCS(0))
}

func checkGemmU8I8(m int, a []uint8, lda int, p *PackedI8, acc []int32, ldc int) {
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
		if len(acc) < (m-1)*ldc+p.n {
			panic("kernel: acc too short")
		}
	}
}

// i8Pool and i8BufPool recycle scratch between GemmU8I8 calls (zero-point
// corrections; activation rows widened to int16 pairs), which matters for
// small batches.
var (
	i8Pool    = sync.Pool{New: func() any { return new([]int32) }}
	i8BufPool = sync.Pool{New: func() any { return new([]uint32) }}
)

// scratch takes a slice with room for n entries from pool; give it back
// with pool.Put.
func scratch[T any](pool *sync.Pool, n int) *[]T {
	sp := pool.Get().(*[]T)
	if cap(*sp) < n {
		*sp = make([]T, n)
	}
	*sp = (*sp)[:n]
	return sp
}

// i8MinParallel is the number of multiply-adds below which GemmU8I8 stays
// on the calling goroutine.
const i8MinParallel = 1 << 18

func gemmU8I8(m int, a []uint8, lda int, za int32, p *PackedI8, acc []int32, ldc int, procs int) {
	checkGemmU8I8(m, a, lda, p, acc, ldc)
	if m == 0 || p.n == 0 {
		return
	}
	if p.k == 0 {
		for i := 0; i < m; i++ {
			clear(acc[i*ldc : i*ldc+p.n])
		}
		return
	}
	cp := scratch[int32](&i8Pool, p.panels*i8NR)
	defer i8Pool.Put(cp)
	corr := (*cp)[:p.panels*i8NR]
	for j := range corr {
		corr[j] = -za * p.rowSum[j]
	}
	work := m * p.n * p.k
	if procs <= 1 || work < i8MinParallel {
		i8Rect(0, m, 0, p.panels, a, lda, p, corr, acc, ldc)
		return
	}
	var wg sync.WaitGroup
	rowBlocks := (m + i8MR - 1) / i8MR
	if rowBlocks >= 2*procs || rowBlocks >= p.panels {
		// Split the rows, in whole micro-kernel tiles.
		per := (rowBlocks + procs - 1) / procs
		for r0 := 0; r0 < m; r0 += per * i8MR {
			r1 := min(m, r0+per*i8MR)
			wg.Go(func() { i8Rect(r0, r1, 0, p.panels, a, lda, p, corr, acc, ldc) })
		}
	} else {
		// Few rows (e.g. batch 1): split the output channels.
		per := (p.panels + procs - 1) / procs
		for q0 := 0; q0 < p.panels; q0 += per {
			q1 := min(p.panels, q0+per)
			wg.Go(func() { i8Rect(0, m, q0, q1, a, lda, p, corr, acc, ldc) })
		}
	}
	wg.Wait()
}

// i8Rect computes rows [r0,r1) and panels [q0,q1) of the product at the
// active level.
func i8Rect(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, corr []int32, acc []int32, ldc int) {
	if level == AVX2 && hasAsm {
		i8RectAVX2(r0, r1, q0, q1, a, lda, p, corr, acc, ldc)
		return
	}
	i8RectGeneric(r0, r1, q0, q1, a, lda, p, corr, acc, ldc)
}

// i8RectGeneric is the portable path: it reads the packed panels directly,
// one activation row at a time.
func i8RectGeneric(r0, r1, q0, q1 int, a []uint8, lda int, p *PackedI8, corr []int32, acc []int32, ldc int) {
	k := p.k
	for i := r0; i < r1; i++ {
		arow := a[i*lda : i*lda+k]
		for q := q0; q < q1; q++ {
			var s [i8NR]int32
			pw := p.data[q*p.kp*i8NR : (q+1)*p.kp*i8NR]
			t := 0
			for ; 2*t+1 < k; t++ {
				a0, a1 := int32(arow[2*t]), int32(arow[2*t+1])
				ws := (*[2 * i8NR]int8)(pw[t*2*i8NR:])
				for c := range s {
					s[c] += a0*int32(ws[2*c]) + a1*int32(ws[2*c+1])
				}
			}
			if 2*t < k {
				a0 := int32(arow[2*t])
				ws := (*[2 * i8NR]int8)(pw[t*2*i8NR:])
				for c := range s {
					s[c] += a0 * int32(ws[2*c])
				}
			}
			i8StoreGeneric(acc[i*ldc:], s[:], corr, q, p.n)
		}
	}
}

// i8StoreGeneric writes the valid channels of panel q's sums s, plus the
// zero-point correction, to the accumulator row accRow.
func i8StoreGeneric(accRow []int32, s []int32, corr []int32, q, n int) {
	j0 := q * i8NR
	nc := min(i8NR, n-j0)
	out := accRow[j0 : j0+nc]
	for c := range out {
		out[c] = s[c] + corr[j0+c]
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
	z := float64(zero)
	for i, v := range x {
		q := z
		if v == v {
			q = math.RoundToEven(float64(v/scale)) + z
		}
		dst[i] = uint8(min(max(q, 0), 255))
	}
}
