package nn

import "github.com/shrink-ml/shrink/nn/kernel"

// packedF32 is the float32 inference path with the weight packed once into
// the GEMM micro-kernel's panel layout, so that inference does not repack
// the weight on every call (which dominates small batches).
type packedF32 struct {
	pb   *kernel.PackedB
	bias []float32
	in   int
}

func (p *packedF32) Run(n int, x, y []float32, relu bool) {
	kernel.SgemmBiasActPacked(n, x, p.in, p.pb, p.bias, relu, y, p.pb.N())
}

func (p *packedF32) Name() string { return "float32" }

func init() {
	// Lowest priority: layers that no integer or sparse path claims (float32
	// weights, and quantized ones with no integer path: codebook, int4, fp16).
	RegisterAccel(AccelBuilder{Name: "float32", Priority: 100, Build: func(l Accelerated) Accel {
		w := l.Weight()
		if len(w.Shape) != 2 {
			return nil
		}
		out, in := w.Shape[0], w.Shape[1]
		return &packedF32{pb: kernel.PackB(true, in, out, w.W, in), bias: l.Bias().W, in: in}
	}})
}

// ClearAccel removes every layer's installed inference path, so that
// inference reads the float32 weights directly. Train calls it: an
// installed path would not see the weights change.
func (m *Model) ClearAccel() {
	for _, l := range m.Layers {
		if a, ok := l.(Accelerated); ok {
			a.SetAccel(nil)
		}
	}
}
