package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/nn"
)

// benchOptions are the flags of `shrink bench`.
type benchOptions struct {
	model   string
	batch   int
	threads int
	runs    int
	json    bool
}

func init() { commands = append(commands, newBenchCmd) }

func newBenchCmd(g *globals) *cobra.Command {
	o := &benchOptions{}
	c := &cobra.Command{
		Use:   "bench MODEL [--batch N] [--threads N] [--json]",
		Short: "measure inference throughput and per-image latency of a model as stored",
		Long: `Measure inference speed of a model on the path its file calls for (float32,
integer, sparse). Inputs are seeded uniform values in [0, 1) of the model's
input shape. After a warm-up, the batch is run repeatedly: each run lasts at
least 100 ms, and the median of the runs is reported as images per second,
per-image latency (batch time / batch) and batch latency.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.model = args[0]
			return runBench(g, o)
		},
	}
	f := c.Flags()
	f.IntVar(&o.batch, "batch", 256, "images per inference call")
	f.IntVar(&o.threads, "threads", 0, "cores to use (default: all, GOMAXPROCS)")
	f.IntVar(&o.runs, "runs", 9, "timed runs (the median is reported)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
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
	f, err := loadModel(o.model)
	if err != nil {
		return err
	}
	if o.threads > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.threads))
	}
	per := measureBatch(f.Model, o.batch, o.runs, uint64(g.seed))
	r := benchResult{
		Model: o.model, Batch: o.batch, Threads: runtime.GOMAXPROCS(0),
		ImagesPerS: float64(o.batch) / per.Seconds(), LatencyUS: per.Seconds() * 1e6 / float64(o.batch),
		BatchLatencyUS: per.Seconds() * 1e6, Paths: f.Model.Paths(), FileBytes: fileSize(o.model), MACs: f.Model.Stats().MACs,
	}
	if o.json {
		return writeJSON(g.stdout, r)
	}
	fmt.Fprintf(g.stdout, "%s: batch %d, %d threads: %.0f images/s, %.2f µs/image, %.1f µs/batch\n",
		o.model, r.Batch, r.Threads, r.ImagesPerS, r.LatencyUS, r.BatchLatencyUS)
	return nil
}

// measureBatch returns the median wall time of one inference call on a
// batch of n seeded inputs, over runs timed runs after a warm-up.
func measureBatch(m *nn.Model, n, runs int, seed uint64) time.Duration {
	rng := rand.New(rand.NewPCG(seed, 0xbe9c4))
	x := nn.NewTensor(n, m.Input)
	for i := range x.Data {
		x.Data[i] = rng.Float32()
	}
	// Warm up and calibrate the number of calls per run (≥ 100 ms).
	calls := 1
	for {
		start := time.Now()
		for range calls {
			m.Infer(x)
		}
		if el := time.Since(start); el >= 100*time.Millisecond {
			break
		}
		calls *= 2
	}
	times := make([]time.Duration, runs)
	for r := range times {
		start := time.Now()
		for range calls {
			m.Infer(x)
		}
		times[r] = time.Since(start) / time.Duration(calls)
	}
	slices.Sort(times)
	return times[runs/2]
}
