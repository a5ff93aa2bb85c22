package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/budget"
)

// gzStream gzips a header followed by n bytes of the repeated pattern,
// without holding the inflated bytes.
func gzStream(t testing.TB, header []byte, pattern string, n int) []byte {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	require.NoError(t, err)
	zw.Write(header)
	chunk := []byte(strings.Repeat(pattern, max(1, (1<<20)/len(pattern))))
	for w := 0; w < n; w += len(chunk) {
		zw.Write(chunk[:min(len(chunk), n-w)])
	}
	require.NoError(t, zw.Close())
	return out.Bytes()
}

// allocated runs f and returns the bytes it allocated (an upper bound on
// its peak heap) and how long it took.
func allocated(f func()) (uint64, time.Duration) {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	start := time.Now()
	f()
	d := time.Since(start)
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc, d
}

// TestHostileData is the hostile-input table of the data readers (issue
// 14, findings 1, 3, 6, 7, 11): every input is generated here, each must
// fail with a clear one-line error naming the limit and the flag that
// raises it (or the file, line and column), within a small allocation.
func TestHostileData(t *testing.T) {
	dir := t.TempDir()
	header := func(n, rows, cols uint32) []byte {
		var b bytes.Buffer
		for _, v := range []uint32{idxImageMagic, n, rows, cols} {
			_ = binary.Write(&b, binary.BigEndian, v)
		}
		return b.Bytes()
	}
	idxDir := func(name string, images []byte) string {
		d := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(d, 0o755))
		writeFile(t, d, "train-images-idx3-ubyte.gz", images)
		writeFile(t, d, "train-labels-idx1-ubyte", idxLabels([]byte{1}))
		return d
	}
	wide := "1," + strings.Repeat("0,", 4<<20) + "1\n"                  // an 8 MiB line of 4 M fields
	long := "1," + strings.Repeat("0.0000000000000001,", 1<<19) + "1\n" // a 9.5 MiB line of 0.5 M fields
	longPath := writeFile(t, dir, "long.csv", []byte(long))
	widePath := writeFile(t, dir, "wide.csv", []byte(wide))
	wideGz := writeFile(t, dir, "wide.csv.gz", gzStream(t, nil, wide, len(wide)))
	bombCSV := writeFile(t, dir, "bomb.csv.gz", gzStream(t, []byte("a,b\n"), "0,0\n", 16<<20))
	bombIDX := idxDir("bomb2", gzStream(t, header(100_000, 28, 28), "\x00", 16<<20))
	cases := []struct {
		name     string
		load     func() error
		want     []string // substrings of the error
		maxAlloc uint64
	}{
		{"label 30000 (finding 1)", func() error {
			_, err := Load(writeFile(t, dir, "classes.csv", []byte("a,b,label\n1,2,0\n3,4,1\n5,6,30000\n7,8,2\n")), Options{})
			return err
		}, []string{"classes.csv", "line 4", "label 30000 in column 2: classes: 30001 is above", "limit of 4096", "--max-classes"}, 1 << 20},
		{"gzipped CSV bomb (finding 6)", func() error {
			_, err := Load(bombCSV, Options{})
			return err
		}, []string{"bomb.csv.gz", "decompression ratio", "--max-inflate-ratio"}, 1 << 30},
		{"gzipped IDX bomb declaring 1e7 images (finding 6)", func() error {
			_, err := Load(idxDir("bomb1", gzStream(t, header(10_000_000, 28, 28), "\x00", 1<<20)), Options{})
			return err
		}, []string{"train-images-idx3-ubyte.gz", "data bytes", "pixels of 10000000 images of 28×28", "--max-data-bytes"}, 4 << 20},
		{"gzipped IDX bomb within the cap (finding 6)", func() error {
			_, err := Load(bombIDX, Options{})
			return err
		}, []string{"train-images-idx3-ubyte.gz", "decompression ratio", "--max-inflate-ratio"}, 300 << 20},
		{"a 8 MiB CSV line (finding 7)", func() error {
			_, err := Load(widePath, Options{})
			return err
		}, []string{"wide.csv", "line 1", "CSV fields per row: 65537 (record still incomplete)", "--max-fields"}, 16 << 20},
		{"a 9.5 MiB CSV line of long fields (finding 7)", func() error {
			_, err := Load(longPath, Options{})
			return err
		}, []string{"long.csv", "line 1", "CSV record bytes: 1048577 bytes", "--max-line-bytes"}, 32 << 20},
		{"a gzipped 8 MiB CSV line (finding 7)", func() error {
			_, err := Load(wideGz, Options{})
			return err
		}, []string{"wide.csv.gz", "line 1", "--max-fields"}, 16 << 20},
		{"70000 fields (finding 7)", func() error {
			_, err := Load(writeFile(t, dir, "fields.csv", []byte(strings.Repeat("0,", 70000)+"1\n")), Options{})
			return err
		}, []string{"fields.csv", "line 1", "CSV fields per row: 65537", "--max-fields"}, 16 << 20},
		{"rows above a lowered limit", func() error {
			_, err := Load(writeFile(t, dir, "rows.csv", []byte(strings.Repeat("1,0\n", 11))), Options{Budget: budget.Budget{Rows: 10}})
			return err
		}, []string{"rows.csv", "line 11", "CSV rows: 11", "--max-rows"}, 1 << 20},
		{"1e39 overflows float32 (finding 11)", func() error {
			_, err := Load(writeFile(t, dir, "big.csv", []byte("a,b,label\n1,2,0\n3,1e39,1\n")), Options{})
			return err
		}, []string{"big.csv", "line 3: column 1", `"1e39" overflows float32`}, 1 << 20},
		{"-1e39 overflows float32 (finding 11)", func() error {
			_, err := ReadCSV(strings.NewReader("-1e39,0\n"), "no", "")
			return err
		}, []string{"line 1: column 0", `"-1e39" overflows float32`}, 1 << 20},
		{"recorded source /dev/zero (finding 3)", func() error {
			_, err := LoadWithInfo(Info{Kind: KindCSV, Source: "/dev/zero.csv"})
			if errors.Is(err, os.ErrNotExist) {
				_, err = LoadWithInfo(Info{Kind: KindCSV, Source: os.DevNull})
			}
			return err
		}, []string{"not a regular file", "device"}, 1 << 20},
		{"recorded IDX source /dev (finding 3)", func() error {
			_, err := LoadWithInfo(Info{Kind: KindIDX, Source: os.DevNull})
			return err
		}, []string{"recorded source", "want a folder"}, 1 << 20},
		{"recorded test file is a device (finding 3)", func() error {
			_, err := LoadWithInfo(Info{Kind: KindCSV, Source: writeFile(t, dir, "ok.csv", []byte("1,0\n2,1\n")), TestFile: os.DevNull})
			return err
		}, []string{"not a regular file"}, 1 << 20},
		{"secret contents are not echoed (finding 3)", func() error {
			_, err := LoadWithInfo(Info{Kind: KindCSV, Source: writeFile(t, dir, "secret.csv", []byte("root:x:0:0:hunter2,2\nsecret-password,3\n")), Header: "no"})
			return err
		}, []string{"secret.csv", "line 1: column 0: not a finite number (18 bytes of text, not shown)"}, 1 << 20},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var err error
			alloc, took := allocated(func() { err = c.load() })
			require.Error(t, err)
			msg := err.Error()
			for _, w := range c.want {
				require.Contains(t, msg, w)
			}
			require.NotContains(t, msg, "\n")
			require.NotContains(t, msg, "hunter2")
			require.NotContains(t, msg, "password")
			require.Less(t, len(msg), 300, msg)
			require.Less(t, alloc, c.maxAlloc, "allocated %d bytes", alloc)
			require.Less(t, took, 20*time.Second)
			t.Logf("%v, %.1f MiB allocated: %s", took.Round(time.Millisecond), float64(alloc)/(1<<20), msg)
		})
	}
}

// TestRecordedFIFO: a FIFO named by a model file (as a CSV file or inside
// an IDX folder) is refused at once rather than blocking for ever.
func TestRecordedFIFO(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	dir := t.TempDir()
	fifo := filepath.Join(dir, "d.csv")
	require.NoError(t, mkfifo(fifo))
	idx := filepath.Join(dir, "idx")
	require.NoError(t, os.Mkdir(idx, 0o755))
	require.NoError(t, mkfifo(filepath.Join(idx, "train-images-idx3-ubyte")))
	writeFile(t, idx, "train-labels-idx1-ubyte", idxLabels([]byte{1}))
	done := make(chan error, 3)
	go func() {
		_, err := LoadWithInfo(Info{Kind: KindCSV, Source: fifo})
		done <- err
		_, err = LoadWithInfo(Info{Kind: KindIDX, Source: idx})
		done <- err
		_, err = Load(idx, Options{}) // an IDX folder given on the command line too
		done <- err
	}()
	for range 3 {
		select {
		case err := <-done:
			require.ErrorIs(t, err, ErrNotRegular)
			require.ErrorContains(t, err, "a FIFO")
		case <-time.After(10 * time.Second):
			t.Fatal("loading a FIFO blocked")
		}
	}
}

// TestOpenRegular: regular files and symlinks to them open; everything
// else is refused before it is opened.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "f.csv", []byte("1,0\n"))
	f, err := openRegular(p)
	require.NoError(t, err)
	f.Close()
	if runtime.GOOS != "windows" {
		link := filepath.Join(dir, "l.csv")
		require.NoError(t, os.Symlink("f.csv", link))
		d, err := LoadWithInfo(Info{Kind: KindCSV, Source: link, TestFraction: -1})
		require.NoError(t, err)
		require.Equal(t, 1, d.Train.Len())
	}
	_, err = openRegular(dir)
	require.ErrorIs(t, err, ErrNotRegular)
	require.ErrorContains(t, err, "a folder")
	_, err = openRegular(filepath.Join(dir, "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = LoadWithInfo(Info{Kind: KindIDX, Source: p})
	require.ErrorContains(t, err, "is a file, want a folder")
	_, err = regularFS(dir).Open("../x")
	require.Error(t, err)
}

// TestRecordLimitQuotes: newlines inside quotes belong to one record; a
// record within the limit passes, one byte more fails.
func TestRecordLimitQuotes(t *testing.T) {
	in := "\"1\n\n\",0\n2,1\n" // a quoted field with newlines: one record of 7 bytes
	tab, err := ReadCSVBudget(strings.NewReader(in), "no", "", budget.Budget{LineBytes: 7})
	require.NoError(t, err)
	require.Equal(t, 2, tab.Set.Len())
	_, err = ReadCSVBudget(strings.NewReader(in), "no", "", budget.Budget{LineBytes: 6})
	require.ErrorContains(t, err, "line 1: CSV record bytes: 7 bytes")
	require.ErrorIs(t, err, budget.ErrExceeded)
	_, err = ReadCSVBudget(strings.NewReader("1,0\n22,1\n"), "no", "", budget.Budget{LineBytes: 3})
	require.ErrorContains(t, err, "line 2: CSV record bytes")
}
