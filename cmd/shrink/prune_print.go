package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/prune"
)

// What `shrink prune` prints.

// pruneLayer is one row of the per-layer table.
type pruneLayer struct {
	prune.LayerReport
	FileBytesBefore int64  `json:"file_bytes_before"`
	FileBytesAfter  int64  `json:"file_bytes_after"`
	Encoding        string `json:"encoding,omitempty"`
	Path            string `json:"path,omitempty"` // inference path
}

// pruneResult is what `prune --json` prints.
type pruneResult struct {
	Model               string                   `json:"model,omitempty"`
	Input               string                   `json:"input"`
	Method              string                   `json:"method"`
	Scope               string                   `json:"scope,omitempty"`
	Schedule            string                   `json:"schedule,omitempty"`
	Target              float64                  `json:"target"`
	Sparsity            float64                  `json:"sparsity"` // achieved, of the original weights
	AccuracyBefore      float64                  `json:"accuracy_before"`
	Accuracy            float64                  `json:"accuracy"`
	ValImages           int                      `json:"val_images,omitempty"`
	ValAccuracyBefore   float64                  `json:"val_accuracy_before,omitempty"`
	ValAccuracy         float64                  `json:"val_accuracy,omitempty"`
	ParamsBefore        int64                    `json:"params_before"`
	Params              int64                    `json:"params"`
	NonzeroParamsBefore int64                    `json:"nonzero_params_before"`
	NonzeroParams       int64                    `json:"nonzero_params"`
	MACsBefore          int64                    `json:"macs_before"`
	MACs                int64                    `json:"macs"`
	EffectiveMACs       int64                    `json:"effective_macs"`
	FileBytesBefore     int64                    `json:"file_bytes_before"`
	FileBytes           int64                    `json:"file_bytes"`
	DryRun              bool                     `json:"dry_run,omitempty"`
	Seconds             float64                  `json:"seconds"`
	Layers              []pruneLayer             `json:"layers,omitempty"`
	Epochs              []nn.EpochInfo           `json:"epochs,omitempty"`
	Sensitivity         []prune.SensitivityPoint `json:"sensitivity,omitempty"`
}

// layerFileBytes sums the stored bytes of each layer's tensors.
func layerFileBytes(ts []format.TensorInfo) map[string]int64 {
	out := map[string]int64{}
	for _, t := range ts {
		if i := strings.LastIndexByte(t.Name, '.'); i > 0 {
			out[t.Name[:i]] += t.Bytes
		}
	}
	return out
}

func printPrune(w io.Writer, r *pruneResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "layer\tunits\tparams\tnon-zero\tsparsity\tfile bytes\tMACs (effective)\tencoding\tpath\t")
	for _, l := range r.Layers {
		units := strconv.Itoa(l.UnitsAfter)
		if l.UnitsAfter != l.UnitsBefore {
			units = fmt.Sprintf("%d → %d", l.UnitsBefore, l.UnitsAfter)
		}
		params := strconv.FormatInt(l.ParamsAfter, 10)
		if l.ParamsAfter != l.ParamsBefore {
			params = fmt.Sprintf("%d → %d", l.ParamsBefore, l.ParamsAfter)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d → %d\t%.2f%%\t%d → %d\t%d → %d\t%s\t%s\t\n", l.Layer, units, params,
			l.NonZeroBefore, l.NonZeroAfter, 100*l.Sparsity, l.FileBytesBefore, l.FileBytesAfter,
			l.MACsBefore, l.MACsAfter, l.Encoding, l.Path)
	}
	fmt.Fprintf(tw, "total\t\t%d → %d\t%d → %d\t%.2f%%\t%d → %d\t%d → %d\t\t\t\n", r.ParamsBefore, r.Params,
		r.NonzeroParamsBefore, r.NonzeroParams, 100*r.Sparsity, r.FileBytesBefore, r.FileBytes,
		r.MACsBefore, r.EffectiveMACs)
	tw.Flush()
	ratio := float64(r.NonzeroParamsBefore) / math.Max(1, float64(r.NonzeroParams))
	fmt.Fprintf(w, "\naccuracy %.2f%% → %.2f%% (%+.2f points); %.1f× fewer non-zero parameters; file %.1f× smaller; dense MACs %d → %d\n",
		100*r.AccuracyBefore, 100*r.Accuracy, 100*(r.Accuracy-r.AccuracyBefore), ratio,
		float64(r.FileBytesBefore)/math.Max(1, float64(r.FileBytes)), r.MACsBefore, r.MACs)
	if r.ValImages > 0 {
		fmt.Fprintf(w, "validation (%d images carved from the training data): %.2f%% → %.2f%% (%+.2f points)\n",
			r.ValImages, 100*r.ValAccuracyBefore, 100*r.ValAccuracy, 100*(r.ValAccuracy-r.ValAccuracyBefore))
	}
	if r.DryRun {
		fmt.Fprintln(w, "dry run: nothing written (accuracy without fine-tuning)")
	} else {
		fmt.Fprintf(w, "written to %s\n", r.Model)
	}
}

func printSensitivity(w io.Writer, pts []prune.SensitivityPoint) {
	var levels []float64
	seen := map[float64]bool{}
	var layers []string
	acc := map[string]map[float64]float64{}
	for _, p := range pts {
		if !seen[p.Sparsity] {
			seen[p.Sparsity] = true
			levels = append(levels, p.Sparsity)
		}
		if acc[p.Layer] == nil {
			acc[p.Layer] = map[float64]float64{}
			layers = append(layers, p.Layer)
		}
		acc[p.Layer][p.Sparsity] = p.Accuracy
	}
	sort.Float64s(levels)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "layer\t"
	for _, s := range levels {
		hdr += fmt.Sprintf("%g%%\t", 100*s)
	}
	fmt.Fprintln(tw, hdr)
	for _, l := range layers {
		line := l + "\t"
		for _, s := range levels {
			line += fmt.Sprintf("%.2f%%\t", 100*acc[l][s])
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nvalidation accuracy with each layer pruned alone (magnitude, no fine-tuning)")
}
