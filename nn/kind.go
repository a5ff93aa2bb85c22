package nn

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Coupling says how a layer kind's channels (the last axis of its input and
// output) relate, which is what structured pruning needs to know: it removes
// output units of a Units layer together with the matching channels of the
// PerChannel layers that follow, up to the next Units layer (the consumer),
// whose matching input columns it removes.
type Coupling uint8

const (
	// Opaque layers show their outputs as they are (softmax) or mix
	// channels in ways pruning does not follow: a structured group stops
	// before them and their producer keeps all its units.
	Opaque Coupling = iota
	// PerChannel layers compute output channel c from input channel c only
	// (relu, batch norm, pooling, dropout, flatten). Each of their
	// parameters holds one value per channel.
	PerChannel
	// Units layers mix every input channel into each output unit, one row
	// of their weight per unit (dense, conv2d): they produce and consume
	// the channels pruning removes.
	Units
)

// KindInfo is one layer kind's entry in the registry, by stable tag: its
// shape rule, how to build it, its parameters, how its channels couple and
// its spelling in ARCH strings. nn.Build, Spec, the model file reader and
// structured pruning all read this table, so a new layer kind is added here
// and nowhere else.
type KindInfo struct {
	// Tag is the stable name stored in model files (LayerSpec.Kind).
	Tag string
	// Prefix names unnamed layers: prefix1, prefix2, … ("fc1").
	Prefix string
	// Params are the layer's parameter names, in Layer.Params order.
	Params []string
	// Coupling is how its channels couple (structured pruning).
	Coupling Coupling
	// Shape checks the spec on an input shape and returns the output shape
	// and the number of parameter values, allocating nothing: readers call
	// it on hostile specs before anything is built. Input dimensions are
	// positive and at most maxDim.
	Shape func(in Shape, sp LayerSpec) (out Shape, params int64, err error)
	// Build makes the layer, zero weights, for a spec Shape accepted.
	Build func(in Shape, sp LayerSpec) (Layer, error)
	// Spec fills the kind's configuration fields of sp from a layer.
	Spec func(l Layer, sp *LayerSpec)
	// UnitsField, for Units layers, points at the spec field that holds the
	// number of output units (structured pruning rewrites it).
	UnitsField func(sp *LayerSpec) *int
	// Tokens are the kind's names in ARCH layer lists ("dense", "fc");
	// Parse turns a token's colon-separated arguments into a spec. A kind
	// without tokens cannot be written in ARCH strings.
	Tokens []string
	Parse  func(args []string) (LayerSpec, error)
}

// maxUnits caps layer widths so that a hostile architecture cannot ask for
// absurd allocations.
const maxUnits = 1 << 16

// maxDim caps every dimension of a shape a shape rule sees, so that its
// products stay far from overflow.
const maxDim = 1 << 24

// kinds is the registry of layer kinds, by tag.
var kinds = map[string]*KindInfo{}

func register(k *KindInfo) {
	if _, dup := kinds[k.Tag]; dup || k.Shape == nil || k.Build == nil {
		panic(fmt.Sprintf("nn: bad or duplicate layer kind %q", k.Tag))
	}
	kinds[k.Tag] = k
}

// LookupKind returns the registered layer kind with the given tag.
func LookupKind(tag string) (*KindInfo, bool) {
	k, ok := kinds[tag]
	return k, ok
}

// Kinds returns every registered layer kind, ordered by tag.
func Kinds() []*KindInfo {
	out := make([]*KindInfo, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, k)
	}
	slices.SortFunc(out, func(a, b *KindInfo) int { return strings.Compare(a.Tag, b.Tag) })
	return out
}

// PlanLayer applies the shape rule of sp's kind to an input shape: the
// layer's output shape and its number of parameter values, or why the spec
// does not fit. It allocates nothing.
func PlanLayer(in Shape, sp LayerSpec) (Shape, int64, error) {
	k, ok := kinds[sp.Kind]
	if !ok {
		return nil, 0, fmt.Errorf("unknown layer kind %q", sp.Kind)
	}
	if len(in) == 0 {
		return nil, 0, fmt.Errorf("empty input shape")
	}
	for _, d := range in {
		if d <= 0 || d > maxDim {
			return nil, 0, fmt.Errorf("bad input shape %v", in)
		}
	}
	for _, v := range []float64{sp.Rate, sp.Eps, sp.Momentum} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("non-finite setting in %+v", sp)
		}
	}
	return k.Shape(in, sp)
}

// vectorIn is the shape check of layers that take a vector.
func vectorIn(in Shape, kind string) error {
	if len(in) != 1 {
		return fmt.Errorf("%s needs a vector input, got %v (add a flatten)", kind, in)
	}
	return nil
}

// same is the shape rule of parameterless layers that keep their shape.
func same(in Shape, _ LayerSpec) (Shape, int64, error) { return in.Clone(), 0, nil }

// ints parses ARCH arguments as non-negative integers, between lo and hi
// of them.
func ints(args []string, lo, hi int) ([]int, error) {
	if len(args) < lo || len(args) > hi {
		return nil, fmt.Errorf("takes %d to %d numbers", lo, hi)
	}
	out := make([]int, len(args))
	for i, a := range args {
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a non-negative integer", a)
		}
		out[i] = n
	}
	return out, nil
}

// arg is nums[i], or def when there are not that many.
func arg(nums []int, i, def int) int {
	if i < len(nums) {
		return nums[i]
	}
	return def
}

// noArgs is Parse for kinds that take no arguments.
func noArgs(tag string) func([]string) (LayerSpec, error) {
	return func(args []string) (LayerSpec, error) {
		if _, err := ints(args, 0, 0); err != nil {
			return LayerSpec{}, err
		}
		return LayerSpec{Kind: tag}, nil
	}
}

func poolKind(tag string, max bool, tokens ...string) *KindInfo {
	return &KindInfo{
		Tag: tag, Prefix: "pool", Coupling: PerChannel, Tokens: tokens,
		Shape: func(in Shape, sp LayerSpec) (Shape, int64, error) {
			k, st := sp.Kernel, sp.Stride
			if len(in) != 3 {
				return nil, 0, fmt.Errorf("pool2d needs an (H, W, C) input, got %v", in)
			}
			if k <= 0 || st <= 0 || k > in[0] || k > in[1] {
				return nil, 0, fmt.Errorf("pool2d: window %d stride %d does not fit input %v", k, st, in)
			}
			return Shape{(in[0]-k)/st + 1, (in[1]-k)/st + 1, in[2]}, 0, nil
		},
		Build: func(in Shape, sp LayerSpec) (Layer, error) { return newPool(in, sp.Kernel, sp.Stride, max) },
		Spec: func(l Layer, sp *LayerSpec) {
			p := l.(*Pool2D)
			sp.Kernel, sp.Stride = p.K, p.Stride
		},
		Parse: func(args []string) (LayerSpec, error) {
			nums, err := ints(args, 1, 2)
			if err != nil {
				return LayerSpec{}, err
			}
			return LayerSpec{Kind: tag, Kernel: nums[0], Stride: arg(nums, 1, nums[0])}, nil
		},
	}
}

func init() {
	register(&KindInfo{
		Tag: "dense", Prefix: "fc", Params: []string{"weight", "bias"}, Coupling: Units, Tokens: []string{"dense", "fc"},
		Shape: func(in Shape, sp LayerSpec) (Shape, int64, error) {
			if err := vectorIn(in, "dense"); err != nil {
				return nil, 0, err
			}
			if sp.Units <= 0 || sp.Units > maxUnits {
				return nil, 0, fmt.Errorf("bad units %d", sp.Units)
			}
			return Shape{sp.Units}, int64(in[0])*int64(sp.Units) + int64(sp.Units), nil
		},
		Build:      func(in Shape, sp LayerSpec) (Layer, error) { return NewDense(in[0], sp.Units), nil },
		Spec:       func(l Layer, sp *LayerSpec) { sp.Units = l.Out()[0] },
		UnitsField: func(sp *LayerSpec) *int { return &sp.Units },
		Parse: func(args []string) (LayerSpec, error) {
			nums, err := ints(args, 1, 1)
			if err != nil {
				return LayerSpec{}, err
			}
			return LayerSpec{Kind: "dense", Units: nums[0]}, nil
		},
	})
	register(&KindInfo{
		Tag: "conv2d", Prefix: "conv", Params: []string{"weight", "bias"}, Coupling: Units, Tokens: []string{"conv"},
		Shape: func(in Shape, sp LayerSpec) (Shape, int64, error) {
			if len(in) != 3 {
				return nil, 0, fmt.Errorf("conv2d needs an (H, W, C) input, got %v", in)
			}
			f, k, st, pad := sp.Filters, sp.Kernel, sp.Stride, sp.Pad
			if f <= 0 || f > maxUnits || k <= 0 || k > 64 || st <= 0 || st > 64 || pad < 0 || pad > 64 {
				return nil, 0, fmt.Errorf("conv2d: bad filters %d, kernel %d, stride %d or padding %d", f, k, st, pad)
			}
			oh, ow := convOut(in[0], k, st, pad), convOut(in[1], k, st, pad)
			if in[0]+2*pad < k || in[1]+2*pad < k || oh <= 0 || ow <= 0 {
				return nil, 0, fmt.Errorf("conv2d: kernel %d does not fit input %v with padding %d", k, in, pad)
			}
			return Shape{oh, ow, f}, int64(f)*int64(k)*int64(k)*int64(in[2]) + int64(f), nil
		},
		Build: func(in Shape, sp LayerSpec) (Layer, error) {
			return NewConv2D(in, sp.Filters, sp.Kernel, sp.Stride, sp.Pad)
		},
		Spec: func(l Layer, sp *LayerSpec) {
			c := l.(*Conv2D)
			sp.Filters, sp.Kernel, sp.Stride, sp.Pad = c.Filters, c.KH, c.Stride, c.Pad
		},
		UnitsField: func(sp *LayerSpec) *int { return &sp.Filters },
		Parse: func(args []string) (LayerSpec, error) {
			nums, err := ints(args, 2, 4)
			if err != nil {
				return LayerSpec{}, err
			}
			return LayerSpec{Kind: "conv2d", Filters: nums[0], Kernel: nums[1], Stride: arg(nums, 2, 1), Pad: arg(nums, 3, 0)}, nil
		},
	})
	register(poolKind("maxpool2d", true, "maxpool", "pool"))
	register(poolKind("avgpool2d", false, "avgpool"))
	register(&KindInfo{
		Tag: "flatten", Prefix: "flatten", Coupling: PerChannel, Tokens: []string{"flatten"}, Parse: noArgs("flatten"),
		Shape: func(in Shape, _ LayerSpec) (Shape, int64, error) {
			n := int64(1)
			for _, d := range in {
				if n *= int64(d); n > maxDim {
					return nil, 0, fmt.Errorf("flatten: %v has more than %d values", in, maxDim)
				}
			}
			return Shape{int(n)}, 0, nil
		},
		Build: func(in Shape, _ LayerSpec) (Layer, error) { return NewFlatten(in), nil },
	})
	register(&KindInfo{
		Tag: "relu", Prefix: "relu", Coupling: PerChannel, Tokens: []string{"relu"}, Parse: noArgs("relu"),
		Shape: same,
		Build: func(in Shape, _ LayerSpec) (Layer, error) { return NewReLU(in), nil },
	})
	register(&KindInfo{
		Tag: "batchnorm", Prefix: "bn", Params: []string{"gamma", "beta", "running_mean", "running_var"},
		Coupling: PerChannel, Tokens: []string{"bn", "batchnorm"}, Parse: noArgs("batchnorm"),
		Shape: func(in Shape, sp LayerSpec) (Shape, int64, error) {
			return in.Clone(), 4 * int64(in[len(in)-1]), nil
		},
		Build: func(in Shape, sp LayerSpec) (Layer, error) {
			b := NewBatchNorm(in)
			if sp.Eps > 0 {
				b.Eps = sp.Eps
			}
			if sp.Momentum > 0 {
				b.Momentum = sp.Momentum
			}
			return b, nil
		},
		Spec: func(l Layer, sp *LayerSpec) {
			b := l.(*BatchNorm)
			sp.Eps, sp.Momentum = b.Eps, b.Momentum
		},
	})
	register(&KindInfo{
		Tag: "dropout", Prefix: "drop", Coupling: PerChannel, Tokens: []string{"dropout"},
		Shape: func(in Shape, sp LayerSpec) (Shape, int64, error) {
			if sp.Rate < 0 || sp.Rate >= 1 {
				return nil, 0, fmt.Errorf("dropout rate %v not in [0, 1)", sp.Rate)
			}
			return in.Clone(), 0, nil
		},
		Build: func(in Shape, sp LayerSpec) (Layer, error) { return NewDropout(in, sp.Rate, 0), nil },
		Spec:  func(l Layer, sp *LayerSpec) { sp.Rate = l.(*Dropout).Rate },
		Parse: func(args []string) (LayerSpec, error) {
			if len(args) != 1 {
				return LayerSpec{}, fmt.Errorf("takes 1 to 1 numbers")
			}
			r, err := strconv.ParseFloat(args[0], 64)
			if err != nil || r < 0 || r >= 1 {
				return LayerSpec{}, fmt.Errorf("rate must be in [0, 1)")
			}
			return LayerSpec{Kind: "dropout", Rate: r}, nil
		},
	})
	register(&KindInfo{
		Tag: "softmax", Prefix: "softmax", Coupling: Opaque,
		Shape: func(in Shape, _ LayerSpec) (Shape, int64, error) {
			if err := vectorIn(in, "softmax"); err != nil {
				return nil, 0, err
			}
			return in.Clone(), 0, nil
		},
		Build: func(in Shape, _ LayerSpec) (Layer, error) { return NewSoftmax(in[0]), nil },
	})
}
