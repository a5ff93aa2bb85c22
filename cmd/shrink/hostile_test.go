package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
)

// withRecordedData rewrites model so that its provenance names info as its
// data, as a hostile model file would.
func withRecordedData(t *testing.T, model string, info data.Info) {
	f, err := format.Read(model)
	require.NoError(t, err)
	f.Provenance.DataInfo, err = json.Marshal(info)
	require.NoError(t, err)
	require.NoError(t, format.Write(model, f))
}

// TestHostileCLI (issue 14): inputs the readers accept but that used to
// drive unbounded work, and outputs -o should not replace, through the
// CLI as it stands: each is one line on stderr, exit status 1, quickly.
func TestHostileCLI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("FIFOs and symlinks")
	}
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		return p
	}
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zw.Write([]byte("a,b\n"))
	zw.Write([]byte(strings.Repeat("0,0\n", 4<<20)))
	zw.Close()
	bombPath := write("bomb.csv.gz", bomb.String())

	model := filepath.Join(dir, "m.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", model)
	require.Equal(t, 0, code, errs)
	zero := filepath.Join(dir, "zero.shrink")
	require.NoError(t, os.Link(model, zero))
	require.NoError(t, os.Remove(model))
	withRecordedData(t, zero, data.Info{Kind: data.KindCSV, Source: "/dev/zero"})
	fifo := filepath.Join(dir, "pipe.csv")
	require.NoError(t, mkfifo(fifo))
	fifoModel := filepath.Join(dir, "fifo.shrink")
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", fifoModel)
	require.Equal(t, 0, code, errs)
	withRecordedData(t, fifoModel, data.Info{Kind: data.KindCSV, Source: fifo})
	secret := write("secret.csv", "root:x:0:0:hunter2,1\n")
	secretModel := filepath.Join(dir, "secret.shrink")
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", secretModel)
	require.Equal(t, 0, code, errs)
	withRecordedData(t, secretModel, data.Info{Kind: data.KindCSV, Source: secret, TestFraction: 0.5, Seed: 1, Header: "no"})
	link := filepath.Join(dir, "link.shrink")
	require.NoError(t, os.Symlink("fifo.shrink", link))

	train := func(csv string, extra ...string) []string {
		return append([]string{"train", "--arch", "mlp:4", "--data", csv, "--epochs", "1", "-q", "-o", filepath.Join(dir, "out.shrink")}, extra...)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"label 30000", train(write("classes.csv", "a,b,label\n1,2,0\n3,4,1\n5,6,30000\n7,8,2\n")), []string{"classes.csv", "line 4", "--max-classes"}},
		{"gzipped CSV bomb", train(bombPath), []string{"bomb.csv.gz", "--max-inflate-ratio"}},
		{"8 MiB line", train(write("wide.csv", strings.Repeat("0,", 4<<20)+"1\n")), []string{"wide.csv", "line 1", "--max-fields"}},
		{"1e39", train(write("big.csv", "a,b,label\n1,2,0\n3,1e39,1\n")), []string{"big.csv", "line 3: column 1", `"1e39" overflows float32`}},
		{"recorded /dev/zero", []string{"eval", zero}, []string{"/dev/zero", "not a regular file"}},
		{"recorded FIFO", []string{"eval", fifoModel}, []string{"pipe.csv", "a FIFO"}},
		{"recorded secret", []string{"eval", secretModel}, []string{"secret.csv", "not shown"}},
		{"-o a symlink", []string{"train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", link}, []string{"link.shrink", "a symlink", "--write-through"}},
		{"-o a hard link", []string{"train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", zero}, []string{"zero.shrink", "hard links"}},
	}
	require.NoError(t, os.Link(zero, filepath.Join(dir, "zero2.shrink")))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			code, out, errs := shrinkRun(t, c.args...)
			require.Equal(t, exitError, code, "stdout %s", out)
			for _, w := range c.want {
				require.Contains(t, errs, w)
			}
			require.Equal(t, 1, strings.Count(strings.TrimSpace(errs), "\n")+1, errs)
			require.NotContains(t, errs, "hunter2")
			require.Less(t, len(errs), 400)
			require.Less(t, time.Since(start), 20*time.Second)
		})
	}
	st, err := os.Lstat(link)
	require.NoError(t, err)
	require.NotZero(t, st.Mode()&os.ModeSymlink, "the symlink is still a symlink")
}

// TestSourceDateEpochCLI: with SOURCE_DATE_EPOCH set, training twice (in
// different seconds) writes byte-identical files.
func TestSourceDateEpochCLI(t *testing.T) {
	t.Setenv(format.SourceDateEpoch, "1700000000")
	dir := t.TempDir()
	var files [][]byte
	for k := range 2 {
		if k > 0 {
			time.Sleep(1100 * time.Millisecond) // a later second
		}
		p := filepath.Join(dir, "m"+strconv.Itoa(k)+".shrink")
		code, _, errs := shrinkRun(t, "train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", p)
		require.Equal(t, 0, code, errs)
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		files = append(files, b)
	}
	require.True(t, bytes.Equal(files[0], files[1]), "same command and seed, same bytes")
	f, err := format.Decode(files[0])
	require.NoError(t, err)
	require.Equal(t, "2023-11-14T22:13:20Z", f.Provenance.Created)
}

// TestStaleTemporaryCLI: a temporary file left by a killed write to the
// same output is removed by the next command that writes it.
func TestStaleTemporaryCLI(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("PIDs and flock")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	require.NoError(t, cmd.Run())
	stale := filepath.Join(dir, ".m.shrink.tmp-"+strconv.Itoa(cmd.Process.Pid)+"-1")
	require.NoError(t, os.WriteFile(stale, []byte("partial"), 0o600))
	p := filepath.Join(dir, "m.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:4", "--data", blobs, "--epochs", "1", "-q", "-o", p)
	require.Equal(t, 0, code, errs)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
	require.Equal(t, "m.shrink", entries[0].Name())
}

// TestCLIBudgetAndOutputs checks the wiring of the budget flags and of the
// output checks: an input named as the output is refused and left intact,
// --write-through writes through a symlink, a lowered --max-memory refuses
// a model, and a malformed SOURCE_DATE_EPOCH stops a command before work.
func TestCLIBudgetAndOutputs(t *testing.T) {
	dir := t.TempDir()
	csv := filepath.Join(dir, "d.csv")
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, "%d,%d,%d\n", i%7, (i*3)%5, i%2)
	}
	require.NoError(t, os.WriteFile(csv, []byte(b.String()), 0o644))
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:4", "--data", csv, "--epochs", "1", "-q", "-o", csv)
	require.Equal(t, exitError, code)
	require.Contains(t, errs, "d.csv")
	got, err := os.ReadFile(csv)
	require.NoError(t, err)
	require.Equal(t, b.String(), string(got), "the training data is intact")

	if runtime.GOOS != "windows" {
		target := filepath.Join(dir, "target.shrink")
		link := filepath.Join(dir, "link.shrink")
		require.NoError(t, os.WriteFile(target, nil, 0o644))
		require.NoError(t, os.Symlink(target, link))
		code, _, errs = shrinkRun(t, "train", "--arch", "mlp:4", "--data", csv, "--epochs", "1", "-q", "--write-through", "-o", link)
		require.Equal(t, 0, code, errs)
		st, err := os.Lstat(link)
		require.NoError(t, err)
		require.NotZero(t, st.Mode()&os.ModeSymlink)
		st, err = os.Stat(target)
		require.NoError(t, err)
		require.Greater(t, st.Size(), int64(0), "written through the link")
	}

	model := filepath.Join(dir, "m.shrink")
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:4", "--data", csv, "--epochs", "1", "-q", "-o", model)
	require.Equal(t, 0, code, errs)
	code, _, errs = shrinkRun(t, "eval", model, "--data", csv, "--max-memory", "100")
	require.Equal(t, exitError, code)
	require.Contains(t, errs, "--max-memory")

	t.Setenv("SOURCE_DATE_EPOCH", "yesterday")
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:4", "--data", csv, "--epochs", "1", "-q", "-o", filepath.Join(dir, "x.shrink"))
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "SOURCE_DATE_EPOCH")
	require.NoFileExists(t, filepath.Join(dir, "x.shrink"))
}
