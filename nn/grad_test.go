package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// gradTol is the largest relative error ‖num − ana‖ / (‖num‖ + ‖ana‖)
// accepted between a float64 central finite difference of the float32
// forward pass and the analytical backward pass.
const gradTol = 1e-2

func randn(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// lossOf evaluates L = Σ r·y (accumulated in float64) for the layer's
// training forward on x. Dropout layers are re-seeded so every evaluation
// draws the same mask.
func lossOf(l Layer, x *Tensor, r []float32) float64 {
	if d, ok := l.(*Dropout); ok {
		d.Seed(7)
	}
	y := l.Forward(x)
	var s float64
	for i, v := range y.Data {
		s += float64(v) * float64(r[i])
	}
	return s
}

func relErr(num, ana []float64) float64 {
	var d, s float64
	for i := range num {
		d += (num[i] - ana[i]) * (num[i] - ana[i])
		s += num[i]*num[i] + ana[i]*ana[i]
	}
	if s == 0 {
		return 0
	}
	return math.Sqrt(d) / math.Sqrt(s)
}

func checkLayerGrad(t *testing.T, l Layer, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	for _, p := range l.Params() {
		if p.Trainable {
			for i := range p.W {
				p.W[i] = float32(rng.NormFloat64() * 0.5)
			}
		}
	}
	x := FromData(n, l.In(), randn(rng, n*l.In().Size()))
	if _, ok := l.(*Pool2D); ok {
		// Distinct values 0.05 apart, so no window's maximum changes
		// within a finite-difference step.
		for i, j := range rng.Perm(len(x.Data)) {
			x.Data[i] = float32(j)*0.05 - 1
		}
	}
	r := randn(rng, n*l.Out().Size())
	x0 := append([]float32(nil), x.Data...)

	for _, p := range l.Params() {
		clear(p.Grad)
	}
	lossOf(l, x, r)
	dx := l.Backward(FromData(n, l.Out(), append([]float32(nil), r...)))
	require.Equal(t, x0, x.Data, "forward/backward must not modify the input")

	const eps = 1e-2
	num := func(v []float32, i int) float64 {
		old := v[i]
		v[i] = old + eps
		lp := lossOf(l, x, r)
		v[i] = old - eps
		lm := lossOf(l, x, r)
		v[i] = old
		return (lp - lm) / (2 * eps)
	}
	// Input gradient.
	var nv, av []float64
	for i := range x.Data {
		nv = append(nv, num(x.Data, i))
		av = append(av, float64(dx.Data[i]))
	}
	require.Less(t, relErr(nv, av), gradTol, "%s: input gradient", l.Kind())
	// Parameter gradients.
	for _, p := range l.Params() {
		if !p.Trainable {
			continue
		}
		grad := append([]float32(nil), p.Grad...)
		nv, av = nv[:0], av[:0]
		for i := range p.W {
			nv = append(nv, num(p.W, i))
			av = append(av, float64(grad[i]))
		}
		require.Less(t, relErr(nv, av), gradTol, "%s: %s gradient", l.Kind(), p.Name)
	}
}

func TestLayerGradients(t *testing.T) {
	img := Shape{7, 6, 3}
	mk := func(l Layer, err error) Layer { require.NoError(t, err); return l }
	cases := []struct {
		name string
		l    Layer
	}{
		{"dense", NewDense(13, 7)},
		{"conv", mk(NewConv2D(img, 4, 3, 1, 0))},
		{"conv-stride-pad", mk(NewConv2D(img, 5, 3, 2, 1))},
		{"maxpool", mk(NewMaxPool2D(img, 2, 2))},
		{"maxpool-overlap", mk(NewMaxPool2D(img, 3, 1))},
		{"avgpool", mk(NewAvgPool2D(img, 2, 2))},
		{"relu", NewReLU(Shape{11})},
		{"flatten", NewFlatten(img)},
		{"batchnorm-dense", NewBatchNorm(Shape{9})},
		{"batchnorm-conv", NewBatchNorm(img)},
		{"dropout", NewDropout(Shape{17}, 0.3, 1)},
		{"softmax", NewSoftmax(6)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkLayerGrad(t, c.l, 5, uint64(i+1)) })
	}
}

func TestSoftmaxCrossEntropyGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	n, k := 6, 5
	z := FromData(n, Shape{k}, randn(rng, n*k))
	y := []int{0, 4, 2, 2, 1, 3}
	_, g := SoftmaxCrossEntropy(z, y)
	var nv, av []float64
	for i := range z.Data {
		old := z.Data[i]
		z.Data[i] = old + 1e-2
		lp, _ := SoftmaxCrossEntropy(z, y)
		z.Data[i] = old - 1e-2
		lm, _ := SoftmaxCrossEntropy(z, y)
		z.Data[i] = old
		nv = append(nv, (lp-lm)/2e-2)
		av = append(av, float64(g.Data[i]))
	}
	require.Less(t, relErr(nv, av), gradTol)
}

// TestModelGradient checks a whole small CNN end to end through the loss.
func TestModelGradient(t *testing.T) {
	specs, err := ParseArch("conv:3:3:1:1,relu,maxpool:2,bn,dense:8,relu,dense:4", Shape{6, 6, 2}, 4)
	require.NoError(t, err)
	m, err := Build(Shape{6, 6, 2}, specs)
	require.NoError(t, err)
	m.Init(5)
	rng := rand.New(rand.NewPCG(9, 9))
	n := 4
	x := FromData(n, m.Input, randn(rng, n*m.Input.Size()))
	y := []int{0, 1, 2, 3}
	loss := func() float64 { l, _ := SoftmaxCrossEntropy(m.Forward(x), y); return l }
	m.ZeroGrad()
	_, g := SoftmaxCrossEntropy(m.Forward(x), y)
	m.Backward(g)
	for _, p := range m.Params() {
		if !p.Trainable {
			continue
		}
		grad := append([]float32(nil), p.Grad...)
		var nv, av []float64
		for i := range p.W {
			old := p.W[i]
			p.W[i] = old + 2e-3
			lp := loss()
			p.W[i] = old - 2e-3
			lm := loss()
			p.W[i] = old
			nv = append(nv, (lp-lm)/4e-3)
			av = append(av, float64(grad[i]))
		}
		require.Less(t, relErr(nv, av), 3*gradTol, "param %s %v", p.Name, p.Shape)
	}
}

func TestPresetsParams(t *testing.T) {
	for _, c := range []struct {
		arch   string
		params int64
		macs   int64
	}{
		{"lenet300", 266610, 266200},
		{"lenet5", 431080, 24*24*20*25 + 8*8*50*500 + 800*500 + 5000},
	} {
		specs, err := ParseArch(c.arch, Shape{28, 28, 1}, 10)
		require.NoError(t, err)
		m, err := Build(Shape{28, 28, 1}, specs)
		require.NoError(t, err)
		s := m.Stats()
		require.Equal(t, c.params, s.Params, c.arch)
		require.Equal(t, c.macs, s.MACs, c.arch)
	}
}

func TestParseArchErrors(t *testing.T) {
	for _, a := range []string{"", "mlp:", "mlp:x", "conv:3", "dense:-1", "wat:3", "dropout:1.5", "conv:4:40"} {
		_, err := ParseArch(a, Shape{28, 28, 1}, 10)
		require.Error(t, err, a)
	}
}

func TestMaskKeepsZeros(t *testing.T) {
	specs, _ := ParseArch("mlp:16", Shape{8}, 3)
	m, _ := Build(Shape{8}, specs)
	m.Init(1)
	fc := m.Layer("fc1").(*Dense)
	fc.W.Mask = make([]bool, len(fc.W.W))
	for i := range fc.W.Mask {
		fc.W.Mask[i] = i%3 == 0
	}
	rng := rand.New(rand.NewPCG(1, 2))
	x := randn(rng, 64*8)
	y := make([]int, 64)
	for i := range y {
		y[i] = i % 3
	}
	for _, opt := range []string{"sgd", "adam"} {
		_, err := Train(t.Context(), m, x, y, TrainConfig{Epochs: 2, Batch: 16, Optimizer: opt, Momentum: 0.9, WeightDecay: 1e-3, Schedule: Schedule{Base: 0.05}, Seed: 1})
		require.NoError(t, err)
		for i, w := range fc.W.W {
			if i%3 != 0 {
				require.Zero(t, w)
			} else {
				require.NotZero(t, w)
			}
		}
	}
}
