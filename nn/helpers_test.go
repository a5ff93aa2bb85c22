package nn

import (
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
