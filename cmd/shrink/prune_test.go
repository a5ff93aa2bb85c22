package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

func TestPruneCommand(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:32,16", "--epochs", "1", "--batch", "64", "-q", "-o", base)
	require.Equal(t, 0, code, errs)

	type result struct {
		Accuracy       float64 `json:"accuracy"`
		AccuracyBefore float64 `json:"accuracy_before"`
		Params         int64   `json:"params"`
		NonzeroParams  int64   `json:"nonzero_params"`
		MACs           int64   `json:"macs"`
		FileBytes      int64   `json:"file_bytes"`
		FileBefore     int64   `json:"file_bytes_before"`
		Sparsity       float64 `json:"sparsity"`
		Layers         []map[string]any
		Epochs         []map[string]any
	}
	prune := func(args ...string) (result, string) {
		t.Helper()
		out := filepath.Join(dir, "p.shrink")
		code, stdout, errs := shrinkRun(t, append([]string{"prune", base, "-q", "--json", "-o", out}, args...)...)
		require.Equal(t, 0, code, errs)
		require.Empty(t, errs)
		var r result
		require.NoError(t, json.Unmarshal([]byte(stdout), &r))
		require.Equal(t, fileSize(out), r.FileBytes)
		require.Greater(t, r.AccuracyBefore, 0.5)
		return r, out
	}

	// Gradual magnitude pruning with a per-layer override, fine-tuned.
	r, out := prune("--sparsity", "0.9", "--layer-sparsity", "fc3=0.5", "--schedule", "gradual", "--steps", "3", "--finetune-epochs", "1", "--batch", "100", "--lr", "0.003")
	require.Len(t, r.Layers, 3)
	require.InDelta(t, 0.9, r.Layers[0]["sparsity"], 1e-3)
	require.InDelta(t, 0.5, r.Layers[2]["sparsity"], 1e-2)
	require.Len(t, r.Epochs, 1)
	require.Less(t, r.FileBytes, r.FileBefore/5)
	require.Greater(t, r.Accuracy, 0.3)
	f, err := format.Read(out)
	require.NoError(t, err)
	w := f.Model.Layer("fc1").(nn.Accelerated).Weight()
	require.InDelta(t, 0.1, float64(w.NonZero())/float64(len(w.W)), 1e-3)
	require.NotEqual(t, format.Float32, f.Encodings["fc1.weight"])
	require.Equal(t, "sparse", f.Model.Paths()["fc1"])
	require.Equal(t, "prune", f.Provenance.Passes[len(f.Provenance.Passes)-1].Name)
	require.Equal(t, "gradual", f.Provenance.Passes[len(f.Provenance.Passes)-1].Options["schedule"])
	require.InDelta(t, r.Accuracy, f.Provenance.Accuracy, 1e-12)
	// eval agrees with what prune measured.
	code, stdout, errs := shrinkRun(t, "eval", out, "--json")
	require.Equal(t, 0, code, errs)
	var ev map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &ev))
	require.InDelta(t, r.Accuracy, ev["accuracy"], 1e-12)

	// With a validation split: fine-tuning sees only the rest of the
	// training data, and reports validation accuracy before, after and per
	// epoch.
	code, stdout, errs = shrinkRun(t, "prune", base, "-q", "--json", "-o", out, "--sparsity", "0.8", "--finetune-epochs", "2", "--val-fraction", "0.2")
	require.Equal(t, 0, code, errs)
	var rv struct {
		ValImages         int     `json:"val_images"`
		ValAccuracyBefore float64 `json:"val_accuracy_before"`
		ValAccuracy       float64 `json:"val_accuracy"`
		Epochs            []struct {
			ValAccuracy float64 `json:"val_accuracy"`
		}
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &rv))
	require.Equal(t, 2000, rv.ValImages, "20%% of mnist-mini's 10k training images")
	require.Greater(t, rv.ValAccuracyBefore, 0.5)
	require.Len(t, rv.Epochs, 2)
	require.InDelta(t, rv.ValAccuracy, rv.Epochs[1].ValAccuracy, 1e-12)
	f, err = format.Read(out)
	require.NoError(t, err)
	require.Equal(t, "0.2", f.Provenance.Passes[len(f.Provenance.Passes)-1].Options["val_fraction"])

	// Structured: half the hidden units, a smaller ordinary model.
	r, out = prune("--method", "structured", "--sparsity", "0.5", "--criterion", "taylor")
	require.EqualValues(t, 784*16+16+16*8+8+8*10+10, r.Params)
	require.Equal(t, r.Params, r.NonzeroParams)
	require.EqualValues(t, 784*16+16*8+8*10, r.MACs)
	f, err = format.Read(out)
	require.NoError(t, err)
	require.Equal(t, 16, f.Model.Layer("fc1").Out()[0])

	// N:M and global scope, one shot; a dry run writes nothing.
	r, _ = prune("--method", "nm:2:4")
	require.InDelta(t, 0.5, r.Sparsity, 0.01)
	r, _ = prune("--sparsity", "0.8", "--scope", "global", "--method", "random", "--f16")
	require.InDelta(t, 0.8, r.Sparsity, 1e-3)
	dry := filepath.Join(dir, "dry.shrink")
	code, _, errs = shrinkRun(t, "prune", base, "--sparsity", "0.5", "--dry-run", "-q", "-o", dry)
	require.Equal(t, 0, code, errs)
	require.NoFileExists(t, dry)

	// Sensitivity scan on a validation split of the training data.
	code, stdout, errs = shrinkRun(t, "prune", base, "--sensitivity", "--sensitivity-levels", "0.5,0.99", "-q", "--json")
	require.Equal(t, 0, code, errs)
	var sens struct {
		Sensitivity []map[string]any
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &sens))
	require.Len(t, sens.Sensitivity, 3*3)
	code, stdout, _ = shrinkRun(t, "prune", base, "--sensitivity", "--sensitivity-levels", "0.5", "-q")
	require.Equal(t, 0, code)
	require.Contains(t, stdout, "fc1")
}

func TestPruneUsageErrors(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:8", "--epochs", "1", "-q", "-o", base)
	require.Equal(t, 0, code, errs)
	out := filepath.Join(dir, "o.shrink")
	for _, args := range [][]string{
		{"--sparsity", "0.5"}, // no -o
		{"--sparsity", "1", "-o", out},
		{"-o", out},
		{"--sparsity", "0.5", "--method", "nm:4:4", "-o", out},
		{"--sparsity", "0.5", "--method", "snip", "-o", out},
		{"--sparsity", "0.5", "--scope", "model", "-o", out},
		{"--sparsity", "0.5", "--schedule", "gradual", "-o", out},
		{"--sparsity", "0.5", "--schedule", "gradual", "--finetune-epochs", "1", "--method", "structured", "-o", out},
		{"--sparsity", "0.5", "--layer-sparsity", "fc1", "-o", out},
		{"--sparsity", "0.5", "--layer-sparsity", "relu1=0.5", "-o", out},
		{"--sparsity", "0.5", "--criterion", "l3", "-o", out},
		{"--sparsity", "0.5", "--teacher", base, "-o", out},
		{"--sparsity", "0.5", "--val-fraction", "1", "-o", out},
	} {
		code, _, errs := shrinkRun(t, append([]string{"prune", base, "-q"}, args...)...)
		require.Equal(t, exitUsage, code, "%v: %s", args, errs)
		require.NotEmpty(t, errs)
	}
	code, _, _ = shrinkRun(t, "prune", filepath.Join(dir, "missing.shrink"), "--sparsity", "0.5", "-o", out)
	require.Equal(t, exitError, code)
	require.NoFileExists(t, out)
}
