package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shrink-ml/shrink/nn"
)

// DefaultOpset is the opset Export writes unless told otherwise.
const DefaultOpset = 13

// ExportOptions control Export.
type ExportOptions struct {
	// Opset is the default-domain opset version to declare: 13 (the
	// default) to 17. The operators written mean the same in all of them.
	Opset int64
	// ProducerVersion is written as producer_version (e.g. "v0.1.0").
	ProducerVersion string
	// DocString is written as the model's doc_string (e.g. provenance).
	DocString string
}

// Export writes m as an ONNX model: input "input" of shape (N, C, H, W)
// for image models or (N, D) for vector models, output "logits" of shape
// (N, classes), with a symbolic batch dimension N. Weights are stored as
// float32 initializers named "<layer>.<param>" in PyTorch layouts (conv
// OIHW; a dense layer after a flatten of an image reads its input in CHW
// order). Dropout layers are left out (inference graph).
//
// Every weight goes through exporter.param and every layer output through
// exporter.value, the two places a quantized (QDQ) export inserts
// QuantizeLinear/DequantizeLinear pairs for weights and activations.
func Export(m *nn.Model, o ExportOptions) ([]byte, error) {
	if m == nil || len(m.Layers) == 0 {
		return nil, fmt.Errorf("onnx: export: no model")
	}
	if o.Opset == 0 {
		o.Opset = DefaultOpset
	}
	if o.Opset < 13 || o.Opset > 17 {
		return nil, fmt.Errorf("onnx: export: opset %d (supported: 13 to 17)", o.Opset)
	}
	e := &exporter{names: map[string]bool{"input": true, "logits": true}}
	in := m.Input
	switch len(in) {
	case 3:
		e.dims = []int64{-1, int64(in[2]), int64(in[0]), int64(in[1])}
	case 1:
		e.dims = []int64{-1, int64(in[0])}
	default:
		return nil, fmt.Errorf("onnx: export: input shape %v (want (H, W, C) or (D))", in)
	}
	e.x = "input"
	inputDims := e.dims
	for i, l := range m.Layers {
		if err := e.layer(l); err != nil {
			return nil, fmt.Errorf("onnx: export: layer %d (%s %q): %w", i, l.Kind(), l.Name(), err)
		}
	}
	if e.chw != [3]int64{} {
		return nil, fmt.Errorf("onnx: export: the model ends in a flatten of an image")
	}
	// Name the final value "logits".
	if len(e.nodes) > 0 && e.nodes[len(e.nodes)-1].outputs[0] == e.x {
		e.nodes[len(e.nodes)-1].outputs[0] = "logits"
	} else {
		e.node("Identity", "output", []string{e.x}, nil)
		e.nodes[len(e.nodes)-1].outputs[0] = "logits"
	}
	var g []byte
	for _, n := range e.nodes {
		g = appendBytes(g, 1, encodeNode(n))
	}
	g = appendString(g, 2, "shrink")
	for _, t := range e.inits {
		g = appendBytes(g, 5, t)
	}
	g = appendBytes(g, 11, encodeValueInfo("input", inputDims))
	g = appendBytes(g, 12, encodeValueInfo("logits", []int64{-1, int64(m.Classes())}))

	ir := int64(7)
	if o.Opset >= 15 {
		ir = 8
	}
	var b []byte
	b = appendVarint(b, 1, ir)
	b = appendString(b, 2, "shrink")
	if o.ProducerVersion != "" {
		b = appendString(b, 3, o.ProducerVersion)
	}
	if o.DocString != "" {
		b = appendString(b, 6, o.DocString)
	}
	b = appendBytes(b, 7, g)
	var op []byte
	op = appendString(op, 1, "")
	op = appendVarint(op, 2, o.Opset)
	b = appendBytes(b, 8, op)
	return b, nil
}

// WriteFile exports m to path atomically (a temporary file in the same
// folder, then a rename).
func WriteFile(path string, m *nn.Model, o ExportOptions) error {
	b, err := Export(m, o)
	if err != nil {
		return err
	}
	return writeAtomic(path, b)
}

// writeAtomic writes b to a temporary file next to path and renames it.
func writeAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("onnx: %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("onnx: %w", err)
	}
	return nil
}

// exporter builds the graph layer by layer.
type exporter struct {
	nodes []*node
	inits [][]byte
	names map[string]bool
	x     string   // the current activation
	dims  []int64  // its ONNX shape (batch -1)
	chw   [3]int64 // set after flattening a (C, H, W) image with C > 1 and H·W > 1
}

// unique returns name, or name with a suffix if it is taken.
func (e *exporter) unique(name string) string {
	n := name
	for k := 1; e.names[n]; k++ {
		n = fmt.Sprintf("%s_%d", name, k)
	}
	e.names[n] = true
	return n
}

// node appends a node whose single output is named after it and makes that
// output the current activation.
func (e *exporter) node(op, name string, inputs []string, attrs []*attribute) {
	name = e.unique(name)
	e.nodes = append(e.nodes, &node{opType: op, name: name, inputs: inputs, outputs: []string{name}, attrs: attrs})
	e.x = name
}

// param adds a float32 initializer and returns the name a node should read
// it under. (A QDQ export stores int8 weights with their per-channel scale
// and returns the output of a DequantizeLinear here.)
func (e *exporter) param(name string, dims []int64, w []float32) string {
	name = e.unique(name)
	raw := make([]byte, 4*len(w))
	for k, v := range w {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	var t []byte
	for _, d := range dims {
		t = appendVarint(t, 1, d)
	}
	t = appendVarint(t, 2, typeFloat)
	t = appendString(t, 8, name)
	t = appendBytes(t, 9, raw)
	e.inits = append(e.inits, t)
	return name
}

func ints(name string, v ...int64) *attribute {
	return &attribute{name: name, typ: attrInts, ints: v}
}

func intAttr(name string, v int64) *attribute {
	return &attribute{name: name, typ: attrInt, i: v}
}

func (e *exporter) layer(l nn.Layer) error {
	name := l.Name()
	switch t := l.(type) {
	case *nn.Dense:
		in, out := int64(t.In()[0]), int64(t.Out()[0])
		w := t.W.W
		if ch := e.chw; ch != [3]int64{} {
			// shrink reads features in HWC order, ONNX in CHW.
			C, H, W := ch[0], ch[1], ch[2]
			p := make([]float32, len(w))
			for m := int64(0); m < out; m++ {
				for j := int64(0); j < in; j++ {
					ci, h, x := j/(H*W), (j/W)%H, j%W
					p[m*in+j] = w[m*in+(h*W+x)*C+ci]
				}
			}
			w = p
			e.chw = [3]int64{}
		}
		wn := e.param(name+".weight", []int64{out, in}, w)
		bn := e.param(name+".bias", []int64{out}, t.B.W)
		e.node("Gemm", name, []string{e.x, wn, bn}, []*attribute{intAttr("transB", 1)})
		e.dims = []int64{-1, out}
	case *nn.Conv2D:
		in := t.In()
		C, k, F := in[2], t.KH, t.Filters
		w := make([]float32, len(t.W.W))
		for o := 0; o < F; o++ {
			for ci := 0; ci < C; ci++ {
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						w[((o*C+ci)*k+ky)*k+kx] = t.W.W[o*k*k*C+(ky*k+kx)*C+ci]
					}
				}
			}
		}
		wn := e.param(name+".weight", []int64{int64(F), int64(C), int64(k), int64(k)}, w)
		bn := e.param(name+".bias", []int64{int64(F)}, t.B.W)
		p := int64(t.Pad)
		e.node("Conv", name, []string{e.x, wn, bn}, []*attribute{
			ints("kernel_shape", int64(k), int64(k)), ints("strides", int64(t.Stride), int64(t.Stride)),
			ints("pads", p, p, p, p), ints("dilations", 1, 1), intAttr("group", 1),
		})
		o := t.Out()
		e.dims = []int64{-1, int64(o[2]), int64(o[0]), int64(o[1])}
	case *nn.Pool2D:
		op := "AveragePool"
		if t.Max {
			op = "MaxPool"
		}
		e.node(op, name, []string{e.x}, []*attribute{
			ints("kernel_shape", int64(t.K), int64(t.K)), ints("strides", int64(t.Stride), int64(t.Stride)),
			ints("pads", 0, 0, 0, 0),
		})
		o := t.Out()
		e.dims = []int64{-1, int64(o[2]), int64(o[0]), int64(o[1])}
	case *nn.Flatten:
		if len(e.dims) == 4 {
			C, H, W := e.dims[1], e.dims[2], e.dims[3]
			if C > 1 && H*W > 1 {
				e.chw = [3]int64{C, H, W}
			}
			e.node("Flatten", name, []string{e.x}, []*attribute{intAttr("axis", 1)})
			e.dims = []int64{-1, C * H * W}
		}
	case *nn.ReLU:
		e.node("Relu", name, []string{e.x}, nil)
	case *nn.Dropout:
		// Inference graph: nothing.
	case *nn.Softmax:
		if e.chw != [3]int64{} {
			return fmt.Errorf("softmax over a flattened image")
		}
		e.node("Softmax", name, []string{e.x}, []*attribute{intAttr("axis", 1)})
	case *nn.BatchNorm:
		if e.chw != [3]int64{} {
			return fmt.Errorf("batch norm over a flattened image")
		}
		c := int64(len(t.Gamma.W))
		ins := []string{e.x}
		for _, p := range t.Params() {
			ins = append(ins, e.param(name+"."+p.Name, []int64{c}, p.W))
		}
		e.node("BatchNormalization", name, ins, []*attribute{{name: "epsilon", typ: attrFloat, f: float32(t.Eps)}})
	default:
		return fmt.Errorf("layer kind %q cannot be exported", l.Kind())
	}
	return nil
}

func encodeNode(n *node) []byte {
	var b []byte
	for _, s := range n.inputs {
		b = appendString(b, 1, s)
	}
	for _, s := range n.outputs {
		b = appendString(b, 2, s)
	}
	b = appendString(b, 3, n.name)
	b = appendString(b, 4, n.opType)
	for _, a := range n.attrs {
		b = appendBytes(b, 5, encodeAttribute(a))
	}
	return b
}

func encodeAttribute(a *attribute) []byte {
	var b []byte
	b = appendString(b, 1, a.name)
	switch a.typ {
	case attrFloat:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case attrInt:
		b = appendVarint(b, 3, a.i)
	case attrString:
		b = appendBytes(b, 4, a.s)
	case attrInts:
		for _, v := range a.ints {
			b = appendVarint(b, 8, v)
		}
	}
	b = appendVarint(b, 20, a.typ)
	return b
}

// encodeValueInfo encodes a float tensor value; a negative dimension is
// written as the symbolic "N".
func encodeValueInfo(name string, dims []int64) []byte {
	var shape []byte
	for _, d := range dims {
		var dim []byte
		if d < 0 {
			dim = appendString(dim, 2, "N")
		} else {
			dim = appendVarint(dim, 1, d)
		}
		shape = appendBytes(shape, 1, dim)
	}
	var tt []byte
	tt = appendVarint(tt, 1, typeFloat)
	tt = appendBytes(tt, 2, shape)
	var typ []byte
	typ = appendBytes(typ, 1, tt)
	var b []byte
	b = appendString(b, 1, name)
	b = appendBytes(b, 2, typ)
	return b
}
