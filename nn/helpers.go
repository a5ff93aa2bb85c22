package nn

import (
	"fmt"
	"slices"
)

// NamedParam is a parameter with its file name, "layer.param" ("fc1.weight").
type NamedParam struct {
	Name  string
	Param *Param
}

// NamedParams lists every parameter of m with its file name, in model order
// (layer by layer, each layer's parameters in its Params order). Model
// files, safetensors and ONNX exports name tensors this way.
func (m *Model) NamedParams() []NamedParam {
	var out []NamedParam
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			out = append(out, NamedParam{Name: l.Name() + "." + p.Name, Param: p})
		}
	}
	return out
}

// Tensors returns the values of every parameter by file name
// ("fc1.weight"). The slices are m's own (not copies).
func (m *Model) Tensors() map[string][]float32 {
	ps := m.NamedParams()
	out := make(map[string][]float32, len(ps))
	for _, np := range ps {
		out[np.Name] = np.Param.W
	}
	return out
}

// Clone returns a deep copy of m: the same architecture (rebuilt from
// m.Spec()), weights and masks. Quantized forms (Param.Quant) are shared,
// since nothing modifies them in place. No inference paths are installed
// (call Prepare on the copy to run it on the integer or sparse kernels).
//
// Clone panics if m holds a layer whose kind is not in the registry (a
// FakeQuant wrapper, say): such models are made by passes for their own use
// and are never cloned.
func (m *Model) Clone() *Model {
	c, err := Build(m.Input, m.Spec())
	if err != nil {
		panic(fmt.Sprintf("nn: Clone: the model does not rebuild from its spec: %v", err))
	}
	src, dst := m.Params(), c.Params()
	if len(src) != len(dst) {
		panic(fmt.Sprintf("nn: Clone: %d parameters rebuild as %d", len(src), len(dst)))
	}
	for i, p := range src {
		q := dst[i]
		copy(q.W, p.W)
		if p.Mask != nil {
			q.Mask = slices.Clone(p.Mask)
		}
		q.Quant = p.Quant
	}
	return c
}
