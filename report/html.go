package report

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"

	"github.com/shrink-ml/shrink/internal/atomicfile"
)

// Page is a self-contained HTML report: a title, some paragraphs and a list
// of sections.
type Page struct {
	Title    string
	Intro    []string // paragraphs of plain text
	Sections []Section
}

// Section is one part of a Page. Every field is optional.
type Section struct {
	Title string
	Text  []string // paragraphs of plain text
	// Rows are shown as a table; with Plot set, the accuracy against size
	// and MACs plots of these rows follow it.
	Rows []Row
	Plot bool
	// Frontier, when set, marks the rows on the size frontier (★) in the
	// table; use it for a search's candidates.
	Frontier bool
	// Extra holds per-row notes shown in a last column (for example a
	// candidate's per-layer configuration); indexes match Rows.
	Extra      []string
	ExtraTitle string
	// Fields is a key/value list (provenance, options).
	Fields [][2]string
	// Pre is preformatted text (a recipe).
	Pre string
	// Disagree, when set, shows its samples as pictures with their true
	// class and both predictions (at most MaxDisagreements).
	Disagree *Disagreements
	// Layers, when set, are drawn as per-layer bars of sparsity and bits
	// per weight (LayerBars).
	Layers []Layer
}

type htmlRow struct {
	Cells  []string
	Mark   bool
	Extra  string
	IsBest bool
}

type htmlSection struct {
	Section
	Header   []string
	HRows    []htmlRow
	Image    template.URL
	Verdicts []string
	Samples  []htmlSample
	Samples0 string // the Disagree heading line
	Bars     template.URL
}

type htmlSample struct {
	Image   template.URL
	Caption string
}

// WriteHTML writes the page as one HTML document with its style and plots
// inline (plots are SVG data URLs): it needs no network and no other file.
func WriteHTML(w io.Writer, p *Page) error {
	data := struct {
		Title    string
		Intro    []string
		Sections []htmlSection
	}{Title: p.Title, Intro: p.Intro}
	for _, s := range p.Sections {
		hs := htmlSection{Section: s}
		if len(s.Rows) > 0 {
			stats := withStats(s.Rows)
			hs.Header = humanHeader(stats)
			hs.Verdicts = Verdicts(s.Rows)
			var on []bool
			if s.Frontier {
				hs.Header = append([]string{"frontier"}, hs.Header...)
				on = Frontier(s.Rows, CostBytes)
			}
			if len(s.Extra) > 0 {
				t := s.ExtraTitle
				if t == "" {
					t = "notes"
				}
				hs.Header = append(hs.Header, t)
			}
			for i, r := range s.Rows {
				hr := htmlRow{Cells: cells(r, i, stats)}
				if on != nil {
					hr.Mark = on[i]
				}
				if i < len(s.Extra) {
					hr.Extra = s.Extra[i]
				}
				hs.HRows = append(hs.HRows, hr)
			}
			if s.Plot {
				var b bytes.Buffer
				if err := WritePlots(&b, SVG, s.Rows, s.Title); err != nil {
					return err
				}
				hs.Image = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(b.Bytes()))
			}
		}
		if d := s.Disagree; d != nil {
			hs.Samples0 = fmt.Sprintf("%s and %s disagree on %d test samples; %d shown (true class, %s's prediction, %s's).",
				d.Model, d.Reference, d.Total, min(len(d.Samples), MaxDisagreements), d.Reference, d.Model)
			for _, x := range d.Samples[:min(len(d.Samples), MaxDisagreements)] {
				img, err := x.picture()
				if err != nil {
					return err
				}
				hs.Samples = append(hs.Samples, htmlSample{Image: img,
					Caption: fmt.Sprintf("#%d: true %d, %s %d, %s %d", x.Index, x.Label, d.Reference, x.Reference, d.Model, x.Prediction)})
			}
		}
		if len(s.Layers) > 0 {
			hs.Bars = template.URL("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(LayerBars(s.Layers)))
		}
		data.Sections = append(data.Sections, hs)
	}
	if err := pageTemplate.Execute(w, data); err != nil {
		return fmt.Errorf("report: writing HTML: %w", err)
	}
	return nil
}

// SaveHTML writes the page to path.
func SaveHTML(path string, p *Page) error {
	var b bytes.Buffer
	if err := WriteHTML(&b, p); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b.Bytes()); err != nil {
		return fmt.Errorf("report: writing the HTML report: %w", err)
	}
	return nil
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 70em; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; border-bottom: 2px solid #d32f2f; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .92em; }
th, td { padding: .3em .7em; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
td.extra { text-align: left; white-space: normal; font-family: monospace; font-size: .9em; }
tr.front td { background: #fff3f3; }
td.mark { color: #d32f2f; text-align: center; }
img.plot { max-width: 100%; height: auto; border: 1px solid #eee; }
figure.sample { display: inline-block; margin: .3em; text-align: center; font-size: .8em; width: 9em; vertical-align: top; }
figure.sample img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #ccc; }
ul.verdicts li { margin: .2em 0; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2em 1em; }
dt { font-weight: bold; } dd { margin: 0; font-family: monospace; word-break: break-all; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
{{range .Intro}}<p>{{.}}</p>
{{end}}
{{- range .Sections}}
<section>
{{if .Title}}<h2>{{.Title}}</h2>{{end}}
{{range .Text}}<p>{{.}}</p>
{{end}}
{{- if .HRows}}
<table>
<thead><tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>
{{- $front := .Frontier}}{{$extra := .Extra}}
{{- range .HRows}}
<tr{{if .Mark}} class="front"{{end}}>{{if $front}}<td class="mark">{{if .Mark}}★{{end}}</td>{{end}}{{range .Cells}}<td>{{.}}</td>{{end}}{{if $extra}}<td class="extra">{{.Extra}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
{{end}}
{{- if .Verdicts}}<ul class="verdicts">{{range .Verdicts}}<li>{{.}}</li>{{end}}</ul>
{{end}}
{{- if .Image}}<p><img class="plot" alt="accuracy against file size and MACs" src="{{.Image}}"></p>
{{end}}
{{- if .Samples0}}<p>{{.Samples0}}</p>
<div>{{range .Samples}}<figure class="sample">{{if .Image}}<img alt="test sample" src="{{.Image}}">{{end}}<figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
{{end}}
{{- if .Bars}}<p><img class="plot" alt="per-layer sparsity and bits per weight" src="{{.Bars}}"></p>
{{end}}
{{- if .Fields}}<dl>{{range .Fields}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
{{end}}
{{- if .Pre}}<pre>{{.Pre}}</pre>
{{end}}
</section>
{{- end}}
<footer><p><small>written by shrink</small></p></footer>
</body>
</html>
`))
