package report

import (
	"bytes"
	"encoding/csv"
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

func sampleRows() []Row {
	return []Row{
		{Name: "baseline", Accuracy: 0.98, Agreement: 1, FileBytes: 1_070_000, Ratio: 1, Params: 266610, NonzeroParams: 266610, MACs: 266200, EffectiveMACs: 266200, LatencyUS: 40},
		{Name: "pruned", Accuracy: 0.979, Agreement: 0.99, FileBytes: 120_000, Ratio: 8.9, Params: 266610, NonzeroParams: 26661, MACs: 266200, EffectiveMACs: 26620, LatencyUS: 20},
		{Name: "int8", Accuracy: 0.975, Agreement: 0.98, FileBytes: 270_000, Ratio: 4, Params: 266610, NonzeroParams: 266610, MACs: 266200, EffectiveMACs: 266200, LatencyUS: 30},
		{Name: "tiny", Accuracy: 0.90, Agreement: 0.9, FileBytes: 10_000, Ratio: 107, Params: 8000, NonzeroParams: 8000, MACs: 8000, EffectiveMACs: 8000},
	}
}

func TestFrontier(t *testing.T) {
	rows := sampleRows()
	// By size: int8 is beaten by pruned (smaller and more accurate).
	require.Equal(t, []bool{true, true, false, true}, Frontier(rows, CostBytes))
	// By MACs: pruned has fewer effective MACs than baseline but is less
	// accurate; int8 has baseline's MACs and is less accurate.
	require.Equal(t, []bool{true, true, false, true}, Frontier(rows, CostMACs))
	// By latency: tiny has none, so it is off the frontier.
	require.Equal(t, []bool{true, true, false, false}, Frontier(rows, CostLatency))
	// Identical rows are both on the frontier.
	require.Equal(t, []bool{true, true}, Frontier([]Row{rows[0], rows[0]}, CostBytes))
	require.Empty(t, Frontier(nil, CostBytes))
	require.Equal(t, []int{3, 1, 0}, frontierOrder(rows, CostBytes))
}

func TestTables(t *testing.T) {
	rows := sampleRows()
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, rows))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	require.Len(t, lines, 1+len(rows))
	for _, l := range lines[1:] {
		require.Equal(t, len([]rune(lines[0])), len([]rune(l)), "aligned: %q", l)
	}

	b.Reset()
	require.NoError(t, WriteMarkdown(&b, rows))
	require.Contains(t, b.String(), "| pruned | 97.90% |")

	b.Reset()
	require.NoError(t, WriteCSV(&b, rows))
	recs, err := csv.NewReader(&b).ReadAll()
	require.NoError(t, err)
	require.Equal(t, header, recs[0])
	require.Equal(t, "0.979", recs[2][1])

	b.Reset()
	require.NoError(t, WriteJSON(&b, rows))
	var got []map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	require.Len(t, got, len(rows))
	for _, k := range header {
		require.Contains(t, got[0], k)
	}
	b.Reset()
	require.NoError(t, WriteJSON(&b, nil))
	require.Equal(t, "[]\n", b.String())
}

// requireXML checks that b is well-formed XML with an <svg> root.
func requireXML(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	require.Equal(t, "svg", root)
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	rows := sampleRows()
	svg := filepath.Join(dir, "p.svg")
	require.NoError(t, SavePlots(svg, rows, "test"))
	b, err := os.ReadFile(svg)
	require.NoError(t, err)
	requireXML(t, b)
	require.Contains(t, string(b), "pruned")

	png := filepath.Join(dir, "p.png")
	require.NoError(t, SavePlots(png, rows, "test"))
	f, err := os.Open(png)
	require.NoError(t, err)
	defer f.Close()
	img, kind, err := image.Decode(f)
	require.NoError(t, err)
	require.Equal(t, "png", kind)
	require.Greater(t, img.Bounds().Dx(), 500)

	require.Error(t, SavePlots(filepath.Join(dir, "p.gif"), rows, "x"))
	// One row, equal costs: still a valid plot.
	var one bytes.Buffer
	require.NoError(t, WritePlots(&one, SVG, rows[:1], "one"))
	requireXML(t, one.Bytes())
	// Many rows: only frontier points are labelled.
	var many []Row
	for i := range 20 {
		r := rows[i%4]
		r.Name = "cand" + string(rune('a'+i))
		r.FileBytes += int64(i)
		many = append(many, r)
	}
	one.Reset()
	require.NoError(t, WritePlots(&one, SVG, many, "many"))
	requireXML(t, one.Bytes())
}

func TestHTML(t *testing.T) {
	rows := sampleRows()
	rows[1].Name = "pruned <b>&"
	p := &Page{Title: "shrink report", Intro: []string{"hello"}, Sections: []Section{
		{Title: "models", Rows: rows, Plot: true},
		{Title: "candidates", Rows: rows, Frontier: true, Extra: []string{"a", "", "c"}, ExtraTitle: "config"},
		{Title: "provenance", Fields: [][2]string{{"seed", "1"}}, Pre: "passes:\n  - prune: {}\n"},
	}}
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, p))
	s := b.String()
	for _, r := range rows {
		if r.Name == "pruned <b>&" {
			require.Contains(t, s, "<td>pruned &lt;b&gt;&amp;</td>")
			continue
		}
		require.Contains(t, s, "<td>"+r.Name+"</td>")
	}
	require.True(t, strings.Contains(s, `src="data:image/svg`), "inline plot")
	require.NotContains(t, s, "http://")
	require.NotContains(t, s, "https://")
	require.Contains(t, s, "★")
	require.Contains(t, s, "passes:")
}
