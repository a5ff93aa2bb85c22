package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
)

func TestDistillCommand(t *testing.T) {
	dir := t.TempDir()
	teacher := filepath.Join(dir, "t.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:64", "--epochs", "1", "--batch", "64", "-q", "-o", teacher)
	require.Equal(t, 0, code, errs)

	student := filepath.Join(dir, "s.shrink")
	code, out, errs := shrinkRun(t, "distill", "--teacher", teacher, "--arch", "mlp:16", "--train-samples", "1500",
		"--epochs", "2", "--batch", "50", "--lr", "0.003", "--temperature", "2", "--alpha", "0.7",
		"--hint", "relu1:relu1:0.1", "--baseline", "--seed", "3", "-q", "--json", "-o", student)
	require.Equal(t, 0, code, errs)
	require.Empty(t, errs)
	var res struct {
		Accuracy      float64 `json:"accuracy"`
		Params        int64   `json:"params"`
		NonzeroParams int64   `json:"nonzero_params"`
		MACs          int64   `json:"macs"`
		FileBytes     int64   `json:"file_bytes"`
		Rows          []map[string]any
		Report        struct {
			TeacherCached bool `json:"teacher_cached"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Rows, 3)
	for i, name := range []string{"teacher", "student", "baseline"} {
		require.Equal(t, name, res.Rows[i]["name"])
		for _, k := range []string{"accuracy", "agreement", "params", "nonzero_params", "macs", "file_bytes"} {
			require.Contains(t, res.Rows[i], k, name)
		}
	}
	require.EqualValues(t, 1, res.Rows[0]["agreement"])
	require.EqualValues(t, 784*16+16+16*10+10, res.Params)
	require.Equal(t, res.Params, res.NonzeroParams)
	require.EqualValues(t, 784*16+16*10, res.MACs)
	require.Equal(t, fileSize(student), res.FileBytes)
	require.Greater(t, res.Accuracy, 0.5)
	require.Equal(t, res.Accuracy, res.Rows[1]["accuracy"])
	require.Greater(t, res.Rows[2]["accuracy"].(float64), 0.5)
	require.True(t, res.Report.TeacherCached)

	f, err := format.Read(student)
	require.NoError(t, err)
	require.Len(t, f.Provenance.Passes, 1)
	p := f.Provenance.Passes[0]
	require.Equal(t, "distill", p.Name)
	require.EqualValues(t, 3, p.Seed)
	require.Equal(t, res.Accuracy, p.Accuracy)
	require.Equal(t, "0.7", p.Options["alpha"])
	require.Equal(t, "2", p.Options["temperature"])
	require.Equal(t, teacher, p.Options["teacher"])

	// Text table with augmentation: the teacher runs per batch, and eval
	// reuses the split recorded in the student's file.
	code, out, errs = shrinkRun(t, "distill", "--teacher", teacher, "--arch", "mlp:8", "--train-samples", "300",
		"--epochs", "1", "--augment", "--val-fraction", "0.2", "-o", filepath.Join(dir, "s2.shrink"))
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "teacher")
	require.Contains(t, out, "val acc")
	require.Contains(t, out, "every batch")
	require.Contains(t, errs, "distill mlp:8 epoch 1/1")
	code, _, errs = shrinkRun(t, "eval", student, "--json")
	require.Equal(t, 0, code, errs)
}

func TestDistillErrors(t *testing.T) {
	dir := t.TempDir()
	teacher := filepath.Join(dir, "t.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:8", "--data", blobs, "--epochs", "1", "-q", "-o", teacher)
	require.Equal(t, 0, code, errs)
	out := filepath.Join(dir, "s.shrink")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--arch", "mlp:4", "-o", out}, exitUsage, "--teacher"},
		{[]string{"--teacher", teacher, "-o", out}, exitUsage, "--arch"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4"}, exitUsage, "-o"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4", "--temperature", "0", "-o", out}, exitUsage, "--temperature"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4", "--alpha", "2", "-o", out}, exitUsage, "--alpha"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4", "--hint", "fc1", "-o", out}, exitUsage, "--hint"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4", "--hint", "fc1:fc1:x", "-o", out}, exitUsage, "weight"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4", "--hint", "fc9:fc1", "-o", out}, exitUsage, "fc9"},
		{[]string{"--teacher", teacher, "--arch", "wat", "-o", out}, exitUsage, "wat"},
		{[]string{"--teacher", filepath.Join(dir, "none.shrink"), "--arch", "mlp:4", "-o", out}, exitError, "none.shrink"},
		{[]string{"--teacher", teacher, "--arch", "mlp:4", "--augment", "-q", "-o", out}, exitError, "augment"},
	}
	for _, c := range cases {
		code, stdout, errs := shrinkRun(t, append([]string{"distill"}, c.args...)...)
		require.Equal(t, c.code, code, "%v: %s", c.args, errs)
		require.Empty(t, stdout, c.args)
		require.Contains(t, errs, c.want, c.args)
		require.Equal(t, 1, strings.Count(errs, "\n"), "one line: %q", errs)
	}
	require.NoFileExists(t, out)
}
