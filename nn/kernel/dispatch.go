package kernel

import (
	"os"

	"golang.org/x/sys/cpu"
)

// Level names an instruction-set level a kernel path is written for.
type Level int

// The levels, from the portable Go path up.
const (
	Generic Level = iota // portable Go, the specification
	AVX2                 // AVX2 + FMA (and VPMADDUBSW for int8)
)

func (l Level) String() string {
	switch l {
	case AVX2:
		return "avx2"
	default:
		return "generic"
	}
}

// level is chosen once at start-up from the CPU's features. The environment
// variable SHRINK_KERNEL=generic (or the purego build tag) forces the
// portable path.
var level = detect()

func detect() Level {
	if purego || os.Getenv("SHRINK_KERNEL") == "generic" {
		return Generic
	}
	if hasAsm && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		return AVX2
	}
	return Generic
}

// Active reports the kernel level in use.
func Active() Level { return level }

// SetLevel forces a level (for tests and benchmarks) and returns the previous
// one. Asking for a level the CPU or build lacks leaves Generic in place.
func SetLevel(l Level) Level {
	prev := level
	if l == AVX2 && !(hasAsm && !purego && cpu.X86.HasAVX2 && cpu.X86.HasFMA) {
		l = Generic
	}
	level = l
	return prev
}
