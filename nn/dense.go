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
	W, B *Param
	x    *Tensor // cached input (training)
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
func (d *Dense) Infer(x *Tensor) *Tensor {
	in, out := d.in[0], d.out[0]
	y := NewTensor(x.N, d.out)
	for i := 0; i < x.N; i++ {
		copy(y.Data[i*out:(i+1)*out], d.B.W)
	}
	kernel.Sgemm(false, true, x.N, out, in, 1, x.Data, in, d.W.W, in, 1, y.Data, out)
	return y
}

// Forward implements Layer.
func (d *Dense) Forward(x *Tensor) *Tensor {
	d.x = x
	return d.Infer(x)
}

// Backward implements Layer.
//
//	dy: (N, Out) → dx: (N, In); dW += dyᵀ·x, db += Σ_n dy
func (d *Dense) Backward(dy *Tensor) *Tensor {
	in, out, n := d.in[0], d.out[0], dy.N
	kernel.Sgemm(true, false, out, in, n, 1, dy.Data, out, d.x.Data, in, 1, d.W.Grad, in)
	for i := 0; i < n; i++ {
		row := dy.Data[i*out : (i+1)*out]
		for j, v := range row {
			d.B.Grad[j] += v
		}
	}
	dx := NewTensor(n, d.in)
	kernel.Sgemm(false, false, n, in, out, 1, dy.Data, out, d.W.W, in, 0, dx.Data, in)
	return dx
}
