package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/shrink-ml/shrink/compress"
	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/report"
)

// demoStory is what runDemoStory produced.
type demoStory struct {
	Rows   []report.Row `json:"rows"`
	Models []string     `json:"models"` // files, in row order (the baseline first)
	Plot   string       `json:"plot"`
	HTML   string       `json:"html"`
}

// demoRecipes are the demo's four compressions, as recipes; %d is the
// fine-tuning epochs (epochs, or 1 with --short). The settings were chosen
// on validation images held out of mnist-mini's training part, at seeds 1
// to 3 (bench/demo.sh tune; bench/DEMO.md): each lost at most 0.3 points
// there on average, where the shorter settings before them lost 2 to 2.6.
var demoRecipes = []struct {
	name, text string
	epochs     int
}{
	{"pruned", "name: pruned\npasses:\n  - prune: {sparsity: 0.8, schedule: gradual, steps: 10, epochs: %d, lr: 0.001, distill: true}\n  - encode\n", 40},
	{"int8", "name: int8\npasses:\n  - quantize: {scheme: int8, activations: static, bias_correction: true}\n  - encode\n", 0},
	{"distilled", "name: distilled\npasses:\n  - distill: {arch: \"mlp:128\", epochs: %d, lr: 0.002, augment: true}\n  - encode\n", 60},
	{"compressed", "name: deep-compression\npasses:\n  - prune: {sparsity: 0.92, layers: {fc3: 0.75}, schedule: gradual, steps: 10, epochs: %d, lr: 0.001, distill: true}\n  - quantize: {scheme: \"cluster:16\", epochs: 5, lr: 0.0002, distill: true}\n  - encode\n", 60},
}

// demoRecipe is recipe i's text for this run.
func demoRecipe(i int, short bool) string {
	r := demoRecipes[i]
	if r.epochs == 0 {
		return r.text
	}
	e := r.epochs
	if short {
		e = 1
	}
	return fmt.Sprintf(r.text, e)
}

// runDemoStory compresses the demo's baseline (the model file at baseline,
// trained on ds) four ways — pruned, int8, distilled, and a Deep
// Compression recipe — writes each model into o.out, prints the comparison
// table on the test split, and writes the plot (compare.svg) and the HTML
// report (report.html) into o.out. Validation for the passes is carved from
// ds.Train; the test split is read only for the final comparison. With
// o.short the passes fine-tune for one epoch and latency is not measured.
func runDemoStory(ctx context.Context, g *globals, o *demoOptions, ds *data.Data, baseline string) (*demoStory, error) {
	in, err := loadModel(baseline)
	if err != nil {
		return nil, err
	}
	d := compress.Holdout(ds.Train, 0.1, g.seed)
	names := []string{"baseline"}
	paths := []string{baseline}
	models := []*nn.Model{in.Model}
	files := []*format.File{in}
	for i, r := range demoRecipes {
		text := demoRecipe(i, o.short)
		rec, err := compress.ParseRecipe(r.name+".yaml", []byte(text))
		if err != nil {
			return nil, fmt.Errorf("demo recipe %s: %w", r.name, err)
		}
		g.logf("shrink demo: %s (%d/%d)\n", r.name, i+1, len(demoRecipes))
		env := g.compressEnv()
		env.Provenance = g.provenance(ds, in, map[string]string{"input": baseline, "recipe": text, "val_fraction": "0.1"})
		res, err := compress.Run(ctx, in.Model, d, rec, env)
		if err != nil {
			return nil, fmt.Errorf("demo %s: %w", r.name, err)
		}
		f := res.File
		ev, err := nn.EvaluateWithin(f.Model, ds.Test.X, ds.Test.Y, limits)
		if err != nil {
			return nil, err
		}
		f.Provenance.Accuracy = ev.Accuracy
		path := filepath.Join(o.out, r.name+".shrink")
		if err := writeModel(g, path, f); err != nil {
			return nil, err
		}
		names, paths, models, files = append(names, r.name), append(paths, path), append(models, f.Model), append(files, f)
	}
	bytes := make([]int64, len(paths))
	for i, p := range paths {
		bytes[i] = fileSize(p)
	}
	runs := 3
	if o.short {
		runs = 0
	}
	cmp, err := compareSet(g, names, models, bytes, ds.Test, runs)
	if err != nil {
		return nil, err
	}
	rows := cmp.Rows
	st := &demoStory{Rows: rows, Models: paths, Plot: filepath.Join(o.out, "compare.svg"), HTML: filepath.Join(o.out, "report.html")}
	if err := report.SavePlots(st.Plot, rows, "shrink demo"); err != nil {
		return nil, err
	}
	page := &report.Page{
		Title: "shrink demo: how small can lenet300 get?",
		Intro: []string{fmt.Sprintf("A baseline trained on %s (%d training images), compressed four ways; accuracy and agreement on the %d test images, measured once per model. Ratio is the baseline's bytes on disk over each model's.",
			ds.Info.Source, ds.Train.Len(), ds.Test.Len())},
		Sections: []report.Section{{Title: "models", Rows: rows, Plot: true}},
	}
	for i, r := range demoRecipes {
		text := demoRecipe(i, o.short)
		page.Sections = append(page.Sections, report.Section{Title: "recipe: " + r.name + " → " + paths[i+1], Pre: text})
	}
	page.Sections = append(page.Sections, cmp.Sections(files)...)
	if err := report.SaveHTML(st.HTML, page); err != nil {
		return nil, err
	}
	if !o.json {
		fmt.Fprintln(g.stdout)
		if err := report.WriteText(g.stdout, rows); err != nil {
			return nil, err
		}
		fmt.Fprintf(g.stdout, "\nmodels, plot and report in %s/ (open %s)\n", o.out, st.HTML)
	}
	return st, nil
}
