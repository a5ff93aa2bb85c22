// Command shrink trains, compresses, compares and exports neural networks.
// Run `shrink --help` for the commands; `shrink demo` shows the whole story
// on the embedded mnist-mini data set.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/budget"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn/kernel"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed (bad input file, I/O, training diverged)
	exitUsage = 2 // bad flags or arguments
)

// usageError marks errors in flags or arguments.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// commands are the subcommands; each command's file registers its
// constructor in an init function.
var commands []func(*globals) *cobra.Command

// globals are the flags every command has.
type globals struct {
	// writeThrough lets -o write through an existing symlink, device or
	// FIFO instead of refusing it.
	writeThrough bool
	quiet        bool
	seed         int64
	stdout       io.Writer
	stderr       io.Writer
}

// logf prints chatter to stderr unless --quiet.
func (g *globals) logf(format string, a ...any) {
	if !g.quiet {
		fmt.Fprintf(g.stderr, format, a...)
	}
}

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "shrink",
		Short: "shrink makes neural networks smaller and faster",
		Long: `shrink trains baseline networks, compresses them (pruning, quantization,
distillation), compares compressed against original, and writes compact,
checksummed model files.

DATA is "mnist-mini" (embedded, the default), a folder holding the four MNIST
IDX files (gzipped or not), or a CSV file (numeric features, label column last
unless --label-column says otherwise).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildVersion().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "no progress and no chatter on stderr (errors still print)")
	root.PersistentFlags().Int64Var(&g.seed, "seed", 1, "seed for every random choice (initialisation, shuffling, splits)")
	root.PersistentFlags().BoolVar(&g.writeThrough, "write-through", false, "let -o write through an existing symlink, device or FIFO (refused by default)")
	registerBudget(root.PersistentFlags())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	return root
}

func main() {
	if os.Getenv("GOGC") == "" {
		// Data sets and activations are large, long-lived slices: collect
		// at 50% heap growth instead of 100% to keep peak memory down
		// (training lenet5 on full MNIST).
		debug.SetGCPercent(50)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr}
	limits = budget.Budget{}
	if _, err := format.Now(); err != nil {
		fmt.Fprintf(stderr, "shrink: %v\n", err)
		return exitUsage
	}
	if err := kernel.Init(); err != nil {
		fmt.Fprintf(stderr, "shrink: %v\n", err)
		return exitUsage
	}
	root := newRoot(g)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		msg := err.Error()
		if !strings.HasPrefix(msg, "shrink") {
			msg = "shrink: " + msg
		}
		fmt.Fprintln(stderr, strings.ReplaceAll(msg, "\n", " "))
		var u usageError
		if errors.As(err, &u) || strings.Contains(msg, "unknown command") || strings.Contains(msg, "accepts ") || strings.Contains(msg, "arg(s)") {
			return exitUsage
		}
		return exitError
	}
	return exitOK
}
