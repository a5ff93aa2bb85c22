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
// (kernel.DequantizeF32). In dynamic mode (sA, zA) come from ActParams over
// the range of each call's input. The weights are packed once, at Build.
type int8Path struct {
	packed  *kernel.PackedI8
	scales  []float32
	bias    []float32
	in, out int
	act     ActQuant
}

var (
	u8Pool  sync.Pool
	i32Pool sync.Pool
)

func getU8(n int) *[]uint8 {
	if p, ok := u8Pool.Get().(*[]uint8); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]uint8, n)
	return &b
}

func getI32(n int) *[]int32 {
	if p, ok := i32Pool.Get().(*[]int32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]int32, n)
	return &b
}

// Run implements Accel.
//
//	x: (n, in) → y: (n, out)
func (p *int8Path) Run(n int, x, y []float32, relu bool) {
	x = x[:n*p.in]
	a := p.act
	if a.Mode == ActDynamic {
		a = dynamicParams(x)
	}
	xq := getU8(len(x))
	quantizeU8(x, a.Scale, a.Zero, *xq)
	acc := getI32(n * p.out)
	kernel.GemmU8I8(n, *xq, p.in, a.Zero, p.packed, *acc, p.out)
	u8Pool.Put(xq)
	kernel.DequantizeF32(n, p.out, *acc, p.out, a.Scale, p.scales, p.bias, relu, y, p.out)
	i32Pool.Put(acc)
}

// quantizeU8 is kernel.QuantizeU8 (the specification, which it matches
// bit for bit; see TestQuantizeU8MatchesKernel) without float64 rounding:
// x/scale is clamped to ±512 (where the final clamp saturates anyway) and
// rounded half to even by adding and subtracting 1.5·2²³ in float32, exact
// for magnitudes below 2²².
func quantizeU8(x []float32, scale float32, zero int32, dst []uint8) {
	const magic = 12582912 // 1.5·2²³
	z := float32(zero)
	dst = dst[:len(x)]
	for i, v := range x {
		t := v / scale
		q := z
		if t == t {
			t = min(max(t, -512), 512)
			q = (t + magic) - magic + z
		}
		dst[i] = uint8(min(max(q, 0), 255))
	}
}

// dynamicParams is ActParams over the finite range of x.
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
	return ActParams(lo, hi)
}

// Name implements Accel.
func (p *int8Path) Name() string {
	if p.act.Mode == ActDynamic {
		return "int8-dynamic"
	}
	return "int8"
}

// DynamicParams returns the activation parameters the dynamic integer path
// uses for an input x: ActParams over the finite range of x.
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
