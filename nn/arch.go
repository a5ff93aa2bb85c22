package nn

import (
	"fmt"
	"slices"
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

// Spec returns the architecture of m: each layer's kind, name and, from
// the kind registry, its configuration. A layer of a kind that is not
// registered (a pass's FakeQuant wrapper) gives its kind and name only.
func (m *Model) Spec() []LayerSpec {
	specs := make([]LayerSpec, len(m.Layers))
	for i, l := range m.Layers {
		s := LayerSpec{Kind: l.Kind(), Name: l.Name()}
		if k, ok := kinds[s.Kind]; ok && k.Spec != nil {
			k.Spec(l, &s)
		}
		specs[i] = s
	}
	return specs
}

// Build makes a model with zero weights from an input shape and layer specs,
// each checked by its kind's shape rule (see KindInfo) before it is built.
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
		out, _, err := PlanLayer(s, sp)
		var l Layer
		if err == nil {
			l, err = kinds[sp.Kind].Build(s, sp)
		}
		if err != nil {
			return nil, fmt.Errorf("nn: layer %d (%s): %w", i, sp.Kind, err)
		}
		if !l.Out().Equal(out) {
			panic(fmt.Sprintf("nn: layer kind %q builds output %v, its shape rule says %v", sp.Kind, l.Out(), out))
		}
		l.SetName(sp.Name)
		layers = append(layers, l)
		s = l.Out()
	}
	return NewModel(input, layers...)
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

// parseLayerToken turns one ARCH layer token ("conv:8:3:1:1") into a spec
// through the kind registry's tokens.
func parseLayerToken(tok string) (LayerSpec, error) {
	parts := strings.Split(tok, ":")
	name := strings.ToLower(parts[0])
	for _, k := range Kinds() {
		if k.Parse == nil || !slices.Contains(k.Tokens, name) {
			continue
		}
		sp, err := k.Parse(parts[1:])
		if err != nil {
			return LayerSpec{}, fmt.Errorf("layer %q: %w", tok, err)
		}
		return sp, nil
	}
	return LayerSpec{}, fmt.Errorf("unknown layer %q", parts[0])
}
