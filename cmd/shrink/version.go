package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shrink-ml/shrink/nn/kernel"
)

func init() { commands = append(commands, newVersionCmd) }

// versionInfo is what `shrink version --json` prints.
type versionInfo struct {
	Module   string   `json:"module"`
	Version  string   `json:"version"`
	Revision string   `json:"revision,omitempty"`
	Modified bool     `json:"modified,omitempty"`
	Go       string   `json:"go"`
	Platform string   `json:"platform"`
	Kernel   string   `json:"kernel"`             // the kernel level in use on this CPU
	Paths    []string `json:"kernel_paths"`       // the assembly paths in use
	Features []string `json:"cpu_features"`       // the CPU features the level choice reads
	Disabled []string `json:"disabled,omitempty"` // paths the start-up self-check disabled, with reasons
}

// buildVersion reads the module version and VCS revision stamped into the
// binary by the Go toolchain.
func buildVersion() versionInfo {
	v := versionInfo{Module: "github.com/shrink-ml/shrink", Version: "(devel)", Go: runtime.Version(),
		Platform: runtime.GOOS + "/" + runtime.GOARCH, Kernel: kernel.Active().String(),
		Paths: kernel.Paths(), Features: kernel.Features(), Disabled: kernel.Disabled()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String is the one-line form `shrink --version` prints.
func (v versionInfo) String() string {
	rev := ""
	if v.Revision != "" {
		rev = " " + v.Revision[:min(12, len(v.Revision))]
		if v.Modified {
			rev += "+modified"
		}
	}
	return fmt.Sprintf("shrink %s%s (%s, %s %s, kernels %s)", v.Version, rev, v.Module, v.Go, v.Platform, v.Kernel)
}

func newVersionCmd(g *globals) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "version",
		Short: "print the module version, VCS revision, Go version and the kernel level in use",
		Long: `Print shrink's module version, the VCS revision it was built from, the Go
version, the platform, and the kernel level chosen on this CPU (set
SHRINK_KERNEL to force one).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := buildVersion()
			if asJSON {
				return writeJSON(g.stdout, v)
			}
			fmt.Fprintln(g.stdout, v)
			fmt.Fprintf(g.stdout, "kernel paths: %s\ncpu features: %s\n", strings.Join(v.Paths, ", "), strings.Join(v.Features, " "))
			for _, d := range v.Disabled {
				fmt.Fprintf(g.stdout, "disabled by the self-check: %s\n", d)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	return c
}
