package report

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image"
	"image/png"
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

// statRows returns sampleRows with Uncertainty: pruned within noise, int8 a
// real drop, tiny a real gain.
func statRows() []Row {
	rows := sampleRows()
	rows[0].Uncertainty = &Uncertainty{AccuracyCI: [2]float64{0.973, 0.985}, DropPValue: 1}
	rows[1].Uncertainty = &Uncertainty{AccuracyCI: [2]float64{0.972, 0.984}, Drop: 0.001, DropCI: [2]float64{-0.002, 0.004}, DropPValue: 0.41, Lost: 7, Gained: 5}
	rows[2].Uncertainty = &Uncertainty{AccuracyCI: [2]float64{0.967, 0.981}, Drop: 0.005, DropCI: [2]float64{0.002, 0.009}, DropPValue: 0.0031, Lost: 14, Gained: 4}
	rows[3].Uncertainty = &Uncertainty{AccuracyCI: [2]float64{0.88, 0.92}, Drop: -0.08, DropCI: [2]float64{-0.1, -0.06}, DropPValue: 2.2e-12, Lost: 1, Gained: 161}
	return rows
}

func TestVerdict(t *testing.T) {
	rows := statRows()
	require.Equal(t, "within noise (p=1)", Verdict(rows[0]))
	require.Equal(t, "within noise (p=0.41)", Verdict(rows[1]))
	require.Equal(t, "real drop (p=0.0031)", Verdict(rows[2]))
	require.Equal(t, "real gain (p=2.2e-12)", Verdict(rows[3]))
	require.Equal(t, "", Verdict(sampleRows()[1]))
	v := Verdicts(rows)
	require.Len(t, v, 3)
	require.Equal(t, "pruned: 0.10 points below baseline (95% interval −0.20 to 0.40; 7 test samples lost, 5 gained): within noise (p=0.41)", v[0])
	require.Contains(t, v[2], "tiny: 8.00 points above baseline (95% interval −10.00 to −6.00; 1 test sample lost, 161 gained)")
	require.Empty(t, Verdicts(sampleRows()))
	require.Empty(t, Verdicts(nil))
}

func TestTablesWithStats(t *testing.T) {
	rows := statRows()
	var b bytes.Buffer
	require.NoError(t, WriteText(&b, rows))
	parts := strings.Split(strings.TrimRight(b.String(), "\n"), "\n\n")
	require.Len(t, parts, 2, b.String())
	lines := strings.Split(parts[0], "\n")
	require.Len(t, lines, 1+len(rows))
	require.Contains(t, lines[0], "95% interval")
	for _, l := range lines[1:] {
		require.Equal(t, len([]rune(lines[0])), len([]rune(l)), "aligned: %q", l)
	}
	require.Contains(t, lines[1], "97.3–98.5%")
	require.Contains(t, lines[3], "0.50 (0.20, 0.90)")
	require.Contains(t, lines[3], "0.0031")
	require.Equal(t, Verdicts(rows), strings.Split(parts[1], "\n"))

	b.Reset()
	require.NoError(t, WriteMarkdown(&b, rows))
	require.Contains(t, b.String(), "| int8 | 97.50% | 96.7–98.1% | 0.50 (0.20, 0.90) | 0.0031 |")
	require.Contains(t, b.String(), "- int8: 0.50 points below baseline")

	// JSON: the statistics keys on rows that have them, none on the others.
	b.Reset()
	mixed := append(rows[:2:2], sampleRows()[2])
	require.NoError(t, WriteJSON(&b, mixed))
	var got []map[string]any
	require.NoError(t, json.Unmarshal(b.Bytes(), &got))
	require.Equal(t, []any{0.972, 0.984}, got[1]["accuracy_ci"])
	require.Equal(t, []any{-0.002, 0.004}, got[1]["drop_ci"])
	require.Equal(t, 0.41, got[1]["drop_p_value"])
	require.EqualValues(t, 1, got[0]["drop_p_value"])
	for _, k := range []string{"accuracy_ci", "drop_ci", "drop_p_value", "images_per_s"} {
		require.NotContains(t, got[2], k)
	}
	var back []Row
	require.NoError(t, json.Unmarshal(b.Bytes(), &back))
	require.Equal(t, mixed, back)
}

func TestPictures(t *testing.T) {
	rng := func(i int) float32 { return float32((i*7919)%251) / 250 }
	grey := make([]float32, 28*28)
	for i := range grey {
		grey[i] = rng(i)
	}
	rgb := make([]float32, 5*7*3)
	for i := range rgb {
		rgb[i] = rng(i + 3)
	}
	d := &Disagreements{Reference: "base", Model: "int8", Total: 3, Samples: []Disagreement{
		{Index: 4, Pixels: grey, Shape: []int{28, 28, 1}, Label: 7, Reference: 7, Prediction: 2},
		{Index: 9, Pixels: rgb, Shape: []int{5, 7, 3}, Label: 1, Reference: 3, Prediction: 1},
		{Index: 11, Pixels: grey[:10], Shape: []int{10}, Label: 0, Reference: 0, Prediction: 5},
	}}
	for i, s := range d.Samples {
		u, err := s.picture()
		require.NoError(t, err)
		if i == 2 {
			require.Empty(t, u, "a flat sample has no picture")
			continue
		}
		prefix := "data:image/png;base64,"
		require.True(t, strings.HasPrefix(string(u), prefix))
		raw, err := base64.StdEncoding.DecodeString(string(u)[len(prefix):])
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Equal(t, s.Shape[1], img.Bounds().Dx())
		require.Equal(t, s.Shape[0], img.Bounds().Dy())
		if i == 0 {
			// Scaled from the sample's minimum (0) to its maximum (1).
			for j, v := range grey {
				g := img.(*image.Gray).Pix[j]
				require.InDelta(t, float64(v)*255, float64(g), 0.51)
			}
		}
	}

	layers := []Layer{{Name: "fc1", Params: 100, Sparsity: 0.9, BitsPerWeight: 4.5}, {Name: "relu"}, {Name: "fc<2>", Params: 10, BitsPerWeight: 32}}
	svg := LayerBars(layers)
	requireXML(t, svg)
	s := string(svg)
	require.Contains(t, s, "90.0%")
	require.Contains(t, s, "4.50")
	require.Contains(t, s, "fc&lt;2&gt;")
	require.NotContains(t, s, ">relu<")
	require.Contains(t, s, `width="260"`, "32 bits per weight is a full bar")

	p := &Page{Title: "t", Sections: []Section{
		{Title: "models", Rows: statRows()},
		{Title: "where", Disagree: d},
		{Title: "layers", Layers: layers},
	}}
	var b bytes.Buffer
	require.NoError(t, WriteHTML(&b, p))
	h := b.String()
	require.Equal(t, 2, strings.Count(h, `src="data:image/png;base64,`))
	require.Contains(t, h, "#4: true 7, base 7, int8 2")
	require.Contains(t, h, "#11: true 0, base 0, int8 5")
	require.Contains(t, h, "int8 and base disagree on 3 test samples; 3 shown")
	require.Contains(t, h, "real drop (p=0.0031)")
	require.Contains(t, h, "within noise (p=0.41)")
	require.Contains(t, h, `alt="per-layer sparsity and bits per weight" src="data:image/svg&#43;xml;base64,`)
	require.NotContains(t, h, "http://")

	// At most MaxDisagreements pictures.
	many := &Disagreements{Reference: "a", Model: "b", Total: 40}
	for i := range 40 {
		many.Samples = append(many.Samples, Disagreement{Index: i, Pixels: grey, Shape: []int{28, 28}})
	}
	b.Reset()
	require.NoError(t, WriteHTML(&b, &Page{Sections: []Section{{Disagree: many}}}))
	require.Equal(t, MaxDisagreements, strings.Count(b.String(), `<figure class="sample">`))
}
