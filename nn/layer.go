package nn

// Layer is one step of a model. Each layer knows its input and output
// shapes, its parameters, its multiply-accumulates per sample, and how to run
// on a batch.
//
// Infer is the inference pass: it keeps no state and is safe to call from
// several goroutines at once. Forward is the training pass: it keeps what
// Backward needs. Backward takes the gradient of the loss with respect to the
// layer's output, accumulates the parameter gradients into Param.Grad and
// returns the gradient with respect to the input.
type Layer interface {
	Kind() string // "dense", "conv2d", "maxpool2d", "avgpool2d", "flatten", "relu", "batchnorm", "dropout", "softmax"
	Name() string
	SetName(name string)
	In() Shape
	Out() Shape
	Params() []*Param
	MACs() int64 // multiply-accumulates per sample
	Infer(x *Tensor) *Tensor
	Forward(x *Tensor) *Tensor
	Backward(dy *Tensor) *Tensor
}

// Param is a named parameter tensor of a layer with its gradient and an
// optional mask. Where Mask is non-nil, weights whose mask entry is false are
// held at exactly zero through training.
type Param struct {
	Name      string // "weight", "bias", "gamma", "beta", "running_mean", "running_var"
	Shape     []int
	W         []float32
	Grad      []float32 // allocated by the first backward pass (ZeroGrad); nil for buffers and models never trained
	Mask      []bool
	Decay     bool // weight decay applies
	Trainable bool
	// Quant, when set, is the exact quantized form of W (W holds its
	// dequantized values); file encodings and integer kernels use it.
	Quant *Quant
}

func newParam(name string, decay bool, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: shape, W: make([]float32, n), Decay: decay, Trainable: true}
}

// ensureGrad allocates the gradient of a trainable parameter on its first
// backward pass: a model that is only read or run (inspect, eval, predict)
// never holds gradient buffers.
func (p *Param) ensureGrad() {
	if p.Trainable && p.Grad == nil {
		p.Grad = make([]float32, len(p.W))
	}
}

func newBuffer(name string, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: shape, W: make([]float32, n)}
}

// ApplyMask zeroes the masked-out weights (and their gradients).
func (p *Param) ApplyMask() {
	if p.Mask == nil {
		return
	}
	for i, keep := range p.Mask {
		if !keep {
			p.W[i] = 0
			if p.Grad != nil {
				p.Grad[i] = 0
			}
		}
	}
}

// NonZero counts the non-zero entries of the parameter.
func (p *Param) NonZero() int64 {
	var n int64
	for _, v := range p.W {
		if v != 0 {
			n++
		}
	}
	return n
}

// base holds what every layer shares.
type base struct {
	name    string
	in, out Shape
}

func (b *base) Name() string        { return b.name }
func (b *base) SetName(name string) { b.name = name }
func (b *base) In() Shape           { return b.in }
func (b *base) Out() Shape          { return b.out }
