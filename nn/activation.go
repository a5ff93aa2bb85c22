package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ReLU is max(0, x), elementwise.
type ReLU struct {
	base
	y       *Tensor
	buf, dx []float32
}

// NewReLU returns a ReLU over samples of shape s.
func NewReLU(s Shape) *ReLU { return &ReLU{base: base{in: s.Clone(), out: s.Clone()}} }

// Kind implements Layer.
func (r *ReLU) Kind() string { return "relu" }

// Params implements Layer.
func (r *ReLU) Params() []*Param { return nil }

// MACs implements Layer.
func (r *ReLU) MACs() int64 { return 0 }

// Infer implements Layer.
func (r *ReLU) Infer(x *Tensor) *Tensor {
	y := &Tensor{N: x.N, Shape: r.out, Data: make([]float32, len(x.Data))}
	relu(x.Data, y.Data)
	return y
}

func relu(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(v, 0)
	}
}

// Forward implements Layer.
func (r *ReLU) Forward(x *Tensor) *Tensor {
	r.y = &Tensor{N: x.N, Shape: r.out, Data: reuse(&r.buf, len(x.Data))}
	relu(x.Data, r.y.Data)
	return r.y
}

// Backward implements Layer.
func (r *ReLU) Backward(dy *Tensor) *Tensor {
	dx := &Tensor{N: dy.N, Shape: r.in, Data: reuse(&r.dx, len(dy.Data))}
	reluGrad(r.y.Data, dy.Data, dx.Data)
	return dx
}

// reluGrad writes d[i] = g[i] where y[i] > 0 and 0 elsewhere. It masks the
// bits instead of branching: the sign of an activation is unpredictable, and
// the branchy loop mispredicts about every other element.
func reluGrad(y, g, d []float32) {
	g, d = g[:len(y)], d[:len(y)]
	for i, v := range y {
		var mask uint32
		if v > 0 {
			mask = ^uint32(0)
		}
		d[i] = math.Float32frombits(math.Float32bits(g[i]) & mask)
	}
}

// Flatten reshapes each sample to a vector. It copies nothing.
type Flatten struct{ base }

// NewFlatten returns a flatten layer for samples of shape s.
func NewFlatten(s Shape) *Flatten {
	return &Flatten{base: base{in: s.Clone(), out: Shape{s.Size()}}}
}

// Kind implements Layer.
func (f *Flatten) Kind() string { return "flatten" }

// Params implements Layer.
func (f *Flatten) Params() []*Param { return nil }

// MACs implements Layer.
func (f *Flatten) MACs() int64 { return 0 }

// Infer implements Layer.
func (f *Flatten) Infer(x *Tensor) *Tensor { return &Tensor{N: x.N, Shape: f.out, Data: x.Data} }

// Forward implements Layer.
func (f *Flatten) Forward(x *Tensor) *Tensor { return f.Infer(x) }

// Backward implements Layer.
func (f *Flatten) Backward(dy *Tensor) *Tensor { return &Tensor{N: dy.N, Shape: f.in, Data: dy.Data} }

// Dropout zeroes each activation with probability Rate during training and
// scales the rest by 1/(1−Rate) (inverted dropout); at inference it is the
// identity. Its mask comes from its own seeded generator.
type Dropout struct {
	base
	Rate float64
	rng  *rand.Rand
	mask []float32
}

// NewDropout returns a dropout layer with the given rate in [0, 1) and seed.
func NewDropout(s Shape, rate float64, seed uint64) *Dropout {
	if rate < 0 || rate >= 1 {
		panic(fmt.Sprintf("nn: dropout rate %v not in [0, 1)", rate))
	}
	return &Dropout{base: base{in: s.Clone(), out: s.Clone()}, Rate: rate, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
}

// Seed resets the layer's generator.
func (d *Dropout) Seed(seed uint64) { d.rng = rand.New(rand.NewPCG(seed, 0x5eed)) }

// Kind implements Layer.
func (d *Dropout) Kind() string { return "dropout" }

// Params implements Layer.
func (d *Dropout) Params() []*Param { return nil }

// MACs implements Layer.
func (d *Dropout) MACs() int64 { return 0 }

// Infer implements Layer.
func (d *Dropout) Infer(x *Tensor) *Tensor { return x }

// Forward implements Layer.
func (d *Dropout) Forward(x *Tensor) *Tensor {
	if d.Rate == 0 {
		d.mask = nil
		return x
	}
	if cap(d.mask) < len(x.Data) {
		d.mask = make([]float32, len(x.Data))
	}
	d.mask = d.mask[:len(x.Data)]
	keep := float32(1 / (1 - d.Rate))
	y := &Tensor{N: x.N, Shape: d.out, Data: make([]float32, len(x.Data))}
	for i, v := range x.Data {
		if d.rng.Float64() >= d.Rate {
			d.mask[i] = keep
			y.Data[i] = v * keep
		} else {
			d.mask[i] = 0
		}
	}
	return y
}

// Backward implements Layer.
func (d *Dropout) Backward(dy *Tensor) *Tensor {
	if d.mask == nil {
		return dy
	}
	dx := &Tensor{N: dy.N, Shape: d.in, Data: make([]float32, len(dy.Data))}
	for i, v := range dy.Data {
		dx.Data[i] = v * d.mask[i]
	}
	return dx
}

// Softmax turns each sample's vector into probabilities. Models trained by
// shrink end in logits (the loss applies the softmax); Softmax exists for
// imported models whose graphs end in one.
type Softmax struct {
	base
	y *Tensor
}

// NewSoftmax returns a softmax over vectors of length n.
func NewSoftmax(n int) *Softmax { return &Softmax{base: base{in: Shape{n}, out: Shape{n}}} }

// Kind implements Layer.
func (s *Softmax) Kind() string { return "softmax" }

// Params implements Layer.
func (s *Softmax) Params() []*Param { return nil }

// MACs implements Layer.
func (s *Softmax) MACs() int64 { return 0 }

// Infer implements Layer.
func (s *Softmax) Infer(x *Tensor) *Tensor {
	k := s.in[0]
	y := NewTensor(x.N, s.out)
	for i := 0; i < x.N; i++ {
		softmaxRow(x.Data[i*k:(i+1)*k], y.Data[i*k:(i+1)*k], 1)
	}
	return y
}

// Forward implements Layer.
func (s *Softmax) Forward(x *Tensor) *Tensor {
	s.y = s.Infer(x)
	return s.y
}

// Backward implements Layer.
//
//	dx_i = y_i (dy_i − Σ_j dy_j y_j)
func (s *Softmax) Backward(dy *Tensor) *Tensor {
	k := s.in[0]
	dx := NewTensor(dy.N, s.in)
	for i := 0; i < dy.N; i++ {
		y := s.y.Data[i*k : (i+1)*k]
		g := dy.Data[i*k : (i+1)*k]
		var dot float64
		for j := range y {
			dot += float64(y[j]) * float64(g[j])
		}
		for j := range y {
			dx.Data[i*k+j] = y[j] * (g[j] - float32(dot))
		}
	}
	return dx
}

// softmaxRow writes softmax(x/T) into y, computed stably in float64.
func softmaxRow(x, y []float32, t float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v)/t)
	}
	var s float64
	for j, v := range x {
		e := math.Exp(float64(v)/t - m)
		y[j] = float32(e)
		s += e
	}
	for j := range y {
		y[j] = float32(float64(y[j]) / s)
	}
}
