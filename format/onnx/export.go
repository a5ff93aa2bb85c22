package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shrink-ml/shrink/internal/atomicfile"
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
	// Float writes every weight as float32 (quantized weights as their
	// dequantized values) and leaves activation quantization out, even for
	// layers that could be written as QDQ.
	Float bool
}

// Report says how Export wrote the quantized layers of a model.
type Report struct {
	// QDQWeights names the layers whose weight was written as INT8 codes
	// read through DequantizeLinear (per-channel scales on axis 0, or one
	// per-tensor scale; zero point 0).
	QDQWeights []string `json:"qdq_weights,omitempty"`
	// QDQActivations names the layers whose input goes through a
	// QuantizeLinear/DequantizeLinear pair (uint8, the calibrated scale and
	// zero point) or, for dynamic activation quantization, through
	// DynamicQuantizeLinear/DequantizeLinear.
	QDQActivations []string `json:"qdq_activations,omitempty"`
	// FloatWeights names quantized weights whose scheme has no QDQ form
	// (blocks, asymmetric codes, codebooks, float16), written as their
	// dequantized float32 values: "layer (scheme)".
	FloatWeights []string `json:"float_weights,omitempty"`
	// Notes are remarks for the user on what the export does not carry over.
	Notes []string `json:"notes,omitempty"`
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
//
// A layer whose weight holds symmetric codes of at most 8 bits with one
// scale per output channel or per tensor (nn.Quant, schemes int8 and
// int8_tensor, and int4 with per-channel granularity) is written as QDQ:
// the codes as an INT8 initializer "<layer>.weight_quantized", its scales
// "<layer>.weight_scale" (float32, shape (out) for per-channel, scalar for
// per-tensor) and zero point "<layer>.weight_zero_point" (int8 0), read
// through DequantizeLinear (axis 0: Gemm's (out, in) weight with transB = 1
// and Conv's OIHW weight both have the output channel first). When the layer
// also quantizes its input activations (nn.ActStatic), the input goes
// through QuantizeLinear/DequantizeLinear with the calibrated uint8 scale and
// zero point, which reproduce nn.ActQuant.Quantize exactly (same formula:
// round half to even of x/scale, plus the zero point, saturated to 0..255);
// for nn.ActDynamic it goes through a quantize/dequantize pair whose scale
// and zero point are computed in the graph as nn.DynamicParams computes them,
// over the range of the whole input tensor (DynamicQuantizeLinear when
// that range maps onto 0..255).
// ONNX Runtime fuses these patterns onto its integer kernels. Other
// quantized weights are written as their dequantized float32 values (see
// ExportReport for the list).
func Export(m *nn.Model, o ExportOptions) ([]byte, error) {
	b, _, err := ExportReport(m, o)
	return b, err
}

// ExportReport is Export that also reports which layers were written as
// QDQ and which quantized weights were written as float32.
func ExportReport(m *nn.Model, o ExportOptions) ([]byte, *Report, error) {
	b, r, err := export(m, o)
	if err != nil {
		return nil, nil, err
	}
	return b, r, nil
}

func export(m *nn.Model, o ExportOptions) ([]byte, *Report, error) {
	if m == nil || len(m.Layers) == 0 {
		return nil, nil, fmt.Errorf("onnx: export: no model")
	}
	if o.Opset == 0 {
		o.Opset = DefaultOpset
	}
	if o.Opset < 13 || o.Opset > 17 {
		return nil, nil, fmt.Errorf("onnx: export: opset %d (supported: 13 to 17)", o.Opset)
	}
	e := &exporter{names: map[string]bool{"input": true, "logits": true}, float: o.Float, rep: &Report{}}
	in := m.Input
	switch len(in) {
	case 3:
		e.dims = []int64{-1, int64(in[2]), int64(in[0]), int64(in[1])}
	case 1:
		e.dims = []int64{-1, int64(in[0])}
	default:
		return nil, nil, fmt.Errorf("onnx: export: input shape %v (want (H, W, C) or (D))", in)
	}
	e.x = "input"
	inputDims := e.dims
	for i, l := range m.Layers {
		if err := e.layer(l); err != nil {
			return nil, nil, fmt.Errorf("onnx: export: layer %d (%s %q): %w", i, l.Kind(), l.Name(), err)
		}
	}
	if e.chw != [3]int64{} {
		return nil, nil, fmt.Errorf("onnx: export: the model ends in a flatten of an image")
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
	e.notes()
	return b, e.rep, nil
}

// WriteFile exports m to path atomically (a temporary file in the same
// folder, then a rename) and returns ExportReport's report.
func WriteFile(path string, m *nn.Model, o ExportOptions) (*Report, error) {
	b, r, err := ExportReport(m, o)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return r, fmt.Errorf("onnx: %w", err)
	}
	return r, nil
}

// exporter builds the graph layer by layer.
type exporter struct {
	nodes   []*node
	inits   [][]byte
	names   map[string]bool
	x       string   // the current activation
	dims    []int64  // its ONNX shape (batch -1)
	dynamic bool     // a DynamicQuantizeLinear was written
	chw     [3]int64 // set after flattening a (C, H, W) image with C > 1 and H·W > 1
	float   bool     // ExportOptions.Float
	rep     *Report
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
// it under.
func (e *exporter) param(name string, dims []int64, w []float32) string {
	raw := make([]byte, 4*len(w))
	for k, v := range w {
		binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
	}
	return e.init(name, dims, typeFloat, raw)
}

// init adds an initializer of the given type with raw little-endian data
// and returns its (unique) name.
func (e *exporter) init(name string, dims []int64, typ int64, raw []byte) string {
	name = e.unique(name)
	var t []byte
	for _, d := range dims {
		t = appendVarint(t, 1, d)
	}
	t = appendVarint(t, 2, typ)
	t = appendString(t, 8, name)
	t = appendBytes(t, 9, raw)
	e.inits = append(e.inits, t)
	return name
}

// qdqWeight reports whether q can be written as INT8 codes with a
// DequantizeLinear: symmetric codes in the int8 range, one scale per row
// (output channel) or per tensor, for a (rows, cols) weight. These are also
// the weights nn's integer path runs.
func qdqWeight(q *nn.Quant, rows, cols int) bool {
	if q == nil || len(q.Codebook) > 0 || q.Mins != nil || q.Bits > 8 || q.Scheme == "fp16" {
		return false
	}
	if q.Validate(rows*cols) != nil || q.Rows != rows || q.Cols != cols {
		return false
	}
	if len(q.Scales) != 1 && (q.Groups() != 1 || len(q.Scales) != q.Rows) {
		return false
	}
	for _, s := range q.Scales {
		if !(s >= 0) || math.IsInf(float64(s), 0) {
			return false
		}
	}
	for _, c := range q.Codes {
		if c < -128 || c > 127 {
			return false
		}
	}
	return true
}

// staticAct reports whether a holds usable static activation parameters.
func staticAct(a nn.ActQuant) bool {
	return a.Mode == nn.ActStatic && a.Scale > 0 && !math.IsInf(float64(a.Scale), 0) && a.Zero >= 0 && a.Zero <= 255
}

// weight adds a layer's weight of ONNX shape dims and returns the name the
// layer's node reads it under. src maps ONNX element k to element src[k] of
// the shrink weight (nil: the same order). A weight with a QDQ form (see
// qdqWeight) is written as INT8 codes, scales and zero points, read through
// a DequantizeLinear; when its activations are quantized too, the current
// activation is quantized and dequantized first (so the caller must read
// e.x after calling weight). Anything else is written as float32.
func (e *exporter) weight(layer string, dims []int64, p *nn.Param, src []int) string {
	q := p.Quant
	rows := int(dims[0])
	cols := len(p.W) / max(rows, 1)
	if e.float || !qdqWeight(q, rows, cols) {
		w := p.W
		if src != nil {
			w = make([]float32, len(src))
			for k, i := range src {
				w[k] = p.W[i]
			}
		}
		if q != nil {
			e.rep.FloatWeights = append(e.rep.FloatWeights, fmt.Sprintf("%s (%s)", layer, q.Scheme))
		}
		return e.param(layer+".weight", dims, w)
	}
	codes := make([]byte, len(q.Codes))
	for k := range codes {
		i := k
		if src != nil {
			i = src[k]
		}
		codes[k] = byte(int8(q.Codes[i]))
	}
	wq := e.init(layer+".weight_quantized", dims, typeInt8, codes)
	var sdims []int64
	var attrs []*attribute
	if len(q.Scales) > 1 {
		sdims = []int64{int64(len(q.Scales))}
		attrs = []*attribute{intAttr("axis", 0)}
	}
	ws := e.param(layer+".weight_scale", sdims, q.Scales)
	wz := e.init(layer+".weight_zero_point", sdims, typeInt8, make([]byte, len(q.Scales)))
	x := e.x
	e.node("DequantizeLinear", layer+".weight", []string{wq, ws, wz}, attrs)
	name := e.x
	e.x = x
	e.rep.QDQWeights = append(e.rep.QDQWeights, layer)
	switch a := q.Act; {
	case staticAct(a):
		s := e.param(layer+".input_scale", nil, []float32{a.Scale})
		z := e.init(layer+".input_zero_point", nil, typeUint8, []byte{byte(a.Zero)})
		e.node("QuantizeLinear", layer+".input_quantized", []string{e.x, s, z}, nil)
		e.node("DequantizeLinear", layer+".input_dequantized", []string{e.x, s, z}, nil)
		e.rep.QDQActivations = append(e.rep.QDQActivations, layer)
	case a.Mode == nn.ActDynamic:
		e.dynamicQDQ(layer, dynamicQmax())
		e.rep.QDQActivations = append(e.rep.QDQActivations, layer)
		e.dynamic = true
	}
	return name
}

// dynamicQmax is the code the range of an input is mapped onto by nn's
// dynamic activation quantization (nn.DynamicParams): 255 for nn.ActParams,
// 127 for a calibration onto 7-bit codes. It is measured rather than assumed.
func dynamicQmax() int {
	a := nn.DynamicParams([]float32{0, 1})
	q := math.Round(1 / float64(a.Scale))
	if !(q >= 1 && q <= 255) {
		return 255
	}
	return int(q)
}

// dynamicQDQ quantizes and dequantizes the current activation with the
// scale and zero point of nn.DynamicParams computed over the whole input
// tensor: DynamicQuantizeLinear when the range maps onto 0..255 (its
// definition), else the same computation spelt out for codes 0..qmax:
//
//	l = min(ReduceMin(x), 0), h = max(ReduceMax(x), 0)
//	s = (h − l) / qmax, or 1 when that is 0
//	z = uint8(clip(Round(−l / s), 0, qmax))
//	x̂ = DequantizeLinear(QuantizeLinear(x, s, z), s, z)
func (e *exporter) dynamicQDQ(layer string, qmax int) {
	x := e.x
	if qmax == 255 {
		xq := e.unique(layer + ".input_quantized")
		s, z := e.unique(layer+".input_scale"), e.unique(layer+".input_zero_point")
		e.nodes = append(e.nodes, &node{opType: "DynamicQuantizeLinear", name: xq, inputs: []string{x}, outputs: []string{xq, s, z}})
		e.node("DequantizeLinear", layer+".input_dequantized", []string{xq, s, z}, nil)
		return
	}
	p := layer + ".input_range"
	zero := e.param(p+".zero", nil, []float32{0})
	one := e.param(p+".one", nil, []float32{1})
	qm := e.param(p+".qmax", nil, []float32{float32(qmax)})
	op := func(op, name string, attrs []*attribute, in ...string) string {
		e.node(op, p+"."+name, in, attrs)
		return e.x
	}
	keep := []*attribute{intAttr("keepdims", 0)}
	l := op("Min", "lo", nil, op("ReduceMin", "min", keep, x), zero)
	h := op("Max", "hi", nil, op("ReduceMax", "max", keep, x), zero)
	s0 := op("Div", "scale0", nil, op("Sub", "width", nil, h, l), qm)
	s := op("Where", "scale", nil, op("Equal", "empty", nil, s0, zero), one, s0)
	zf := op("Clip", "zero_clipped", nil, op("Round", "zero_rounded", nil, op("Div", "zero_real", nil, op("Neg", "neg_lo", nil, l), s)), zero, qm)
	z := op("Cast", "zero_point", []*attribute{intAttr("to", typeUint8)}, zf)
	e.node("QuantizeLinear", layer+".input_quantized", []string{x, s, z}, nil)
	e.node("DequantizeLinear", layer+".input_dequantized", []string{e.x, s, z}, nil)
}

// notes fills the report's notes.
func (e *exporter) notes() {
	r := e.rep
	if len(r.FloatWeights) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d quantized weight(s) have no QDQ form (blocks, asymmetric codes, codebooks or float16) and were exported as their dequantized float32 values: %s", len(r.FloatWeights), strings.Join(r.FloatWeights, ", ")))
	}
	if e.dynamic {
		r.Notes = append(r.Notes, "dynamic activation quantization is exported as a quantize/dequantize pair whose scale and zero point are computed from the range of the whole input tensor of a run, while shrink takes the range of each chunk of a batch it computes: outputs agree exactly only when both see the same rows together (e.g. batch size 1)")
	}
	if e.float && len(r.FloatWeights) > 0 {
		r.Notes = append(r.Notes, "--float: all weights exported as float32 and activation quantization left out")
	}
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
		var src []int
		if ch := e.chw; ch != [3]int64{} {
			// shrink reads features in HWC order, ONNX in CHW.
			C, H, W := ch[0], ch[1], ch[2]
			src = make([]int, len(t.W.W))
			for m := int64(0); m < out; m++ {
				for j := int64(0); j < in; j++ {
					ci, h, x := j/(H*W), (j/W)%H, j%W
					src[m*in+j] = int(m*in + (h*W+x)*C + ci)
				}
			}
			e.chw = [3]int64{}
		}
		wn := e.weight(name, []int64{out, in}, t.W, src)
		bn := e.param(name+".bias", []int64{out}, t.B.W)
		e.node("Gemm", name, []string{e.x, wn, bn}, []*attribute{intAttr("transB", 1)})
		e.dims = []int64{-1, out}
	case *nn.Conv2D:
		in := t.In()
		C, k, F := in[2], t.KH, t.Filters
		src := make([]int, len(t.W.W))
		for o := 0; o < F; o++ {
			for ci := 0; ci < C; ci++ {
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						src[((o*C+ci)*k+ky)*k+kx] = o*k*k*C + (ky*k+kx)*C + ci
					}
				}
			}
		}
		wn := e.weight(name, []int64{int64(F), int64(C), int64(k), int64(k)}, t.W, src)
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
