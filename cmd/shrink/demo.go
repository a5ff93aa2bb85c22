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
		Short: "train a lenet300 baseline on the embedded mnist-mini, evaluate it and write it to ./shrink-demo/",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runDemo(cmd.Context(), g, o) },
	}
	f := c.Flags()
	f.StringVar(&o.out, "out", "shrink-demo", "folder to write the models into")
	f.IntVar(&o.epochs, "epochs", 8, "training epochs for the baseline")
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
	if o.json {
		return writeJSON(g.stdout, res)
	}
	printTrainResult(g.stdout, res)
	fmt.Fprintf(g.stdout, "\nnext: shrink inspect %s\n      shrink eval %s\n", to.out, to.out)
	return nil
}
