package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/format"
)

// inspectOptions are the flags of `shrink inspect`.
type inspectOptions struct {
	model string
	json  bool
}

func init() { commands = append(commands, newInspectCmd) }

func newInspectCmd(g *globals) *cobra.Command {
	o := &inspectOptions{}
	c := &cobra.Command{
		Use:   "inspect MODEL [--json]",
		Short: "show a model's layers: shapes, encodings, sparsity, parameters, MACs, bytes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runInspect(g, o)
		},
	}
	c.Flags().BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

type layerRow struct {
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	In            []int    `json:"in"`
	Out           []int    `json:"out"`
	Params        int64    `json:"params"`
	NonzeroParams int64    `json:"nonzero_params"`
	Sparsity      float64  `json:"sparsity"`
	MACs          int64    `json:"macs"`
	Bytes         int64    `json:"bytes"` // stored bytes of the layer's tensors in the file
	Encodings     []string `json:"encodings,omitempty"`
	BitsPerWeight float64  `json:"bits_per_weight,omitempty"`
}

type inspectResult struct {
	Model         string            `json:"model"`
	Input         []int             `json:"input"`
	Params        int64             `json:"params"`
	NonzeroParams int64             `json:"nonzero_params"`
	MACs          int64             `json:"macs"`
	FileBytes     int64             `json:"file_bytes"`
	MemoryBytes   int64             `json:"memory_bytes"`
	Accuracy      float64           `json:"accuracy"` // as recorded when the file was written
	Provenance    format.Provenance `json:"provenance"`
	Layers        []layerRow        `json:"layers"`
}

func runInspect(g *globals, o *inspectOptions) error {
	f, err := loadModel(o.model)
	if err != nil {
		return err
	}
	r := inspect(f, o.model)
	if o.json {
		return writeJSON(g.stdout, r)
	}
	printInspect(g.stdout, r)
	return nil
}

func inspect(f *format.File, path string) *inspectResult {
	st := f.Model.Stats()
	r := &inspectResult{Model: path, Input: f.Model.Input, Params: st.Params, NonzeroParams: st.NonZero, MACs: st.MACs,
		FileBytes: fileSize(path), MemoryBytes: st.Bytes, Accuracy: f.Provenance.Accuracy, Provenance: f.Provenance}
	tensors := map[string]format.TensorInfo{}
	for _, t := range f.Tensors() {
		tensors[t.Name] = t
	}
	for _, l := range f.Model.Layers {
		row := layerRow{Name: l.Name(), Kind: l.Kind(), In: l.In(), Out: l.Out(), MACs: l.MACs()}
		var weights, bits float64
		for _, p := range l.Params() {
			if p.Trainable {
				row.Params += int64(len(p.W))
				row.NonzeroParams += p.NonZero()
			}
			if t, ok := tensors[l.Name()+"."+p.Name]; ok {
				row.Bytes += t.Bytes
				row.Encodings = append(row.Encodings, fmt.Sprintf("%s:%s", p.Name, t.Encoding))
				if p.Name == "weight" {
					weights, bits = float64(len(p.W)), t.BitsPerWeight
				}
			}
		}
		if row.Params > 0 {
			row.Sparsity = 1 - float64(row.NonzeroParams)/float64(row.Params)
		}
		if weights > 0 {
			row.BitsPerWeight = bits
		}
		r.Layers = append(r.Layers, row)
	}
	return r
}

func printInspect(w io.Writer, r *inspectResult) {
	fmt.Fprintf(w, "%s: input %v, %d params (%d non-zero), %d MACs/sample, %d bytes on disk, %d bytes in memory\n",
		r.Model, r.Input, r.Params, r.NonzeroParams, r.MACs, r.FileBytes, r.MemoryBytes)
	if p := r.Provenance; p.Command != "" {
		fmt.Fprintf(w, "made by: %s (seed %d, data %s, accuracy %.2f%%)\n", p.Command, p.Seed, p.Data, 100*p.Accuracy)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "layer\tkind\tin\tout\tparams\tnon-zero\tsparsity\tMACs\tbytes\tbits/w\tencoding")
	for _, l := range r.Layers {
		sp, bpw := "", ""
		if l.Params > 0 {
			sp = fmt.Sprintf("%.1f%%", 100*l.Sparsity)
		}
		if l.BitsPerWeight > 0 {
			bpw = fmt.Sprintf("%.2f", l.BitsPerWeight)
		}
		enc := ""
		for i, e := range l.Encodings {
			if i > 0 {
				enc += " "
			}
			enc += e
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%d\t%d\t%s\t%d\t%d\t%s\t%s\n", l.Name, l.Kind, l.In, l.Out, l.Params, l.NonzeroParams, sp, l.MACs, l.Bytes, bpw, enc)
	}
	tw.Flush()
}
