package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

func TestQuantizeCommand(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:32", "--epochs", "1", "--batch", "64", "-q", "-o", base)
	require.Equal(t, 0, code, errs)

	out := filepath.Join(dir, "q8.shrink")
	code, stdout, errs := shrinkRun(t, "quantize", base, "--scheme", "int8", "--calib", "200", "--observer", "percentile:99.99",
		"--keep-float", "fc2", "--sensitivity", "--seed", "2", "-q", "--json", "-o", out)
	require.Equal(t, 0, code, errs)
	require.Empty(t, errs)
	var res map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	for _, k := range []string{"accuracy", "accuracy_before", "params", "nonzero_params", "macs", "file_bytes", "layers", "sensitivity", "bits_per_weight"} {
		require.Contains(t, res, k)
	}
	require.InDelta(t, res["accuracy_before"].(float64), res["accuracy"].(float64), 0.02)
	require.Equal(t, float64(fileSize(out)), res["file_bytes"])
	layers := res["layers"].([]any)
	require.Len(t, layers, 2)
	require.Equal(t, "int8", layers[0].(map[string]any)["scheme"])
	require.Equal(t, "float32", layers[1].(map[string]any)["scheme"])
	require.Len(t, res["sensitivity"].([]any), 2)
	// The scan measures on a validation split carved (seed 2, 10%) from the
	// training data, never on the test split.
	bf, err := format.Read(base)
	require.NoError(t, err)
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	_, val := ds.Train.Split(0.1, 2)
	evVal, err := nn.Evaluate(bf.Model, val.X, val.Y)
	require.NoError(t, err)
	require.EqualValues(t, val.Len(), res["val_images"])
	for _, s := range res["sensitivity"].([]any) {
		e := s.(map[string]any)
		require.InDelta(t, evVal.Accuracy, e["accuracy"].(float64)+e["drop"].(float64), 1e-9)
	}
	require.NotEqual(t, evVal.Accuracy, res["accuracy_before"], "accuracy_before is the test split's")
	require.Equal(t, map[string]any{"fc1": "int8", "fc2": "float32"}, res["paths"])

	f, err := format.Read(out)
	require.NoError(t, err)
	require.Equal(t, "int8", f.Model.Paths()["fc1"])
	require.Len(t, f.Provenance.Passes, 1)
	p := f.Provenance.Passes[0]
	require.Equal(t, "quantize", p.Name)
	require.EqualValues(t, 2, p.Seed)
	require.Equal(t, "int8", p.Options["scheme"])
	require.Equal(t, res["accuracy"], p.Accuracy)

	// eval and inspect read the quantized file; inspect shows encodings.
	code, stdout, errs = shrinkRun(t, "inspect", out)
	require.Equal(t, 0, code, errs)
	require.Contains(t, stdout, "weight:int8")

	// Text table, int4 blocks with QAT, codebook with centroid fine-tuning.
	code, stdout, errs = shrinkRun(t, "quantize", base, "--scheme", "int4", "--granularity", "block:16", "--qat-epochs", "1", "-o", filepath.Join(dir, "q4.shrink"))
	require.Equal(t, 0, code, errs)
	require.Contains(t, stdout, "SQNR dB")
	require.Contains(t, stdout, "accuracy")
	require.Contains(t, errs, "qat epoch 1/1")
	code, stdout, errs = shrinkRun(t, "quantize", base, "--scheme", "cluster:16", "--qat-epochs", "1", "-q", "--json", "-o", filepath.Join(dir, "c.shrink"))
	require.Equal(t, 0, code, errs)
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Greater(t, res["accuracy"].(float64), 0.8)
	code, stdout, errs = shrinkRun(t, "quantize", base, "--scheme", "q4_0", "--dry-run")
	require.Equal(t, 0, code, errs)
	require.Contains(t, stdout, "dry run")
	code, _, errs = shrinkRun(t, "eval", filepath.Join(dir, "c.shrink"), "--json")
	require.Equal(t, 0, code, errs)
}

func TestQuantizeErrors(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:8", "--data", blobs, "--epochs", "1", "-q", "-o", base)
	require.Equal(t, 0, code, errs)
	out := filepath.Join(dir, "q.shrink")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{base}, exitUsage, "-o"},
		{[]string{base, "--scheme", "int3", "-o", out}, exitUsage, "int3"},
		{[]string{base, "--scheme", "int4", "--granularity", "block:7", "-o", out}, exitUsage, "block"},
		{[]string{base, "--scheme", "q4_0", "--activations", "dynamic", "-o", out}, exitUsage, "dynamic"},
		{[]string{base, "--activations", "maybe", "-o", out}, exitUsage, "maybe"},
		{[]string{base, "--observer", "median", "-o", out}, exitUsage, "median"},
		{[]string{base, "--calib", "0", "-o", out}, exitUsage, "--calib"},
		{[]string{base, "--keep-float", "fc9", "-o", out}, exitUsage, "fc9"},
		{[]string{filepath.Join(dir, "none.shrink"), "-o", out}, exitError, "none.shrink"},
	}
	for _, c := range cases {
		code, stdout, errs := shrinkRun(t, append([]string{"quantize"}, c.args...)...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Empty(t, stdout, c.args)
		require.Contains(t, errs, c.want, c.args)
		require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	}
	require.NoFileExists(t, out)
}
