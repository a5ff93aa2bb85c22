package report

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"html/template"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

// MaxDisagreements is the most test samples a Disagreements section shows.
const MaxDisagreements = 24

// Disagreements are test samples on which a model's prediction differs
// from a reference model's (the baseline), for a Section to show as
// pictures.
type Disagreements struct {
	Reference, Model string // the two models' names, for the captions
	// Total is the number of test samples on which the two disagree;
	// Samples holds at most MaxDisagreements of them.
	Total   int
	Samples []Disagreement
}

// Disagreement is one test sample on which two models disagree.
type Disagreement struct {
	Index  int       // position in the test set
	Pixels []float32 // the sample, row-major H×W×C (NHWC)
	// Shape is the sample's shape: [H, W, C] with C 1 (grey) or 3 (RGB),
	// or [H, W], is drawn as a picture (pixels scaled from the sample's
	// minimum to its maximum); any other shape is listed without one.
	Shape                        []int
	Label, Reference, Prediction int // the true class, the reference model's and the model's predictions
}

// picture returns the sample as a PNG data URL, or "" when its shape is
// not an image.
func (d Disagreement) picture() (template.URL, error) {
	h, w, c := 0, 0, 1
	switch len(d.Shape) {
	case 2:
		h, w = d.Shape[0], d.Shape[1]
	case 3:
		h, w, c = d.Shape[0], d.Shape[1], d.Shape[2]
	default:
		return "", nil
	}
	if h < 2 || w < 2 || (c != 1 && c != 3) || len(d.Pixels) != h*w*c {
		return "", nil
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range d.Pixels {
		lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
	}
	scale := 0.0
	if hi > lo {
		scale = 255 / (hi - lo)
	}
	byteOf := func(v float32) uint8 { return uint8(math.Round((float64(v) - lo) * scale)) }
	var img image.Image
	if c == 1 {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i, v := range d.Pixels {
			g.Pix[i] = byteOf(v)
		}
		img = g
	} else {
		rgb := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range h * w {
			rgb.Set(i%w, i/w, color.RGBA{R: byteOf(d.Pixels[3*i]), G: byteOf(d.Pixels[3*i+1]), B: byteOf(d.Pixels[3*i+2]), A: 255})
		}
		img = rgb
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return "", fmt.Errorf("report: drawing test sample %d: %w", d.Index, err)
	}
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b.Bytes())), nil
}

// Layer is one layer's bar in a Section's per-layer chart.
type Layer struct {
	Name     string
	Params   int64   // trainable parameters
	Sparsity float64 // fraction of those that are zero, in [0, 1]
	// BitsPerWeight is the stored bits per weight of the layer's weight
	// tensor (8 × bytes / elements); 0 when the layer has none.
	BitsPerWeight float64
}

// Bar chart geometry, in SVG user units (pixels).
const (
	barRow    = 20  // height of one layer's row
	barLabel  = 110 // width of the layer-name column
	barPanel  = 260 // width of each panel's bar area
	barGap    = 70  // room after a panel's bars for its value label
	barTop    = 36  // room above the first row for the panel titles
	barMaxBPW = 32  // bits per weight at a full bar (float32)
)

// LayerBars draws layers with parameters as an SVG of two panels of
// horizontal bars, sparsity (0–100%) and bits per weight (0–32), one row
// per layer, each bar labelled with its value.
func LayerBars(layers []Layer) []byte {
	var rows []Layer
	for _, l := range layers {
		if l.Params > 0 {
			rows = append(rows, l)
		}
	}
	width := barLabel + 2*(barPanel+barGap)
	height := barTop + barRow*len(rows) + 8
	var b bytes.Buffer
	esc := func(s string) string {
		var e strings.Builder
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif" font-size="12">`+"\n",
		width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	panels := []struct {
		title string
		color string
		frac  func(Layer) float64
		label func(Layer) string
	}{
		{"sparsity (zero parameters)", "#d32f2f", func(l Layer) float64 { return l.Sparsity },
			func(l Layer) string { return fmt.Sprintf("%.1f%%", 100*l.Sparsity) }},
		{"bits per weight (stored)", "#607d8b", func(l Layer) float64 { return l.BitsPerWeight / barMaxBPW },
			func(l Layer) string {
				if l.BitsPerWeight == 0 {
					return "-"
				}
				return fmt.Sprintf("%.2f", l.BitsPerWeight)
			}},
	}
	for p, pn := range panels {
		x0 := barLabel + p*(barPanel+barGap)
		fmt.Fprintf(&b, `<text x="%d" y="16" font-weight="bold">%s</text>`+"\n", x0, esc(pn.title))
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`+"\n", x0, barTop-6, x0, height-6)
		for i, l := range rows {
			y := barTop + i*barRow
			w := math.Round(float64(barPanel) * math.Max(0, math.Min(1, pn.frac(l))))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="%s"/>`+"\n", x0, y, w, barRow-6, pn.color)
			fmt.Fprintf(&b, `<text x="%.0f" y="%d">%s</text>`+"\n", float64(x0)+w+4, y+barRow-9, esc(pn.label(l)))
		}
	}
	for i, l := range rows {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", barTop+i*barRow+barRow-9, esc(l.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
