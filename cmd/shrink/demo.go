package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/data"
)

// demoOptions are the flags of `shrink demo`.
type demoOptions struct {
	out    string
	epochs int
	short  bool
	json   bool
}

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd(g *globals) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo",
		Short: "the whole story on mnist-mini: train a baseline, compress it four ways, compare",
		Long: `Train a lenet300 baseline on the embedded mnist-mini, then produce a pruned, an
int8, a distilled and a compressed (Deep Compression recipe: prune, weight
sharing, entropy coding) model from it, print the comparison table (accuracy,
agreement, bytes on disk, ratio, parameters, MACs, latency), and write the
model files, the plot (compare.svg) and an HTML report (report.html) into
./shrink-demo/.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "shrink-demo", "folder to write the models into")
	f.IntVar(&o.epochs, "epochs", 15, "training epochs of the baseline (the passes fine-tune for the epochs their recipes give)")
	f.BoolVar(&o.short, "short", false, "a quick run on a slice of the data (for tests)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	return c
}

func runDemo(ctx context.Context, g *globals, o *demoOptions) error {
	if o.epochs <= 0 {
		return usagef("--epochs %d must be positive", o.epochs)
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return fmt.Errorf("--out %s: %w", o.out, err)
	}
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	if err != nil {
		return err
	}
	if o.short {
		ds.Train, ds.Test = ds.Train.Head(2000), ds.Test.Head(500)
	}
	g.logf("shrink demo: training lenet300 on mnist-mini (%d training, %d test images)\n", ds.Train.Len(), ds.Test.Len())
	to := &trainOptions{arch: "lenet300", epochs: o.epochs, batch: 64, optimizer: "adam", schedule: "cosine", out: filepath.Join(o.out, "lenet300.shrink")}
	res, err := trainModel(ctx, g, to, ds)
	if err != nil {
		return err
	}
	g.logf("shrink demo: baseline lenet300: test accuracy %.2f%%, %d bytes\n", 100*res.Accuracy, res.FileBytes)
	story, err := runDemoStory(ctx, g, o, ds, to.out)
	if err != nil {
		return err
	}
	if o.json {
		return writeJSON(g.stdout, story)
	}
	fmt.Fprintf(g.stdout, "\nwrote the models, compare.svg and report.html into %s/\nnext: shrink inspect %s\n", o.out, filepath.Join(o.out, "compressed.shrink"))
	return nil
}
