package nn

import (
	"fmt"
	"math"
)

// Pool2D is max or average pooling over k×k windows of NHWC images with the
// given stride, no padding (windows that would run past the edge are
// dropped, as in Caffe's and PyTorch's floor mode).
type Pool2D struct {
	base
	Max       bool
	K, Stride int
	arg       []int32 // training: index into the input of each max
}

// NewMaxPool2D returns a max-pooling layer.
func NewMaxPool2D(in Shape, k, stride int) (*Pool2D, error) { return newPool(in, k, stride, true) }

// NewAvgPool2D returns an average-pooling layer.
func NewAvgPool2D(in Shape, k, stride int) (*Pool2D, error) { return newPool(in, k, stride, false) }

func newPool(in Shape, k, stride int, max bool) (*Pool2D, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("nn: pool2d needs an (H, W, C) input, got %v", in)
	}
	if k <= 0 || stride <= 0 || k > in[0] || k > in[1] {
		return nil, fmt.Errorf("nn: pool2d: window %d stride %d does not fit input %v", k, stride, in)
	}
	oh, ow := (in[0]-k)/stride+1, (in[1]-k)/stride+1
	return &Pool2D{base: base{in: in.Clone(), out: Shape{oh, ow, in[2]}}, Max: max, K: k, Stride: stride}, nil
}

// Kind implements Layer.
func (p *Pool2D) Kind() string {
	if p.Max {
		return "maxpool2d"
	}
	return "avgpool2d"
}

// Params implements Layer.
func (p *Pool2D) Params() []*Param { return nil }

// MACs implements Layer.
func (p *Pool2D) MACs() int64 { return 0 }

func (p *Pool2D) run(x *Tensor, keep bool) *Tensor {
	h, w, c := p.in[0], p.in[1], p.in[2]
	oh, ow := p.out[0], p.out[1]
	y := NewTensor(x.N, p.out)
	if keep && p.Max {
		p.arg = make([]int32, len(y.Data))
	}
	isz, osz := p.in.Size(), p.out.Size()
	inv := float32(1) / float32(p.K*p.K)
	for n := 0; n < x.N; n++ {
		src := x.Data[n*isz : (n+1)*isz]
		dst := y.Data[n*osz : (n+1)*osz]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				o := (oy*ow + ox) * c
				for ch := 0; ch < c; ch++ {
					best, bi := float32(math.Inf(-1)), 0
					var sum float32
					for ky := 0; ky < p.K; ky++ {
						for kx := 0; kx < p.K; kx++ {
							i := ((oy*p.Stride+ky)*w+ox*p.Stride+kx)*c + ch
							v := src[i]
							if v > best {
								best, bi = v, i
							}
							sum += v
						}
					}
					if p.Max {
						dst[o+ch] = best
						if keep {
							p.arg[n*osz+o+ch] = int32(n*isz + bi)
						}
					} else {
						dst[o+ch] = sum * inv
					}
				}
			}
		}
	}
	_ = h
	return y
}

// Infer implements Layer.
//
//	x: (N, H, W, C) → y: (N, OH, OW, C)
func (p *Pool2D) Infer(x *Tensor) *Tensor { return p.run(x, false) }

// Forward implements Layer.
func (p *Pool2D) Forward(x *Tensor) *Tensor { return p.run(x, true) }

// Backward implements Layer. Max pooling routes each gradient to the input
// that won its window; average pooling spreads it evenly.
func (p *Pool2D) Backward(dy *Tensor) *Tensor {
	dx := NewTensor(dy.N, p.in)
	if p.Max {
		for i, v := range dy.Data {
			dx.Data[p.arg[i]] += v
		}
		return dx
	}
	w, c := p.in[1], p.in[2]
	oh, ow := p.out[0], p.out[1]
	isz, osz := p.in.Size(), p.out.Size()
	inv := float32(1) / float32(p.K*p.K)
	for n := 0; n < dy.N; n++ {
		g := dy.Data[n*osz : (n+1)*osz]
		d := dx.Data[n*isz : (n+1)*isz]
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ch := 0; ch < c; ch++ {
					v := g[(oy*ow+ox)*c+ch] * inv
					for ky := 0; ky < p.K; ky++ {
						for kx := 0; kx < p.K; kx++ {
							d[((oy*p.Stride+ky)*w+ox*p.Stride+kx)*c+ch] += v
						}
					}
				}
			}
		}
	}
	return dx
}
