package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const onnxCNN = "../../testdata/onnx/cnn.onnx"

func TestImportExportPredict(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "cnn.shrink")
	code, out, errs := shrinkRun(t, "import", onnxCNN, "-o", model, "--json", "--quiet")
	require.Equal(t, 0, code, errs)
	var r map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &r))
	require.Greater(t, r["accuracy"].(float64), 0.8)
	require.EqualValues(t, 13, r["opset"])

	// predict on the imported model and on the .onnx file directly agree.
	csv1 := filepath.Join(dir, "a.csv")
	code, _, errs = shrinkRun(t, "predict", model, "--logits", "-o", csv1, "--quiet")
	require.Equal(t, 0, code, errs)
	code, out, errs = shrinkRun(t, "predict", onnxCNN, "--logits")
	require.Equal(t, 0, code, errs)
	b, err := os.ReadFile(csv1)
	require.NoError(t, err)
	require.Equal(t, string(b), out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Equal(t, "index,label,prediction,logit_0,logit_1,logit_2,logit_3,logit_4,logit_5,logit_6,logit_7,logit_8,logit_9", lines[0])
	require.Len(t, lines, 2001, "mnist-mini has 2,000 test images")
	require.Len(t, strings.Split(lines[1], ","), 13)

	code, out, _ = shrinkRun(t, "predict", model, "--split", "train")
	require.Equal(t, 0, code)
	require.True(t, strings.HasPrefix(out, "index,label,prediction\n0,"))

	// export → import round trip: identical predictions.
	for _, to := range []string{"onnx", "safetensors"} {
		file := filepath.Join(dir, "out."+to)
		code, _, errs = shrinkRun(t, "export", model, "--to", to, "-o", file, "--quiet")
		require.Equal(t, 0, code, errs)
		back := filepath.Join(dir, "back-"+to+".shrink")
		args := []string{"import", file, "-o", back, "--quiet"}
		if to == "safetensors" {
			args = append(args, "--arch", "conv:4:3:1:1,relu,maxpool:2,conv:8:3,relu,avgpool:2,flatten,dense:32,relu,dense:10")
		}
		code, _, errs = shrinkRun(t, args...)
		require.Equal(t, 0, code, errs)
		code, out, errs = shrinkRun(t, "predict", back, "--logits")
		require.Equal(t, 0, code, errs)
		require.Equal(t, string(b), out, to)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".tmp"), "temporary file left behind: %s", e.Name())
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.onnx")
	require.NoError(t, os.WriteFile(bad, []byte{0xff, 0xff, 0xff}, 0o644))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"import", onnxCNN}, exitUsage, "-o"},
		{[]string{"import", "x.txt", "-o", filepath.Join(dir, "m")}, exitUsage, ".onnx"},
		{[]string{"import", "../../testdata/safetensors/seqcnn.safetensors", "-o", filepath.Join(dir, "m")}, exitUsage, "--arch"},
		{[]string{"import", bad, "-o", filepath.Join(dir, "m")}, exitError, "bad.onnx"},
		{[]string{"import", "../../testdata/safetensors/seqcnn.safetensors", "--arch", "mlp:5", "-o", filepath.Join(dir, "m")}, exitError, "seqcnn.safetensors"},
		{[]string{"export", onnxCNN, "--to", "tflite", "-o", filepath.Join(dir, "m")}, exitUsage, "--to"},
		{[]string{"export", onnxCNN, "--to", "onnx"}, exitUsage, "-o"},
		{[]string{"predict", onnxCNN, "--split", "val"}, exitUsage, "--split"},
		{[]string{"predict", bad}, exitError, "bad.onnx"},
	}
	for _, c := range cases {
		code, _, errs := shrinkRun(t, c.args...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Contains(t, errs, c.want, "%v", c.args)
	}
	_, err := os.Stat(filepath.Join(dir, "m"))
	require.True(t, os.IsNotExist(err))
}

func TestExportQDQ(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		scheme string
		qdq    bool
	}{{"int8", true}, {"q4_0", false}} {
		q := filepath.Join(dir, c.scheme+".shrink")
		code, _, errs := shrinkRun(t, "quantize", "../../testdata/onnx/mlp.onnx", "--scheme", c.scheme, "-o", q, "--quiet")
		require.Equal(t, 0, code, errs)
		file := filepath.Join(dir, c.scheme+".onnx")
		code, out, errs := shrinkRun(t, "export", q, "--to", "onnx", "-o", file, "--json", "--quiet")
		require.Equal(t, 0, code, errs)
		var r exportResult
		require.NoError(t, json.Unmarshal([]byte(out), &r))
		if c.qdq {
			require.NotEmpty(t, r.QDQWeights)
			require.Equal(t, r.QDQWeights, r.QDQActivations, "static activations by default")
			require.Empty(t, r.Notes)
		} else {
			require.Empty(t, r.QDQWeights)
			require.NotEmpty(t, r.FloatWeights)
			require.Len(t, r.Notes, 1)
			require.Contains(t, r.Notes[0], "dequantized float32")
		}
		// --float: no QDQ at all.
		code, out, errs = shrinkRun(t, "export", q, "--to", "onnx", "--float", "-o", filepath.Join(dir, "f.onnx"), "--json", "--quiet")
		require.Equal(t, 0, code, errs)
		var fr exportResult
		require.NoError(t, json.Unmarshal([]byte(out), &fr))
		require.Empty(t, fr.QDQWeights)

		// The QDQ graph imports as float32, with notes.
		back := filepath.Join(dir, c.scheme+"-back.shrink")
		code, out, errs = shrinkRun(t, "import", file, "-o", back, "--json", "--quiet")
		require.Equal(t, 0, code, errs)
		var ir importResult
		require.NoError(t, json.Unmarshal([]byte(out), &ir))
		require.Greater(t, ir.Accuracy, 0.8)
		if c.qdq {
			require.Len(t, ir.Notes, 2)
		} else {
			require.Empty(t, ir.Notes)
		}
	}
}
