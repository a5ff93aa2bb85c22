package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/nn/kernel"
)

// shrinkRun runs the CLI in-process and returns exit code, stdout, stderr.
func shrinkRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

const blobs = "../../testdata/blobs.csv"

func TestTrainEvalInspectCSV(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.shrink")
	code, out, errs := shrinkRun(t, "train", "--arch", "mlp:16", "--data", blobs, "--epochs", "15", "--batch", "16", "--lr", "0.01", "--quiet", "--json", "-o", model)
	require.Equal(t, 0, code, errs)
	require.Empty(t, errs, "--quiet prints nothing on stderr")
	var tr map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &tr))
	for _, k := range []string{"accuracy", "loss", "params", "nonzero_params", "macs", "file_bytes"} {
		require.Contains(t, tr, k)
	}
	require.Greater(t, tr["accuracy"].(float64), 0.85)
	require.EqualValues(t, 4*16+16+16*3+3, tr["params"])

	// eval without --data reuses the split recorded in the model file.
	code, out, errs = shrinkRun(t, "eval", model, "--json")
	require.Equal(t, 0, code, errs)
	var ev map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &ev))
	require.Equal(t, tr["accuracy"], ev["accuracy"])
	require.EqualValues(t, 60, ev["n"], "20% of 300 rows held out")
	require.EqualValues(t, fileSize(model), ev["file_bytes"])

	code, out, errs = shrinkRun(t, "inspect", model, "--json")
	require.Equal(t, 0, code, errs)
	var in struct {
		Params int64 `json:"params"`
		Layers []struct {
			Name string `json:"name"`
			MACs int64  `json:"macs"`
		} `json:"layers"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &in))
	require.EqualValues(t, tr["params"], in.Params)
	require.Equal(t, "fc1", in.Layers[0].Name)
	require.EqualValues(t, 64, in.Layers[0].MACs)

	code, out, _ = shrinkRun(t, "inspect", model)
	require.Equal(t, 0, code)
	require.Contains(t, out, "fc2")
	require.Contains(t, out, "float32")
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.shrink")
	require.NoError(t, os.WriteFile(bad, []byte("not a model at all"), 0o644))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--data", blobs, "-o", filepath.Join(dir, "x")}, exitUsage, "--arch"},
		{[]string{"train", "--arch", "mlp:4", "--data", blobs}, exitUsage, "-o"},
		{[]string{"train", "--arch", "mlp:4", "--data", blobs, "--epochs", "x", "-o", filepath.Join(dir, "x")}, exitUsage, "epochs"},
		{[]string{"train", "--arch", "wat:4", "--data", blobs, "-o", filepath.Join(dir, "x")}, exitUsage, "wat"},
		{[]string{"train", "--arch", "mlp:4", "--data", filepath.Join(dir, "missing.csv"), "-o", filepath.Join(dir, "x")}, exitError, "missing.csv"},
		{[]string{"train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", filepath.Join(dir, "no", "such", "dir", "m.shrink")}, exitError, "m.shrink"},
		{[]string{"eval", bad}, exitError, "bad.shrink"},
		{[]string{"eval", filepath.Join(dir, "nope.shrink")}, exitError, "nope.shrink"},
		{[]string{"inspect"}, exitUsage, "arg"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
	}
	for _, c := range cases {
		code, out, errs := shrinkRun(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Empty(t, out, c.args)
		require.Contains(t, errs, c.want, c.args)
		require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
		require.NotContains(t, errs, "goroutine", "no stack traces")
	}
	// No partial output anywhere.
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "only bad.shrink remains")
}

func TestDemoShort(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := shrinkRun(t, "demo", "--short", "--epochs", "1", "--quiet", "--json", "--out", dir)
	require.Equal(t, 0, code, errs)
	var story struct {
		Rows []struct {
			Name     string  `json:"name"`
			Accuracy float64 `json:"accuracy"`
			Ratio    float64 `json:"ratio"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &story), out)
	require.Len(t, story.Rows, 5)
	require.Equal(t, "baseline", story.Rows[0].Name)
	for _, f := range []string{"lenet300.shrink", "compressed.shrink", "compare.svg", "report.html"} {
		require.FileExists(t, filepath.Join(dir, f))
	}
	code, _, errs = shrinkRun(t, "eval", filepath.Join(dir, "compressed.shrink"), "--json")
	require.Equal(t, 0, code, errs)
}

func TestBench(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:8", "--data", blobs, "--epochs", "1", "-q", "-o", model)
	require.Equal(t, 0, code, errs)
	code, out, errs := shrinkRun(t, "bench", model, "--batch", "3", "--runs", "1", "--threads", "1", "--json")
	require.Equal(t, 0, code, errs)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	for _, k := range []string{"images_per_s", "latency_us", "batch", "threads"} {
		require.Contains(t, r, k)
	}
	require.EqualValues(t, 3, r["batch"])
	require.EqualValues(t, 1, r["threads"])
	require.Greater(t, r["images_per_s"].(float64), 0.0)
	code, _, errs = shrinkRun(t, "bench", model, "--batch", "0")
	require.Equal(t, exitUsage, code, errs)

	// Several models: one result each, in order, as a JSON array.
	code, out, errs = shrinkRun(t, "bench", model, model, "--batch", "2", "--runs", "1", "--json")
	require.Equal(t, 0, code, errs)
	var rs []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rs))
	require.Len(t, rs, 2)
	for _, r := range rs {
		require.Equal(t, model, r["model"])
		require.Greater(t, r["images_per_s"].(float64), 0.0)
	}
	code, out, errs = shrinkRun(t, "bench", model, model, "--batch", "2", "--runs", "1")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "the throughput of")
	code, _, _ = shrinkRun(t, "bench", model, filepath.Join(dir, "missing.shrink"))
	require.Equal(t, exitError, code)
}

// TestONNXDirect: commands that take a MODEL accept an .onnx file.
func TestONNXDirect(t *testing.T) {
	code, out, errs := shrinkRun(t, "inspect", "../../testdata/onnx/mlp.onnx", "--json")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, `"layers"`)
	code, out, errs = shrinkRun(t, "eval", "../../testdata/onnx/mlp.onnx", "--json")
	require.Equal(t, 0, code, errs)
	var ev map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &ev))
	require.Greater(t, ev["accuracy"].(float64), 0.5)
}

// TestQuantizeTeacher: QAT can distil from a teacher; the flag needs QAT.
func TestQuantizeTeacher(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:16", "--data", blobs, "--epochs", "15", "--batch", "16", "--lr", "0.01", "-q", "-o", model)
	require.Equal(t, 0, code, errs)
	out := filepath.Join(dir, "q.shrink")
	code, _, errs = shrinkRun(t, "quantize", model, "--scheme", "int4", "--granularity", "block:4", "--teacher", model, "-q", "-o", out)
	require.Equal(t, exitUsage, code, errs)
	require.Contains(t, errs, "--qat-epochs")
	code, stdout, errs := shrinkRun(t, "quantize", model, "--scheme", "int4", "--granularity", "block:4", "--qat-epochs", "1", "--lr", "0.001", "--teacher", model, "-q", "--json", "-o", out)
	require.Equal(t, 0, code, errs)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &r))
	require.Greater(t, r["accuracy_before"].(float64), 0.85)
	require.Greater(t, r["accuracy"].(float64), 0.8)
}

func TestVersion(t *testing.T) {
	code, out, errs := shrinkRun(t, "version")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, runtime.Version())
	require.Contains(t, out, "kernels "+kernel.Active().String())
	code, out2, _ := shrinkRun(t, "--version")
	require.Equal(t, 0, code)
	require.Equal(t, strings.SplitN(out, "\n", 2)[0]+"\n", out2)
	require.Contains(t, out, "kernel paths:")
	code, js, _ := shrinkRun(t, "version", "--json")
	require.Equal(t, 0, code)
	var v versionInfo
	require.NoError(t, json.Unmarshal([]byte(js), &v))
	require.Equal(t, "github.com/shrink-ml/shrink", v.Module)
	require.Equal(t, kernel.Active().String(), v.Kernel)
	require.Equal(t, kernel.Paths(), v.Paths)
}
