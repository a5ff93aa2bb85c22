// Package safetensors reads and writes model weights in the safetensors
// format (https://github.com/huggingface/safetensors) and binds them to an
// nn.Model built from an architecture.
//
// Layout: an 8-byte little-endian unsigned header length N, N bytes of
// UTF-8 JSON (an object mapping each tensor name to {"dtype", "shape",
// "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
// string values), then the data section. Offsets are relative to the data
// section; the tensors must tile it exactly (no holes, no overlaps, nothing
// after the last one) and each must hold exactly shape × dtype-size bytes,
// little-endian, row-major. The reader caps the header at MaxHeader bytes,
// rejects duplicate keys, and checks every size before allocating. Writers
// pad the header with spaces to a multiple of 8 bytes.
//
// Weights are written in PyTorch's layouts and names, so a file is a
// PyTorch state_dict: "<layer>.weight" and "<layer>.bias" (batch norm adds
// "<layer>.running_mean" and "<layer>.running_var"; its scale and shift are
// "weight" and "bias"), dense weights (out, in), convolution weights OIHW,
// and a dense layer that follows the flatten of a C×H×W image reads its
// input in CHW order.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/shrink-ml/shrink/budget"
	"github.com/shrink-ml/shrink/format"
)

// ErrCorrupt is wrapped by every error about a malformed file.
var ErrCorrupt = errors.New("safetensors: malformed file")

// Caps applied by the reader.
const (
	// MaxHeader is the largest JSON header accepted, in bytes.
	MaxHeader = 100 << 20
	// MaxFileSize is the largest file Read accepts.
	MaxFileSize = 1 << 32
	// MaxRank caps the number of dimensions of a tensor.
	MaxRank = 8
	// MaxTensors caps the entries of the header, counted as they are
	// decoded (a 100 MB header could list 1.77 M tensors).
	MaxTensors = 1 << 16
)

// dtypeSize gives the bytes per element of every dtype of the format.
var dtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// Tensor is one stored tensor. Data holds its values as float32 for the
// float dtypes shrink reads (F32, F16, BF16, F64); it is nil for others
// (integer tensors such as num_batches_tracked).
type Tensor struct {
	DType string
	Shape []int
	Data  []float32
}

// File is a decoded safetensors file.
type File struct {
	Tensors  map[string]*Tensor
	Metadata map[string]string
	Names    []string // tensor names in data-offset order
}

type entry struct {
	DType       string  `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// corrupt makes an ErrCorrupt error; its line is cut (budget.Clip) since
// it may carry text of the file.
func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, budget.Clip(fmt.Sprintf(format, a...)))
}

// Read reads the safetensors file at path. Errors name the file.
func Read(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("safetensors: %s: %w: %d bytes is above the cap", path, ErrCorrupt, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Decode parses a safetensors file held in memory.
func Decode(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, corrupt("%d bytes, shorter than the 8-byte header length", len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeader {
		return nil, corrupt("header of %d bytes is above the %d byte cap", n, MaxHeader)
	}
	if n > uint64(len(b)-8) {
		return nil, corrupt("header of %d bytes but only %d bytes follow", n, len(b)-8)
	}
	hdr := b[8 : 8+n]
	data := b[8+n:]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, corrupt("header is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(hdr))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, corrupt("header: %v", err)
	}
	f := &File{Tensors: map[string]*Tensor{}}
	type placed struct {
		name       string
		begin, end int64
	}
	var order []placed
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, corrupt("header: %v", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, corrupt("header: key %v is not a string", tok)
		}
		if len(seen) >= MaxTensors {
			return nil, corrupt("header: more than %d entries", MaxTensors)
		}
		if seen[key] {
			return nil, corrupt("header: key %s appears twice", budget.Quote(key))
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, corrupt("header: %s: %v", budget.Quote(key), err)
		}
		if key == "__metadata__" {
			if err := strict(raw, &f.Metadata); err != nil {
				return nil, corrupt("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		var e entry
		if err := strict(raw, &e); err != nil {
			return nil, corrupt("tensor %s: %v", budget.Quote(key), err)
		}
		size, ok := dtypeSize[e.DType]
		if !ok {
			return nil, corrupt("tensor %s: unknown dtype %s", budget.Quote(key), budget.Quote(e.DType))
		}
		if len(e.Shape) > MaxRank {
			return nil, corrupt("tensor %s: rank %d above %d", budget.Quote(key), len(e.Shape), MaxRank)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > int64(len(data))/d) {
				return nil, corrupt("tensor %s: shape %v does not fit in the %d data bytes", budget.Quote(key), e.Shape, len(data))
			}
			count *= d
		}
		if len(e.DataOffsets) != 2 {
			return nil, corrupt("tensor %s: data_offsets must be [begin, end]", budget.Quote(key))
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > int64(len(data)) {
			return nil, corrupt("tensor %s: data_offsets [%d, %d] outside the %d data bytes", budget.Quote(key), begin, end, len(data))
		}
		if end-begin != count*int64(size) {
			return nil, corrupt("tensor %s: %s%v needs %d bytes, data_offsets give %d", budget.Quote(key), e.DType, e.Shape, count*int64(size), end-begin)
		}
		t := &Tensor{DType: e.DType, Shape: make([]int, len(e.Shape))}
		for k, d := range e.Shape {
			t.Shape[k] = int(d)
		}
		f.Tensors[key] = t
		order = append(order, placed{key, begin, end})
	}
	if _, err := dec.Token(); err != nil {
		return nil, corrupt("header: %v", err)
	}
	if rest, _ := io.ReadAll(dec.Buffered()); len(bytes.TrimRight(rest, " ")) > 0 {
		return nil, corrupt("header: trailing bytes after the JSON object")
	}
	sort.Slice(order, func(i, j int) bool {
		if order[i].begin != order[j].begin {
			return order[i].begin < order[j].begin
		}
		return order[i].end < order[j].end
	})
	at := int64(0)
	for _, p := range order {
		if p.begin != at {
			if p.begin < at {
				return nil, corrupt("tensor %s overlaps the previous one", budget.Quote(p.name))
			}
			return nil, corrupt("hole of %d bytes before tensor %s", p.begin-at, budget.Quote(p.name))
		}
		at = p.end
		f.Names = append(f.Names, p.name)
	}
	if at != int64(len(data)) {
		return nil, corrupt("%d bytes after the last tensor", int64(len(data))-at)
	}
	for _, p := range order {
		t := f.Tensors[p.name]
		decodeValues(t, data[p.begin:p.end])
	}
	return f, nil
}

// strict unmarshals JSON rejecting unknown fields.
func strict(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func decodeValues(t *Tensor, b []byte) {
	switch t.DType {
	case "F32":
		t.Data = make([]float32, len(b)/4)
		for k := range t.Data {
			t.Data[k] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:]))
		}
	case "F16":
		t.Data = make([]float32, len(b)/2)
		for k := range t.Data {
			t.Data[k] = format.Float16From(binary.LittleEndian.Uint16(b[2*k:]))
		}
	case "BF16":
		t.Data = make([]float32, len(b)/2)
		for k := range t.Data {
			t.Data[k] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*k:])) << 16)
		}
	case "F64":
		t.Data = make([]float32, len(b)/8)
		for k := range t.Data {
			t.Data[k] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*k:])))
		}
	}
}

// Named is a tensor to write.
type Named struct {
	Name  string
	Shape []int
	Data  []float32
}

// Encode writes tensors, in the given order, as F32 (or F16 when f16 is
// set) with the metadata.
func Encode(ts []Named, meta map[string]string, f16 bool) ([]byte, error) {
	hdr := map[string]any{}
	if len(meta) > 0 {
		hdr["__metadata__"] = meta
	}
	dtype, size := "F32", 4
	if f16 {
		dtype, size = "F16", 2
	}
	var data []byte
	for _, t := range ts {
		if t.Name == "__metadata__" || hdr[t.Name] != nil {
			return nil, fmt.Errorf("safetensors: duplicate or reserved tensor name %s", budget.Quote(t.Name))
		}
		n := 1
		for _, d := range t.Shape {
			n *= d
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("safetensors: tensor %s: shape %v for %d values", budget.Quote(t.Name), t.Shape, len(t.Data))
		}
		begin := len(data)
		for _, v := range t.Data {
			if f16 {
				data = binary.LittleEndian.AppendUint16(data, format.Float16Bits(v))
			} else {
				data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
			}
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int{begin, begin + n*size}}
	}
	h, err := json.Marshal(hdr)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := make([]byte, 8, 8+len(h)+len(data))
	binary.LittleEndian.PutUint64(out, uint64(len(h)))
	out = append(out, h...)
	return append(out, data...), nil
}
