package nn

import (
	"math"
	"sync"

	"github.com/shrink-ml/shrink/nn/kernel"
)

// int8Path is the integer inference path of a dense or convolution layer
// whose weight holds symmetric int8 codes with one scale per output channel
// (or one per tensor) and whose input activations are quantized (Quant.Act
// static or dynamic):
//
//	xq  = QuantizeU8(x, sA, zA)                     uint8
//	acc = Σ_t (xq[i,t] − zA) · Wq[j,t]              int32 (kernel.GemmU8I8)
//	y   = float32(float32(acc) · float32(sA·sW[j])) + b[j], then ReLU if fused
//
// (kernel.DequantizeF32, fused into the GEMM). The codes span 0..255, but
// static calibration (quantize.ActParams7) maps the calibrated range onto
// 0..127 only: q = clamp(RoundHalfToEven(x/sA) + zA, 0, 255) with
// sA = (hi' − lo')/127 and 0 ≤ zA ≤ 127, so codes above 127 appear only for
// inputs beyond the calibrated maximum (they keep up to twice the range
// instead of clipping). The AVX2 kernel multiplies 7-bit codes with
// VPMADDUBSW without saturation, and runs blocks of rows holding a larger
// code in two exact passes, so every code gives the bit-exact result. In dynamic mode (sA, zA) come from ActParams over
// the range of each call's input. The weights are packed once, at Build.
type int8Path struct {
	packed  *kernel.PackedI8
	scales  []float32
	bias    []float32
	in, out int
	act     ActQuant
}

var u8Pool sync.Pool

func getU8(n int) *[]uint8 {
	if p, ok := u8Pool.Get().(*[]uint8); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]uint8, n)
	return &b
}

// Run implements Accel.
//
//	x: (n, in) → y: (n, out)
//
// The GEMM and the epilogue are fused (kernel.GemmU8I8F32); the kernel is
// fastest when every code is ≤ 127, which is what the activation
// calibration arranges (see quantize.ActParams7).
func (p *int8Path) Run(n int, x, y []float32, relu bool) {
	x = x[:n*p.in]
	a := p.act
	if a.Mode == ActDynamic {
		a = dynamicParams(x)
	}
	xq := getU8(len(x))
	quantizeU8(x, a.Scale, a.Zero, *xq)
	kernel.GemmU8I8F32(n, *xq, p.in, a.Zero, p.packed, a.Scale, p.scales, p.bias, relu, y, p.out)
	u8Pool.Put(xq)
}

// quantizeU8 is kernel.QuantizeU8 (the specification, vectorised there).
func quantizeU8(x []float32, scale float32, zero int32, dst []uint8) {
	kernel.QuantizeU8(x, scale, zero, dst)
}

// ActParams7 returns the activation parameters that map [lo, hi], widened
// to include 0, onto the codes 0..127 (ActParams maps it onto 0..255):
//
//	lo' = min(lo, 0), hi' = max(hi, 0)
//	Scale = (hi' − lo') / 127,  Zero = clamp(round(−lo' / Scale), 0, 127)
//
// The quantizer is still ActQuant's, q = clamp(RoundHalfToEven(x/Scale) +
// Zero, 0, 255): values inside the calibrated range get codes 0..127, the
// 7-bit range the AVX2 int8 kernel multiplies in one VPMADDUBSW pass
// without saturation (|a1·w1 + a2·w2| ≤ 2·127·128 = 32512), while values up
// to about twice the range above it keep codes 128..255 instead of being
// clipped (exact too, through a slower two-pass split). When lo' == hi' or
// the range is not finite, Scale = 1 and Zero = 0. Mode is ActStatic.
func ActParams7(lo, hi float32) ActQuant {
	l, h := math.Min(float64(lo), 0), math.Max(float64(hi), 0)
	s := float32((h - l) / 127)
	if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(l) || math.IsNaN(h) {
		return ActQuant{Mode: ActStatic, Scale: 1, Zero: 0}
	}
	z := math.RoundToEven(-l / float64(s))
	return ActQuant{Mode: ActStatic, Scale: s, Zero: int32(min(max(z, 0), 127))}
}

// dynamicParams is ActParams7 over the finite range of x.
func dynamicParams(x []float32) ActQuant {
	var lo, hi float32
	for _, v := range x {
		if v < lo && !math.IsInf(float64(v), 0) {
			lo = v
		}
		if v > hi && !math.IsInf(float64(v), 0) {
			hi = v
		}
	}
	return ActParams7(lo, hi)
}

// Name implements Accel.
func (p *int8Path) Name() string {
	if p.act.Mode == ActDynamic {
		return "int8-dynamic"
	}
	return "int8"
}

// DynamicParams returns the activation parameters the dynamic integer path
// uses for an input x: ActParams7 over the finite range of x.
func DynamicParams(x []float32) ActQuant { return dynamicParams(x) }

// buildInt8 returns the integer path of l, or nil when its weight is not
// held as symmetric int8 codes with per-channel or per-tensor scales and
// quantized activations.
func buildInt8(l Accelerated) Accel {
	w := l.Weight()
	q := w.Quant
	if q == nil || q.Act.Mode == ActNone || len(q.Codebook) > 0 || q.Mins != nil || q.Bits > 8 || len(w.Shape) != 2 {
		return nil
	}
	out, in := w.Shape[0], w.Shape[1]
	if q.Validate(len(w.W)) != nil || q.Rows != out || q.Cols != in {
		return nil
	}
	if len(q.Scales) != 1 && (q.Block != q.Cols || len(q.Scales) != out) {
		return nil
	}
	if q.Act.Mode == ActStatic && (!(q.Act.Scale > 0) || math.IsInf(float64(q.Act.Scale), 0) || q.Act.Zero < 0 || q.Act.Zero > 255) {
		return nil
	}
	codes := make([]int8, len(q.Codes))
	for i, c := range q.Codes {
		if c < -128 || c > 127 {
			return nil
		}
		codes[i] = int8(c)
	}
	return &int8Path{
		packed: kernel.PackI8(codes, out, in),
		scales: q.Scales,
		bias:   l.Bias().W,
		in:     in, out: out,
		act: q.Act,
	}
}

func init() {
	RegisterAccel(AccelBuilder{Name: "int8", Priority: 10, Build: buildInt8})
}
