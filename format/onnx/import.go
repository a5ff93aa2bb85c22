// Package onnx imports feed-forward ONNX models into shrink's nn.Model and
// exports nn.Models as ONNX graphs.
//
// The protobuf decoder is written against the field numbers of onnx.proto
// with google.golang.org/protobuf/encoding/protowire; it treats every byte
// as hostile (caps before allocation, no recursion into subgraphs, no
// panics) and is fuzzed.
//
// Import maps the operators PyTorch emits for MLPs and CNNs (opsets 11–17)
// onto shrink's layers: Gemm (transB, alpha, beta), MatMul (+ Add), Conv
// (square kernels, equal strides, symmetric pads, group 1), MaxPool,
// AveragePool, GlobalAveragePool, Flatten, Reshape, BatchNormalization
// (folded into the preceding Conv or Gemm when it directly follows one,
// else a batch-norm layer), Relu, Softmax, Dropout, Identity, Constant and
// a zero Pad (folded into the next Conv). Subgraphs that are constant once
// the input shape is fixed (Shape, Gather, Unsqueeze, Squeeze, Concat,
// Slice, Cast, Reshape, Transpose, ConstantOfShape and integer arithmetic,
// as in x.view(x.size(0), -1)) are folded at import time.
//
// Layouts: ONNX images are NCHW, shrink's are NHWC. An (N, C, H, W) input
// becomes an (H, W, C) model input; convolution weights are permuted from
// OIHW to shrink's (F, KH·KW·C); and a Gemm that reads a flattened C×H×W
// tensor has its weight columns permuted from CHW to HWC order, so the
// imported model computes the same function on the permuted input. Export
// does the reverse.
package onnx

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/shrink-ml/shrink/budget"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// ErrCorrupt is wrapped by errors about bytes that are not a well-formed
// ONNX model (bad protobuf, inconsistent tensors, dangling or duplicate
// value names, cycles).
var ErrCorrupt = errors.New("onnx: malformed model")

// ErrUnsupported is wrapped by errors about well-formed graphs that use
// operators or attributes shrink cannot map onto its layers.
var ErrUnsupported = errors.New("onnx: unsupported model")

// Info describes an imported file.
type Info struct {
	Producer  string `json:"producer"`   // producer_name, e.g. "pytorch"
	IRVersion int64  `json:"ir_version"` // ONNX IR version
	Opset     int64  `json:"opset"`      // default-domain opset version
	Nodes     int    `json:"nodes"`      // nodes in the graph
	Folded    int    `json:"folded"`     // nodes folded into constants at import
	// Notes are remarks on what the import did not carry over (for a QDQ
	// graph: its quantization).
	Notes []string `json:"notes,omitempty"`
}

// ReadFile reads and imports the ONNX model at path within the default
// budget. Errors name the file.
func ReadFile(path string) (*nn.Model, Info, error) { return ReadFileBudget(path, budget.Budget{}) }

// ReadFileBudget reads and imports the ONNX model at path; constant
// folding stays within lim's folded-constants limit. Errors name the file.
func ReadFileBudget(path string, lim budget.Budget) (*nn.Model, Info, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, Info{}, fmt.Errorf("onnx: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, Info{}, fmt.Errorf("onnx: %s: %w: %d bytes is above the %d byte cap", path, ErrCorrupt, st.Size(), MaxFileSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, Info{}, fmt.Errorf("onnx: %w", err)
	}
	m, info, err := ImportBudget(b, lim)
	if err != nil {
		return nil, info, fmt.Errorf("%s: %w", path, err)
	}
	return m, info, nil
}

// Import decodes an ONNX model and maps it onto shrink's layers within the
// default budget. Errors wrap ErrCorrupt or ErrUnsupported (or
// budget.ErrExceeded).
func Import(b []byte) (*nn.Model, Info, error) { return ImportBudget(b, budget.Budget{}) }

// ImportBudget is Import with a budget: the constants folded at import
// (ConstantOfShape, Concat, Gather, …) may hold at most lim's
// folded-constants limit in total, checked before each allocation where
// the size is known in advance; beyond it the import fails with a
// *budget.Error naming --max-folded.
func ImportBudget(b []byte, lim budget.Budget) (*nn.Model, Info, error) {
	if len(b) > MaxFileSize {
		return nil, Info{}, fmt.Errorf("%w: %d bytes is above the %d byte cap", ErrCorrupt, len(b), MaxFileSize)
	}
	pm, err := decodeModel(b)
	if err != nil {
		return nil, Info{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	info := Info{Producer: pm.producer, IRVersion: pm.irVersion, Nodes: len(pm.graph.nodes)}
	opset, ok := pm.opsets[""]
	if v, ok2 := pm.opsets["ai.onnx"]; ok2 {
		opset, ok = v, true
	}
	if !ok {
		return nil, info, fmt.Errorf("%w: no opset_import for the default domain", ErrCorrupt)
	}
	info.Opset = opset
	if opset < 7 || opset > 21 {
		return nil, info, fmt.Errorf("%w: opset %d (supported: 7 to 21, tested 11 to 17)", ErrUnsupported, opset)
	}
	im := &importer{opset: opset, values: map[string]*value{}, budget: lim}
	m, err := im.run(pm.graph)
	info.Folded = im.folded
	if im.dequantized > 0 {
		info.Notes = append(info.Notes, fmt.Sprintf("%d DequantizeLinear node(s) of constant weights folded into float32 weights (the dequantized values)", im.dequantized))
	}
	if im.droppedQDQ > 0 {
		info.Notes = append(info.Notes, fmt.Sprintf("%d QuantizeLinear/DequantizeLinear node(s) on activations dropped: the model is imported as float32 (quantize it again with shrink quantize)", im.droppedQDQ))
	}
	if err != nil {
		return nil, info, err
	}
	return m, info, nil
}

// value is what a name in the graph holds: a constant, or an activation on
// the chain of layers.
type value struct {
	c *constant
	// Activations:
	dims  []int64  // ONNX shape, batch first
	pad   int      // pending symmetric zero padding of H and W (from Pad)
	chw   [3]int64 // a vector flattened from (C, H, W) in CHW order (shrink's is HWC)
	layer nn.Layer // the layer whose output this is, for folding Add and BatchNormalization
}

type importer struct {
	opset  int64
	values map[string]*value
	layers []nn.Layer
	tip    *value // the newest activation: the only one a layer may consume
	folded int
	// QDQ graphs: DequantizeLinear of constant weights folded, and
	// quantize/dequantize nodes on activations dropped.
	dequantized, droppedQDQ int
	budget                  budget.Budget // bounds foldedBytes
	foldedBytes             int64         // bytes of the constants folded so far
}

// supported lists the operators Import knows.
var supported = map[string]bool{
	"Gemm": true, "MatMul": true, "Add": true, "Sub": true, "Mul": true, "Div": true, "Relu": true,
	"Conv": true, "MaxPool": true, "AveragePool": true, "GlobalAveragePool": true,
	"Flatten": true, "Reshape": true, "BatchNormalization": true, "Softmax": true,
	"Dropout": true, "Identity": true, "Constant": true, "Shape": true, "Gather": true,
	"Unsqueeze": true, "Squeeze": true, "Concat": true, "Slice": true, "Cast": true,
	"Pad": true, "Transpose": true, "ConstantOfShape": true,
	"QuantizeLinear": true, "DequantizeLinear": true, "DynamicQuantizeLinear": true,
}

func (n *node) where() string {
	op := budget.Quote(n.opType)
	op = op[1 : len(op)-1]
	if n.name != "" {
		return fmt.Sprintf("node %d (%s %s)", n.index, op, budget.Quote(n.name))
	}
	return fmt.Sprintf("node %d (%s)", n.index, op)
}

func (im *importer) run(g *graph) (*nn.Model, error) {
	// Every operator must be known; list all that are not.
	var bad []string
	for _, n := range g.nodes {
		if (n.domain != "" && n.domain != "ai.onnx") || !supported[n.opType] {
			op := n.opType
			if n.domain != "" && n.domain != "ai.onnx" {
				op = n.domain + "." + op
			}
			bad = append(bad, fmt.Sprintf("%s at node %d %q", op, n.index, n.name))
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("%w: %d unsupported operator(s): %s", ErrUnsupported, len(bad), strings.Join(bad, "; "))
	}
	for _, t := range g.initializers {
		if t.name == "" {
			return nil, fmt.Errorf("%w: initializer without a name", ErrCorrupt)
		}
		if im.values[t.name] != nil {
			return nil, fmt.Errorf("%w: duplicate initializer %q", ErrCorrupt, t.name)
		}
		c, err := toConstant(t)
		if err != nil {
			return nil, fmt.Errorf("%w: initializer: %v", ErrCorrupt, err)
		}
		im.values[t.name] = &value{c: c}
	}
	var input *valueInfo
	for k := range g.inputs {
		in := &g.inputs[k]
		if im.values[in.name] != nil && im.values[in.name].c != nil {
			continue // an initializer listed as an input (IR < 4)
		}
		if input != nil {
			return nil, fmt.Errorf("%w: more than one graph input (%q, %q)", ErrUnsupported, input.name, in.name)
		}
		input = in
	}
	if input == nil {
		return nil, fmt.Errorf("%w: the graph has no input", ErrCorrupt)
	}
	if input.name == "" {
		return nil, fmt.Errorf("%w: graph input without a name", ErrCorrupt)
	}
	shape, err := im.inputShape(input)
	if err != nil {
		return nil, err
	}
	order, err := topoSort(g, im.values, input.name)
	if err != nil {
		return nil, err
	}
	for _, n := range order {
		if err := im.node(n); err != nil {
			return nil, fmt.Errorf("%s: %w", n.where(), err)
		}
	}
	if len(g.outputs) != 1 {
		return nil, fmt.Errorf("%w: the graph has %d outputs, want 1", ErrUnsupported, len(g.outputs))
	}
	out := im.values[g.outputs[0].name]
	switch {
	case out == nil:
		return nil, fmt.Errorf("%w: graph output %q is never computed", ErrCorrupt, g.outputs[0].name)
	case out.c != nil:
		return nil, fmt.Errorf("%w: graph output %q is a constant", ErrUnsupported, g.outputs[0].name)
	case out != im.tip:
		return nil, fmt.Errorf("%w: graph output %q is not the end of the chain of layers", ErrUnsupported, g.outputs[0].name)
	case len(out.dims) != 2 || out.pad != 0 || out.chw != [3]int64{}:
		return nil, fmt.Errorf("%w: graph output %q has shape %v, want (batch, classes)", ErrUnsupported, g.outputs[0].name, out.dims)
	}
	if len(im.layers) > format.MaxLayers {
		return nil, fmt.Errorf("%w: %d layers (at most %d)", ErrUnsupported, len(im.layers), format.MaxLayers)
	}
	m, err := nn.NewModel(shape, im.layers...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	return m, nil
}

// inputShape checks the graph input and sets it as the first activation.
// A symbolic batch dimension is fixed to 1 for constant folding.
func (im *importer) inputShape(in *valueInfo) (nn.Shape, error) {
	if in.elemType != typeFloat {
		return nil, fmt.Errorf("%w: input %q has element type %d, want float", ErrUnsupported, in.name, in.elemType)
	}
	if !in.hasShape || (len(in.dims) != 2 && len(in.dims) != 4) {
		return nil, fmt.Errorf("%w: input %q has shape %v, want (N, features) or (N, C, H, W)", ErrUnsupported, in.name, in.dims)
	}
	dims := append([]int64{}, in.dims...)
	if dims[0] <= 0 {
		dims[0] = 1
	}
	for _, d := range dims[1:] {
		if d <= 0 || d > 1<<20 {
			return nil, fmt.Errorf("%w: input %q has shape %v: every dimension but the batch must be fixed", ErrUnsupported, in.name, in.dims)
		}
	}
	if n, err := elements(dims[1:], format.MaxActivation); err != nil {
		return nil, fmt.Errorf("%w: input %q: %v", ErrUnsupported, in.name, err)
	} else if n == 0 {
		return nil, fmt.Errorf("%w: input %q is empty", ErrUnsupported, in.name)
	}
	v := &value{dims: dims}
	im.values[in.name] = v
	im.tip = v
	return shrinkShape(dims), nil
}

// shrinkShape maps ONNX (N, C, H, W) to (H, W, C) and (N, D) to (D).
func shrinkShape(dims []int64) nn.Shape {
	if len(dims) == 4 {
		return nn.Shape{int(dims[2]), int(dims[3]), int(dims[1])}
	}
	return nn.Shape{int(dims[1])}
}

// topoSort orders the nodes so that every input is computed before use,
// rejecting dangling names, names defined twice and cycles. Among nodes
// that are ready it keeps file order, with a min-heap of positions: the
// sort is O((nodes + edges) · log nodes), so tens of thousands of
// constant nodes sort in milliseconds.
func topoSort(g *graph, init map[string]*value, input string) ([]*node, error) {
	producer := make(map[string]int, len(g.nodes)) // value name → position of its node
	for i, n := range g.nodes {
		for _, o := range n.outputs {
			if o == "" {
				continue
			}
			if _, dup := producer[o]; dup || init[o] != nil || o == input {
				return nil, fmt.Errorf("%w: %s: value %s is defined twice", ErrCorrupt, n.where(), budget.Quote(o))
			}
			producer[o] = i
		}
	}
	pending := make([]int, len(g.nodes))
	users := make([][]int, len(g.nodes))
	var ready posHeap
	for i, n := range g.nodes {
		for _, in := range n.inputs {
			if in == "" || in == input || init[in] != nil {
				continue
			}
			p, ok := producer[in]
			if !ok {
				return nil, fmt.Errorf("%w: %s: input %s is not defined", ErrCorrupt, n.where(), budget.Quote(in))
			}
			pending[i]++
			users[p] = append(users[p], i)
		}
		if pending[i] == 0 {
			ready = append(ready, i) // ascending: already a heap
		}
	}
	order := make([]*node, 0, len(g.nodes))
	for len(ready) > 0 {
		i := ready.pop()
		order = append(order, g.nodes[i])
		for _, u := range users[i] {
			pending[u]--
			if pending[u] == 0 {
				ready.push(u)
			}
		}
	}
	if len(order) != len(g.nodes) {
		var stuck []string
		for i, n := range g.nodes {
			if pending[i] > 0 {
				stuck = append(stuck, n.where())
				if len(stuck) == 5 {
					break
				}
			}
		}
		return nil, fmt.Errorf("%w: the graph has a cycle through %s", ErrCorrupt, strings.Join(stuck, ", "))
	}
	return order, nil
}

// posHeap is a binary min-heap of node positions.
type posHeap []int

func (h *posHeap) push(v int) {
	*h = append(*h, v)
	a := *h
	for k := len(a) - 1; k > 0; {
		p := (k - 1) / 2
		if a[p] <= a[k] {
			break
		}
		a[p], a[k] = a[k], a[p]
		k = p
	}
}

func (h *posHeap) pop() int {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for k := 0; ; {
		l, m := 2*k+1, k
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if l+1 < len(a) && a[l+1] < a[m] {
			m = l + 1
		}
		if m == k {
			break
		}
		a[k], a[m] = a[m], a[k]
		k = m
	}
	*h = a
	return top
}

// attribute lookups

func (n *node) attr(name string) *attribute {
	for _, a := range n.attrs {
		if a.name == name {
			return a
		}
	}
	return nil
}

func (n *node) attrInt(name string, def int64) int64 {
	if a := n.attr(name); a != nil {
		return a.i
	}
	return def
}

func (n *node) attrFloat(name string, def float32) float32 {
	if a := n.attr(name); a != nil {
		return a.f
	}
	return def
}

func (n *node) attrInts(name string) []int64 {
	if a := n.attr(name); a != nil {
		return a.ints
	}
	return nil
}

func (n *node) attrString(name, def string) string {
	if a := n.attr(name); a != nil {
		return string(a.s)
	}
	return def
}

// in returns input k (nil when absent or empty).
func (im *importer) in(n *node, k int) *value {
	if k >= len(n.inputs) || n.inputs[k] == "" {
		return nil
	}
	return im.values[n.inputs[k]]
}

// constIn returns input k as a constant, or nil when absent.
func (im *importer) constIn(n *node, k int) (*constant, error) {
	v := im.in(n, k)
	if v == nil {
		return nil, nil
	}
	if v.c == nil {
		return nil, fmt.Errorf("%w: input %d (%q) must be a constant", ErrUnsupported, k, n.inputs[k])
	}
	return v.c, nil
}

func (im *importer) set(n *node, k int, v *value) error {
	if k >= len(n.outputs) || n.outputs[k] == "" {
		return nil
	}
	im.values[n.outputs[k]] = v
	return nil
}

func unsupported(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, a...))
}

// node imports one node: folds it when all its inputs are constant (or it
// is Shape), else maps it onto a layer.
func (im *importer) node(n *node) error {
	if len(n.outputs) == 0 {
		return fmt.Errorf("%w: no outputs", ErrCorrupt)
	}
	for _, a := range n.attrs {
		if a.graph {
			return unsupported("subgraph attribute %q", a.name)
		}
	}
	allConst := true
	for k := range n.inputs {
		if v := im.in(n, k); v != nil && v.c == nil {
			allConst = false
		}
	}
	if n.opType == "Shape" || n.opType == "Constant" || (allConst && len(n.inputs) > 0) {
		c, err := im.fold(n)
		if err != nil {
			return err
		}
		im.folded++
		return im.set(n, 0, &value{c: c})
	}
	// An activation: it must be the tip of the chain.
	var x *value
	for k := range n.inputs {
		if v := im.in(n, k); v != nil && v.c == nil {
			if x != nil && x != v {
				return unsupported("two activations meet (%q and %q): only chains of layers are supported, not branches or residual connections", n.inputs[0], n.inputs[k])
			}
			x = v
		}
	}
	if x != im.tip {
		return unsupported("input is an earlier activation, not the newest: only chains of layers are supported")
	}
	if x.pad != 0 && n.opType != "Conv" && n.opType != "Pad" && n.opType != "Identity" && n.opType != "Dropout" {
		return unsupported("zero padding before %s (only a Conv can absorb a Pad; pools have no padding in shrink)", n.opType)
	}
	out, err := im.layer(n, x)
	if err != nil {
		return err
	}
	for k := 1; k < len(n.outputs); k++ {
		if n.outputs[k] != "" && n.opType != "Dropout" && n.opType != "DynamicQuantizeLinear" {
			return unsupported("output %d (%q) is not supported", k, n.outputs[k])
		}
	}
	if n, err := elements(out.dims, math.MaxInt64); err != nil || len(out.dims) < 2 || n/max(out.dims[0], 1) > format.MaxActivation {
		return unsupported("activation of shape %v is too large", out.dims)
	}
	im.tip = out
	return im.set(n, 0, out)
}

func (im *importer) add(l nn.Layer) { im.layers = append(im.layers, l) }

// layer maps an operator on the activation x onto a layer.
func (im *importer) layer(n *node, x *value) (*value, error) {
	cur := shrinkShape(x.dims)
	switch n.opType {
	case "Identity":
		return x, nil
	case "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear":
		// Activation quantization of a QDQ graph: imported as float32.
		if im.in(n, 0) != x {
			return nil, unsupported("%s needs the activation as its first input", n.opType)
		}
		im.droppedQDQ++
		return x, nil
	case "Dropout":
		if len(n.inputs) > 2 {
			if t, err := im.constIn(n, 2); err != nil {
				return nil, err
			} else if t != nil && len(t.ints()) == 1 && t.ints()[0] != 0 {
				return nil, unsupported("Dropout in training mode")
			}
		}
		return x, nil
	case "Relu":
		im.add(nn.NewReLU(cur))
		return &value{dims: x.dims, chw: x.chw}, nil
	case "Pad":
		return im.pad(n, x)
	case "Conv":
		return im.conv(n, x, cur)
	case "MaxPool", "AveragePool":
		return im.pool(n, x, cur)
	case "GlobalAveragePool":
		if len(x.dims) != 4 || x.dims[2] != x.dims[3] {
			return nil, unsupported("GlobalAveragePool over %v: only square images", x.dims)
		}
		p, err := nn.NewAvgPool2D(cur, int(x.dims[2]), 1)
		if err != nil {
			return nil, unsupported("%v", err)
		}
		im.add(p)
		return &value{dims: []int64{x.dims[0], x.dims[1], 1, 1}}, nil
	case "Flatten":
		axis := n.attrInt("axis", 1)
		if axis < 0 {
			axis += int64(len(x.dims))
		}
		if axis != 1 {
			return nil, unsupported("Flatten with axis %d (only 1)", n.attrInt("axis", 1))
		}
		return im.flatten(x, cur), nil
	case "Reshape":
		shape, err := im.constIn(n, 1)
		if err != nil || shape == nil {
			return nil, unsupported("Reshape needs a constant shape")
		}
		dims, err := reshapeDims(x.dims, shape.ints(), n.attrInt("allowzero", 0) != 0)
		if err != nil {
			return nil, unsupported("%v", err)
		}
		if slices.Equal(dims, x.dims) {
			return x, nil
		}
		if len(dims) == 2 && dims[0] == x.dims[0] && len(x.dims) == 4 {
			return im.flatten(x, cur), nil
		}
		return nil, unsupported("Reshape from %v to %v (only flattening to (batch, features))", x.dims, dims)
	case "Gemm":
		return im.gemm(n, x)
	case "MatMul":
		w, err := im.constIn(n, 1)
		if err != nil || w == nil || im.in(n, 0) != x {
			return nil, unsupported("MatMul needs the activation first and a constant weight second")
		}
		if len(x.dims) != 2 || len(w.dims) != 2 || w.dims[0] != x.dims[1] || !w.float {
			return nil, unsupported("MatMul of %v by %v (only (batch, K) by a float (K, M))", x.dims, w.dims)
		}
		return im.dense(x, w, false, 1, nil, 1)
	case "Add":
		return im.addBias(n, x)
	case "BatchNormalization":
		return im.batchNorm(n, x, cur)
	case "Softmax":
		axis := n.attrInt("axis", map[bool]int64{true: -1, false: 1}[im.opset >= 13])
		if len(x.dims) != 2 || (axis != 1 && axis != -1) {
			return nil, unsupported("Softmax over axis %d of %v (only the last axis of (batch, classes))", axis, x.dims)
		}
		if x.chw != [3]int64{} {
			return nil, unsupported("Softmax over features in CHW order")
		}
		im.add(nn.NewSoftmax(int(x.dims[1])))
		return &value{dims: x.dims}, nil
	}
	return nil, unsupported("%s with a non-constant input", n.opType)
}

func (im *importer) flatten(x *value, cur nn.Shape) *value {
	if len(x.dims) == 2 {
		return x
	}
	im.add(nn.NewFlatten(cur))
	out := &value{dims: []int64{x.dims[0], x.dims[1] * x.dims[2] * x.dims[3]}}
	if x.dims[1] > 1 && x.dims[2]*x.dims[3] > 1 {
		out.chw = [3]int64{x.dims[1], x.dims[2], x.dims[3]}
	}
	return out
}

func (im *importer) pad(n *node, x *value) (*value, error) {
	if len(x.dims) != 4 {
		return nil, unsupported("Pad of a rank %d tensor", len(x.dims))
	}
	if mode := n.attrString("mode", "constant"); mode != "constant" {
		return nil, unsupported("Pad mode %q (only constant zero padding)", mode)
	}
	var pads []int64
	if im.opset < 11 {
		pads = n.attrInts("pads")
		if n.attrFloat("value", 0) != 0 {
			return nil, unsupported("Pad with a non-zero value")
		}
	} else {
		p, err := im.constIn(n, 1)
		if err != nil || p == nil {
			return nil, unsupported("Pad needs constant pads")
		}
		pads = p.ints()
		v, err := im.constIn(n, 2)
		if err != nil {
			return nil, err
		}
		if v != nil && v.size() > 0 && ((v.float && v.f[0] != 0) || (!v.float && v.i[0] != 0)) {
			return nil, unsupported("Pad with a non-zero value")
		}
		if len(n.inputs) > 3 && n.inputs[3] != "" {
			return nil, unsupported("Pad with axes")
		}
	}
	if len(pads) != 8 || pads[0] != 0 || pads[1] != 0 || pads[4] != 0 || pads[5] != 0 {
		return nil, unsupported("Pad %v (only zero padding of H and W)", pads)
	}
	p := pads[2]
	if p < 0 || p > 64 || pads[3] != p || pads[6] != p || pads[7] != p {
		return nil, unsupported("Pad %v (only the same padding on every side of H and W, at most 64)", pads)
	}
	if p == 0 {
		return x, nil
	}
	return &value{dims: []int64{x.dims[0], x.dims[1], x.dims[2] + 2*p, x.dims[3] + 2*p}, pad: x.pad + int(p)}, nil
}

// unpadded undoes pending padding on the shrink shape of x.
func unpadded(x *value) nn.Shape {
	s := shrinkShape(x.dims)
	s[0] -= 2 * x.pad
	s[1] -= 2 * x.pad
	return s
}

func allEqual(vs []int64, want int64) bool {
	for _, v := range vs {
		if v != want {
			return false
		}
	}
	return true
}

func (im *importer) conv(n *node, x *value, _ nn.Shape) (*value, error) {
	w, err := im.constIn(n, 1)
	if err != nil || w == nil || im.in(n, 0) != x {
		return nil, unsupported("Conv needs the activation first and constant weights")
	}
	b, err := im.constIn(n, 2)
	if err != nil {
		return nil, err
	}
	if len(x.dims) != 4 || len(w.dims) != 4 || !w.float {
		return nil, unsupported("Conv of %v with weights %v (only 2-D convolution)", x.dims, w.dims)
	}
	f, c, kh, kw := w.dims[0], w.dims[1], w.dims[2], w.dims[3]
	if c != x.dims[1] {
		return nil, unsupported("Conv weights %v on %d channels (group must be 1)", w.dims, x.dims[1])
	}
	if g := n.attrInt("group", 1); g != 1 {
		return nil, unsupported("Conv with group %d (only 1)", g)
	}
	if kh != kw || kh > 64 || f > 1<<16 {
		return nil, unsupported("Conv kernel %dx%d with %d filters (only square kernels up to 64, at most 65536 filters)", kh, kw, f)
	}
	if ks := n.attrInts("kernel_shape"); ks != nil && !slices.Equal(ks, []int64{kh, kw}) {
		return nil, fmt.Errorf("%w: kernel_shape %v does not match weights %v", ErrCorrupt, ks, w.dims)
	}
	if d := n.attrInts("dilations"); !allEqual(d, 1) {
		return nil, unsupported("Conv dilations %v (only 1)", d)
	}
	st := n.attrInts("strides")
	stride := int64(1)
	if st != nil {
		if len(st) != 2 || st[0] != st[1] || st[0] <= 0 || st[0] > 64 {
			return nil, unsupported("Conv strides %v (only equal strides up to 64)", st)
		}
		stride = st[0]
	}
	pad := int64(0)
	if ap := n.attrString("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return nil, unsupported("Conv auto_pad %s", ap)
	}
	if p := n.attrInts("pads"); p != nil {
		if len(p) != 4 || !allEqual(p, p[0]) || p[0] < 0 {
			return nil, unsupported("Conv pads %v (only symmetric padding)", p)
		}
		pad = p[0]
	}
	pad += int64(x.pad)
	if pad > 64 {
		return nil, unsupported("Conv padding %d above 64", pad)
	}
	in := unpadded(x)
	l, err := nn.NewConv2D(in, int(f), int(kh), int(stride), int(pad))
	if err != nil {
		return nil, unsupported("%v", err)
	}
	// OIHW → (F, ky, kx, c).
	C := int(c)
	k := int(kh)
	for o := 0; o < int(f); o++ {
		for ci := 0; ci < C; ci++ {
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					l.W.W[o*k*k*C+(ky*k+kx)*C+ci] = w.f[((o*C+ci)*k+ky)*k+kx]
				}
			}
		}
	}
	if b != nil {
		if b.size() != int(f) || !b.float {
			return nil, fmt.Errorf("%w: Conv bias of shape %v for %d filters", ErrCorrupt, b.dims, f)
		}
		copy(l.B.W, b.f)
	}
	im.add(l)
	o := l.Out()
	return &value{dims: []int64{x.dims[0], f, int64(o[0]), int64(o[1])}, layer: l}, nil
}

func (im *importer) pool(n *node, x *value, cur nn.Shape) (*value, error) {
	if len(x.dims) != 4 {
		return nil, unsupported("%s of %v", n.opType, x.dims)
	}
	ks := n.attrInts("kernel_shape")
	if len(ks) != 2 || ks[0] != ks[1] || ks[0] <= 0 || ks[0] > 1<<20 {
		return nil, unsupported("%s kernel %v (only square)", n.opType, ks)
	}
	k := ks[0]
	stride := int64(1)
	if st := n.attrInts("strides"); st != nil {
		if len(st) != 2 || st[0] != st[1] || st[0] <= 0 || st[0] > 1<<20 {
			return nil, unsupported("%s strides %v (only equal)", n.opType, st)
		}
		stride = st[0]
	}
	if p := n.attrInts("pads"); !allEqual(p, 0) {
		return nil, unsupported("%s pads %v (pools have no padding in shrink)", n.opType, p)
	}
	if ap := n.attrString("auto_pad", "NOTSET"); ap != "NOTSET" && ap != "VALID" {
		return nil, unsupported("%s auto_pad %s", n.opType, ap)
	}
	if d := n.attrInts("dilations"); !allEqual(d, 1) {
		return nil, unsupported("%s dilations %v", n.opType, d)
	}
	if len(n.outputs) > 1 && n.outputs[1] != "" {
		return nil, unsupported("MaxPool indices output")
	}
	h, w := x.dims[2], x.dims[3]
	if n.attrInt("ceil_mode", 0) != 0 {
		if (h-k)%stride != 0 || (w-k)%stride != 0 {
			return nil, unsupported("%s with ceil_mode on %dx%d (only where it equals floor)", n.opType, h, w)
		}
	}
	var l *nn.Pool2D
	var err error
	if n.opType == "MaxPool" {
		l, err = nn.NewMaxPool2D(cur, int(k), int(stride))
	} else {
		l, err = nn.NewAvgPool2D(cur, int(k), int(stride))
	}
	if err != nil {
		return nil, unsupported("%v", err)
	}
	im.add(l)
	o := l.Out()
	return &value{dims: []int64{x.dims[0], x.dims[1], int64(o[0]), int64(o[1])}}, nil
}

func (im *importer) gemm(n *node, x *value) (*value, error) {
	b, err := im.constIn(n, 1)
	if err != nil || b == nil || im.in(n, 0) != x {
		return nil, unsupported("Gemm needs the activation as A and constant B")
	}
	c, err := im.constIn(n, 2)
	if err != nil {
		return nil, err
	}
	if n.attrInt("transA", 0) != 0 {
		return nil, unsupported("Gemm with transA")
	}
	transB := n.attrInt("transB", 0) != 0
	if len(x.dims) != 2 || len(b.dims) != 2 || !b.float {
		return nil, unsupported("Gemm of %v by %v", x.dims, b.dims)
	}
	k := b.dims[0]
	if transB {
		k = b.dims[1]
	}
	if k != x.dims[1] {
		return nil, fmt.Errorf("%w: Gemm of %v by %v (transB %v)", ErrCorrupt, x.dims, b.dims, transB)
	}
	return im.dense(x, b, transB, n.attrFloat("alpha", 1), c, n.attrFloat("beta", 1))
}

// dense adds a dense layer y = alpha·x·B(ᵀ) + beta·c.
func (im *importer) dense(x *value, b *constant, transB bool, alpha float32, c *constant, beta float32) (*value, error) {
	K := x.dims[1]
	M := b.dims[1]
	if transB {
		M = b.dims[0]
	}
	if M <= 0 || M > 1<<16 || K > 1<<24 {
		return nil, unsupported("dense layer %d → %d (at most 65536 units)", K, M)
	}
	l := nn.NewDense(int(K), int(M))
	// col maps an ONNX input feature to shrink's.
	col := func(j int64) int64 { return j }
	if ch := x.chw; ch != [3]int64{} {
		C, H, W := ch[0], ch[1], ch[2]
		col = func(j int64) int64 {
			ci, h, w := j/(H*W), (j/W)%H, j%W
			return (h*W+w)*C + ci
		}
	}
	for m := int64(0); m < M; m++ {
		for j := int64(0); j < K; j++ {
			var v float32
			if transB {
				v = b.f[m*K+j]
			} else {
				v = b.f[j*M+m]
			}
			l.W.W[m*K+col(j)] = alpha * v
		}
	}
	if c != nil {
		n := int64(c.size())
		if !c.float || (n != M && n != 1) || (len(c.dims) == 2 && c.dims[0] != 1) || len(c.dims) > 2 {
			return nil, unsupported("Gemm C of shape %v (only a bias of %d or 1 values)", c.dims, M)
		}
		for m := int64(0); m < M; m++ {
			l.B.W[m] = beta * c.f[min(m, n-1)]
		}
	}
	im.add(l)
	return &value{dims: []int64{x.dims[0], M}, layer: l}, nil
}

// last reports whether l is the newest layer.
func (im *importer) last(l nn.Layer) bool {
	return l != nil && len(im.layers) > 0 && im.layers[len(im.layers)-1] == l
}

func (im *importer) addBias(n *node, x *value) (*value, error) {
	var c *constant
	for k := 0; k < 2; k++ {
		if v := im.in(n, k); v != nil && v.c != nil {
			c = v.c
		}
	}
	if c == nil || !c.float {
		return nil, unsupported("Add of two activations (residual connections are not supported)")
	}
	if !im.last(x.layer) {
		return nil, unsupported("Add of a constant that does not follow a Gemm, MatMul or Conv")
	}
	var bias []float32
	ch := int64(0)
	switch l := x.layer.(type) {
	case *nn.Dense:
		bias, ch = l.B.W, int64(len(l.B.W))
	case *nn.Conv2D:
		bias, ch = l.B.W, int64(len(l.B.W))
	}
	n64 := int64(c.size())
	okShape := n64 == 1
	if n64 == ch {
		// [ch], [1, ch] after a dense layer; [ch, 1, 1] or [1, ch, 1, 1] after a conv.
		lead := c.dims
		for len(lead) > 0 && lead[len(lead)-1] == 1 && len(x.dims) == 4 {
			lead = lead[:len(lead)-1]
		}
		okShape = len(lead) >= 1 && lead[len(lead)-1] == ch && allEqual(lead[:len(lead)-1], 1) && len(c.dims) <= len(x.dims)
		if len(x.dims) == 4 && len(c.dims) < 3 {
			okShape = false
		}
	}
	if !okShape {
		return nil, unsupported("Add of a constant of shape %v to an activation of shape %v (only a per-channel bias)", c.dims, x.dims)
	}
	for j := range bias {
		bias[j] += c.f[min(int64(j), n64-1)]
	}
	return &value{dims: x.dims, layer: x.layer}, nil
}

func (im *importer) batchNorm(n *node, x *value, cur nn.Shape) (*value, error) {
	if n.attrInt("training_mode", 0) != 0 {
		return nil, unsupported("BatchNormalization in training mode")
	}
	var ps [4]*constant
	ch := x.dims[1]
	for k := range ps {
		c, err := im.constIn(n, k+1)
		if err != nil || c == nil {
			return nil, unsupported("BatchNormalization needs constant scale, B, mean and var")
		}
		if !c.float || int64(c.size()) != ch || len(c.dims) != 1 {
			return nil, fmt.Errorf("%w: BatchNormalization parameter of shape %v for %d channels", ErrCorrupt, c.dims, ch)
		}
		ps[k] = c
	}
	if len(x.dims) != 2 && len(x.dims) != 4 {
		return nil, unsupported("BatchNormalization of %v", x.dims)
	}
	eps := float64(n.attrFloat("epsilon", 1e-5))
	if !(eps >= 0) {
		return nil, fmt.Errorf("%w: BatchNormalization epsilon %v", ErrCorrupt, eps)
	}
	gamma, beta, mean, vr := ps[0].f, ps[1].f, ps[2].f, ps[3].f
	for j := range vr {
		if !(float64(vr[j])+eps > 0) {
			return nil, unsupported("BatchNormalization variance %v at channel %d", vr[j], j)
		}
	}
	if im.last(x.layer) {
		var w, b []float32
		switch l := x.layer.(type) {
		case *nn.Dense:
			w, b = l.W.W, l.B.W
		case *nn.Conv2D:
			w, b = l.W.W, l.B.W
		}
		row := len(w) / len(b)
		for j := range b {
			s := float64(gamma[j]) / math.Sqrt(float64(vr[j])+eps)
			for k := j * row; k < (j+1)*row; k++ {
				w[k] = float32(float64(w[k]) * s)
			}
			b[j] = float32((float64(b[j])-float64(mean[j]))*s + float64(beta[j]))
		}
		return &value{dims: x.dims, layer: x.layer}, nil
	}
	if x.chw != [3]int64{} {
		return nil, unsupported("BatchNormalization of features in CHW order")
	}
	l := nn.NewBatchNorm(cur)
	l.Eps = eps
	copy(l.Gamma.W, gamma)
	copy(l.Beta.W, beta)
	copy(l.Mean.W, mean)
	copy(l.Var.W, vr)
	im.add(l)
	return &value{dims: x.dims}, nil
}
