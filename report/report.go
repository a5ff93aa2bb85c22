// Package report turns a comparison of models into tables (aligned text,
// Markdown, CSV, JSON), plots of accuracy against size and compute (SVG or
// PNG, made with gonum.org/v1/plot) and a self-contained HTML page.
//
// A Row is one model; a Frontier marks the rows no other row beats on both
// accuracy and cost. The package never prints: every writer takes an
// io.Writer or a path and returns an error.
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Row is one model of a comparison. Fractions are in [0, 1].
type Row struct {
	Name          string  `json:"name"`
	Accuracy      float64 `json:"accuracy"`       // on the test split (or validation, for search candidates)
	Agreement     float64 `json:"agreement"`      // fraction of predictions identical to the first model's
	FileBytes     int64   `json:"file_bytes"`     // bytes on disk
	Ratio         float64 `json:"ratio"`          // first model's file bytes / this one's
	Params        int64   `json:"params"`         // trainable parameters
	NonzeroParams int64   `json:"nonzero_params"` // of those, the non-zero ones
	MACs          int64   `json:"macs"`           // dense multiply-accumulates per sample
	EffectiveMACs int64   `json:"effective_macs"` // MACs whose weight is non-zero
	LatencyUS     float64 `json:"latency_us"`     // per image at batch 1, microseconds; 0 when not measured
}

// Cost selects the quantity a frontier or plot puts on its x axis.
type Cost int

// Costs.
const (
	CostBytes   Cost = iota // file bytes on disk
	CostMACs                // effective MACs per sample (dense MACs when not set)
	CostLatency             // latency per image
)

// String returns the cost's axis label.
func (c Cost) String() string {
	switch c {
	case CostBytes:
		return "file size (bytes)"
	case CostMACs:
		return "effective MACs per sample"
	case CostLatency:
		return "latency per image (µs)"
	}
	return fmt.Sprintf("cost(%d)", int(c))
}

// Of returns the row's cost; rows with no value for c get +Inf.
func (c Cost) Of(r Row) float64 {
	var v float64
	switch c {
	case CostBytes:
		v = float64(r.FileBytes)
	case CostMACs:
		v = float64(r.EffectiveMACs)
		if v == 0 {
			v = float64(r.MACs)
		}
	case CostLatency:
		v = r.LatencyUS
	}
	if !(v > 0) {
		return math.Inf(1)
	}
	return v
}

// Frontier reports, for each row, whether it lies on the Pareto frontier of
// accuracy (higher is better) against cost (lower is better): no other row
// is at least as accurate and at most as costly while strictly better in one
// of the two. Identical rows are all on the frontier. Rows with no cost
// (see Cost.Of) are never on it.
func Frontier(rows []Row, c Cost) []bool {
	on := make([]bool, len(rows))
	for i, a := range rows {
		ca := c.Of(a)
		if math.IsInf(ca, 1) || math.IsNaN(a.Accuracy) {
			continue
		}
		on[i] = true
		for j, b := range rows {
			if i == j {
				continue
			}
			cb := c.Of(b)
			if cb <= ca && b.Accuracy >= a.Accuracy && (cb < ca || b.Accuracy > a.Accuracy) {
				on[i] = false
				break
			}
		}
	}
	return on
}

// frontierOrder returns the indexes of the frontier rows sorted by cost.
func frontierOrder(rows []Row, c Cost) []int {
	on := Frontier(rows, c)
	var idx []int
	for i, ok := range on {
		if ok {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return c.Of(rows[idx[a]]) < c.Of(rows[idx[b]]) })
	return idx
}

// header is the column order of every table; keys match the JSON tags.
var header = []string{"name", "accuracy", "agreement", "file_bytes", "ratio", "params", "nonzero_params", "macs", "latency_us"}

// cells formats a row for humans.
func cells(r Row) []string {
	lat := "-"
	if r.LatencyUS > 0 {
		lat = fmt.Sprintf("%.1f", r.LatencyUS)
	}
	return []string{
		r.Name,
		fmt.Sprintf("%.2f%%", 100*r.Accuracy),
		fmt.Sprintf("%.2f%%", 100*r.Agreement),
		HumanBytes(r.FileBytes),
		fmt.Sprintf("%.1f×", r.Ratio),
		strconv.FormatInt(r.Params, 10),
		strconv.FormatInt(r.NonzeroParams, 10),
		strconv.FormatInt(r.MACs, 10),
		lat,
	}
}

// humanHeader is the column titles of the text and Markdown tables.
var humanHeader = []string{"model", "accuracy", "agreement", "file", "ratio", "params", "non-zero", "MACs", "µs/image"}

// HumanBytes formats a byte count with a binary-free decimal unit (B, KB, MB).
func HumanBytes(n int64) string {
	switch {
	case n < 10_000:
		return fmt.Sprintf("%d B", n)
	case n < 10_000_000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	default:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
}

// WriteText writes rows as an aligned text table (numbers right-aligned).
func WriteText(w io.Writer, rows []Row) error {
	// Names are left-aligned (padded here), numbers right-aligned.
	width := len([]rune(humanHeader[0]))
	for _, r := range rows {
		width = max(width, len([]rune(r.Name)))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-len([]rune(s))) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	h := append([]string{pad(humanHeader[0])}, humanHeader[1:]...)
	fmt.Fprintln(tw, strings.Join(h, "\t")+"\t")
	for _, r := range rows {
		c := cells(r)
		c[0] = pad(c[0])
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: writing the table: %w", err)
	}
	return nil
}

// WriteMarkdown writes rows as a GitHub-flavoured Markdown table.
func WriteMarkdown(w io.Writer, rows []Row) error {
	var b strings.Builder
	b.WriteString("| " + strings.Join(humanHeader, " | ") + " |\n|")
	for i := range humanHeader {
		if i == 0 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for _, r := range rows {
		c := cells(r)
		c[0] = strings.ReplaceAll(c[0], "|", `\|`)
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("report: writing the Markdown table: %w", err)
	}
	return nil
}

// WriteCSV writes rows as CSV with a header of the JSON keys; fractions are
// written as fractions and numbers unrounded.
func WriteCSV(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	ff := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, r := range rows {
		_ = cw.Write([]string{r.Name, ff(r.Accuracy), ff(r.Agreement), strconv.FormatInt(r.FileBytes, 10), ff(r.Ratio),
			strconv.FormatInt(r.Params, 10), strconv.FormatInt(r.NonzeroParams, 10), strconv.FormatInt(r.MACs, 10), ff(r.LatencyUS)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("report: writing CSV: %w", err)
	}
	return nil
}

// WriteJSON writes rows as one indented JSON array of objects.
func WriteJSON(w io.Writer, rows []Row) error {
	if rows == nil {
		rows = []Row{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rows); err != nil {
		return fmt.Errorf("report: writing JSON: %w", err)
	}
	return nil
}
