package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// TestFlatInputOnImages: a model whose input is a flat vector of 784 values
// (a PyTorch MLP exported with input [N, 784], no flatten layer) runs on
// mnist-mini's 28×28×1 images in every command that takes data; a model
// whose input has another number of values is still refused.
func TestFlatInputOnImages(t *testing.T) {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape{784}, []nn.LayerSpec{{Kind: "dense", Units: 24}, {Kind: "relu"}, {Kind: "dense", Units: 10}})
	require.NoError(t, err)
	m.Init(3)
	train := ds.Train.Head(1500)
	_, err = nn.Train(context.Background(), m, train.X, train.Y, nn.TrainConfig{Epochs: 2, Batch: 32, Optimizer: "adam", Schedule: nn.Schedule{Base: 0.002}, Seed: 3})
	require.NoError(t, err)
	ev, err := nn.Evaluate(m, ds.Test.X, ds.Test.Y)
	require.NoError(t, err)
	require.Greater(t, ev.Accuracy, 0.7)

	dir := t.TempDir()
	model := filepath.Join(dir, "flat.shrink")
	require.NoError(t, format.Write(model, format.New(m, format.Provenance{Command: "test", Tool: "test"})))

	code, out, errs := shrinkRun(t, "eval", model, "--data", "mnist-mini", "--json")
	require.Equal(t, 0, code, errs)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.InDelta(t, ev.Accuracy, r["accuracy"].(float64), 1e-9, "the images' 784 values, in their stored order")

	csv := filepath.Join(dir, "p.csv")
	code, _, errs = shrinkRun(t, "predict", model, "--data", "mnist-mini", "-o", csv, "-q")
	require.Equal(t, 0, code, errs)

	code, out, errs = shrinkRun(t, "compare", model, model, "--data", "mnist-mini", "--json", "--runs", "0", "-q")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"agreement": 1`)

	code, out, errs = shrinkRun(t, "quantize", model, "--data", "mnist-mini", "--scheme", "int8", "-o", filepath.Join(dir, "q.shrink"), "--json", "-q")
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Greater(t, r["accuracy"].(float64), ev.Accuracy-0.05)

	code, out, errs = shrinkRun(t, "prune", model, "--data", "mnist-mini", "--sparsity", "0.5", "-o", filepath.Join(dir, "p.shrink"), "--json", "-q")
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Greater(t, r["accuracy"].(float64), 0.5)

	// 100 inputs do not fit 784-value images.
	small, err := nn.Build(nn.Shape{100}, []nn.LayerSpec{{Kind: "dense", Units: 10}})
	require.NoError(t, err)
	bad := filepath.Join(dir, "bad.shrink")
	require.NoError(t, format.Write(bad, format.New(small, format.Provenance{Command: "test", Tool: "test"})))
	for _, cmd := range []string{"eval", "quantize", "prune"} {
		args := []string{cmd, bad, "--data", "mnist-mini", "-q"}
		if cmd != "eval" {
			args = append(args, "-o", filepath.Join(dir, cmd+".shrink"))
		}
		if cmd == "prune" {
			args = append(args, "--sparsity", "0.5")
		}
		code, _, errs = shrinkRun(t, args...)
		require.NotEqual(t, 0, code, cmd)
		require.Contains(t, errs, "but the model takes (100)", cmd)
	}
}
