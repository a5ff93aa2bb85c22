package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/compress"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/format/load"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/report"
)

// compressOptions are the flags of `shrink compress`.
type compressOptions struct {
	model       string
	recipe      string
	data        dataFlags
	maxDrop     string
	noDistill   bool
	objective   string
	valFraction float64
	valSeed     int64
	valSeedSet  bool
	teacher     string
	epochs      int
	html        string
	out         string
	json        bool
}

func init() { commands = append(commands, newCompressCmd) }

func newCompressCmd(g *globals) *cobra.Command {
	o := &compressOptions{}
	c := &cobra.Command{
		Use:   "compress MODEL (--recipe FILE.yaml | --max-drop PCT) [--data DATA] -o OUT",
		Short: "chain compression passes from a recipe, or search for the smallest model within an accuracy budget",
		Long: `Compress a model by a recipe or by a search.

--recipe FILE.yaml runs an ordered list of passes with their options:

  name: deep-compression-lenet300        # optional
  val_fraction: 0.1                       # optional: validation carved from the training data
  passes:
    - prune:    {sparsity: 0.92, schedule: iterative, steps: 3, epochs: 3}
    - quantize: {scheme: "cluster:16", epochs: 1}
    - encode:   {encoding: auto}

Passes: ` + compress.PassNames() + ` (see recipes/README.md for every option).
After each pass the accuracy on the validation split (carved, seeded, from
the training data) is measured; the recipe, the seed and each step's
accuracy go into the output file's provenance. The test accuracy is
measured once, at the end.

--max-drop 0.1% measures each layer's sensitivity to pruning and to weight
sharing on the validation split, then tries per-layer sparsity and bit-width
assignments of growing aggressiveness (each pruned gradually and clustered,
fine-tuned on the training part against the input model's own logits, or on
the labels with --no-distill), keeps the smallest (--objective size,
macs or latency) whose validation accuracy is within the budget of the
uncompressed model's, and writes it. The search never reads the test split.
Every candidate, with the Pareto frontier marked, goes into the HTML report
written beside OUT (OUT without extension + ".html", or --html).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			o.valSeedSet = cmd.Flags().Changed("val-seed")
			return runCompress(cmd.Context(), g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.recipe, "recipe", "", "YAML recipe: an ordered list of passes with options")
	o.data.register(f)
	f.StringVar(&o.maxDrop, "max-drop", "", `search: accuracy budget, in points ("0.1%") or as a fraction ("0.001")`)
	f.StringVar(&o.objective, "objective", "size", "search: what to minimise: size (file bytes), macs (effective MACs) or latency (batch 1)")
	f.Float64Var(&o.valFraction, "val-fraction", 0, "fraction of the training data carved out for validation (default: the recipe's val_fraction, else 0.1)")
	f.Int64Var(&o.valSeed, "val-seed", 0, "seed of the validation split (default: --seed); fix it to compare training seeds on the same held-out images")
	f.IntVar(&o.epochs, "epochs", 8, "search: fine-tuning epochs of each candidate's gradual pruning (centroid fine-tuning gets a tenth, at least one)")
	f.StringVar(&o.teacher, "teacher", "", "model file to distil from instead of the input model: the search's candidates and recipe passes with distill: true that name no teacher")
	f.BoolVar(&o.noDistill, "no-distill", false, "search: fine-tune candidates on the labels alone instead of the input model's logits")
	f.StringVar(&o.html, "html", "", "HTML report (default: beside OUT, same name with .html)")
	f.StringVarP(&o.out, "output", "o", "", "compressed model file to write (required)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// ---------------------------------------------------------------- running

// compressResult is what `compress --json` prints.
type compressResult struct {
	Model         string                 `json:"model"`
	Input         string                 `json:"input"`
	Recipe        string                 `json:"recipe,omitempty"`
	Accuracy      float64                `json:"accuracy"` // test, measured once at the end
	BaseAccuracy  float64                `json:"base_accuracy"`
	ValAccuracy   float64                `json:"val_accuracy"`
	BaseVal       float64                `json:"base_val_accuracy"`
	FileBytes     int64                  `json:"file_bytes"`
	BaseBytes     int64                  `json:"base_file_bytes"`
	Ratio         float64                `json:"ratio"`
	Params        int64                  `json:"params"`
	NonzeroParams int64                  `json:"nonzero_params"`
	MACs          int64                  `json:"macs"`
	Steps         []compress.StepResult  `json:"steps,omitempty"`
	Search        *compress.SearchResult `json:"search,omitempty"`
	Rows          []report.Row           `json:"rows"`
	HTML          string                 `json:"html"`
	Seconds       float64                `json:"seconds"`
	Encodings     map[string]string      `json:"encodings,omitempty"`
}

func (o *compressOptions) validate() error {
	if o.out == "" {
		return usagef("-o/--output is required")
	}
	if (o.recipe == "") == (o.maxDrop == "") {
		return usagef("give exactly one of --recipe and --max-drop")
	}
	if o.valFraction < 0 || o.valFraction >= 1 {
		return usagef("--val-fraction %v must be in [0, 1)", o.valFraction)
	}
	if o.maxDrop != "" {
		if _, err := compress.ParseDrop(o.maxDrop); err != nil {
			return usagef("--max-drop: %v", err)
		}
	}
	if _, err := compress.ParseObjective(o.objective); err != nil {
		return usagef("--%v", err)
	}
	if o.epochs < 0 || o.epochs > compress.MaxEpochs {
		return usagef("--epochs %d: want 0 to %d", o.epochs, compress.MaxEpochs)
	}
	if o.noDistill && o.teacher != "" {
		return usagef("--no-distill and --teacher contradict each other: the search would not use the teacher")
	}
	return nil
}

func runCompress(ctx context.Context, g *globals, o *compressOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := checkOutput(g, o.out, o.model, o.recipe, o.teacher, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	var rec *compress.Recipe
	if o.recipe != "" {
		text, err := readRecipe(o.recipe)
		if err != nil {
			return usagef("--recipe: %v", err)
		}
		if rec, err = compress.ParseRecipe(o.recipe, text); err != nil {
			return usageError{err}
		}
	}
	in, err := loadModel(o.model)
	if err != nil {
		return err
	}
	ds, err := loadData(&o.data, g.seed, in)
	if err != nil {
		return err
	}
	if err := checkFits(in.Model, ds); err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	if ds.Test == nil || ds.Test.Len() == 0 {
		return fmt.Errorf("--data %s: the test part is empty", ds.Name)
	}
	valFrac := o.valFraction
	if valFrac == 0 && rec != nil {
		valFrac = rec.ValFraction
	}
	if valFrac == 0 {
		valFrac = 0.1
	}
	start := time.Now()
	valSeed := g.seed
	if o.valSeedSet {
		valSeed = o.valSeed
	}
	// The library gets the training data only: it cannot read the test split.
	d := compress.Holdout(ds.Train, valFrac, valSeed)
	env := g.compressEnv()
	if o.teacher != "" {
		t, err := load.TeacherBudget(o.teacher, ds.Train.Dim(), in.Model.Classes(), limits)
		if err != nil {
			return usagef("--teacher: %v", err)
		}
		env.Teacher = t.Model
	}
	env.Provenance = g.provenance(ds, in, map[string]string{"input": o.model, "val_fraction": fmtFloat(valFrac), "val_seed": strconv.FormatInt(valSeed, 10)})
	if o.teacher != "" {
		env.Provenance.Options["teacher"] = o.teacher
	}
	res := &compressResult{Model: o.out, Input: o.model, BaseBytes: fileSize(o.model)}
	var out *format.File
	if rec != nil {
		res.Recipe = o.recipe
		env.Provenance.Options["recipe"] = rec.Text
		env.Provenance.Options["recipe_file"] = o.recipe
		r, err := compress.Run(ctx, in.Model, d, rec, env)
		if err != nil {
			return err
		}
		out, res.Steps, res.BaseVal, res.ValAccuracy = r.File, r.Steps, r.BaseVal, r.ValAccuracy
	} else {
		maxDrop, _ := compress.ParseDrop(o.maxDrop)
		env.Provenance.Options["max_drop"] = o.maxDrop
		env.Provenance.Options["objective"] = o.objective
		b := compress.Budget{MaxDrop: maxDrop, Objective: compress.Objective(o.objective), Epochs: o.epochs, NoDistill: o.noDistill}
		s, err := compress.Search(ctx, in.Model, d, b, env)
		if err != nil {
			return err
		}
		out, res.Search, res.BaseVal = s.File, s, s.BaseVal
		res.ValAccuracy = s.BaseVal
		if s.Best >= 0 {
			res.ValAccuracy = s.Candidates[s.Best].ValAccuracy
		}
	}

	// Test accuracy, once.
	ev, err := nn.EvaluateWithin(out.Model, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return err
	}
	baseTest, err := nn.EvaluateWithin(in.Model, ds.Test.X, ds.Test.Y, limits)
	if err != nil {
		return err
	}
	out.Provenance.Accuracy = ev.Accuracy
	if err := writeModel(g, o.out, out); err != nil {
		return err
	}
	st := out.Model.Stats()
	res.Accuracy, res.BaseAccuracy = ev.Accuracy, baseTest.Accuracy
	res.FileBytes, res.Params, res.NonzeroParams, res.MACs = fileSize(o.out), st.Params, st.NonZero, st.MACs
	if res.FileBytes > 0 {
		res.Ratio = float64(res.BaseBytes) / float64(res.FileBytes)
	}
	res.Encodings = map[string]string{}
	for n, e := range out.Encodings {
		res.Encodings[n] = e.String()
	}
	res.Seconds = time.Since(start).Seconds()
	cmp, err := compareSet(g, []string{modelNames([]string{o.model})[0], modelNames([]string{o.out})[0] + " (out)"},
		[]*nn.Model{in.Model, out.Model}, []int64{res.BaseBytes, res.FileBytes}, ds.Test, 0)
	if err != nil {
		return err
	}
	res.Rows = cmp.Rows
	res.HTML = o.html
	if res.HTML == "" {
		res.HTML = strings.TrimSuffix(o.out, filepath.Ext(o.out)) + ".html"
	}
	page := compressPage(res, rec, res.Search)
	page.Sections = append(page.Sections, cmp.Sections([]*format.File{in, out})...)
	if err := report.SaveHTML(res.HTML, page); err != nil {
		return err
	}
	g.logf("report written to %s\n", res.HTML)
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printCompress(g, res)
	return nil
}

// readRecipe reads a recipe file, refusing one larger than a recipe can be
// before reading it whole.
func readRecipe(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	text, err := io.ReadAll(io.LimitReader(f, compress.MaxRecipeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(text) > compress.MaxRecipeBytes {
		return nil, fmt.Errorf("%s: more than %d bytes: a recipe is a few lines", path, compress.MaxRecipeBytes)
	}
	return text, nil
}

func printCompress(g *globals, r *compressResult) {
	w := g.stdout
	_ = report.WriteText(w, r.Rows)
	fmt.Fprintf(w, "\n%s: %s → %s (%.1f× smaller), test accuracy %.2f%% → %.2f%% (%+.2f points), validation %.2f%% → %.2f%%\n",
		r.Model, report.HumanBytes(r.BaseBytes), report.HumanBytes(r.FileBytes), r.Ratio,
		100*r.BaseAccuracy, 100*r.Accuracy, 100*(r.Accuracy-r.BaseAccuracy), 100*r.BaseVal, 100*r.ValAccuracy)
	fmt.Fprintf(w, "report: %s\n", r.HTML)
}

// compressPage builds the HTML report of a compress run.
func compressPage(r *compressResult, rec *compress.Recipe, s *compress.SearchResult) *report.Page {
	p := &report.Page{
		Title: "shrink compress: " + filepath.Base(r.Model),
		Intro: []string{fmt.Sprintf("%s → %s: %s → %s (%.1f× smaller); test accuracy %.2f%% → %.2f%% (%+.2f points), measured once at the end. Validation accuracy (carved from the training data) %.2f%% → %.2f%%.",
			r.Input, r.Model, report.HumanBytes(r.BaseBytes), report.HumanBytes(r.FileBytes), r.Ratio,
			100*r.BaseAccuracy, 100*r.Accuracy, 100*(r.Accuracy-r.BaseAccuracy), 100*r.BaseVal, 100*r.ValAccuracy)},
		Sections: []report.Section{{Title: "input and output (test split)", Rows: r.Rows, Plot: true}},
	}
	if len(r.Steps) > 0 {
		var rows []report.Row
		var extra []string
		base := r.Rows[0]
		rows = append(rows, report.Row{Name: "0 input", Accuracy: r.BaseVal, Agreement: 1, FileBytes: base.FileBytes, Ratio: 1,
			Params: base.Params, NonzeroParams: base.NonzeroParams, MACs: base.MACs, EffectiveMACs: base.EffectiveMACs})
		extra = append(extra, "")
		for i, st := range r.Steps {
			ms := st.Model.Stats()
			row := report.Row{Name: fmt.Sprintf("%d %s", i+1, st.Pass), Accuracy: st.ValAccuracy, FileBytes: st.FileBytes,
				Params: ms.Params, NonzeroParams: ms.NonZero, MACs: ms.MACs, EffectiveMACs: ms.EffectiveMACs}
			if st.FileBytes > 0 {
				row.Ratio = float64(base.FileBytes) / float64(st.FileBytes)
			}
			rows = append(rows, row)
			extra = append(extra, st.Summary)
		}
		p.Sections = append(p.Sections, report.Section{Title: "recipe steps (validation accuracy; agreement not measured)",
			Rows: rows, Extra: extra, ExtraTitle: "what the pass did", Plot: true})
	}
	if s != nil {
		p.Sections = append(p.Sections, s.Sections()...)
	}
	if rec != nil {
		p.Sections = append(p.Sections, report.Section{Title: "recipe " + r.Recipe, Pre: rec.Text})
	}
	var fields [][2]string
	for _, k := range slices.Sorted(maps.Keys(r.Encodings)) {
		fields = append(fields, [2]string{k, r.Encodings[k]})
	}
	if len(fields) > 0 {
		p.Sections = append(p.Sections, report.Section{Title: "tensor encodings", Fields: fields})
	}
	return p
}
