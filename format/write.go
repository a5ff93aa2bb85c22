package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/shrink-ml/shrink/format/internal/entropy"
	"github.com/shrink-ml/shrink/internal/atomicfile"
	"github.com/shrink-ml/shrink/nn"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const (
	headerLen  = 16
	trailerLen = 4
)

// Header flags (u16 at offset 10).
const (
	// flagMetaZstd: the metadata section is one zstd frame that declares
	// its content size (at most MaxMetadata), the JSON object.
	flagMetaZstd uint16 = 1 << 0
	knownFlags          = flagMetaZstd
)

// metadata is the JSON object between the header and the data section.
type metadata struct {
	Input      []int          `json:"input"`
	Layers     []nn.LayerSpec `json:"layers"`
	Provenance Provenance     `json:"provenance"`
	Tensors    []tensorEntry  `json:"tensors"`
}

// tensorEntry is one tensor's directory entry.
type tensorEntry struct {
	Name        string   `json:"name"`
	Shape       []int    `json:"shape"`
	Encoding    Encoding `json:"encoding"`
	Compression string   `json:"compression"`
	Offset      int64    `json:"offset"`
	Length      int64    `json:"length"`
	RawLength   int64    `json:"raw_length"`
	CRC32C      uint32   `json:"crc32c"`
}

// stored is one tensor as the writer stores it.
type stored struct {
	enc    Encoding // the encoding actually used
	raw    []byte   // the raw bytes in enc
	stored []byte   // raw, compressed by comp
	comp   string
}

// alternates lists, for an encoding, the encodings that store the same
// values (decoding to the same nn.Param, Quant included) in another byte
// layout: the other encodings of its scheme (Codebook and Codebook8); with
// compression on the writer keeps whichever stores smallest.
func alternates(enc Encoding) []Encoding {
	for _, s := range schemes {
		if len(s.encs) > 1 && slices.Contains(s.encs, enc) {
			return slices.DeleteFunc(slices.Clone(s.encs), func(e Encoding) bool { return e == enc })
		}
	}
	return nil
}

// storeTensor encodes p in enc and compresses it when compress is set:
// the smallest of the raw bytes, zstd, fse and ctx, over enc and its
// alternates (enc on ties).
func storeTensor(p *nn.Param, enc Encoding, compress bool) (stored, error) {
	raw, err := encodeTensor(p, enc)
	if err != nil {
		return stored{}, err
	}
	best := compressTensor(p, enc, raw, compress)
	if !compress {
		return best, nil
	}
	for _, alt := range alternates(enc) {
		raw, err := encodeTensor(p, alt)
		if err != nil {
			continue // enc encoded, so its alternates do; but never fail on one
		}
		if s := compressTensor(p, alt, raw, true); len(s.stored) < len(best.stored) {
			best = s
		}
	}
	return best, nil
}

// compressTensor is p's raw bytes in enc, stored compressed when compress
// is set and that is smaller (maybeCompress, with enc's tables verbatim and
// ctx's rows where enc has one-byte codes).
func compressTensor(p *nn.Param, enc Encoding, raw []byte, compress bool) stored {
	t := tablesLen(p, enc, raw)
	b, comp := maybeCompress(raw, t, ctxRowLen(p, enc, raw, t), compress)
	return stored{enc: enc, raw: raw, stored: b, comp: comp}
}

// tablesLen is the length of raw's leading scales or centroids (codec.tables).
func tablesLen(p *nn.Param, enc Encoding, raw []byte) int {
	if c := codecs[enc]; c != nil && c.tables != nil {
		return c.tables(p, raw)
	}
	return 0
}

// Encode writes f to w in the current format version.
func Encode(w io.Writer, f *File) error {
	b, err := encode(f)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("format: encode: %w", err)
	}
	return nil
}

// encode returns the whole file.
func encode(f *File) ([]byte, error) {
	if f == nil || f.Model == nil {
		return nil, fmt.Errorf("format: encode: no model")
	}
	m := f.Model
	specs := m.Spec()
	if err := checkModel(m, specs); err != nil {
		return nil, fmt.Errorf("format: encode: %w", err)
	}
	ts := m.NamedParams()
	known := make(map[string]bool, len(ts))
	for _, t := range ts {
		known[t.Name] = true
	}
	for name, e := range f.Encodings {
		if !known[name] {
			return nil, fmt.Errorf("format: encode: encoding for unknown tensor %q", name)
		}
		if !e.known() {
			return nil, fmt.Errorf("format: encode: tensor %q: unsupported encoding %v", name, e)
		}
	}
	md := metadata{Input: m.Input, Layers: specs, Provenance: f.Provenance, Tensors: make([]tensorEntry, 0, len(ts))}
	created, err := clampCreated(md.Provenance.Created)
	if err != nil {
		return nil, fmt.Errorf("format: encode: %w", err)
	}
	md.Provenance.Created = created
	var data bytes.Buffer
	for _, t := range ts {
		st, err := storeTensor(t.Param, f.encoding(t.Name), f.Compress)
		if err != nil {
			return nil, fmt.Errorf("format: encode: tensor %q: %w", t.Name, err)
		}
		md.Tensors = append(md.Tensors, tensorEntry{
			Name: t.Name, Shape: append([]int(nil), t.Param.Shape...), Encoding: st.enc, Compression: st.comp,
			Offset: int64(data.Len()), Length: int64(len(st.stored)), RawLength: int64(len(st.raw)),
			CRC32C: crc32.Checksum(st.raw, castagnoli),
		})
		data.Write(st.stored)
	}
	meta, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("format: encode: metadata: %w", err)
	}
	if len(meta) > MaxMetadata {
		return nil, fmt.Errorf("format: encode: metadata is %d bytes, more than %d", len(meta), MaxMetadata)
	}
	var flags uint16
	if f.Compress {
		if z := entropy.CompressZstd(meta); len(z) < len(meta) {
			meta, flags = z, flags|flagMetaZstd
		}
	}
	out := make([]byte, 0, headerLen+len(meta)+data.Len()+trailerLen)
	out = append(out, Magic...)
	out = binary.LittleEndian.AppendUint16(out, Version)
	out = binary.LittleEndian.AppendUint16(out, flags)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	out = append(out, data.Bytes()...)
	out = binary.LittleEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
	return out, nil
}

// checkModel makes sure the model is one the reader will accept: named,
// within the caps, and rebuilt by nn.Build with the same parameters.
func checkModel(m *nn.Model, specs []nn.LayerSpec) error {
	if err := m.Check(); err != nil {
		return err
	}
	for i, l := range m.Layers {
		if l.Name() == "" {
			return fmt.Errorf("layer %d (%s) has no name", i, l.Kind())
		}
	}
	if _, err := planArch(m.Input, specs); err != nil {
		return err
	}
	rebuilt, err := nn.Build(m.Input, specs)
	if err != nil {
		return fmt.Errorf("architecture does not rebuild: %w", err)
	}
	got, want := m.NamedParams(), rebuilt.NamedParams()
	if len(got) != len(want) {
		return fmt.Errorf("model has %d tensors, its architecture %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Name != w.Name || !slices.Equal(g.Param.Shape, w.Param.Shape) || len(g.Param.W) != len(w.Param.W) {
			return fmt.Errorf("tensor %q %v does not match its architecture (%q %v)", g.Name, g.Param.Shape, w.Name, w.Param.Shape)
		}
	}
	return nil
}

// Write writes f to path atomically: to a temporary file in the same folder,
// synced, then renamed over path. On error no partial output is left.
func Write(path string, f *File) (err error) { return write(path, f, atomicfile.Options{}) }

// WriteThrough is Write for a path that may exist as something other than
// a regular file (a symlink, a device, a FIFO): the bytes go through it
// instead of being refused. Folders are still refused.
func WriteThrough(path string, f *File) error {
	return write(path, f, atomicfile.Options{WriteThrough: true})
}

func write(path string, f *File, o atomicfile.Options) error {
	b, err := encode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := o.WriteFile(path, b); err != nil {
		return fmt.Errorf("format: write %s: %w", path, err)
	}
	return nil
}

// SourceDateEpoch names the environment variable of the reproducible-builds
// convention (https://reproducible-builds.org/specs/source-date-epoch/): a
// Unix time in seconds that replaces "now" in stored timestamps.
const SourceDateEpoch = "SOURCE_DATE_EPOCH"

// sourceDate returns the time SOURCE_DATE_EPOCH gives, ok false when it is
// unset or empty, and an error when it is not a non-negative integer.
func sourceDate() (t time.Time, ok bool, err error) {
	v := os.Getenv(SourceDateEpoch)
	if v == "" {
		return time.Time{}, false, nil
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil || sec < 0 || sec > 253402300799 { // year 9999
		return time.Time{}, false, fmt.Errorf("%s=%q is not a Unix time in seconds", SourceDateEpoch, v)
	}
	return time.Unix(sec, 0).UTC(), true, nil
}

// Now returns the creation time to store in a model file's provenance
// (RFC 3339, UTC, whole seconds): the time SOURCE_DATE_EPOCH gives when it
// is set, else the current time. It fails when SOURCE_DATE_EPOCH is set but
// malformed, so a command can check it before any work.
func Now() (string, error) {
	t, ok, err := sourceDate()
	if err != nil {
		return "", err
	}
	if !ok {
		t = time.Now().UTC()
	}
	return t.Format(time.RFC3339), nil
}

// clampCreated applies SOURCE_DATE_EPOCH to a stored creation time: when
// it is set, a time later than it (or one that does not parse) becomes it,
// so that the same command and seed give byte-identical files whenever
// they run. An empty time stays empty.
func clampCreated(created string) (string, error) {
	epoch, ok, err := sourceDate()
	if err != nil || !ok || created == "" {
		return created, err
	}
	if c, err := time.Parse(time.RFC3339, created); err == nil && !c.After(epoch) {
		return created, nil
	}
	return epoch.Format(time.RFC3339), nil
}
