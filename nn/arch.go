package nn

import (
	"fmt"
	"strconv"
	"strings"
)

// LayerSpec describes one layer's kind and configuration, without weights.
// A model's architecture is its input shape and a list of specs; it is what
// model files store and what ARCH strings parse into.
type LayerSpec struct {
	Kind     string  `json:"kind"`
	Name     string  `json:"name,omitempty"`
	Units    int     `json:"units,omitempty"`   // dense
	Filters  int     `json:"filters,omitempty"` // conv2d
	Kernel   int     `json:"kernel,omitempty"`  // conv2d, pools
	Stride   int     `json:"stride,omitempty"`  // conv2d, pools
	Pad      int     `json:"pad,omitempty"`     // conv2d
	Rate     float64 `json:"rate,omitempty"`    // dropout
	Eps      float64 `json:"eps,omitempty"`     // batchnorm
	Momentum float64 `json:"momentum,omitempty"`
}

// Spec returns the architecture of m.
func (m *Model) Spec() []LayerSpec {
	specs := make([]LayerSpec, len(m.Layers))
	for i, l := range m.Layers {
		s := LayerSpec{Kind: l.Kind(), Name: l.Name()}
		switch t := l.(type) {
		case *Dense:
			s.Units = t.out[0]
		case *Conv2D:
			s.Filters, s.Kernel, s.Stride, s.Pad = t.Filters, t.KH, t.Stride, t.Pad
		case *Pool2D:
			s.Kernel, s.Stride = t.K, t.Stride
		case *Dropout:
			s.Rate = t.Rate
		case *BatchNorm:
			s.Eps, s.Momentum = t.Eps, t.Momentum
		}
		specs[i] = s
	}
	return specs
}

// Build makes a model with zero weights from an input shape and layer specs.
func Build(input Shape, specs []LayerSpec) (*Model, error) {
	if len(input) == 0 || input.Size() <= 0 {
		return nil, fmt.Errorf("nn: bad input shape %v", input)
	}
	for _, d := range input {
		if d <= 0 || d > 1<<20 {
			return nil, fmt.Errorf("nn: bad input shape %v", input)
		}
	}
	var layers []Layer
	s := input.Clone()
	for i, sp := range specs {
		l, err := buildLayer(s, sp)
		if err != nil {
			return nil, fmt.Errorf("nn: layer %d (%s): %w", i, sp.Kind, err)
		}
		l.SetName(sp.Name)
		layers = append(layers, l)
		s = l.Out()
	}
	return NewModel(input, layers...)
}

// maxUnits caps layer widths so that a hostile architecture cannot ask for
// absurd allocations.
const maxUnits = 1 << 16

func buildLayer(s Shape, sp LayerSpec) (Layer, error) {
	switch sp.Kind {
	case "dense":
		if len(s) != 1 {
			return nil, fmt.Errorf("dense needs a vector input, got %v (add a flatten)", s)
		}
		if sp.Units <= 0 || sp.Units > maxUnits || s[0] > 1<<24 {
			return nil, fmt.Errorf("bad units %d", sp.Units)
		}
		return NewDense(s[0], sp.Units), nil
	case "conv2d":
		if sp.Filters > maxUnits || sp.Kernel > 64 || sp.Stride > 64 || sp.Pad > 64 {
			return nil, fmt.Errorf("bad configuration %+v", sp)
		}
		return NewConv2D(s, sp.Filters, sp.Kernel, sp.Stride, sp.Pad)
	case "maxpool2d":
		return NewMaxPool2D(s, sp.Kernel, sp.Stride)
	case "avgpool2d":
		return NewAvgPool2D(s, sp.Kernel, sp.Stride)
	case "flatten":
		return NewFlatten(s), nil
	case "relu":
		return NewReLU(s), nil
	case "batchnorm":
		b := NewBatchNorm(s)
		if sp.Eps > 0 {
			b.Eps = sp.Eps
		}
		if sp.Momentum > 0 {
			b.Momentum = sp.Momentum
		}
		return b, nil
	case "dropout":
		if sp.Rate < 0 || sp.Rate >= 1 {
			return nil, fmt.Errorf("dropout rate %v not in [0, 1)", sp.Rate)
		}
		return NewDropout(s, sp.Rate, 0), nil
	case "softmax":
		if len(s) != 1 {
			return nil, fmt.Errorf("softmax needs a vector input, got %v", s)
		}
		return NewSoftmax(s[0]), nil
	}
	return nil, fmt.Errorf("unknown layer kind %q", sp.Kind)
}

// ArchHelp documents the ARCH syntax for the CLI.
const ArchHelp = `ARCH is a preset or a layer list.
Presets:
  lenet300        784-300-100-10 MLP (266,610 parameters)
  lenet5          Caffe LeNet-5: conv 20@5x5, max-pool 2, conv 50@5x5, max-pool 2,
                  dense 500, ReLU, dense 10 (431,080 parameters)
  mlp:H1,H2,...   dense layers of H1, H2, ... units with ReLU, then the classes
Layer list (comma-separated, applied in order; the last layer gives the logits):
  dense:N  (or fc:N)        fully connected, N units
  conv:F:K[:S[:P]]          convolution, F filters KxK, stride S (1), padding P (0)
  maxpool:K[:S]             max pooling KxK, stride S (K)
  avgpool:K[:S]             average pooling KxK, stride S (K)
  relu | bn | flatten | dropout:P
A flatten is inserted where a dense layer follows an image, and a final
dense layer with one unit per class is appended if the list does not end
in one with that many units.
Example: conv:8:3:1:1,relu,maxpool:2,dense:64,relu,dense:10`

// ParseArch turns an ARCH string into layer specs for a data set with the
// given input shape and number of classes.
func ParseArch(arch string, input Shape, classes int) ([]LayerSpec, error) {
	arch = strings.TrimSpace(arch)
	var specs []LayerSpec
	switch {
	case arch == "lenet300":
		specs = []LayerSpec{{Kind: "dense", Units: 300}, {Kind: "relu"}, {Kind: "dense", Units: 100}, {Kind: "relu"}, {Kind: "dense", Units: classes}}
	case arch == "lenet5":
		specs = []LayerSpec{
			{Kind: "conv2d", Filters: 20, Kernel: 5, Stride: 1}, {Kind: "maxpool2d", Kernel: 2, Stride: 2},
			{Kind: "conv2d", Filters: 50, Kernel: 5, Stride: 1}, {Kind: "maxpool2d", Kernel: 2, Stride: 2},
			{Kind: "dense", Units: 500}, {Kind: "relu"}, {Kind: "dense", Units: classes},
		}
	case strings.HasPrefix(arch, "mlp:"):
		for _, f := range strings.Split(arch[4:], ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 || n > maxUnits {
				return nil, fmt.Errorf("arch %q: %q is not a layer width", arch, f)
			}
			specs = append(specs, LayerSpec{Kind: "dense", Units: n}, LayerSpec{Kind: "relu"})
		}
		specs = append(specs, LayerSpec{Kind: "dense", Units: classes})
	case arch == "":
		return nil, fmt.Errorf("empty arch")
	default:
		for _, tok := range strings.Split(arch, ",") {
			sp, err := parseLayerToken(strings.TrimSpace(tok))
			if err != nil {
				return nil, fmt.Errorf("arch %q: %w", arch, err)
			}
			specs = append(specs, sp)
		}
		if last := specs[len(specs)-1]; last.Kind != "dense" || last.Units != classes {
			specs = append(specs, LayerSpec{Kind: "dense", Units: classes})
		}
	}
	// Insert flattens where a dense layer follows an image.
	out := make([]LayerSpec, 0, len(specs)+1)
	dims := len(input)
	for _, sp := range specs {
		if (sp.Kind == "dense") && dims != 1 {
			out = append(out, LayerSpec{Kind: "flatten"})
			dims = 1
		}
		if sp.Kind == "flatten" || sp.Kind == "dense" {
			dims = 1
		}
		out = append(out, sp)
	}
	if _, err := Build(input, out); err != nil {
		return nil, fmt.Errorf("arch %q on input %v: %w", arch, input, err)
	}
	return out, nil
}

func parseLayerToken(tok string) (LayerSpec, error) {
	parts := strings.Split(tok, ":")
	nums := make([]int, 0, len(parts)-1)
	name := strings.ToLower(parts[0])
	if name != "dropout" {
		for _, p := range parts[1:] {
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 {
				return LayerSpec{}, fmt.Errorf("layer %q: %q is not a non-negative integer", tok, p)
			}
			nums = append(nums, n)
		}
	}
	arg := func(i, def int) int {
		if i < len(nums) {
			return nums[i]
		}
		return def
	}
	want := func(lo, hi int) error {
		if len(parts)-1 < lo || len(parts)-1 > hi {
			return fmt.Errorf("layer %q takes %d to %d numbers", tok, lo, hi)
		}
		return nil
	}
	switch name {
	case "dense", "fc":
		if err := want(1, 1); err != nil {
			return LayerSpec{}, err
		}
		return LayerSpec{Kind: "dense", Units: nums[0]}, nil
	case "conv":
		if err := want(2, 4); err != nil {
			return LayerSpec{}, err
		}
		return LayerSpec{Kind: "conv2d", Filters: nums[0], Kernel: nums[1], Stride: arg(2, 1), Pad: arg(3, 0)}, nil
	case "maxpool", "pool", "avgpool":
		if err := want(1, 2); err != nil {
			return LayerSpec{}, err
		}
		k := "maxpool2d"
		if name == "avgpool" {
			k = "avgpool2d"
		}
		return LayerSpec{Kind: k, Kernel: nums[0], Stride: arg(1, nums[0])}, nil
	case "relu", "flatten":
		if err := want(0, 0); err != nil {
			return LayerSpec{}, err
		}
		return LayerSpec{Kind: name}, nil
	case "bn", "batchnorm":
		if err := want(0, 0); err != nil {
			return LayerSpec{}, err
		}
		return LayerSpec{Kind: "batchnorm"}, nil
	case "dropout":
		if err := want(1, 1); err != nil {
			return LayerSpec{}, err
		}
		r, err := strconv.ParseFloat(parts[1], 64)
		if err != nil || r < 0 || r >= 1 {
			return LayerSpec{}, fmt.Errorf("layer %q: rate must be in [0, 1)", tok)
		}
		return LayerSpec{Kind: "dropout", Rate: r}, nil
	}
	return LayerSpec{}, fmt.Errorf("unknown layer %q", parts[0])
}
