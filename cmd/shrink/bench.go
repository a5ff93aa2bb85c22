package main

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/measure"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/nn/kernel"
)

// benchOptions are the flags of `shrink bench`.
type benchOptions struct {
	models  []string
	batch   int
	threads int
	runs    int
	json    bool
}

func init() { commands = append(commands, newBenchCmd) }

func newBenchCmd(g *globals) *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench MODEL... [--batch N] [--threads N] [--json]",
		Short: "measure inference throughput and per-image latency of a model as stored",
		Long: `Measure inference speed of a model on the path its file calls for (float32,
integer, sparse). Inputs are seeded uniform values in [0, 1) of the model's
input shape. After a warm-up, the batch is run repeatedly: each run lasts at
least 100 ms, and the median of the runs is reported as images per second,
per-image latency (batch time / batch) and batch latency.

With several models, their runs are interleaved (run r of every model, then
run r+1), so that a change in the machine's load touches them all alike and
their ratios, printed against the first model, stay comparable; --json then
prints an array.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.models = args
			return runBench(g, o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.batch, "batch", 256, "images per inference call")
	f.IntVar(&o.threads, "threads", 0, "cores to use (default: all, GOMAXPROCS)")
	f.IntVar(&o.runs, "runs", 9, "timed runs (the median is reported)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object (an array for several models)")
	return c
}

// benchResult is what `bench --json` prints.
type benchResult struct {
	Model          string            `json:"model"`
	Batch          int               `json:"batch"`
	Threads        int               `json:"threads"`
	ImagesPerS     float64           `json:"images_per_s"`
	LatencyUS      float64           `json:"latency_us"`       // per image: median batch time / batch
	BatchLatencyUS float64           `json:"batch_latency_us"` // median time of one call with the whole batch
	Paths          map[string]string `json:"paths"`            // each layer's inference path
	FileBytes      int64             `json:"file_bytes"`
	MACs           int64             `json:"macs"`
	Kernel         string            `json:"kernel"`             // the kernel level in use
	Disabled       []string          `json:"disabled,omitempty"` // assembly paths the self-check disabled
}

func runBench(g *globals, o *benchOptions) error {
	if o.batch <= 0 || o.batch > 1<<16 {
		return usagef("--batch %d must be in 1..65536", o.batch)
	}
	if o.threads < 0 {
		return usagef("--threads %d must not be negative", o.threads)
	}
	if o.runs <= 0 {
		return usagef("--runs %d must be positive", o.runs)
	}
	models := make([]*nn.Model, len(o.models))
	for i, path := range o.models {
		f, err := loadModel(path)
		if err != nil {
			return err
		}
		models[i] = f.Model
	}
	if o.threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads))
	}
	per := measure.Throughput(models, o.batch, o.runs, uint64(g.seed))
	rs := make([]benchResult, len(models))
	for i, m := range models {
		rs[i] = benchResult{
			Model: o.models[i], Batch: o.batch, Threads: runtime.GOMAXPROCS(0),
			ImagesPerS: per[i].ImagesPerS(), LatencyUS: per[i].LatencyUS(), BatchLatencyUS: per[i].BatchLatencyUS(),
			Paths: m.Paths(), FileBytes: fileSize(o.models[i]), MACs: m.Stats().MACs,
			Kernel: kernel.Active().String(), Disabled: kernel.Disabled(),
		}
	}
	if o.json {
		if len(rs) == 1 {
			return writeJSON(g.stdout, rs[0])
		}
		return writeJSON(g.stdout, rs)
	}
	fmt.Fprintf(g.stdout, "kernels: %s (%s)\n", kernel.Active(), strings.Join(kernel.Paths(), ", "))
	for _, d := range kernel.Disabled() {
		fmt.Fprintf(g.stdout, "disabled by the self-check: %s\n", d)
	}
	for i, r := range rs {
		fmt.Fprintf(g.stdout, "%s: batch %d, %d threads: %.0f images/s, %.2f µs/image, %.1f µs/batch",
			r.Model, r.Batch, r.Threads, r.ImagesPerS, r.LatencyUS, r.BatchLatencyUS)
		if i > 0 {
			fmt.Fprintf(g.stdout, " (%.2f× the throughput of %s)", r.ImagesPerS/rs[0].ImagesPerS, rs[0].Model)
		}
		fmt.Fprintln(g.stdout)
	}
	return nil
}
