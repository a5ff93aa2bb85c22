package kernel

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/cpu"
)

// Level names an instruction-set level a kernel path is written for. Each
// level includes the paths of the levels below it.
type Level int

// The levels, from the portable Go path up.
const (
	Generic Level = iota // portable Go, the specification
	AVX2                 // AVX2 + FMA (VPMADDUBSW for int8; AVX-VNNI where present)
	AVX512               // AVX-512F/BW/VL float32 (AVX512-VNNI int8 where present)
	AMX                  // AMX-INT8/BF16 tiles: reserved, no kernels are built yet
)

// levelNames are the names String and SHRINK_KERNEL use, indexed by Level.
var levelNames = [...]string{Generic: "generic", AVX2: "avx2", AVX512: "avx512", AMX: "amx"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// ParseLevel returns the Level named s (generic, avx2, avx512, amx).
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if s == name {
			return Level(l), nil
		}
	}
	return Generic, fmt.Errorf("kernel: unknown level %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}

// path is one family of assembly kernels that is self-checked (and may be
// disabled) as a whole.
type path int

const (
	pathAVX2    path = iota // AVX2+FMA: float32 GEMM/GEMV, int8 (VPMADDUBSW), sparse, Adam
	pathAVXVNNI             // AVX-VNNI (VEX VPDPBUSD on ymm): int8 GEMM
	pathAVX512              // AVX-512F: float32 GEMM
	pathVNNI512             // AVX512-VNNI (EVEX VPDPBUSD on zmm): int8 GEMM
	numPaths
)

// pathInfo describes a path: its name, the level that enables it, whether
// the CPU (and this build) can run it, and its known-answer self-check.
type pathInfo struct {
	name  string
	level Level
	cpu   func() bool
	check func() error
}

// paths lists every path, each after the paths it builds on (the
// self-check of a path runs with the paths before it already in use).
var paths = [numPaths]pathInfo{
	pathAVX2:    {"avx2", AVX2, func() bool { return asmOK && cpu.X86.HasAVX2 && cpu.X86.HasFMA }, checkAVX2},
	pathAVXVNNI: {"avx-vnni", AVX2, func() bool { return asmOK && cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasAVXVNNI }, checkInt8},
	pathAVX512:  {"avx512", AVX512, func() bool { return asmOK && has512() }, checkSgemm},
	pathVNNI512: {"avx512-vnni", AVX512, func() bool { return asmOK && has512() && cpu.X86.HasAVX512VNNI }, checkInt8},
}

// asmOK reports whether this build carries the assembly at all.
const asmOK = hasAsm && !purego

func has512() bool {
	return cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ
}

// levelPath is the path a level needs to be usable (AMX has none built).
func levelPath(l Level) (path, bool) {
	switch l {
	case AVX2:
		return pathAVX2, true
	case AVX512:
		return pathAVX512, true
	}
	return 0, false
}

// use says which paths the kernels take; it follows from level, the CPU's
// features and the self-check (see setLevel). The fields are read by the
// kernel selection code of each file.
var use struct {
	avx2, avxvnni, avx512, vnni512 bool
}

var (
	level    Level               // the level in use
	best     Level               // the highest level that passed its self-check
	passed   [numPaths]bool      // paths the CPU runs that passed their self-check
	disabled []string            // "path: reason" of each path the self-check disabled
	levelErr error               // the SHRINK_KERNEL request that could not be honoured
	checking path           = -1 // the path under self-check, enabled before it passed
)

func init() { initDispatch() }

// initDispatch runs the self-checks and chooses the level: the highest one
// that passed, or the one SHRINK_KERNEL names (the purego build tag forces
// Generic).
func initDispatch() {
	passed = [numPaths]bool{}
	disabled = nil
	levelErr = nil
	for p := range numPaths {
		info := paths[p]
		if !info.cpu() {
			continue
		}
		level = info.level
		checking = p
		setUse()
		err := safeCheck(info.check)
		checking = -1
		if err != nil {
			disabled = append(disabled, info.name+": "+err.Error())
			continue
		}
		passed[p] = true
	}
	best = Generic
	for _, l := range []Level{AVX2, AVX512} {
		if p, _ := levelPath(l); passed[p] {
			best = l
		}
	}
	level = best
	if purego {
		level = Generic
	}
	if s, ok := os.LookupEnv("SHRINK_KERNEL"); ok && s != "" {
		l, err := ParseLevel(s)
		if err != nil {
			levelErr = fmt.Errorf("SHRINK_KERNEL=%s: %w", s, err)
		} else if err := available(l); err != nil {
			levelErr = fmt.Errorf("SHRINK_KERNEL=%s: %w", s, err)
		} else {
			level = l
		}
	}
	setUse()
}

// safeCheck runs a self-check, turning a panic into an error.
func safeCheck(check func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v", r)
		}
	}()
	return check()
}

// available returns nil if level l can be used here, else why not.
func available(l Level) error {
	if l == Generic {
		return nil
	}
	if purego {
		return fmt.Errorf("kernel: level %v: built with the purego tag (portable Go only)", l)
	}
	if l == AMX {
		if !(cpu.X86.HasAMXTile && cpu.X86.HasAMXInt8) {
			return fmt.Errorf("kernel: level amx: this CPU lacks AMX-INT8 (it has %s)", strings.Join(Features(), " "))
		}
		return fmt.Errorf("kernel: level amx: no AMX kernels are built into this version")
	}
	p, _ := levelPath(l)
	if !paths[p].cpu() {
		need := map[Level]string{AVX2: "AVX2 and FMA", AVX512: "AVX-512F/BW/VL/DQ"}[l]
		return fmt.Errorf("kernel: level %v: this CPU lacks %s (it has %s)", l, need, strings.Join(Features(), " "))
	}
	if !passed[p] {
		return fmt.Errorf("kernel: level %v: disabled by the start-up self-check (%s)", l, strings.Join(Disabled(), "; "))
	}
	return nil
}

// setUse derives use from level, the CPU and the self-check results.
func setUse() {
	on := func(p path) bool {
		if p == checking {
			return true
		}
		return passed[p] && level >= paths[p].level
	}
	use.avx2 = on(pathAVX2)
	use.avxvnni = on(pathAVXVNNI)
	use.avx512 = on(pathAVX512)
	use.vnni512 = on(pathVNNI512)
	if level == Generic {
		use.avx2, use.avxvnni, use.avx512, use.vnni512 = false, false, false, false
	}
}

// Init reports the error of a SHRINK_KERNEL request that could not be
// honoured (an unknown name, or a level this CPU or build lacks, or one the
// self-check disabled), or nil. The library then runs at the best level it
// has; a command-line tool should print the error and exit non-zero.
func Init() error { return levelErr }

// Active reports the kernel level in use.
func Active() Level { return level }

// Best reports the highest level this CPU and build run that passed its
// self-check (what Active is without SHRINK_KERNEL or SetLevel).
func Best() Level { return best }

// Disabled lists the assembly paths the start-up self-check disabled, each
// as "name: reason"; empty when every path the CPU has passed.
func Disabled() []string { return slices.Clone(disabled) }

// Paths lists the assembly paths in use at the active level (for example
// "avx2", "avx512", "avx512-vnni"); empty at the Generic level.
func Paths() []string {
	var s []string
	for p := range numPaths {
		if passed[p] && level >= paths[p].level && level != Generic {
			s = append(s, paths[p].name)
		}
	}
	return s
}

// Features lists the CPU features the level choice looks at that this CPU
// has, in lower case as /proc/cpuinfo spells them (empty off x86).
func Features() []string {
	x := cpu.X86
	all := []struct {
		name string
		has  bool
	}{
		{"avx2", x.HasAVX2}, {"fma", x.HasFMA}, {"avx_vnni", x.HasAVXVNNI},
		{"avx512f", x.HasAVX512F}, {"avx512bw", x.HasAVX512BW}, {"avx512vl", x.HasAVX512VL},
		{"avx512dq", x.HasAVX512DQ}, {"avx512_vnni", x.HasAVX512VNNI}, {"avx512_bf16", x.HasAVX512BF16},
		{"amx_tile", x.HasAMXTile}, {"amx_int8", x.HasAMXInt8}, {"amx_bf16", x.HasAMXBF16},
	}
	var s []string
	for _, f := range all {
		if f.has {
			s = append(s, f.name)
		}
	}
	return s
}

// SetLevel forces a level (for tests and benchmarks) and returns the previous
// one. Asking for a level that is not available (see Init) leaves the
// highest available level below it in place.
func SetLevel(l Level) Level {
	prev := level
	for l > Generic && available(l) != nil {
		l--
	}
	level = l
	setUse()
	return prev
}
