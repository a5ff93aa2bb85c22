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
	// The same model twice: no disagreement, p = 1, a drop interval around 0.
	requireStats(t, rows)
	require.EqualValues(t, 1, rows[1]["drop_p_value"])
	require.EqualValues(t, 0, rows[1]["drop"])

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
	require.Regexp(t, `(?m)^b: \d+\.\d\d points (below|above) a \(95% interval .*\): (within noise|real drop|real gain) \(p=[0-9.e-]+\)$`, out)

	// Two different models: statistics against the first, pictures of the
	// disagreements and per-layer bars in the HTML report.
	code, out, errs = shrinkRun(t, "compare", a, b, "--json", "--runs", "0", "-q", "--html", html)
	require.Equal(t, 0, code, errs)
	rows = nil
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	requireStats(t, rows)
	require.InDelta(t, rows[0]["accuracy"].(float64)-rows[1]["accuracy"].(float64), rows[1]["drop"].(float64), 1e-12)
	hb, err = os.ReadFile(html)
	require.NoError(t, err)
	h := string(hb)
	require.Regexp(t, `b: \d+\.\d\d points (below|above) a .*: (within noise|real drop|real gain) \(p=`, h)
	require.Contains(t, h, "b and a disagree on")
	require.Contains(t, h, `src="data:image/png;base64,`)
	require.Equal(t, 2, strings.Count(h, `alt="per-layer sparsity and bits per weight"`))

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

// requireStats checks compare's statistics keys on JSON rows: the accuracy
// interval holds the accuracy, the drop interval the drop, p is in (0, 1].
func requireStats(t *testing.T, rows []map[string]any) {
	t.Helper()
	pair := func(v any) (float64, float64) {
		a, ok := v.([]any)
		require.True(t, ok, "%v is not an array", v)
		require.Len(t, a, 2)
		return a[0].(float64), a[1].(float64)
	}
	for i, r := range rows {
		for _, k := range []string{"accuracy_ci", "drop_ci", "drop_p_value"} {
			require.Contains(t, r, k)
		}
		lo, hi := pair(r["accuracy_ci"])
		acc := r["accuracy"].(float64)
		require.True(t, 0 <= lo && lo <= acc && acc <= hi && hi <= 1, "accuracy %g, interval [%g, %g]", acc, lo, hi)
		lo, hi = pair(r["drop_ci"])
		drop := r["drop"].(float64)
		require.True(t, lo <= drop && drop <= hi, "drop %g, interval [%g, %g]", drop, lo, hi)
		if i > 0 {
			require.Less(t, lo, hi)
		}
		p := r["drop_p_value"].(float64)
		require.True(t, p > 0 && p <= 1, "p %g", p)
	}
}
