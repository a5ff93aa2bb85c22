package nn

import "fmt"

// Pool2D is max or average pooling over k×k windows of NHWC images with the
// given stride, no padding (windows that would run past the edge are
// dropped, as in Caffe's and PyTorch's floor mode).
type Pool2D struct {
	base
	Max       bool
	K, Stride int
	arg       []int32   // training: index into the input of each max
	y         []float32 // training: the output buffer, reused across batches
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
	var y *Tensor
	if keep {
		// Every output (and arg) element is written below.
		y = &Tensor{N: x.N, Shape: p.out, Data: reuse(&p.y, x.N*p.out.Size())}
		if p.Max {
			if cap(p.arg) < len(y.Data) {
				p.arg = make([]int32, len(y.Data))
			}
			p.arg = p.arg[:len(y.Data)]
		}
	} else {
		y = NewTensor(x.N, p.out)
	}
	isz, osz := p.in.Size(), p.out.Size()
	parallelFor(x.N*isz, func(lo, hi int) {
		for n := lo / isz; n < (hi+isz-1)/isz && n < x.N; n++ {
			if n*isz < lo {
				continue
			}
			var arg []int32
			if keep && p.Max {
				arg = p.arg[n*osz : (n+1)*osz]
			}
			p.pool(x.Data[n*isz:(n+1)*isz], y.Data[n*osz:(n+1)*osz], arg, int32(n*isz))
		}
	})
	return y
}

// pool pools one image; with arg it records the input index (plus off) of
// each maximum. Loops run over the channels, which are contiguous in NHWC.
func (p *Pool2D) pool(src, dst []float32, arg []int32, off int32) {
	w, c := p.in[1], p.in[2]
	oh, ow := p.out[0], p.out[1]
	inv := float32(1) / float32(p.K*p.K)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			o := (oy*ow + ox) * c
			d := dst[o : o+c]
			for ky := 0; ky < p.K; ky++ {
				for kx := 0; kx < p.K; kx++ {
					i := ((oy*p.Stride+ky)*w + ox*p.Stride + kx) * c
					s := src[i : i+c]
					first := ky == 0 && kx == 0
					switch {
					case first:
						copy(d, s)
						if arg != nil {
							for ch := range d {
								arg[o+ch] = off + int32(i+ch)
							}
						}
					case p.Max && arg != nil:
						for ch, v := range s {
							if v > d[ch] {
								d[ch] = v
								arg[o+ch] = off + int32(i+ch)
							}
						}
					case p.Max:
						for ch, v := range s {
							d[ch] = max(d[ch], v)
						}
					default:
						for ch, v := range s {
							d[ch] += v
						}
					}
				}
			}
			if !p.Max {
				for ch := range d {
					d[ch] *= inv
				}
			}
		}
	}
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
