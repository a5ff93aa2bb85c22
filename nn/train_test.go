package nn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// TestTrainMNISTMini trains small networks on a slice of the embedded data
// and requires the loss to fall and test accuracy to clear a floor.
func TestTrainMNISTMini(t *testing.T) {
	ds, err := data.Load("mnist-mini", data.Options{})
	require.NoError(t, err)
	train, test := ds.Train.Head(3000), ds.Test.Head(1000)
	for _, c := range []struct {
		arch, opt string
		lr, floor float64
	}{
		{"mlp:64", "adam", 0.003, 0.85},
		{"mlp:64", "sgd", 0.05, 0.85},
		{"conv:8:5,maxpool:2,relu,bn,dense:10", "adam", 0.003, 0.85},
	} {
		t.Run(c.arch+"/"+c.opt, func(t *testing.T) {
			specs, err := nn.ParseArch(c.arch, nn.Shape(train.Shape), 10)
			require.NoError(t, err)
			m, err := nn.Build(nn.Shape(train.Shape), specs)
			require.NoError(t, err)
			m.Init(1)
			before, err := nn.Evaluate(m, test.X, test.Y)
			require.NoError(t, err)
			hist, err := nn.Train(t.Context(), m, train.X, train.Y, nn.TrainConfig{
				Epochs: 3, Batch: 32, Optimizer: c.opt, Momentum: 0.9,
				Schedule: nn.Schedule{Kind: "cosine", Base: c.lr}, Seed: 2,
				ValX: test.X, ValY: test.Y,
			})
			require.NoError(t, err)
			require.Len(t, hist, 3)
			require.Less(t, hist[2].Loss, hist[0].Loss)
			require.Less(t, hist[0].Loss, before.Loss)
			after, err := nn.Evaluate(m, test.X, test.Y)
			require.NoError(t, err)
			require.Greater(t, after.Accuracy, c.floor)
			require.Greater(t, after.Accuracy, before.Accuracy+0.5)
			require.InDelta(t, hist[2].ValAcc, after.Accuracy, 1e-12)
		})
	}
}

// TestTrainDeterministic: the same seed gives the same weights.
func TestTrainDeterministic(t *testing.T) {
	ds, err := data.Load("mnist-mini", data.Options{})
	require.NoError(t, err)
	train := ds.Train.Head(500)
	run := func() []float32 {
		specs, _ := nn.ParseArch("mlp:32", nn.Shape(train.Shape), 10)
		m, _ := nn.Build(nn.Shape(train.Shape), specs)
		m.Init(4)
		_, err := nn.Train(t.Context(), m, train.X, train.Y, nn.TrainConfig{Epochs: 1, Batch: 50, Optimizer: "adam", Schedule: nn.Schedule{Base: 1e-3}, Seed: 3})
		require.NoError(t, err)
		return m.Params()[0].W
	}
	require.Equal(t, run(), run())
}
