package format

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/shrink-ml/shrink/nn"
)

// ErrCorrupt is wrapped by every error about a file that is malformed,
// truncated or fails a consistency check.
var ErrCorrupt = errors.New("format: corrupt model file")

// ErrVersion is wrapped by errors about files written by a newer version of
// the format (or using features this reader does not know).
var ErrVersion = errors.New("format: unsupported version")

// Version is the format version this package writes and the newest it reads.
const Version = 1

// Magic is the 8 bytes every model file starts with.
const Magic = "SHRINK\x1a\n"

// Hard caps applied by the reader (and respected by the writer).
const (
	// MaxMetadata is the largest metadata section, in bytes.
	MaxMetadata = 1 << 20
	// MaxElements caps the total number of values of all tensors.
	MaxElements = 1 << 28
	// MaxActivation caps the number of values of one sample at any point
	// of the model (input, or any layer's output).
	MaxActivation = 1 << 24
	// MaxLayers caps the number of layers.
	MaxLayers = 1 << 12
)

// Provenance records how a model file came to be.
type Provenance struct {
	Command string            `json:"command"`           // the shrink command that wrote the file
	Options map[string]string `json:"options,omitempty"` // its options
	Seed    int64             `json:"seed"`
	Data    string            `json:"data,omitempty"` // the data set
	// DataInfo is the data package's split record, stored verbatim
	// (compacted).
	DataInfo json.RawMessage `json:"data_info,omitempty"`
	Accuracy float64         `json:"accuracy"` // measured at export, fraction in [0, 1]
	Passes   []Pass          `json:"passes,omitempty"`
	Created  string          `json:"created,omitempty"` // RFC 3339 time
	Tool     string          `json:"tool"`              // e.g. "shrink v0.1.0"
}

// Pass records one compression pass applied to a model.
type Pass struct {
	Name     string            `json:"name"`
	Options  map[string]string `json:"options,omitempty"`
	Seed     int64             `json:"seed"`
	Accuracy float64           `json:"accuracy"` // after the pass
}

// File is a model with its provenance and the encodings its tensors are
// stored in.
type File struct {
	Model      *nn.Model
	Provenance Provenance
	// Encodings maps a tensor name ("fc1.weight") to its encoding; tensors
	// not listed are stored as Float32. After Decode it lists every tensor.
	Encodings map[string]Encoding
	// Compress stores each tensor compressed (zstd, fse or ctx, whichever
	// is smallest) when that is smaller, a Codebook tensor as Codebook8 when
	// that stores smaller, and the metadata zstd-compressed when that is
	// smaller. New sets it; after Decode it reports whether any tensor or
	// the metadata was compressed.
	Compress bool

	stored []TensorInfo // set by Decode
}

// New returns a file for m with the given provenance, every tensor in
// Float32, and compression on.
func New(m *nn.Model, p Provenance) *File {
	return &File{Model: m, Provenance: p, Compress: true}
}

// Encoding identifies how a tensor's values are stored. Tags are stable and
// written into files; see the package documentation for reserved tags.
type Encoding uint8

// Encodings known to this version.
const (
	Float32 Encoding = 1 // IEEE 754 binary32, little-endian
	Float16 Encoding = 2 // IEEE 754 binary16, little-endian, round to nearest even
)

// String returns the encoding's name ("float32", "float16", …).
func (e Encoding) String() string {
	if c := codecs[e]; c != nil {
		return c.name
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

// ParseEncoding returns the encoding with the given name.
func ParseEncoding(name string) (Encoding, error) {
	switch name {
	case "f32":
		return Float32, nil
	case "f16", "fp16":
		return Float16, nil
	}
	for e, c := range codecs {
		if c.name == name {
			return e, nil
		}
	}
	return 0, fmt.Errorf("format: unknown encoding %q", name)
}

// known reports whether e is a registered encoding.
func (e Encoding) known() bool { return codecs[e] != nil }

// TensorInfo describes one stored tensor.
type TensorInfo struct {
	Name          string
	Shape         []int
	Encoding      Encoding
	Bytes         int64   // stored bytes (after compression)
	BitsPerWeight float64 // 8 × Bytes / elements
}

// Tensors returns the stored size of every tensor, in model parameter order.
// After Decode it describes the file as read; for a file built in memory it
// describes what Encode would write (with compression on, a Codebook tensor
// may be listed as Codebook8, the layout the writer would store).
func (f *File) Tensors() []TensorInfo {
	if f.stored != nil {
		return append([]TensorInfo(nil), f.stored...)
	}
	if f.Model == nil {
		return nil
	}
	var out []TensorInfo
	for _, t := range f.Model.NamedParams() {
		st, err := storeTensor(t.Param, f.encoding(t.Name), f.Compress)
		if err != nil {
			continue
		}
		out = append(out, info(t.Name, t.Param.Shape, st.enc, int64(len(st.stored))))
	}
	return out
}

func info(name string, shape []int, enc Encoding, n int64) TensorInfo {
	el := 1
	for _, d := range shape {
		el *= d
	}
	ti := TensorInfo{Name: name, Shape: append([]int(nil), shape...), Encoding: enc, Bytes: n}
	if el > 0 {
		ti.BitsPerWeight = 8 * float64(n) / float64(el)
	}
	return ti
}

func (f *File) encoding(name string) Encoding {
	if e, ok := f.Encodings[name]; ok {
		return e
	}
	return Float32
}
