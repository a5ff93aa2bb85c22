package nn

import (
	"fmt"
	"math"
)

// Quant holds a weight tensor's quantized form: integer codes and the
// parameters that map them back to real values. The owning Param's W holds
// exactly the dequantized values (Dequantize), so float paths, accounting
// and integer paths agree. The quantize package creates it; the format
// package stores it.
//
// The weight is (Rows, Cols) row-major (for a convolution Cols = KH·KW·C).
// Each row is cut into groups of Block values (the last group of a row may
// be short); group g of row r has index r·⌈Cols/Block⌉ + g. Values are
//
//	codebook:             W[i] = Codebook[Codes[i]]
//	symmetric (no Mins):  W[i] = float32(Codes[i]) · Scales[group(i)]
//	asymmetric:           W[i] = float32(float32(Codes[i]) · Scales[group(i)]) + Mins[group(i)]
//
// each operation rounded to float32. A single scale (len(Scales) == 1) is
// per-tensor.
type Quant struct {
	Scheme string // stable scheme name from the quantize package's table
	Bits   int    // bits per code
	Rows   int    // output channels (first dimension of the weight)
	Cols   int    // values per row
	Block  int    // values per scale group along a row (Cols = per channel)
	Codes  []int16
	Scales []float32
	// Mins, for asymmetric schemes, is each group's offset (the value of
	// code 0); nil when symmetric.
	Mins []float32
	// Codebook, for weight sharing: value = Codebook[code].
	Codebook []float32
	// Act is how the layer's input activations are quantized on the
	// integer path (ActNone: weight-only, the layer runs in float32).
	Act ActQuant
}

// Groups is the number of scale groups per row.
func (q *Quant) Groups() int { return (q.Cols + q.Block - 1) / q.Block }

// Validate checks that the codes and parameters describe n values.
func (q *Quant) Validate(n int) error {
	if q.Rows <= 0 || q.Cols <= 0 || q.Rows*q.Cols != n || len(q.Codes) != n {
		return fmt.Errorf("nn: quant %s: %d×%d with %d codes for %d values", q.Scheme, q.Rows, q.Cols, len(q.Codes), n)
	}
	if q.Bits < 1 || q.Bits > 16 {
		return fmt.Errorf("nn: quant %s: %d bits", q.Scheme, q.Bits)
	}
	if len(q.Codebook) > 0 {
		for _, c := range q.Codes {
			if c < 0 || int(c) >= len(q.Codebook) {
				return fmt.Errorf("nn: quant %s: code %d outside a codebook of %d", q.Scheme, c, len(q.Codebook))
			}
		}
		return nil
	}
	if q.Block <= 0 {
		return fmt.Errorf("nn: quant %s: block %d", q.Scheme, q.Block)
	}
	if g := q.Rows * q.Groups(); len(q.Scales) != 1 && len(q.Scales) != g {
		return fmt.Errorf("nn: quant %s: %d scales for %d groups", q.Scheme, len(q.Scales), g)
	}
	if q.Mins != nil && len(q.Mins) != len(q.Scales) {
		return fmt.Errorf("nn: quant %s: %d mins for %d scales", q.Scheme, len(q.Mins), len(q.Scales))
	}
	return nil
}

// Dequantize writes the real values of the codes to dst (len Rows·Cols)
// with the formulas in the type's documentation.
func (q *Quant) Dequantize(dst []float32) {
	if len(q.Codebook) > 0 {
		for i, c := range q.Codes {
			dst[i] = q.Codebook[c]
		}
		return
	}
	gpr := q.Groups()
	for r := 0; r < q.Rows; r++ {
		for c := 0; c < q.Cols; c++ {
			i := r*q.Cols + c
			g := 0
			if len(q.Scales) > 1 {
				g = r*gpr + c/q.Block
			}
			v := float32(q.Codes[i]) * q.Scales[g]
			if q.Mins != nil {
				v = float32(v) + q.Mins[g]
			}
			dst[i] = v
		}
	}
}

// ActMode says how a quantized layer's input activations are quantized.
type ActMode uint8

// Activation modes.
const (
	ActNone    ActMode = 0 // weight-only: activations stay float32
	ActDynamic ActMode = 1 // scale and zero point from each call's input range
	ActStatic  ActMode = 2 // calibrated scale and zero point (Scale, Zero)
)

// String returns "none", "dynamic" or "static".
func (m ActMode) String() string {
	switch m {
	case ActNone:
		return "none"
	case ActDynamic:
		return "dynamic"
	case ActStatic:
		return "static"
	}
	return fmt.Sprintf("actmode(%d)", uint8(m))
}

// ActQuant is the affine uint8 quantization of activations:
//
//	q = clamp(RoundHalfToEven(x / Scale) + Zero, 0, 255)   (x / Scale in float32)
//	x̂ = float32(q − Zero) · Scale
//
// (kernel.QuantizeU8's formula). Scale > 0 and 0 ≤ Zero ≤ 255 when Mode is
// ActStatic.
type ActQuant struct {
	Mode  ActMode
	Scale float32
	Zero  int32
}

// ActParams returns the uint8 parameters that cover [lo, hi], widened to
// include 0 so that zero (ReLU outputs, padding) is exact:
//
//	lo' = min(lo, 0), hi' = max(hi, 0)
//	Scale = (hi' − lo') / 255,  Zero = clamp(round(−lo' / Scale), 0, 255)
//
// When lo' == hi' (all values zero) or the range is not finite, Scale = 1
// and Zero = 0, which represents 0 exactly. Mode is ActStatic.
func ActParams(lo, hi float32) ActQuant {
	l, h := math.Min(float64(lo), 0), math.Max(float64(hi), 0)
	s := float32((h - l) / 255)
	if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(l) || math.IsNaN(h) {
		return ActQuant{Mode: ActStatic, Scale: 1, Zero: 0}
	}
	z := math.RoundToEven(-l / float64(s))
	return ActQuant{Mode: ActStatic, Scale: s, Zero: int32(min(max(z, 0), 255))}
}

// Quantize returns the uint8 code of x.
func (a ActQuant) Quantize(x float32) uint8 {
	q := float64(a.Zero)
	if x == x {
		q = math.RoundToEven(float64(x/a.Scale)) + float64(a.Zero)
	}
	return uint8(min(max(q, 0), 255))
}

// FakeQuant returns x quantized and dequantized: float32(q − Zero) · Scale.
func (a ActQuant) FakeQuant(x float32) float32 {
	return float32(int32(a.Quantize(x))-a.Zero) * a.Scale
}

// FakeQuant is a training-time layer that fake-quantizes its input with an
// ActQuant (quantize then dequantize), for quantization-aware training and
// for the float simulation of an integer model. Backward is the clipped
// straight-through estimator: the gradient passes where the input lies
// inside the representable range and is zero outside.
//
// With Observe set, Forward first updates an exponential moving average of
// the batch minimum and maximum (the first batch sets them) and recomputes
// Act from it with ActParams. Infer always uses Act as it is.
//
// FakeQuant is not part of a model file's architecture: models with it are
// training or simulation wrappers that share layers with a real model.
type FakeQuant struct {
	base
	Act      ActQuant
	Observe  bool
	Momentum float32 // EMA weight of a new batch (0.01 when zero)
	lo, hi   float32
	seen     bool
	pass     []bool
	y, dx    []float32
}

// NewFakeQuant returns a fake-quantization layer for inputs of shape s.
func NewFakeQuant(s Shape, a ActQuant) *FakeQuant {
	return &FakeQuant{base: base{in: s.Clone(), out: s.Clone()}, Act: a}
}

// Kind implements Layer.
func (f *FakeQuant) Kind() string { return "fakequant" }

// Params implements Layer.
func (f *FakeQuant) Params() []*Param { return nil }

// MACs implements Layer.
func (f *FakeQuant) MACs() int64 { return 0 }

// Range returns the observed range (EMA of batch min and max).
func (f *FakeQuant) Range() (lo, hi float32) { return f.lo, f.hi }

// SetRange sets the observed range (for example from calibration) and Act.
func (f *FakeQuant) SetRange(lo, hi float32) {
	f.lo, f.hi, f.seen = lo, hi, true
	f.Act = ActParams(lo, hi)
}

// Infer implements Layer.
//
//	x: (N, ...) → y: (N, ...), y = FakeQuant(x)
func (f *FakeQuant) Infer(x *Tensor) *Tensor {
	y := NewTensor(x.N, f.out)
	a := f.Act
	for i, v := range x.Data {
		y.Data[i] = a.FakeQuant(v)
	}
	return y
}

// Forward implements Layer.
func (f *FakeQuant) Forward(x *Tensor) *Tensor {
	if f.Observe && len(x.Data) > 0 {
		lo, hi := x.Data[0], x.Data[0]
		for _, v := range x.Data {
			lo, hi = min(lo, v), max(hi, v)
		}
		if !f.seen {
			f.SetRange(lo, hi)
		} else {
			c := f.Momentum
			if c == 0 {
				c = 0.01
			}
			f.SetRange(f.lo+c*(lo-f.lo), f.hi+c*(hi-f.hi))
		}
	}
	a := f.Act
	qlo := float32(-a.Zero) * a.Scale
	qhi := float32(255-a.Zero) * a.Scale
	y := &Tensor{N: x.N, Shape: f.out, Data: reuse(&f.y, len(x.Data))}
	if cap(f.pass) < len(x.Data) {
		f.pass = make([]bool, len(x.Data))
	}
	f.pass = f.pass[:len(x.Data)]
	for i, v := range x.Data {
		y.Data[i] = a.FakeQuant(v)
		f.pass[i] = v >= qlo && v <= qhi
	}
	return y
}

// Backward implements Layer (straight-through estimator).
//
//	dx = dy where qlo ≤ x ≤ qhi, else 0
func (f *FakeQuant) Backward(dy *Tensor) *Tensor {
	dx := &Tensor{N: dy.N, Shape: f.in, Data: reuse(&f.dx, len(dy.Data))}
	for i, g := range dy.Data {
		if f.pass[i] {
			dx.Data[i] = g
		} else {
			dx.Data[i] = 0
		}
	}
	return dx
}
