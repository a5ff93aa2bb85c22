package nn

import (
	"fmt"

	"github.com/shrink-ml/shrink/nn/kernel"
)

// Dense is a fully connected layer: y = x·Wᵀ + b.
//
// W is stored (Out, In) row-major, one row per output unit (the layout
// PyTorch uses), so per-output-channel quantization and structured pruning
// work on contiguous rows.
type Dense struct {
	base
	W, B  *Param
	x     *Tensor // cached input (training)
	y, dx []float32
	accel Accel
}

// NewDense returns a dense layer from in to out units with zero weights.
func NewDense(in, out int) *Dense {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewDense(%d, %d)", in, out))
	}
	return &Dense{
		base: base{in: Shape{in}, out: Shape{out}},
		W:    newParam("weight", true, out, in),
		B:    newParam("bias", false, out),
	}
}

// Kind implements Layer.
func (d *Dense) Kind() string { return "dense" }

// Params implements Layer.
func (d *Dense) Params() []*Param { return []*Param{d.W, d.B} }

// MACs implements Layer.
func (d *Dense) MACs() int64 { return int64(d.in[0]) * int64(d.out[0]) }

// Infer implements Layer.
//
//	x: (N, In) → y: (N, Out)
func (d *Dense) Infer(x *Tensor) *Tensor { return d.inferAct(x, false) }

// inferAct is Infer with an optional fused ReLU.
func (d *Dense) inferAct(x *Tensor, relu bool) *Tensor {
	y := newScratchTensor(x.N, d.out) // both paths write every element
	if d.accel != nil {
		d.accel.Run(x.N, x.Data, y.Data, relu)
		return y
	}
	d.run(x, y.Data, relu)
	return y
}

func (d *Dense) run(x *Tensor, y []float32, relu bool) {
	in, out := d.in[0], d.out[0]
	kernel.SgemmBiasAct(x.N, out, in, x.Data, in, d.W.W, in, d.B.W, relu, y, out)
}

// Forward implements Layer.
func (d *Dense) Forward(x *Tensor) *Tensor {
	d.x = x
	y := &Tensor{N: x.N, Shape: d.out, Data: reuse(&d.y, x.N*d.out[0])}
	d.run(x, y.Data, false)
	return y
}

// Backward implements Layer.
//
//	dy: (N, Out) → dx: (N, In); dW += dyᵀ·x, db += Σ_n dy
func (d *Dense) Backward(dy *Tensor) *Tensor {
	d.backwardParams(dy)
	in, out, n := d.in[0], d.out[0], dy.N
	dx := &Tensor{N: n, Shape: d.in, Data: reuse(&d.dx, n*in)}
	kernel.Sgemm(false, false, n, in, out, 1, dy.Data, out, d.W.W, in, 0, dx.Data, in)
	return dx
}

// backwardParams accumulates the parameter gradients only (the first layer
// of a model needs no input gradient).
func (d *Dense) backwardParams(dy *Tensor) {
	d.W.ensureGrad()
	d.B.ensureGrad()
	in, out, n := d.in[0], d.out[0], dy.N
	kernel.Sgemm(true, false, out, in, n, 1, dy.Data, out, d.x.Data, in, 1, d.W.Grad, in)
	for i := 0; i < n; i++ {
		row := dy.Data[i*out : (i+1)*out]
		for j, v := range row {
			d.B.Grad[j] += v
		}
	}
}
