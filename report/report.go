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
	// ImagesPerS is the throughput at the batch size the measurement
	// chose; 0 (and absent from JSON) when not measured.
	ImagesPerS float64 `json:"images_per_s,omitzero"`
	// Uncertainty holds the row's intervals and test against the first
	// row; nil (and absent from JSON) for rows measured without them, such
	// as a search's validation candidates.
	*Uncertainty
}

// Uncertainty says how far a row's accuracy, and its difference from the
// first row's, can be told from the noise of the test set they were
// measured on: 95% intervals and the p-value of McNemar's exact test on the
// samples where the two models disagree (measure computes them).
type Uncertainty struct {
	AccuracyCI [2]float64 `json:"accuracy_ci"` // interval of Accuracy (Wilson score)
	// Drop is the first row's accuracy minus this one's: positive when
	// this model is worse.
	Drop       float64    `json:"drop"`
	DropCI     [2]float64 `json:"drop_ci"`      // interval of Drop (Newcombe's hybrid score for paired proportions)
	DropPValue float64    `json:"drop_p_value"` // McNemar's exact two-sided p; 1 for the first row
	Lost       int        `json:"lost"`         // test samples the first model gets right and this one wrong
	Gained     int        `json:"gained"`       // test samples this model gets right and the first wrong
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

// Alpha is the significance level of Verdict: a difference with McNemar's
// p below it is called real. It matches the 95% intervals of Uncertainty.
const Alpha = 0.05

// Verdict says in words whether row r's accuracy differs from the first
// row's beyond the noise of the test set, judged by McNemar's exact p at
// Alpha: "within noise (p=0.41)", "real drop (p=0.003)" or "real gain
// (p=0.02)". It is "" for a row without Uncertainty.
func Verdict(r Row) string {
	u := r.Uncertainty
	if u == nil {
		return ""
	}
	switch {
	case u.DropPValue >= Alpha || u.Drop == 0:
		return fmt.Sprintf("within noise (p=%s)", formatP(u.DropPValue))
	case u.Drop > 0:
		return fmt.Sprintf("real drop (p=%s)", formatP(u.DropPValue))
	}
	return fmt.Sprintf("real gain (p=%s)", formatP(u.DropPValue))
}

// formatP formats a p-value with two significant digits: 0.41, 0.0031, 2.2e-12.
func formatP(p float64) string { return strconv.FormatFloat(p, 'g', 2, 64) }

// Verdicts returns one sentence per row after the first that has
// Uncertainty, saying how far it is from the first row and whether that
// is noise, for example
//
//	int8: 0.10 points below lenet300 (95% interval −0.31 to 0.52; 9 test samples lost, 7 gained): within noise (p=0.8)
func Verdicts(rows []Row) []string {
	var out []string
	for _, r := range rows[min(1, len(rows)):] {
		u := r.Uncertainty
		if u == nil {
			continue
		}
		where := "below"
		if u.Drop < 0 {
			where = "above"
		}
		samples := "test samples"
		if u.Lost == 1 {
			samples = "test sample"
		}
		out = append(out, fmt.Sprintf("%s: %.2f points %s %s (%.0f%% interval %s to %s; %d %s lost, %d gained): %s",
			r.Name, math.Abs(100*u.Drop), where, rows[0].Name, 100*(1-Alpha), points(u.DropCI[0]), points(u.DropCI[1]), u.Lost, samples, u.Gained, Verdict(r)))
	}
	return out
}

// points formats an accuracy difference in percentage points, with a true
// minus sign.
func points(d float64) string {
	s := fmt.Sprintf("%.2f", 100*d)
	if s == "-0.00" {
		s = "0.00"
	}
	return strings.Replace(s, "-", "−", 1)
}

// withStats reports whether any row has Uncertainty: tables then show the
// interval, drop and p columns.
func withStats(rows []Row) bool {
	for _, r := range rows {
		if r.Uncertainty != nil {
			return true
		}
	}
	return false
}

// header is the column order of CSV tables; keys match the JSON tags.
var header = []string{"name", "accuracy", "agreement", "file_bytes", "ratio", "params", "nonzero_params", "macs", "latency_us"}

// cells formats row i of a table for humans; with stats (see withStats) it
// adds the accuracy interval, the drop from the first row with its
// interval, and McNemar's p.
func cells(r Row, i int, stats bool) []string {
	lat := "-"
	if r.LatencyUS > 0 {
		lat = fmt.Sprintf("%.1f", r.LatencyUS)
	}
	c := []string{r.Name, fmt.Sprintf("%.2f%%", 100*r.Accuracy)}
	if stats {
		ci, drop, p := "-", "-", "-"
		if u := r.Uncertainty; u != nil {
			ci = fmt.Sprintf("%.1f–%.1f%%", 100*u.AccuracyCI[0], 100*u.AccuracyCI[1])
			if i > 0 {
				drop = fmt.Sprintf("%s (%s, %s)", points(u.Drop), points(u.DropCI[0]), points(u.DropCI[1]))
				p = formatP(u.DropPValue)
			}
		}
		c = append(c, ci, drop, p)
	}
	return append(c,
		fmt.Sprintf("%.2f%%", 100*r.Agreement),
		HumanBytes(r.FileBytes),
		fmt.Sprintf("%.1f×", r.Ratio),
		strconv.FormatInt(r.Params, 10),
		strconv.FormatInt(r.NonzeroParams, 10),
		strconv.FormatInt(r.MACs, 10),
		lat,
	)
}

// humanHeader returns the column titles of the text, Markdown and HTML
// tables; with stats it has the columns of cells' statistics.
func humanHeader(stats bool) []string {
	h := []string{"model", "accuracy"}
	if stats {
		h = append(h, "95% interval", "drop, points (95% interval)", "p")
	}
	return append(h, "agreement", "file", "ratio", "params", "non-zero", "MACs", "µs/image")
}

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
// When rows have Uncertainty, the table has its columns and the Verdicts
// follow it, one line each after a blank line.
func WriteText(w io.Writer, rows []Row) error {
	stats := withStats(rows)
	hh := humanHeader(stats)
	// Names are left-aligned (padded here), numbers right-aligned.
	width := len([]rune(hh[0]))
	for _, r := range rows {
		width = max(width, len([]rune(r.Name)))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-len([]rune(s))) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	h := append([]string{pad(hh[0])}, hh[1:]...)
	fmt.Fprintln(tw, strings.Join(h, "\t")+"\t")
	for i, r := range rows {
		c := cells(r, i, stats)
		c[0] = pad(c[0])
		fmt.Fprintln(tw, strings.Join(c, "\t")+"\t")
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("report: writing the table: %w", err)
	}
	if v := Verdicts(rows); len(v) > 0 {
		if _, err := io.WriteString(w, "\n"+strings.Join(v, "\n")+"\n"); err != nil {
			return fmt.Errorf("report: writing the table: %w", err)
		}
	}
	return nil
}

// WriteMarkdown writes rows as a GitHub-flavoured Markdown table; when rows
// have Uncertainty, the Verdicts follow it as a list.
func WriteMarkdown(w io.Writer, rows []Row) error {
	stats := withStats(rows)
	hh := humanHeader(stats)
	var b strings.Builder
	b.WriteString("| " + strings.Join(hh, " | ") + " |\n|")
	for i := range hh {
		if i == 0 {
			b.WriteString(" --- |")
		} else {
			b.WriteString(" ---: |")
		}
	}
	b.WriteString("\n")
	for i, r := range rows {
		c := cells(r, i, stats)
		c[0] = strings.ReplaceAll(c[0], "|", `\|`)
		b.WriteString("| " + strings.Join(c, " | ") + " |\n")
	}
	if v := Verdicts(rows); len(v) > 0 {
		b.WriteString("\n")
		for _, s := range v {
			b.WriteString("- " + s + "\n")
		}
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
