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

func (c *Conv2D) im2col(x *Tensor) []float32 {
	p := c.out[0] * c.out[1]
	k := c.KH * c.KW * c.in[2]
	cols := make([]float32, x.N*p*k)
	isz := c.in.Size()
	for i := 0; i < x.N; i++ {
		im2col(x.Data[i*isz:(i+1)*isz], c.in[0], c.in[1], c.in[2], c.KH, c.KW, c.Stride, c.Pad, cols[i*p*k:(i+1)*p*k])
	}
	return cols
}

func (c *Conv2D) gemm(n int, cols []float32) *Tensor {
	p := c.out[0] * c.out[1]
	k := c.KH * c.KW * c.in[2]
	y := NewTensor(n, c.out)
	for r := 0; r < n*p; r++ {
		copy(y.Data[r*c.Filters:(r+1)*c.Filters], c.B.W)
	}
	// y: (N·P, F) = cols (N·P, K) · Wᵀ (K, F) + b
	kernel.Sgemm(false, true, n*p, c.Filters, k, 1, cols, k, c.W.W, k, 1, y.Data, c.Filters)
	return y
}

// Infer implements Layer.
//
//	x: (N, H, W, C) → y: (N, OH, OW, F)
func (c *Conv2D) Infer(x *Tensor) *Tensor { return c.gemm(x.N, c.im2col(x)) }

// Forward implements Layer.
func (c *Conv2D) Forward(x *Tensor) *Tensor {
	c.cols, c.n = c.im2col(x), x.N
	return c.gemm(x.N, c.cols)
}

// Backward implements Layer.
//
//	dW += dYᵀ·cols, db += Σ dY, dcols = dY·W, dx = col2im(dcols)
func (c *Conv2D) Backward(dy *Tensor) *Tensor {
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
	dcols := make([]float32, n*p*k)
	kernel.Sgemm(false, false, n*p, k, f, 1, dy.Data, f, c.W.W, k, 0, dcols, k)
	dx := NewTensor(n, c.in)
	isz := c.in.Size()
	for i := 0; i < n; i++ {
		col2im(dcols[i*p*k:(i+1)*p*k], c.in[0], c.in[1], c.in[2], c.KH, c.KW, c.Stride, c.Pad, dx.Data[i*isz:(i+1)*isz])
	}
	return dx
}

// im2col writes, for each output position (oy, ox), the patch of the (h, w,
// c) image it sees as one row ordered (ky, kx, c); padding reads as zero.
func im2col(src []float32, h, w, c, kh, kw, stride, pad int, dst []float32) {
	oh, ow := convOut(h, kh, stride, pad), convOut(w, kw, stride, pad)
	i := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for ky := 0; ky < kh; ky++ {
				iy := oy*stride - pad + ky
				for kx := 0; kx < kw; kx++ {
					ix := ox*stride - pad + kx
					if iy < 0 || iy >= h || ix < 0 || ix >= w {
						clear(dst[i : i+c])
					} else {
						copy(dst[i:i+c], src[(iy*w+ix)*c:(iy*w+ix+1)*c])
					}
					i += c
				}
			}
		}
	}
}

// col2im is the adjoint of im2col: it adds each patch row back into dst.
func col2im(cols []float32, h, w, c, kh, kw, stride, pad int, dst []float32) {
	oh, ow := convOut(h, kh, stride, pad), convOut(w, kw, stride, pad)
	i := 0
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			for ky := 0; ky < kh; ky++ {
				iy := oy*stride - pad + ky
				for kx := 0; kx < kw; kx++ {
					ix := ox*stride - pad + kx
					if iy >= 0 && iy < h && ix >= 0 && ix < w {
						d := dst[(iy*w+ix)*c : (iy*w+ix+1)*c]
						for j, v := range cols[i : i+c] {
							d[j] += v
						}
					}
					i += c
				}
			}
		}
	}
}
