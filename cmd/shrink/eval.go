package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/nn"
)

// evalOptions are the flags of `shrink eval`.
type evalOptions struct {
	model string
	data  dataFlags
	split string
	json  bool
}

func init() { commands = append(commands, newEvalCmd) }

func newEvalCmd(g *globals) *cobra.Command {
	o := &evalOptions{}
	c := &cobra.Command{
		Use:   "eval MODEL [--data DATA] [--json]",
		Short: "measure a model's accuracy, loss, per-class accuracy and confusion matrix",
		Long: `Evaluate a model on the test part of a data set. Without --data (or with the
same source it was trained on) the split recorded in the model file is used,
so a model is never evaluated on its training rows by accident.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runEval(g, o)
		},
	}
	f := c.Flags()
	o.data.register(f)
	f.StringVar(&o.split, "split", "test", "which part to evaluate: test or train")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// evalResult is what `eval --json` prints.
type evalResult struct {
	Model         string    `json:"model"`
	Data          string    `json:"data"`
	Split         string    `json:"split"`
	N             int       `json:"n"`
	Accuracy      float64   `json:"accuracy"`
	Loss          float64   `json:"loss"`
	Params        int64     `json:"params"`
	NonzeroParams int64     `json:"nonzero_params"`
	MACs          int64     `json:"macs"`
	FileBytes     int64     `json:"file_bytes"`
	PerClass      []float64 `json:"per_class_accuracy"`
	Confusion     [][]int   `json:"confusion"`
}

func runEval(g *globals, o *evalOptions) error {
	f, ds, set, err := loadSplit(g, o.model, &o.data, o.split)
	if err != nil {
		return err
	}
	if err := checkFits(f.Model, ds); err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	ev, err := nn.EvaluateWithin(f.Model, set.X, set.Y, limits)
	if err != nil {
		return err
	}
	st := f.Model.Stats()
	r := evalResult{Model: o.model, Data: ds.Info.Source, Split: o.split, N: ev.N, Accuracy: ev.Accuracy, Loss: ev.Loss,
		Params: st.Params, NonzeroParams: st.NonZero, MACs: st.MACs, FileBytes: fileSize(o.model), PerClass: ev.PerClass, Confusion: ev.Confusion}
	if o.json {
		return writeJSON(g.stdout, r)
	}
	printEval(g.stdout, &r)
	return nil
}

func printEval(w io.Writer, r *evalResult) {
	fmt.Fprintf(w, "%s on %s (%s, %d samples)\n", r.Model, r.Data, r.Split, r.N)
	fmt.Fprintf(w, "accuracy %.2f%%  loss %.4f  params %d (non-zero %d)  MACs %d  file %d bytes\n\n",
		100*r.Accuracy, r.Loss, r.Params, r.NonzeroParams, r.MACs, r.FileBytes)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
	hdr := []string{"true\\pred"}
	for j := range r.Confusion {
		hdr = append(hdr, fmt.Sprint(j))
	}
	hdr = append(hdr, "acc")
	fmt.Fprintln(tw, strings.Join(hdr, "\t")+"\t")
	for i, row := range r.Confusion {
		cells := []string{fmt.Sprint(i)}
		for _, v := range row {
			cells = append(cells, fmt.Sprint(v))
		}
		cells = append(cells, fmt.Sprintf("%.1f%%", 100*r.PerClass[i]))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
}
