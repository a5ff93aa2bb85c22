package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image"
	_ "image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompare(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.shrink")
	b := filepath.Join(dir, "b.shrink")
	code, _, errs := shrinkRun(t, "train", "--arch", "mlp:16", "--epochs", "1", "-q", "-o", a)
	require.Equal(t, 0, code, errs)
	code, _, errs = shrinkRun(t, "train", "--arch", "mlp:8", "--epochs", "1", "-q", "-o", b)
	require.Equal(t, 0, code, errs)

	// Two identical models: agreement 1, ratio 1.
	svg, png, html := filepath.Join(dir, "p.svg"), filepath.Join(dir, "p.png"), filepath.Join(dir, "r.html")
	code, out, errs := shrinkRun(t, "compare", a, a, "--json", "--runs", "1", "-q", "--plot", svg, "--html", html)
	require.Equal(t, 0, code, errs)
	require.Empty(t, errs)
	var rows []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 2)
	for _, r := range rows {
		for _, k := range []string{"name", "accuracy", "agreement", "file_bytes", "ratio", "params", "nonzero_params", "macs", "latency_us"} {
			require.Contains(t, r, k)
		}
		require.EqualValues(t, 1, r["agreement"])
		require.EqualValues(t, 1, r["ratio"])
		require.Greater(t, r["latency_us"].(float64), 0.0)
		require.EqualValues(t, fileSize(a), r["file_bytes"])
	}
	require.Equal(t, rows[0]["accuracy"], rows[1]["accuracy"])

	// The plot is valid SVG; the HTML holds every row.
	sb, err := os.ReadFile(svg)
	require.NoError(t, err)
	dec := xml.NewDecoder(bytes.NewReader(sb))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
	}
	hb, err := os.ReadFile(html)
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(hb), "<td>"+a+"</td>"))

	// Two different models, PNG plot, CSV and Markdown.
	code, out, errs = shrinkRun(t, "compare", a, b, "--csv", "--runs", "0", "-q", "--plot", png)
	require.Equal(t, 0, code, errs)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	require.Equal(t, "name,accuracy,agreement,file_bytes,ratio,params,nonzero_params,macs,latency_us", lines[0])
	require.True(t, strings.HasPrefix(lines[2], "b,"), lines[2])
	f, err := os.Open(png)
	require.NoError(t, err)
	defer f.Close()
	_, kind, err := image.Decode(f)
	require.NoError(t, err)
	require.Equal(t, "png", kind)

	code, out, errs = shrinkRun(t, "compare", a, b, "--markdown", "--runs", "0", "-q")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "| a |")
	code, out, errs = shrinkRun(t, "compare", a, b, "--runs", "0", "-q")
	require.Equal(t, 0, code, errs)
	require.Contains(t, out, "agreement")

	// Usage errors.
	code, _, _ = shrinkRun(t, "compare", a, "--json", "--csv")
	require.Equal(t, exitUsage, code)
	code, _, _ = shrinkRun(t, "compare", a, "--plot", filepath.Join(dir, "x.gif"))
	require.Equal(t, exitUsage, code)
	code, _, _ = shrinkRun(t, "compare")
	require.Equal(t, exitUsage, code)
	code, _, _ = shrinkRun(t, "compare", filepath.Join(dir, "missing.shrink"))
	require.Equal(t, exitError, code)
}
