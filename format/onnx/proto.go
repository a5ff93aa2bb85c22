package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file is a small protobuf decoder and encoder for the part of
// onnx.proto (the ONNX IR) that feed-forward models use. Field numbers are
// those of onnx.proto; unknown fields are skipped. Every length is bounded
// by the bytes that remain (protowire checks that) and every repeated field
// by a hard cap, so nothing is allocated from an unvalidated count. Subgraph
// attributes (If, Loop, Scan bodies) are skipped rather than decoded, so the
// nesting depth is fixed: ModelProto → GraphProto → NodeProto →
// AttributeProto → TensorProto.

// Caps applied while decoding.
const (
	// MaxFileSize is the largest ONNX file Read accepts.
	MaxFileSize = 1 << 30
	// MaxNodes caps the number of nodes of the graph.
	MaxNodes = 1 << 16
	// MaxInitializers caps the number of initializers.
	MaxInitializers = 1 << 16
	// MaxValues caps inputs, outputs, value_info, a node's inputs and
	// outputs, attributes of a node, and the elements of an ints/floats
	// attribute.
	MaxValues = 1 << 12
	// MaxRank caps the number of dimensions of a tensor or a value.
	MaxRank = 8
	// MaxElements caps the number of elements of any one tensor.
	MaxElements = 1 << 28
)

// Data types of TensorProto.DataType.
const (
	typeFloat    = 1
	typeUint8    = 2
	typeInt8     = 3
	typeUint16   = 4
	typeInt16    = 5
	typeInt32    = 6
	typeInt64    = 7
	typeBool     = 9
	typeFloat16  = 10
	typeDouble   = 11
	typeUint32   = 12
	typeUint64   = 13
	typeBfloat16 = 16
)

// Attribute types of AttributeProto.AttributeType.
const (
	attrFloat  = 1
	attrInt    = 2
	attrString = 3
	attrTensor = 4
	attrGraph  = 5
	attrFloats = 6
	attrInts   = 7
)

// model is the decoded ModelProto.
type model struct {
	irVersion int64
	opsets    map[string]int64 // domain → version
	producer  string
	graph     *graph
}

// graph is the decoded GraphProto.
type graph struct {
	name         string
	nodes        []*node
	initializers []*tensor
	inputs       []valueInfo
	outputs      []valueInfo
}

// node is the decoded NodeProto.
type node struct {
	inputs, outputs []string
	name, opType    string
	domain          string
	attrs           []*attribute
	index           int // position in the graph
}

// attribute is the decoded AttributeProto.
type attribute struct {
	name   string
	typ    int64
	f      float32
	i      int64
	s      []byte
	t      *tensor
	floats []float32
	ints   []int64
	graph  bool // holds a subgraph (not decoded)
}

// valueInfo is the decoded ValueInfoProto of a tensor value: its element
// type and dimensions (-1 for a symbolic or missing dimension; dims is nil
// when the shape is unknown).
type valueInfo struct {
	name     string
	elemType int64
	dims     []int64
	hasShape bool
}

// tensor is the decoded TensorProto. Exactly one of the data fields is
// set after decoding, depending on where the file stored the values.
type tensor struct {
	name     string
	dims     []int64
	dataType int64
	raw      []byte // raw_data (aliases the input)
	floats   []float32
	int32s   []int64 // int32_data, widened
	int64s   []int64
	doubles  []float64
	uint64s  []uint64
	external bool
	segment  bool
}

// decoder walks one message. err is sticky.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, a ...any) {
	if d.err == nil {
		d.err = fmt.Errorf(format, a...)
	}
}

// next returns the next field number and wire type; ok is false at the end
// of the message or on error.
func (d *decoder) next() (protowire.Number, protowire.Type, bool) {
	if d.err != nil || len(d.b) == 0 {
		return 0, 0, false
	}
	num, typ, n := protowire.ConsumeTag(d.b)
	if n < 0 {
		d.fail("bad field tag: %v", protowire.ParseError(n))
		return 0, 0, false
	}
	d.b = d.b[n:]
	return num, typ, true
}

func (d *decoder) skip(num protowire.Number, typ protowire.Type) {
	n := protowire.ConsumeFieldValue(num, typ, d.b)
	if n < 0 {
		d.fail("field %d: %v", num, protowire.ParseError(n))
		return
	}
	d.b = d.b[n:]
}

func (d *decoder) bytes(num protowire.Number, typ protowire.Type) []byte {
	if typ != protowire.BytesType {
		d.fail("field %d: wire type %d, want length-delimited", num, typ)
		return nil
	}
	v, n := protowire.ConsumeBytes(d.b)
	if n < 0 {
		d.fail("field %d: %v", num, protowire.ParseError(n))
		return nil
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(num protowire.Number, typ protowire.Type) string {
	b := d.bytes(num, typ)
	if len(b) > 4096 {
		d.fail("field %d: string of %d bytes is too long", num, len(b))
		return ""
	}
	if !utf8.Valid(b) {
		d.fail("field %d: string is not UTF-8", num)
		return ""
	}
	return string(b)
}

func (d *decoder) varint(num protowire.Number, typ protowire.Type) uint64 {
	if typ != protowire.VarintType {
		d.fail("field %d: wire type %d, want varint", num, typ)
		return 0
	}
	v, n := protowire.ConsumeVarint(d.b)
	if n < 0 {
		d.fail("field %d: %v", num, protowire.ParseError(n))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) fixed32(num protowire.Number, typ protowire.Type) uint32 {
	if typ != protowire.Fixed32Type {
		d.fail("field %d: wire type %d, want fixed32", num, typ)
		return 0
	}
	v, n := protowire.ConsumeFixed32(d.b)
	if n < 0 {
		d.fail("field %d: %v", num, protowire.ParseError(n))
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varints appends one varint or a packed run of varints to dst, capped at
// max elements in total.
func (d *decoder) varints(num protowire.Number, typ protowire.Type, dst []int64, max int) []int64 {
	if typ == protowire.VarintType {
		v := d.varint(num, typ)
		if len(dst) >= max {
			d.fail("field %d: more than %d values", num, max)
			return dst
		}
		return append(dst, int64(v))
	}
	b := d.bytes(num, typ)
	for len(b) > 0 && d.err == nil {
		v, n := protowire.ConsumeVarint(b)
		if n < 0 {
			d.fail("field %d: %v", num, protowire.ParseError(n))
			break
		}
		if len(dst) >= max {
			d.fail("field %d: more than %d values", num, max)
			break
		}
		dst = append(dst, int64(v))
		b = b[n:]
	}
	return dst
}

// floats appends one float or a packed run of floats to dst.
func (d *decoder) floats(num protowire.Number, typ protowire.Type, dst []float32, max int) []float32 {
	if typ == protowire.Fixed32Type {
		v := d.fixed32(num, typ)
		if len(dst) >= max {
			d.fail("field %d: more than %d values", num, max)
			return dst
		}
		return append(dst, math.Float32frombits(v))
	}
	b := d.bytes(num, typ)
	if len(b)%4 != 0 {
		d.fail("field %d: packed floats of %d bytes", num, len(b))
		return dst
	}
	if len(dst)+len(b)/4 > max {
		d.fail("field %d: more than %d values", num, max)
		return dst
	}
	for i := 0; i+4 <= len(b); i += 4 {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
	}
	return dst
}

func sub(b []byte) *decoder { return &decoder{b: b} }

func decodeModel(b []byte) (*model, error) {
	m := &model{opsets: map[string]int64{}}
	d := sub(b)
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			m.irVersion = int64(d.varint(num, typ))
		case 2:
			m.producer = d.str(num, typ)
		case 7:
			if m.graph != nil {
				d.fail("more than one graph")
				break
			}
			g, err := decodeGraph(d.bytes(num, typ))
			if err != nil {
				d.fail("graph: %w", err)
				break
			}
			m.graph = g
		case 8:
			if len(m.opsets) >= 64 {
				d.fail("too many opset imports")
				break
			}
			dom, ver, err := decodeOpset(d.bytes(num, typ))
			if err != nil {
				d.fail("opset_import: %w", err)
				break
			}
			if _, dup := m.opsets[dom]; dup {
				d.fail("opset_import: domain %q twice", dom)
				break
			}
			m.opsets[dom] = ver
		default:
			d.skip(num, typ)
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if m.graph == nil {
		return nil, fmt.Errorf("no graph")
	}
	return m, nil
}

func decodeOpset(b []byte) (string, int64, error) {
	d := sub(b)
	var dom string
	var ver int64
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			dom = d.str(num, typ)
		case 2:
			ver = int64(d.varint(num, typ))
		default:
			d.skip(num, typ)
		}
	}
	return dom, ver, d.err
}

func decodeGraph(b []byte) (*graph, error) {
	g := &graph{}
	d := sub(b)
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			if len(g.nodes) >= MaxNodes {
				d.fail("more than %d nodes", MaxNodes)
				break
			}
			n, err := decodeNode(d.bytes(num, typ))
			if err != nil {
				d.fail("node %d: %w", len(g.nodes), err)
				break
			}
			n.index = len(g.nodes)
			g.nodes = append(g.nodes, n)
		case 2:
			g.name = d.str(num, typ)
		case 5:
			if len(g.initializers) >= MaxInitializers {
				d.fail("more than %d initializers", MaxInitializers)
				break
			}
			t, err := decodeTensor(d.bytes(num, typ))
			if err != nil {
				d.fail("initializer %d: %w", len(g.initializers), err)
				break
			}
			g.initializers = append(g.initializers, t)
		case 15:
			d.fail("sparse initializers are not supported")
		case 11, 12:
			list := &g.inputs
			if num == 12 {
				list = &g.outputs
			}
			if len(*list) >= MaxValues {
				d.fail("more than %d graph inputs or outputs", MaxValues)
				break
			}
			v, err := decodeValueInfo(d.bytes(num, typ))
			if err != nil {
				d.fail("graph input/output: %w", err)
				break
			}
			*list = append(*list, v)
		default:
			d.skip(num, typ)
		}
	}
	return g, d.err
}

func decodeNode(b []byte) (*node, error) {
	n := &node{}
	d := sub(b)
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1, 2:
			s := d.str(num, typ)
			list := &n.inputs
			if num == 2 {
				list = &n.outputs
			}
			if len(*list) >= MaxValues {
				d.fail("more than %d inputs or outputs", MaxValues)
				break
			}
			*list = append(*list, s)
		case 3:
			n.name = d.str(num, typ)
		case 4:
			n.opType = d.str(num, typ)
		case 7:
			n.domain = d.str(num, typ)
		case 5:
			if len(n.attrs) >= MaxValues {
				d.fail("more than %d attributes", MaxValues)
				break
			}
			a, err := decodeAttribute(d.bytes(num, typ))
			if err != nil {
				d.fail("attribute %d: %w", len(n.attrs), err)
				break
			}
			n.attrs = append(n.attrs, a)
		default:
			d.skip(num, typ)
		}
	}
	return n, d.err
}

func decodeAttribute(b []byte) (*attribute, error) {
	a := &attribute{}
	d := sub(b)
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			a.name = d.str(num, typ)
		case 20:
			a.typ = int64(d.varint(num, typ))
		case 2:
			a.f = math.Float32frombits(d.fixed32(num, typ))
		case 3:
			a.i = int64(d.varint(num, typ))
		case 4:
			a.s = d.bytes(num, typ)
		case 5:
			t, err := decodeTensor(d.bytes(num, typ))
			if err != nil {
				d.fail("tensor: %w", err)
				break
			}
			a.t = t
		case 6, 11:
			d.skip(num, typ)
			a.graph = true
		case 7:
			a.floats = d.floats(num, typ, a.floats, MaxValues)
		case 8:
			a.ints = d.varints(num, typ, a.ints, MaxValues)
		default:
			d.skip(num, typ)
		}
	}
	return a, d.err
}

func decodeValueInfo(b []byte) (valueInfo, error) {
	v := valueInfo{}
	d := sub(b)
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			v.name = d.str(num, typ)
		case 2: // TypeProto
			td := sub(d.bytes(num, typ))
			for {
				num, typ, ok := td.next()
				if !ok {
					break
				}
				if num != 1 { // only tensor_type
					td.skip(num, typ)
					continue
				}
				tt := sub(td.bytes(num, typ))
				for {
					num, typ, ok := tt.next()
					if !ok {
						break
					}
					switch num {
					case 1:
						v.elemType = int64(tt.varint(num, typ))
					case 2:
						v.hasShape = true
						v.dims = []int64{}
						sd := sub(tt.bytes(num, typ))
						for {
							num, typ, ok := sd.next()
							if !ok {
								break
							}
							if num != 1 {
								sd.skip(num, typ)
								continue
							}
							if len(v.dims) >= MaxRank {
								sd.fail("rank above %d", MaxRank)
								break
							}
							dim := int64(-1)
							dd := sub(sd.bytes(num, typ))
							for {
								num, typ, ok := dd.next()
								if !ok {
									break
								}
								if num == 1 {
									dim = int64(dd.varint(num, typ))
								} else {
									dd.skip(num, typ)
								}
							}
							sd.err = firstErr(sd.err, dd.err)
							v.dims = append(v.dims, dim)
						}
						tt.err = firstErr(tt.err, sd.err)
					default:
						tt.skip(num, typ)
					}
				}
				td.err = firstErr(td.err, tt.err)
			}
			d.err = firstErr(d.err, td.err)
		default:
			d.skip(num, typ)
		}
	}
	if d.err != nil {
		return v, fmt.Errorf("value %q: %w", v.name, d.err)
	}
	return v, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func decodeTensor(b []byte) (*tensor, error) {
	t := &tensor{}
	d := sub(b)
	for {
		num, typ, ok := d.next()
		if !ok {
			break
		}
		switch num {
		case 1:
			t.dims = d.varints(num, typ, t.dims, MaxRank)
		case 2:
			t.dataType = int64(d.varint(num, typ))
		case 3:
			t.segment = true
			d.skip(num, typ)
		case 4:
			t.floats = d.floats(num, typ, t.floats, MaxElements)
		case 5:
			t.int32s = d.varints(num, typ, t.int32s, MaxElements)
		case 7:
			t.int64s = d.varints(num, typ, t.int64s, MaxElements)
		case 8:
			t.name = d.str(num, typ)
		case 9:
			t.raw = d.bytes(num, typ)
		case 10:
			if typ == protowire.Fixed64Type {
				v, n := protowire.ConsumeFixed64(d.b)
				if n < 0 {
					d.fail("double_data: %v", protowire.ParseError(n))
					break
				}
				d.b = d.b[n:]
				t.doubles = append(t.doubles, math.Float64frombits(v))
				break
			}
			raw := d.bytes(num, typ)
			if len(raw)%8 != 0 {
				d.fail("double_data: packed doubles of %d bytes", len(raw))
				break
			}
			for i := 0; i+8 <= len(raw); i += 8 {
				t.doubles = append(t.doubles, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
			}
		case 11:
			var u []int64
			u = d.varints(num, typ, u, MaxElements)
			for _, v := range u {
				t.uint64s = append(t.uint64s, uint64(v))
			}
		case 13:
			t.external = true
			d.skip(num, typ)
		case 14:
			if d.varint(num, typ) == 1 {
				t.external = true
			}
		default:
			d.skip(num, typ)
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.name, d.err)
	}
	return t, nil
}

// Encoding: small helpers over protowire.Append*.

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v int64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, uint64(v))
}

func appendPackedInts(b []byte, num protowire.Number, vs []int64) []byte {
	var p []byte
	for _, v := range vs {
		p = protowire.AppendVarint(p, uint64(v))
	}
	return appendBytes(b, num, p)
}
