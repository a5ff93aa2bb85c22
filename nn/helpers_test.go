package nn

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCloneCopiesWeightsMasksAndSpec(t *testing.T) {
	m, err := Build(Shape{6, 6, 2}, []LayerSpec{
		{Kind: "conv2d", Filters: 3, Kernel: 3, Stride: 1, Pad: 1}, {Kind: "batchnorm", Eps: 1e-3, Momentum: 0.2},
		{Kind: "relu"}, {Kind: "maxpool2d", Kernel: 2, Stride: 2}, {Kind: "flatten"}, {Kind: "dropout", Rate: 0.25},
		{Kind: "dense", Units: 5},
	})
	require.NoError(t, err)
	m.Init(3)
	w := m.Layers[0].Params()[0]
	w.Mask = make([]bool, len(w.W))
	for i := range w.Mask {
		w.Mask[i] = i%3 != 0
	}
	m.ApplyMasks()
	q := &Quant{Scheme: "int8"}
	m.Layers[6].Params()[0].Quant = q

	c := m.Clone()
	require.Equal(t, m.Spec(), c.Spec())
	require.Equal(t, m.Tensors(), c.Tensors())
	cw := c.Layers[0].Params()[0]
	require.Equal(t, w.Mask, cw.Mask)
	cw.Mask[1] = false
	cw.W[1] = 42
	require.True(t, w.Mask[1])
	require.NotEqual(t, float32(42), w.W[1])
	require.Same(t, q, c.Layers[6].Params()[0].Quant)

	names := []string{}
	for _, np := range m.NamedParams() {
		names = append(names, np.Name)
	}
	require.Equal(t, []string{"conv1.weight", "conv1.bias", "bn1.gamma", "bn1.beta", "bn1.running_mean", "bn1.running_var", "fc1.weight", "fc1.bias"}, names)
}

// TestNoGradientsUntilTrained checks that building and running a model
// allocates no gradient buffers (inspect, eval, predict stay light), and
// that the first training step does.
func TestNoGradientsUntilTrained(t *testing.T) {
	specs, err := ParseArch("lenet5", Shape{28, 28, 1}, 10)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build(Shape{28, 28, 1}, specs)
	if err != nil {
		t.Fatal(err)
	}
	m.Init(1)
	m.Infer(NewTensor(2, m.Input))
	for _, p := range m.Params() {
		if p.Grad != nil {
			t.Fatalf("%s has a gradient before training", p.Name)
		}
	}
	x := make([]float32, 4*m.Input.Size())
	for i := range x {
		x[i] = float32(i%13) / 13
	}
	if _, err := Train(context.Background(), m, x, []int{1, 2, 3, 4}, TrainConfig{Epochs: 1, Batch: 2, Optimizer: "adam", Schedule: Schedule{Base: 0.001}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		if p.Trainable && len(p.Grad) != len(p.W) {
			t.Fatalf("%s: gradient of %d values for %d weights after training", p.Name, len(p.Grad), len(p.W))
		}
	}
}
