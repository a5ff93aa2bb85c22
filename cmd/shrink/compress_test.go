package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
)

func TestCompressRecipe(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:32", "--epochs", "2", "-q", "-o", in)
	require.Equal(t, 0, code, errs)
	rec := filepath.Join(dir, "r.yaml")
	text := "name: t\npasses:\n  - prune: {sparsity: 0.8, epochs: 1, distill: true}\n  - quantize: {scheme: \"cluster:16\", epochs: 1}\n  - encode: {encoding: auto}\n"
	require.NoError(t, os.WriteFile(rec, []byte(text), 0o644))
	out := filepath.Join(dir, "out.shrink")
	code, stdout, errs := shrinkRun(t, "compress", in, "--recipe", rec, "-o", out, "--json", "-q", "--seed", "5")
	require.Equal(t, 0, code, errs)
	var res compressResult
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	require.Len(t, res.Steps, 3)
	require.Less(t, res.FileBytes, res.BaseBytes/4)
	require.Equal(t, fileSize(out), res.FileBytes)
	require.Greater(t, res.Accuracy, 0.5)

	f, err := format.Read(out)
	require.NoError(t, err)
	require.Equal(t, res.Accuracy, f.Provenance.Accuracy)
	require.Equal(t, text, f.Provenance.Options["recipe"])
	require.EqualValues(t, 5, f.Provenance.Seed)
	require.Len(t, f.Provenance.Passes, 3)
	for i, p := range f.Provenance.Passes {
		require.Equal(t, res.Steps[i].Pass, p.Name)
		require.Equal(t, res.Steps[i].ValAccuracy, p.Accuracy)
		require.EqualValues(t, 5, p.Seed)
	}
	require.Equal(t, "0.8", f.Provenance.Passes[0].Options["sparsity"])
	require.Equal(t, "true", f.Provenance.Passes[0].Options["distill"])
	html, err := os.ReadFile(filepath.Join(dir, "out.html"))
	require.NoError(t, err)
	require.Contains(t, string(html), "<td>out (out)</td>")
	require.Contains(t, string(html), "<td>1 prune</td>")

	// A recipe error is a usage error with the line.
	require.NoError(t, os.WriteFile(rec, []byte("passes:\n  - prune: {sparsity: 2}\n"), 0o644))
	code, _, errs = shrinkRun(t, "compress", in, "--recipe", rec, "-o", out)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "r.yaml:2:")
	code, _, _ = shrinkRun(t, "compress", in, "-o", out)
	require.Equal(t, exitUsage, code)
	code, _, _ = shrinkRun(t, "compress", in, "--max-drop", "x%", "-o", out)
	require.Equal(t, exitUsage, code)
}

func TestDemoStoryShort(t *testing.T) {
	dir := t.TempDir()
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	ds.Train, ds.Test = ds.Train.Head(1000), ds.Test.Head(300)
	g := &globals{quiet: true, seed: 1, stdout: &strings.Builder{}, stderr: io.Discard}
	o := &demoOptions{out: dir, epochs: 1, short: true}
	to := &trainOptions{arch: "lenet300", epochs: 1, batch: 64, optimizer: "adam", schedule: "cosine", out: filepath.Join(dir, "lenet300.shrink")}
	_, err = trainModel(context.Background(), g, to, ds)
	require.NoError(t, err)
	st, err := runDemoStory(context.Background(), g, o, ds, to.out)
	require.NoError(t, err)
	require.Len(t, st.Rows, 5)
	require.EqualValues(t, 1, st.Rows[0].Agreement)
	for i, r := range st.Rows[1:] {
		require.Greater(t, r.Ratio, 1.0, r.Name)
		require.Greater(t, r.Accuracy, 0.3, r.Name)
		f, err := format.Read(st.Models[i+1])
		require.NoError(t, err)
		require.NotEmpty(t, f.Provenance.Passes)
	}
	out := g.stdout.(*strings.Builder).String()
	for _, n := range []string{"baseline", "pruned", "int8", "distilled", "compressed"} {
		require.Contains(t, out, n)
	}
	html, err := os.ReadFile(st.HTML)
	require.NoError(t, err)
	for _, r := range st.Rows {
		require.Contains(t, string(html), "<td>"+r.Name+"</td>")
	}
	_, err = os.Stat(st.Plot)
	require.NoError(t, err)
}

// TestCompressTeacher runs a recipe whose passes distill from a teacher
// file, with the validation split's seed fixed apart from the training seed,
// and checks the teacher option's errors.
func TestCompressTeacher(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:32", "--epochs", "2", "-q", "-o", in)
	require.Equal(t, 0, code, errs)
	teacher := filepath.Join(dir, "teacher.shrink")
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:64", "--epochs", "2", "-q", "-o", teacher)
	require.Equal(t, 0, code, errs)
	rec := filepath.Join(dir, "r.yaml")
	text := fmt.Sprintf("passes:\n  - prune: {sparsity: 0.8, epochs: 1, distill: true, teacher: %q}\n  - quantize: {scheme: \"cluster:16\", epochs: 1, distill: true, temperature: 2}\n", teacher)
	require.NoError(t, os.WriteFile(rec, []byte(text), 0o644))
	out := filepath.Join(dir, "out.shrink")
	run := func(args ...string) compressResult {
		code, stdout, errs := shrinkRun(t, append([]string{"compress", in, "--recipe", rec, "-o", out, "--json", "-q"}, args...)...)
		require.Equal(t, 0, code, errs)
		var res compressResult
		require.NoError(t, json.Unmarshal([]byte(stdout), &res))
		return res
	}
	a := run("--seed", "5", "--val-seed", "1")
	f, err := format.Read(out)
	require.NoError(t, err)
	require.Equal(t, "1", f.Provenance.Options["val_seed"])
	require.Equal(t, teacher, f.Provenance.Passes[0].Options["teacher"])
	require.Equal(t, "true", f.Provenance.Passes[1].Options["distill"])
	require.Greater(t, a.Accuracy, 0.5)
	// The same held-out images as a run with --seed 1: the input model's
	// validation accuracy is the same.
	b := run("--seed", "1")
	require.Equal(t, b.BaseVal, a.BaseVal)
	f, err = format.Read(out)
	require.NoError(t, err)
	require.Equal(t, "1", f.Provenance.Options["val_seed"])

	// --teacher: the default teacher of passes that name none, recorded.
	norec := filepath.Join(dir, "n.yaml")
	require.NoError(t, os.WriteFile(norec, []byte("passes:\n  - prune: {sparsity: 0.8, epochs: 1, distill: true}\n"), 0o644))
	code, _, errs = shrinkRun(t, "compress", in, "--recipe", norec, "--teacher", teacher, "-o", out, "-q")
	require.Equal(t, 0, code, errs)
	f, err = format.Read(out)
	require.NoError(t, err)
	require.Equal(t, teacher, f.Provenance.Options["teacher"])
	code, _, errs = shrinkRun(t, "compress", in, "--recipe", norec, "--teacher", rec, "-o", filepath.Join(dir, "bad.shrink"), "-q")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--teacher")
	code, _, errs = shrinkRun(t, "compress", in, "--max-drop", "1%", "--no-distill", "--teacher", teacher, "-o", filepath.Join(dir, "bad.shrink"), "-q")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--no-distill")

	for _, c := range []struct{ teacher, want string }{
		{filepath.Join(dir, "missing.shrink"), "missing.shrink"},
		{rec, "r.yaml"}, // not a model file
	} {
		bad := fmt.Sprintf("passes:\n  - quantize: {scheme: \"cluster:4\", epochs: 1, distill: true, teacher: %q}\n", c.teacher)
		require.NoError(t, os.WriteFile(rec, []byte(bad), 0o644))
		code, _, errs := shrinkRun(t, "compress", in, "--recipe", rec, "-o", filepath.Join(dir, "bad.shrink"), "-q")
		require.NotEqual(t, 0, code)
		require.Contains(t, errs, "teacher")
		require.Contains(t, errs, c.want)
		require.NoFileExists(t, filepath.Join(dir, "bad.shrink"))
	}
}
