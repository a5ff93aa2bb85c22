package safetensors

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/budget"
	"github.com/shrink-ml/shrink/internal/atomicfile"
	"github.com/shrink-ml/shrink/nn"
)

// slot is one model parameter with its PyTorch name suffix and shape.
type slot struct {
	layer  nn.Layer
	p      *nn.Param
	suffix string // "weight", "bias", "running_mean", "running_var"
	shape  []int  // PyTorch shape
	// toTorch/fromTorch permute between shrink's layout and PyTorch's; nil
	// for the identity.
	perm []int // perm[torchIndex] = shrinkIndex
}

// slots lists the model's parameters in PyTorch layout.
func slots(m *nn.Model) [][]slot {
	var out [][]slot
	var chw [3]int // after a flatten of a (C, H, W) image
	for _, l := range m.Layers {
		var group []slot
		switch t := l.(type) {
		case *nn.Dense:
			in, o := t.In()[0], t.Out()[0]
			s := slot{layer: l, p: t.W, suffix: "weight", shape: []int{o, in}}
			if chw != [3]int{} {
				C, H, W := chw[0], chw[1], chw[2]
				s.perm = make([]int, o*in)
				for m := 0; m < o; m++ {
					for j := 0; j < in; j++ {
						c, h, w := j/(H*W), (j/W)%H, j%W
						s.perm[m*in+j] = m*in + (h*W+w)*C + c
					}
				}
				chw = [3]int{}
			}
			group = append(group, s, slot{layer: l, p: t.B, suffix: "bias", shape: []int{o}})
		case *nn.Conv2D:
			C, k, F := t.In()[2], t.KH, t.Filters
			s := slot{layer: l, p: t.W, suffix: "weight", shape: []int{F, C, k, k}, perm: make([]int, len(t.W.W))}
			for o := 0; o < F; o++ {
				for c := 0; c < C; c++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							s.perm[((o*C+c)*k+ky)*k+kx] = o*k*k*C + (ky*k+kx)*C + c
						}
					}
				}
			}
			group = append(group, s, slot{layer: l, p: t.B, suffix: "bias", shape: []int{F}})
		case *nn.BatchNorm:
			c := len(t.Gamma.W)
			group = append(group,
				slot{layer: l, p: t.Gamma, suffix: "weight", shape: []int{c}},
				slot{layer: l, p: t.Beta, suffix: "bias", shape: []int{c}},
				slot{layer: l, p: t.Mean, suffix: "running_mean", shape: []int{c}},
				slot{layer: l, p: t.Var, suffix: "running_var", shape: []int{c}})
		case *nn.Flatten:
			in := t.In()
			if len(in) == 3 && in[2] > 1 && in[0]*in[1] > 1 {
				chw = [3]int{in[2], in[0], in[1]}
			}
		default:
			if len(l.Params()) > 0 {
				panic(fmt.Sprintf("safetensors: layer kind %q has parameters", l.Kind()))
			}
		}
		if group != nil {
			out = append(out, group)
		}
	}
	return out
}

// Tensors returns the model's parameters as named tensors in PyTorch
// layout and names, in model order.
func Tensors(m *nn.Model) []Named {
	var ts []Named
	for _, g := range slots(m) {
		for _, s := range g {
			d := make([]float32, len(s.p.W))
			for k := range d {
				if s.perm != nil {
					d[k] = s.p.W[s.perm[k]]
				} else {
					d[k] = s.p.W[k]
				}
			}
			ts = append(ts, Named{Name: s.layer.Name() + "." + s.suffix, Shape: s.shape, Data: d})
		}
	}
	return ts
}

// WriteFile writes the model's weights to path atomically, as F32 (or F16).
func WriteFile(path string, m *nn.Model, meta map[string]string, f16 bool) error {
	b, err := Encode(Tensors(m), meta, f16)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// ignored reports tensors a PyTorch state_dict holds that shrink does not
// use.
func ignored(name string) bool { return strings.HasSuffix(name, ".num_batches_tracked") }

// Bind copies the file's tensors into m. Names are matched first as
// "<layer>.<suffix>" with shrink's layer names (fc1, conv1, bn1, …; batch
// norm also accepts "gamma" and "beta"); when not all match, by position:
// tensors are grouped by their name without the last component
// ("features.0", "3") and the groups, in natural order, are bound to the
// model's layers with parameters, in order. Every parameter must be found
// with its exact PyTorch shape and every tensor used (num_batches_tracked
// excepted).
func Bind(m *nn.Model, f *File) error {
	groups := slots(m)
	names := map[string]bool{}
	for n := range f.Tensors {
		if !ignored(n) {
			names[n] = true
		}
	}
	lookup := func(prefix, suffix string) (string, bool) {
		alias := map[string]string{"weight": "gamma", "bias": "beta"}
		for _, s := range []string{suffix, alias[suffix]} {
			if s == "" {
				continue
			}
			if _, ok := f.Tensors[prefix+"."+s]; ok {
				return prefix + "." + s, true
			}
		}
		return "", false
	}
	// By name.
	byName := true
	for _, g := range groups {
		for _, s := range g {
			if _, ok := lookup(g[0].layer.Name(), s.suffix); !ok {
				byName = false
			}
		}
	}
	prefixes := make([]string, len(groups))
	if byName {
		for i, g := range groups {
			prefixes[i] = g[0].layer.Name()
		}
	} else {
		seen := map[string]bool{}
		var ps []string
		for n := range names {
			p := n
			if k := strings.LastIndexByte(n, '.'); k >= 0 {
				p = n[:k]
			}
			if !seen[p] {
				seen[p] = true
				ps = append(ps, p)
			}
		}
		sort.Slice(ps, func(i, j int) bool { return natural(ps[i], ps[j]) })
		if len(ps) != len(groups) {
			return fmt.Errorf("safetensors: the file has %d parameter groups (%s), the model %d layers with parameters", len(ps), budget.List(ps), len(groups))
		}
		prefixes = ps
	}
	used := map[string]bool{}
	for i, g := range groups {
		for _, s := range g {
			name, ok := lookup(prefixes[i], s.suffix)
			if !ok {
				return fmt.Errorf("safetensors: no tensor %s for layer %s (%s)", budget.Quote(prefixes[i]+"."+s.suffix), budget.Quote(s.layer.Name()), s.layer.Kind())
			}
			t := f.Tensors[name]
			if t.Data == nil {
				return fmt.Errorf("safetensors: tensor %s has dtype %s (want F32, F16, BF16 or F64)", budget.Quote(name), t.DType)
			}
			if !slices.Equal(t.Shape, s.shape) {
				return fmt.Errorf("safetensors: tensor %s has shape %v, layer %s (%s) needs %v", budget.Quote(name), t.Shape, budget.Quote(s.layer.Name()), s.layer.Kind(), s.shape)
			}
			used[name] = true
		}
	}
	for n := range names {
		if !used[n] {
			return fmt.Errorf("safetensors: tensor %s is not used by the model", budget.Quote(n))
		}
	}
	// Everything checked: copy.
	for i, g := range groups {
		for _, s := range g {
			name, _ := lookup(prefixes[i], s.suffix)
			t := f.Tensors[name]
			for k, v := range t.Data {
				if s.perm != nil {
					s.p.W[s.perm[k]] = v
				} else {
					s.p.W[k] = v
				}
			}
		}
	}
	return nil
}

// natural compares dotted names component by component, numbers by value.
func natural(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		if as[i] == bs[i] {
			continue
		}
		x, errx := strconv.Atoi(as[i])
		y, erry := strconv.Atoi(bs[i])
		if errx == nil && erry == nil {
			return x < y
		}
		return as[i] < bs[i]
	}
	return len(as) < len(bs)
}
