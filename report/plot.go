package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// maxLabels is the number of rows above which only frontier points are
// labelled, so that a search's many candidates stay readable.
const maxLabels = 12

var (
	colorPoint    = color.RGBA{R: 120, G: 144, B: 156, A: 255}
	colorFrontier = color.RGBA{R: 211, G: 47, B: 47, A: 255}
)

// Plot returns a plot of accuracy (in percent) against cost c on a
// logarithmic x axis, every row a labelled point, the Pareto frontier drawn
// as a line through its points.
func Plot(rows []Row, c Cost, title string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = c.String() + ", log scale"
	p.Y.Label.Text = "accuracy (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.Add(plotter.NewGrid())

	var all, front plotter.XYs
	var labels []string
	on := Frontier(rows, c)
	lo, hi := math.Inf(1), math.Inf(-1)
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for i, r := range rows {
		x := c.Of(r)
		if math.IsInf(x, 1) {
			continue
		}
		y := 100 * r.Accuracy
		all = append(all, plotter.XY{X: x, Y: y})
		l := r.Name
		if len(rows) > maxLabels && !on[i] {
			l = ""
		}
		labels = append(labels, l)
		lo, hi = math.Min(lo, x), math.Max(hi, x)
		ylo, yhi = math.Min(ylo, y), math.Max(yhi, y)
	}
	for _, i := range frontierOrder(rows, c) {
		front = append(front, plotter.XY{X: c.Of(rows[i]), Y: 100 * rows[i].Accuracy})
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("report: no row has a %s to plot", c)
	}
	sc, err := plotter.NewScatter(all)
	if err != nil {
		return nil, fmt.Errorf("report: plotting points: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: colorPoint, Radius: vg.Points(3), Shape: draw.CircleGlyph{}}
	p.Add(sc)
	if len(front) > 0 {
		ln, pts, err := plotter.NewLinePoints(front)
		if err != nil {
			return nil, fmt.Errorf("report: plotting the frontier: %w", err)
		}
		ln.Color = colorFrontier
		ln.Width = vg.Points(1.5)
		pts.GlyphStyle = draw.GlyphStyle{Color: colorFrontier, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		p.Add(ln, pts)
		p.Legend.Add("Pareto frontier", ln, pts)
		p.Legend.Add("model", sc)
		p.Legend.Top = false
		p.Legend.Left = true
	}
	lb, err := plotter.NewLabels(plotter.XYLabels{XYs: all, Labels: labels})
	if err != nil {
		return nil, fmt.Errorf("report: labelling points: %w", err)
	}
	lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(lb)
	// Pad the ranges: a factor on the log axis (room for labels on the
	// right), a fraction of the span (at least 0.5 point) on the y axis.
	p.X.Min, p.X.Max = lo/1.6, hi*2.5
	pad := math.Max(0.1*(yhi-ylo), 0.5)
	p.Y.Min, p.Y.Max = ylo-pad, math.Min(yhi+pad, 100.5)
	if p.Y.Max <= p.Y.Min {
		p.Y.Max = p.Y.Min + 1
	}
	return p, nil
}

// Format is an image format for plots.
type Format string

// Formats.
const (
	SVG Format = "svg"
	PNG Format = "png"
)

// FormatOf returns the plot format named by a file's extension.
func FormatOf(path string) (Format, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".svg":
		return SVG, nil
	case ".png":
		return PNG, nil
	}
	return "", fmt.Errorf("report: %s: plot files end in .svg or .png", path)
}

// WritePlots draws two panels side by side, accuracy against file size and
// accuracy against effective MACs, and writes them to w in format f.
func WritePlots(w io.Writer, f Format, rows []Row, title string) error {
	var panels []*plot.Plot
	for _, c := range []Cost{CostBytes, CostMACs} {
		p, err := Plot(rows, c, title+": accuracy against "+strings.TrimSuffix(c.String(), " (bytes)"))
		if err != nil {
			return err
		}
		panels = append(panels, p)
	}
	width, height := 16*vg.Centimeter, 11*vg.Centimeter
	W, H := vg.Length(len(panels))*width, height
	var canvas vg.CanvasWriterTo
	switch f {
	case SVG:
		canvas = vgsvg.New(W, H)
	case PNG:
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(W, H), vgimg.UseDPI(110), vgimg.UseBackgroundColor(color.White))}
	default:
		return fmt.Errorf("report: unknown plot format %q (want svg or png)", f)
	}
	dc := draw.New(canvas)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Centimeter, PadTop: vg.Millimeter * 3, PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	cs := plot.Align([][]*plot.Plot{panels}, tiles, dc)
	for i, p := range panels {
		p.Draw(cs[0][i])
	}
	if _, err := canvas.WriteTo(w); err != nil {
		return fmt.Errorf("report: writing the %s plot: %w", f, err)
	}
	return nil
}

// SavePlots writes WritePlots' figure to path, SVG or PNG by its extension.
func SavePlots(path string, rows []Row, title string) error {
	f, err := FormatOf(path)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := WritePlots(&b, f, rows, title); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b.Bytes()); err != nil {
		return fmt.Errorf("report: writing the plot: %w", err)
	}
	return nil
}

// logTicks marks 1, 2 and 5 times each power of ten in range (labelled),
// and the other integer multiples (unlabelled), so that a range shorter
// than a decade still has labels.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi > lo) {
		return nil
	}
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = siLabel(v)
			}
			ts = append(ts, t)
		}
	}
	return ts
}

// siLabel formats v with an SI suffix: 2k, 50M.
func siLabel(v float64) string {
	for _, u := range []struct {
		f float64
		s string
	}{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}} {
		if v >= u.f {
			return strconv.FormatFloat(v/u.f, 'g', 3, 64) + u.s
		}
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
