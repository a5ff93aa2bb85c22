package nn

import (
	"fmt"

	"github.com/shrink-ml/shrink/nn/kernel"
)

// Conv2D is a 2-D convolution on NHWC images, computed as im2col + GEMM.
//
// W is stored (F, KH·KW·C) row-major: one row per output filter, the row
// ordered (ky, kx, c) to match the im2col patch layout.
type Conv2D struct {
	base
	Filters, KH, KW, Stride, Pad int
	W, B                         *Param
	cols                         []float32 // cached im2col of the input batch (training)
	n                            int
	y, dcols, dx                 []float32
	accel                        Accel
}

// NewConv2D returns a convolution over (h, w, c) images with f filters of
// size k×k, the given stride and zero padding.
func NewConv2D(in Shape, f, k, stride, pad int) (*Conv2D, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("nn: conv2d needs an (H, W, C) input, got %v", in)
	}
	if f <= 0 || k <= 0 || stride <= 0 || pad < 0 {
		return nil, fmt.Errorf("nn: conv2d: bad filters %d, kernel %d, stride %d or padding %d", f, k, stride, pad)
	}
	oh, ow := convOut(in[0], k, stride, pad), convOut(in[1], k, stride, pad)
	if oh <= 0 || ow <= 0 {
		return nil, fmt.Errorf("nn: conv2d: kernel %d does not fit input %v with padding %d", k, in, pad)
	}
	c := &Conv2D{
		base:    base{in: in.Clone(), out: Shape{oh, ow, f}},
		Filters: f, KH: k, KW: k, Stride: stride, Pad: pad,
		W: newParam("weight", true, f, k*k*in[2]),
		B: newParam("bias", false, f),
	}
	return c, nil
}

func convOut(size, k, stride, pad int) int { return (size+2*pad-k)/stride + 1 }

// Kind implements Layer.
func (c *Conv2D) Kind() string { return "conv2d" }

// Params implements Layer.
func (c *Conv2D) Params() []*Param { return []*Param{c.W, c.B} }

// MACs implements Layer.
func (c *Conv2D) MACs() int64 {
	return int64(c.out[0]*c.out[1]) * int64(c.Filters) * int64(c.KH*c.KW*c.in[2])
}

// im2col lays out the patches of every image of the batch, one image per
// task across the cores.
func (c *Conv2D) im2col(x *Tensor, cols []float32) {
	pk := c.out[0] * c.out[1] * c.KH * c.KW * c.in[2]
	isz := c.in.Size()
	parallelFor(x.N*pk, func(lo, hi int) {
		for i := lo / pk; i < (hi+pk-1)/pk && i < x.N; i++ {
			if i*pk < lo {
				continue // the previous chunk owns this image
			}
			kernel.Im2col(x.Data[i*isz:(i+1)*isz], c.in[0], c.in[1], c.in[2], c.KH, c.KW, c.Stride, c.Pad, cols[i*pk:(i+1)*pk])
		}
	})
}

// gemm computes y (N·P, F) = cols (N·P, K) · Wᵀ (K, F) + b.
func (c *Conv2D) gemm(n int, cols, y []float32, relu bool) {
	p := c.out[0] * c.out[1]
	k := c.KH * c.KW * c.in[2]
	kernel.SgemmBiasAct(n*p, c.Filters, k, cols, k, c.W.W, k, c.B.W, relu, y, c.Filters)
}

// Infer implements Layer.
//
//	x: (N, H, W, C) → y: (N, OH, OW, F)
func (c *Conv2D) Infer(x *Tensor) *Tensor { return c.inferAct(x, false) }

func (c *Conv2D) inferAct(x *Tensor, relu bool) *Tensor {
	cols := getScratch(x.N * c.out[0] * c.out[1] * c.KH * c.KW * c.in[2])
	defer putScratch(cols)
	c.im2col(x, cols)                 // writes every element, padding included
	y := newScratchTensor(x.N, c.out) // both paths write every element
	if c.accel != nil {
		c.accel.Run(x.N*c.out[0]*c.out[1], cols, y.Data, relu)
		return y
	}
	c.gemm(x.N, cols, y.Data, relu)
	return y
}

// Forward implements Layer.
func (c *Conv2D) Forward(x *Tensor) *Tensor {
	c.n = x.N
	cols := reuse(&c.cols, x.N*c.out[0]*c.out[1]*c.KH*c.KW*c.in[2])
	c.im2col(x, cols)
	y := &Tensor{N: x.N, Shape: c.out, Data: reuse(&c.y, x.N*c.out.Size())}
	c.gemm(x.N, cols, y.Data, false)
	return y
}

// backwardParams accumulates the parameter gradients only.
func (c *Conv2D) backwardParams(dy *Tensor) {
	c.W.ensureGrad()
	c.B.ensureGrad()
	n := dy.N
	p := c.out[0] * c.out[1]
	k := c.KH * c.KW * c.in[2]
	f := c.Filters
	kernel.Sgemm(true, false, f, k, n*p, 1, dy.Data, f, c.cols, k, 1, c.W.Grad, k)
	for r := 0; r < n*p; r++ {
		for j, v := range dy.Data[r*f : (r+1)*f] {
			c.B.Grad[j] += v
		}
	}
}

// Backward implements Layer.
//
//	dW += dYᵀ·cols, db += Σ dY, dcols = dY·W, dx = col2im(dcols)
func (c *Conv2D) Backward(dy *Tensor) *Tensor {
	c.backwardParams(dy)
	n := dy.N
	p := c.out[0] * c.out[1]
	k := c.KH * c.KW * c.in[2]
	f := c.Filters
	dcols := reuse(&c.dcols, n*p*k)
	kernel.Sgemm(false, false, n*p, k, f, 1, dy.Data, f, c.W.W, k, 0, dcols, k)
	dx := &Tensor{N: n, Shape: c.in, Data: reuse(&c.dx, n*c.in.Size())}
	clear(dx.Data)
	isz := c.in.Size()
	pk := p * k
	parallelFor(n*pk, func(lo, hi int) {
		for i := lo / pk; i < (hi+pk-1)/pk && i < n; i++ {
			if i*pk < lo {
				continue
			}
			kernel.Col2im(dcols[i*pk:(i+1)*pk], c.in[0], c.in[1], c.in[2], c.KH, c.KW, c.Stride, c.Pad, dx.Data[i*isz:(i+1)*isz])
		}
	})
	return dx
}
