package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/measure"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/report"
)

// compareOptions are the flags of `shrink compare`.
type compareOptions struct {
	models   []string
	data     dataFlags
	json     bool
	csv      bool
	markdown bool
	plot     string
	html     string
	runs     int
}

func init() { commands = append(commands, newCompareCmd) }

func newCompareCmd(g *globals) *cobra.Command {
	o := &compareOptions{}
	c := &cobra.Command{
		Use:   "compare MODEL... [--data DATA] [--json|--csv|--markdown] [--plot FILE.svg|FILE.png] [--html FILE]",
		Short: "compare models: accuracy, agreement, bytes on disk, ratio, parameters, MACs, latency",
		Long: `Compare models on the test part of a data set, one row per model:

  accuracy        fraction of test samples classified correctly
  agreement       fraction of test samples on which the model predicts the same
                  class as the first model
  file_bytes      bytes on disk
  ratio           the first model's file bytes / this model's
  params          trainable parameters; nonzero_params: of those, the non-zero
  macs            multiply-accumulates per sample (dense); effective_macs counts
                  only those whose weight is non-zero
  latency_us      per-image latency at batch 1: the median of --runs timed runs
                  (each at least 100 ms) after a warm-up, on the path the file
                  calls for (float32, integer, sparse); the models' runs are
                  interleaved
  accuracy_ci     95% Wilson score interval of accuracy, [lo, hi]
  drop            the first model's accuracy minus this one's (positive: worse)
  drop_ci         95% interval of drop, [lo, hi] (Newcombe's hybrid score
                  interval for paired proportions)
  drop_p_value    McNemar's exact two-sided p on the test samples where only
                  one of the two models is right; below 0.05 the table calls
                  the drop real, otherwise within noise
  lost, gained    test samples only the first model / only this one gets right

Without --data the data set and split recorded in the first model's file is
used. --plot draws accuracy against file size and against effective MACs (log
x axes, Pareto frontier drawn, points labelled); --html writes a
self-contained HTML report with the table, the plots, up to 24 test images
on which each model disagrees with the first, and per-layer bars of sparsity
and bits per weight. CSV keeps its columns; the statistics are in the text,
Markdown and JSON output.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.models = args
			return runCompare(g, o)
		},
	}
	f := c.Flags()
	o.data.register(f)
	f.BoolVar(&o.json, "json", false, "print a JSON array, one object per model")
	f.BoolVar(&o.csv, "csv", false, "print CSV with a header row")
	f.BoolVar(&o.markdown, "markdown", false, "print a Markdown table")
	f.StringVar(&o.plot, "plot", "", "write accuracy-vs-size and accuracy-vs-MACs plots to FILE.svg or FILE.png")
	f.StringVar(&o.html, "html", "", "write a self-contained HTML report to FILE")
	f.IntVar(&o.runs, "runs", 5, "timed latency runs per model (median reported); 0 skips latency")
	return c
}

func (o *compareOptions) validate() error {
	n := 0
	for _, b := range []bool{o.json, o.csv, o.markdown} {
		if b {
			n++
		}
	}
	if n > 1 {
		return usagef("--json, --csv and --markdown are exclusive")
	}
	if o.plot != "" {
		if _, err := report.FormatOf(o.plot); err != nil {
			return usagef("--plot %s: want a .svg or .png file", o.plot)
		}
	}
	if o.runs < 0 {
		return usagef("--runs %d must not be negative", o.runs)
	}
	return nil
}

func runCompare(g *globals, o *compareOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	files := make([]*format.File, len(o.models))
	for i, p := range o.models {
		f, err := loadModel(p)
		if err != nil {
			return err
		}
		files[i] = f
	}
	ds, err := loadData(&o.data, g.seed, files[0])
	if err != nil {
		return err
	}
	if ds.Test == nil || ds.Test.Len() == 0 {
		return fmt.Errorf("--data %s: the test part is empty", ds.Name)
	}
	models := make([]*nn.Model, len(files))
	for i, f := range files {
		if err := checkFits(f.Model, ds); err != nil {
			return fmt.Errorf("%s: %w", o.models[i], err)
		}
		models[i] = f.Model
	}
	bytes := make([]int64, len(files))
	for i, p := range o.models {
		bytes[i] = fileSize(p)
	}
	cmp, err := compareSet(g, modelNames(o.models), models, bytes, ds.Test, o.runs)
	if err != nil {
		return err
	}
	rows := cmp.Rows
	if o.plot != "" {
		if err := report.SavePlots(o.plot, rows, "shrink compare"); err != nil {
			return err
		}
		g.logf("plot written to %s\n", o.plot)
	}
	if o.html != "" {
		page := &report.Page{
			Title: "shrink compare",
			Intro: []string{fmt.Sprintf("%d models on the test part of %s (%d samples); agreement and ratio are against %s.",
				len(rows), ds.Info.Source, ds.Test.Len(), o.models[0]), statsNote},
			Sections: append([]report.Section{{Title: "models", Rows: rows, Plot: true}}, cmp.Sections(files)...),
		}
		if err := report.SaveHTML(o.html, page); err != nil {
			return err
		}
		g.logf("report written to %s\n", o.html)
	}
	switch {
	case o.json:
		return report.WriteJSON(g.stdout, rows)
	case o.csv:
		return report.WriteCSV(g.stdout, rows)
	case o.markdown:
		return report.WriteMarkdown(g.stdout, rows)
	}
	return report.WriteText(g.stdout, rows)
}

// statsNote explains the statistics of a comparison in a report.
const statsNote = "Intervals are 95%: Wilson score intervals for accuracy; for the drop against the first model (its accuracy minus this one's, in points), Newcombe's hybrid score interval for paired proportions. p is McNemar's exact two-sided test on the test samples where exactly one of the two models is right; below 0.05 the drop is called real, otherwise it is within the noise of this test set."

// compareSet measures one row per model on set (measure.Compare), returning the whole measure.Comparison (the
// predictions, for the report's pictures).
func compareSet(g *globals, names []string, models []*nn.Model, fileBytes []int64, set *data.Set, runs int) (*measure.Comparison, error) {
	es := make([]measure.Entry, len(models))
	for i, m := range models {
		es[i] = measure.Entry{Name: names[i], Model: m, FileBytes: fileBytes[i]}
	}
	return measure.Compare(context.Background(), es, set, measure.Options{LatencyRuns: runs, Seed: uint64(g.seed), Logf: g.logf})
}

// latencyUS is the per-image latency at batch 1 in microseconds: the median
// of runs timed runs after a warm-up (measure.Latency).
func latencyUS(m *nn.Model, runs int, seed uint64) float64 {
	return measure.Latency(m, runs, seed)
}

// modelNames shortens paths to their base names without extension when
// those are distinct, and keeps the paths otherwise.
func modelNames(paths []string) []string {
	names := make([]string, len(paths))
	seen := map[string]bool{}
	for i, p := range paths {
		n := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
		if n == "" || seen[n] {
			return append([]string(nil), paths...)
		}
		seen[n] = true
		names[i] = n
	}
	return names
}
