package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/format/load"
	"github.com/shrink-ml/shrink/format/onnx"
	"github.com/shrink-ml/shrink/format/safetensors"
	"github.com/shrink-ml/shrink/nn"
)

func init() { commands = append(commands, newImportCmd, newExportCmd) }

// isONNX reports whether path names an ONNX file.
func isONNX(path string) bool { return load.IsONNX(path) }

// loadModel reads a shrink model file, or imports an .onnx file directly
// (load.File), with the command line in the provenance of an import.
func loadModel(path string) (*format.File, error) {
	f, err := load.FileBudget(path, limits)
	if err != nil {
		return nil, err
	}
	if isONNX(path) {
		f.Provenance.Command = commandLine()
		f.Provenance.Created = created()
	}
	return f, nil
}

func importProvenance(path, producer string, opset int64) format.Provenance {
	p := load.ImportProvenance(path, producer, opset)
	p.Command, p.Created = commandLine(), created()
	return p
}

// importOptions are the flags of `shrink import`.
type importOptions struct {
	in   string
	arch string
	data dataFlags
	out  string
	json bool
}

func newImportCmd(g *globals) *cobra.Command {
	o := &importOptions{}
	c := &cobra.Command{
		Use:   "import FILE.onnx|FILE.safetensors [--arch ARCH] [--data DATA] -o MODEL",
		Short: "import an ONNX model or safetensors weights as a shrink model file",
		Long: `Import a model trained elsewhere.

An .onnx file (opsets 11-17, as PyTorch exports MLPs and CNNs) is mapped
onto shrink's layers: NCHW images become NHWC, batch norm is folded into the
preceding conv or dense layer, and shape-computing subgraphs such as
x.view(x.size(0), -1) are folded away. An unsupported graph is refused with
a list of every operator shrink cannot map.

A .safetensors file holds weights only: --arch builds the model (for the
input shape and classes of --data) and the tensors are bound by name
("fc1.weight", ...) or, for PyTorch nn.Sequential names ("0.weight", ...),
by position, in PyTorch layouts (conv OIHW, dense (out, in)).

A QDQ graph (QuantizeLinear/DequantizeLinear, as shrink export writes for
quantized models) is imported as float32: DequantizeLinear of constant
weights is folded into the dequantized float weights and quantize/dequantize
nodes on activations are dropped (a note says so); quantize the model again
with shrink quantize.

The model is evaluated on the test part of --data (default mnist-mini, when
its samples fit the model) and the accuracy is recorded with the provenance.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.in = args[0]
			return runImport(g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.arch, "arch", "", "architecture to bind safetensors weights to (required for .safetensors; see shrink train --help)")
	o.data.register(f)
	f.StringVarP(&o.out, "output", "o", "", "model file to write (required)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// importResult is what `import --json` prints.
type importResult struct {
	Model         string  `json:"model"`
	Source        string  `json:"source"`
	Format        string  `json:"format"`
	Opset         int64   `json:"opset,omitempty"`
	Layers        int     `json:"layers"`
	Accuracy      float64 `json:"accuracy"`
	Evaluated     bool    `json:"evaluated"`
	Params        int64   `json:"params"`
	NonzeroParams int64   `json:"nonzero_params"`
	MACs          int64   `json:"macs"`
	FileBytes     int64   `json:"file_bytes"`
	// Notes say what the import did not carry over (the quantization of
	// a QDQ graph).
	Notes []string `json:"notes,omitempty"`
}

func runImport(g *globals, o *importOptions) error {
	if o.out == "" {
		return usagef("-o/--output is required")
	}
	if err := checkOutput(g, o.out, o.in, o.data.spec, o.data.testFile); err != nil {
		return err
	}
	ext := strings.ToLower(filepath.Ext(o.in))
	if ext != ".onnx" && ext != ".safetensors" {
		return usagef("%s: want an .onnx or .safetensors file", o.in)
	}
	if ext == ".safetensors" && o.arch == "" {
		return usagef("--arch is required to import safetensors weights")
	}
	if ext == ".onnx" && o.arch != "" {
		return usagef("--arch is only for .safetensors files (an ONNX file holds its architecture)")
	}
	var f *format.File
	var ds *data.Data
	var err error
	res := importResult{Model: o.out, Source: o.in, Format: strings.TrimPrefix(ext, ".")}
	if ext == ".onnx" {
		m, info, err := onnx.ReadFileBudget(o.in, limits)
		if err != nil {
			return err
		}
		res.Opset, res.Notes = info.Opset, info.Notes
		f = format.New(m, importProvenance(o.in, info.Producer, info.Opset))
	} else {
		ds, err = loadData(&o.data, g.seed, nil)
		if err != nil {
			return err
		}
		specs, err := nn.ParseArch(o.arch, nn.Shape(ds.Train.Shape), ds.Train.Classes)
		if err != nil {
			return usagef("--arch: %v", err)
		}
		m, err := nn.Build(nn.Shape(ds.Train.Shape), specs)
		if err != nil {
			return usagef("--arch: %v", err)
		}
		st, err := safetensors.Read(o.in)
		if err != nil {
			return err
		}
		if err := safetensors.Bind(m, st); err != nil {
			return fmt.Errorf("%s: %w", o.in, err)
		}
		f = format.New(m, importProvenance(o.in, st.Metadata["format"], 0))
		f.Provenance.Options["arch"] = o.arch
	}
	// Evaluate where the data fits.
	if ds == nil {
		ds, err = loadData(&o.data, g.seed, nil)
		if err != nil {
			return err
		}
	}
	if err := checkFits(f.Model, ds); err != nil {
		if o.data.spec != "" {
			return fmt.Errorf("%s: %w", o.in, err)
		}
		g.logf("%s: not evaluated: %v\n", o.in, err)
	} else if ds.Test != nil && ds.Test.Len() > 0 {
		ev, err := nn.EvaluateWithin(f.Model, ds.Test.X, ds.Test.Y, limits)
		if err != nil {
			return err
		}
		info, _ := json.Marshal(ds.Info)
		f.Provenance.Accuracy, f.Provenance.Data, f.Provenance.DataInfo = ev.Accuracy, ds.Info.Source, info
		f.Provenance.Passes[0].Accuracy = ev.Accuracy
		res.Accuracy, res.Evaluated = ev.Accuracy, true
	}
	if err := writeModel(g, o.out, f); err != nil {
		return err
	}
	st := f.Model.Stats()
	res.Layers, res.Params, res.NonzeroParams, res.MACs, res.FileBytes = len(f.Model.Layers), st.Params, st.NonZero, st.MACs, fileSize(o.out)
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printImport(g.stdout, &res)
	for _, n := range res.Notes {
		g.logf("note: %s\n", n)
	}
	return nil
}

func printImport(w io.Writer, r *importResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "model\t%s\n", r.Model)
	fmt.Fprintf(tw, "imported from\t%s (%s)\n", r.Source, r.Format)
	fmt.Fprintf(tw, "layers\t%d\n", r.Layers)
	if r.Evaluated {
		fmt.Fprintf(tw, "test accuracy\t%.2f%%\n", 100*r.Accuracy)
	}
	fmt.Fprintf(tw, "parameters\t%d\n", r.Params)
	fmt.Fprintf(tw, "MACs/sample\t%d\n", r.MACs)
	fmt.Fprintf(tw, "file bytes\t%d\n", r.FileBytes)
	tw.Flush()
}

// exportOptions are the flags of `shrink export`.
type exportOptions struct {
	model string
	to    string
	out   string
	opset int64
	f16   bool
	float bool
	json  bool
}

func newExportCmd(g *globals) *cobra.Command {
	o := &exportOptions{}
	c := &cobra.Command{
		Use:   "export MODEL --to onnx|safetensors -o FILE",
		Short: "export a model as ONNX or its weights as safetensors",
		Long: `Export a model for other runtimes.

--to onnx writes an ONNX graph (opset 13 by default) with input "input" of
shape (N, C, H, W) for images or (N, D) for vectors and output "logits"
(N, classes); it passes onnx.checker and runs in ONNX Runtime. Float and
pruned models are written as plain float32 graphs (pruned weights keep their
zeros). Quantized models are written as QDQ so that ONNX Runtime runs them on
its int8 kernels:
  - int8 weights (per-channel or per-tensor; also int4 with per-channel
    granularity) become INT8 initializers read through DequantizeLinear
    (per-channel float scales on axis 0, zero point 0);
  - layers with static activation quantization (quantize --activations
    static) get a QuantizeLinear/DequantizeLinear pair (uint8, the calibrated
    scale and zero point) on their input, which reproduces shrink's own
    activation codes; dynamic activations get DynamicQuantizeLinear;
  - other schemes (int4 and int4_asym in blocks, q8_0, q4_0, fp16, cluster)
    have no QDQ form and are exported as their dequantized float32 weights;
    the output (and --json's "notes") says which layers.
--float exports every quantized weight as float32 and leaves activation
quantization out.
--to safetensors writes the weights in PyTorch layouts and names.
Without --to the format follows the extension of -o. The file is written
to a temporary file and renamed, so a failed export leaves nothing behind.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runExport(g, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.to, "to", "", "output format: onnx or safetensors (default: from the -o extension)")
	f.StringVarP(&o.out, "output", "o", "", "file to write (required)")
	f.Int64Var(&o.opset, "opset", onnx.DefaultOpset, "ONNX opset to declare (13 to 17)")
	f.BoolVar(&o.f16, "f16", false, "safetensors: store F16 instead of F32")
	f.BoolVar(&o.float, "float", false, "onnx: write quantized weights as dequantized float32, without QDQ")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

// exportResult is what `export --json` prints.
type exportResult struct {
	Model     string `json:"model"`
	Output    string `json:"output"`
	Format    string `json:"format"`
	FileBytes int64  `json:"file_bytes"`
	// ONNX export: layers written as QDQ and quantized weights written as
	// float32, with notes on what the export does not carry over.
	QDQWeights     []string `json:"qdq_weights,omitempty"`
	QDQActivations []string `json:"qdq_activations,omitempty"`
	FloatWeights   []string `json:"float_weights,omitempty"`
	Notes          []string `json:"notes,omitempty"`
}

func runExport(g *globals, o *exportOptions) error {
	if o.out == "" {
		return usagef("-o/--output is required")
	}
	if err := checkOutput(g, o.out, o.model); err != nil {
		return err
	}
	to := strings.ToLower(o.to)
	if to == "" {
		to = strings.TrimPrefix(strings.ToLower(filepath.Ext(o.out)), ".")
	}
	if to != "onnx" && to != "safetensors" {
		return usagef("--to %q: want onnx or safetensors", o.to)
	}
	if o.opset < 13 || o.opset > 17 {
		return usagef("--opset %d: want 13 to 17", o.opset)
	}
	f, err := loadModel(o.model)
	if err != nil {
		return err
	}
	var rep *onnx.Report
	switch to {
	case "onnx":
		doc, _ := json.Marshal(f.Provenance)
		rep, err = onnx.WriteFile(o.out, f.Model, onnx.ExportOptions{Opset: o.opset, ProducerVersion: "shrink", DocString: string(doc), Float: o.float})
	case "safetensors":
		err = safetensors.WriteFile(o.out, f.Model, map[string]string{"format": "pt", "tool": "shrink", "source": filepath.Base(o.model)}, o.f16)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", o.model, err)
	}
	res := exportResult{Model: o.model, Output: o.out, Format: to, FileBytes: fileSize(o.out)}
	if rep != nil {
		res.QDQWeights, res.QDQActivations, res.FloatWeights, res.Notes = rep.QDQWeights, rep.QDQActivations, rep.FloatWeights, rep.Notes
	} else if to == "safetensors" && hasQuant(f.Model) {
		res.Notes = append(res.Notes, "quantized weights are exported as their dequantized values")
	}
	if o.json {
		return writeJSON(g.stdout, res)
	}
	g.logf("wrote %s (%s, %d bytes)\n", o.out, to, res.FileBytes)
	if len(res.QDQWeights) > 0 {
		g.logf("QDQ: int8 weights in %s; quantized inputs in %d layer(s)\n", strings.Join(res.QDQWeights, ", "), len(res.QDQActivations))
	}
	for _, n := range res.Notes {
		g.logf("note: %s\n", n)
	}
	return nil
}

// hasQuant reports whether any weight of m is held quantized.
func hasQuant(m *nn.Model) bool {
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			if p.Quant != nil {
				return true
			}
		}
	}
	return false
}
