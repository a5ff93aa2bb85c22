package nn

import "math"

// BatchNorm normalises each channel (the last axis: features of a vector,
// channels of an NHWC image) with batch statistics in training and running
// statistics at inference, then scales by gamma and shifts by beta:
//
//	y = gamma·(x − mean)/sqrt(var + Eps) + beta
//
// Running statistics are updated as r ← (1−Momentum)·r + Momentum·batch, with
// the unbiased batch variance, as PyTorch does.
type BatchNorm struct {
	base
	Eps, Momentum float64
	Gamma, Beta   *Param
	Mean, Var     *Param    // running statistics (buffers, not trained)
	xhat, y, dx   []float32 // training buffers, reused across batches
	invStd        []float64
}

// NewBatchNorm returns a batch normalisation over the last axis of s.
func NewBatchNorm(s Shape) *BatchNorm {
	c := s[len(s)-1]
	b := &BatchNorm{
		base: base{in: s.Clone(), out: s.Clone()}, Eps: 1e-5, Momentum: 0.1,
		Gamma: newParam("gamma", false, c), Beta: newParam("beta", false, c),
		Mean: newBuffer("running_mean", c), Var: newBuffer("running_var", c),
	}
	for i := range b.Gamma.W {
		b.Gamma.W[i] = 1
		b.Var.W[i] = 1
	}
	return b
}

// Kind implements Layer.
func (b *BatchNorm) Kind() string { return "batchnorm" }

// Params implements Layer.
func (b *BatchNorm) Params() []*Param { return []*Param{b.Gamma, b.Beta, b.Mean, b.Var} }

// MACs implements Layer (foldable into the previous layer; counted as 0).
func (b *BatchNorm) MACs() int64 { return 0 }

func (b *BatchNorm) channels() int { return b.in[len(b.in)-1] }

// Infer implements Layer.
func (b *BatchNorm) Infer(x *Tensor) *Tensor {
	c := b.channels()
	scale := make([]float32, c)
	shift := make([]float32, c)
	for j := 0; j < c; j++ {
		s := float64(b.Gamma.W[j]) / math.Sqrt(float64(b.Var.W[j])+b.Eps)
		scale[j] = float32(s)
		shift[j] = float32(float64(b.Beta.W[j]) - s*float64(b.Mean.W[j]))
	}
	y := &Tensor{N: x.N, Shape: b.out, Data: make([]float32, len(x.Data))}
	for i, v := range x.Data {
		j := i % c
		y.Data[i] = v*scale[j] + shift[j]
	}
	return y
}

// Forward implements Layer.
func (b *BatchNorm) Forward(x *Tensor) *Tensor {
	c := b.channels()
	rows := len(x.Data) / c
	mean := make([]float64, c)
	vr := make([]float64, c)
	for r := 0; r < rows; r++ {
		for j, v := range x.Data[r*c : (r+1)*c] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(rows)
	}
	for r := 0; r < rows; r++ {
		for j, v := range x.Data[r*c : (r+1)*c] {
			d := float64(v) - mean[j]
			vr[j] += d * d
		}
	}
	b.invStd = make([]float64, c)
	for j := range vr {
		vr[j] /= float64(rows)
		b.invStd[j] = 1 / math.Sqrt(vr[j]+b.Eps)
		unbiased := vr[j]
		if rows > 1 {
			unbiased = vr[j] * float64(rows) / float64(rows-1)
		}
		b.Mean.W[j] = float32((1-b.Momentum)*float64(b.Mean.W[j]) + b.Momentum*mean[j])
		b.Var.W[j] = float32((1-b.Momentum)*float64(b.Var.W[j]) + b.Momentum*unbiased)
	}
	xhat := reuse(&b.xhat, len(x.Data))
	y := &Tensor{N: x.N, Shape: b.out, Data: reuse(&b.y, len(x.Data))}
	for i, v := range x.Data {
		j := i % c
		h := float32((float64(v) - mean[j]) * b.invStd[j])
		xhat[i] = h
		y.Data[i] = b.Gamma.W[j]*h + b.Beta.W[j]
	}
	return y
}

// Backward implements Layer.
//
//	dx = gamma·invStd/R · (R·dy − Σdy − xhat·Σ(dy·xhat))
func (b *BatchNorm) Backward(dy *Tensor) *Tensor {
	b.Gamma.ensureGrad()
	b.Beta.ensureGrad()
	c := b.channels()
	rows := len(dy.Data) / c
	sum := make([]float64, c)
	sumx := make([]float64, c)
	for i, g := range dy.Data {
		j := i % c
		sum[j] += float64(g)
		sumx[j] += float64(g) * float64(b.xhat[i])
	}
	for j := 0; j < c; j++ {
		b.Beta.Grad[j] += float32(sum[j])
		b.Gamma.Grad[j] += float32(sumx[j])
	}
	dx := &Tensor{N: dy.N, Shape: b.in, Data: reuse(&b.dx, len(dy.Data))}
	r := float64(rows)
	for i, g := range dy.Data {
		j := i % c
		k := float64(b.Gamma.W[j]) * b.invStd[j] / r
		dx.Data[i] = float32(k * (r*float64(g) - sum[j] - float64(b.xhat[i])*sumx[j]))
	}
	return dx
}
