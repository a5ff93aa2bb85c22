package format

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"os"
	"slices"

	"github.com/shrink-ml/shrink/format/internal/entropy"
	"github.com/shrink-ml/shrink/nn"
)

// Read reads and checks the model file at path. Errors name the file and
// wrap ErrCorrupt or ErrVersion when the bytes are at fault.
func Read(path string) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("format: read %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("format: read %s: not a regular file", path)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%s: %w", path, corrupt("%d bytes is larger than any model file can be", st.Size()))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("format: read %w", err)
	}
	f, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// maxFileSize is the largest file the caps allow.
const maxFileSize = headerLen + MaxMetadata + 4*MaxElements + trailerLen

func corrupt(format string, args ...any) error {
	return fmt.Errorf("format: "+format+": %w", append(args, ErrCorrupt)...)
}

// Decode parses a model file held in memory. It treats every byte as
// hostile: it never panics, checks every count and length before
// allocating, and returns errors wrapping ErrCorrupt or ErrVersion.
func Decode(b []byte) (*File, error) {
	if len(b) < len(Magic) || string(b[:len(Magic)]) != Magic {
		return nil, corrupt("bad magic (not a shrink model file)")
	}
	if len(b) < 10 {
		return nil, corrupt("truncated header (%d bytes)", len(b))
	}
	switch v := binary.LittleEndian.Uint16(b[8:]); {
	case v == 0:
		return nil, corrupt("version 0")
	case v > Version:
		return nil, fmt.Errorf("format: file version %d, this reader knows up to %d: %w", v, Version, ErrVersion)
	}
	if len(b) < headerLen+trailerLen {
		return nil, corrupt("truncated header (%d bytes)", len(b))
	}
	metaLen := int64(binary.LittleEndian.Uint32(b[12:]))
	if metaLen > MaxMetadata {
		return nil, corrupt("metadata length %d exceeds the cap of %d", metaLen, MaxMetadata)
	}
	if metaLen > int64(len(b)-headerLen-trailerLen) {
		return nil, corrupt("metadata length %d runs past the end of the file (%d bytes)", metaLen, len(b))
	}
	body := b[:len(b)-trailerLen]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(b[len(body):]); got != want {
		return nil, corrupt("checksum mismatch (file says %08x, content has %08x): truncated or damaged", want, got)
	}
	flags := binary.LittleEndian.Uint16(b[10:])
	if flags&^knownFlags != 0 {
		return nil, fmt.Errorf("format: unknown flags %#04x: %w", flags&^knownFlags, ErrVersion)
	}
	meta := body[headerLen : headerLen+metaLen]
	data := body[headerLen+metaLen:]
	if flags&flagMetaZstd != 0 {
		var err error
		if meta, err = decompressMeta(meta); err != nil {
			return nil, err
		}
	}

	var md metadata
	if err := json.Unmarshal(meta, &md); err != nil {
		return nil, corrupt("metadata: %v", err)
	}
	plan, err := planArch(md.Input, md.Layers)
	if err != nil {
		return nil, corrupt("architecture: %v", err)
	}
	if err := checkDirectory(md.Tensors, int64(len(data)), plan); err != nil {
		return nil, err
	}
	m, err := nn.Build(md.Input, md.Layers)
	if err != nil {
		return nil, corrupt("architecture: %v", err)
	}
	// Match the directory to the model's parameters, exactly once each.
	params := map[string]*nn.Param{}
	for _, t := range m.NamedParams() {
		if _, dup := params[t.Name]; dup {
			return nil, corrupt("architecture: two parameters named %q", t.Name)
		}
		params[t.Name] = t.Param
	}
	f := &File{Model: m, Provenance: md.Provenance, Encodings: make(map[string]Encoding, len(md.Tensors))}
	seen := make(map[string]bool, len(md.Tensors))
	byName := make(map[string]*tensorEntry, len(md.Tensors))
	for i := range md.Tensors {
		e := &md.Tensors[i]
		p, ok := params[e.Name]
		if !ok {
			return nil, corrupt("tensor %q: no such parameter in the architecture", e.Name)
		}
		if seen[e.Name] {
			return nil, corrupt("tensor %q: listed twice", e.Name)
		}
		seen[e.Name] = true
		if !slices.Equal(e.Shape, p.Shape) {
			return nil, corrupt("tensor %q: shape %v, the architecture says %v", e.Name, e.Shape, p.Shape)
		}
		byName[e.Name] = e
	}
	for _, t := range m.NamedParams() {
		if !seen[t.Name] {
			return nil, corrupt("tensor %q: missing", t.Name)
		}
	}
	// Decode in model order so that Tensors() lists them that way.
	for _, t := range m.NamedParams() {
		e := byName[t.Name]
		raw, err := decompress(data[e.Offset:e.Offset+e.Length], e.Compression, int(e.RawLength))
		if err != nil {
			return nil, fmt.Errorf("format: tensor %q: %w", e.Name, err)
		}
		if crc := crc32.Checksum(raw, castagnoli); crc != e.CRC32C {
			return nil, corrupt("tensor %q: crc32c %08x, directory says %08x", e.Name, crc, e.CRC32C)
		}
		if err := decodeTensor(t.Param, raw, e.Encoding); err != nil {
			return nil, fmt.Errorf("format: tensor %q: %w", e.Name, err)
		}
		f.Encodings[e.Name] = e.Encoding
		if e.Compression != compressionNone {
			f.Compress = true
		}
		f.stored = append(f.stored, info(e.Name, e.Shape, e.Encoding, e.Length))
	}
	if f.stored == nil {
		f.stored = []TensorInfo{}
	}
	if flags&flagMetaZstd != 0 {
		f.Compress = true
	}
	m.Prepare() // run each layer on the path its stored form calls for
	return f, nil
}

// decompressMeta returns the JSON of a zstd-compressed metadata section.
// The frame must declare its content size, at most MaxMetadata, before
// anything is allocated for it.
func decompressMeta(z []byte) ([]byte, error) {
	size, has, err := entropy.ZstdSize(z)
	if err != nil {
		return nil, corrupt("compressed metadata: %v", err)
	}
	if !has || size == 0 || size > MaxMetadata {
		return nil, corrupt("compressed metadata: frame declares %d bytes (content size present: %v), the cap is %d", size, has, MaxMetadata)
	}
	meta, err := corruptIf(entropy.DecompressZstd(z, int(size)))
	if err != nil {
		return nil, fmt.Errorf("format: compressed metadata: %w", err)
	}
	return meta, nil
}

// checkDirectory validates every tensor entry against the data section
// before anything is allocated from it.
func checkDirectory(ts []tensorEntry, dataLen int64, plan archPlan) error {
	var total int64
	for i := range ts {
		e := &ts[i]
		if e.Name == "" {
			return corrupt("tensor %d: no name", i)
		}
		c := codecs[e.Encoding]
		if c == nil {
			return corrupt("tensor %q: unknown encoding %d", e.Name, uint8(e.Encoding))
		}
		if len(e.Shape) == 0 || len(e.Shape) > 8 {
			return corrupt("tensor %q: shape %v", e.Name, e.Shape)
		}
		el := int64(1)
		for _, d := range e.Shape {
			if d <= 0 || d > MaxElements || el*int64(d) > MaxElements {
				return corrupt("tensor %q: bad shape %v", e.Name, e.Shape)
			}
			el *= int64(d)
		}
		total += el
		if total > MaxElements {
			return corrupt("tensors hold more than %d values", MaxElements)
		}
		if lo, hi := c.rawBounds(el); e.RawLength < lo || e.RawLength > hi {
			return corrupt("tensor %q: raw_length %d outside [%d, %d] for %v values of %v", e.Name, e.RawLength, lo, hi, el, e.Encoding)
		}
		if e.Offset < 0 || e.Length <= 0 || e.Offset > dataLen || e.Length > dataLen-e.Offset {
			return corrupt("tensor %q: bytes [%d, +%d) outside the data section of %d bytes", e.Name, e.Offset, e.Length, dataLen)
		}
		switch e.Compression {
		case compressionNone:
			if e.Length != e.RawLength {
				return corrupt("tensor %q: uncompressed but length %d != raw_length %d", e.Name, e.Length, e.RawLength)
			}
		case compressionZstd, compressionFSE, compressionCtx:
			if e.RawLength > maxRatio*e.Length {
				return corrupt("tensor %q: raw_length %d cannot come from %d %s bytes", e.Name, e.RawLength, e.Length, e.Compression)
			}
		default:
			return corrupt("tensor %q: unknown compression %q", e.Name, e.Compression)
		}
	}
	// Checked before nn.Build allocates the model: the stored bytes bound
	// the architecture's size. Names and shapes are matched after it.
	if total < plan.elements {
		return corrupt("tensors hold %d values, the architecture needs %d (tensors missing?)", total, plan.elements)
	}
	// The entries must tile the data section: no overlaps, no stray bytes.
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		switch {
		case ts[a].Offset < ts[b].Offset:
			return -1
		case ts[a].Offset > ts[b].Offset:
			return 1
		}
		return 0
	})
	var end int64
	for _, i := range order {
		e := &ts[i]
		if e.Offset < end {
			return corrupt("tensor %q: bytes at %d overlap the previous tensor (ending at %d)", e.Name, e.Offset, end)
		}
		if e.Offset > end {
			return corrupt("tensor %q: %d unreferenced bytes before it in the data section", e.Name, e.Offset-end)
		}
		end = e.Offset + e.Length
	}
	if end != dataLen {
		return corrupt("%d unreferenced bytes at the end of the data section", dataLen-end)
	}
	return nil
}

// archPlan is what a dry run of an architecture finds.
type archPlan struct {
	elements int64 // total values of all parameters
}

// planArch walks an architecture with the layer kinds' shape rules
// (nn.PlanLayer), allocating nothing, and checks the shapes and parameter
// counts against the package's caps, so that nn.Build is only called on
// architectures of bounded size.
func planArch(input []int, specs []nn.LayerSpec) (archPlan, error) {
	var p archPlan
	if len(input) == 0 || len(input) > 4 {
		return p, fmt.Errorf("input shape %v", input)
	}
	if len(specs) == 0 || len(specs) > MaxLayers {
		return p, fmt.Errorf("%d layers", len(specs))
	}
	fits := func(s []int) bool {
		n := int64(1)
		for _, d := range s {
			if d <= 0 || d > MaxActivation || n*int64(d) > MaxActivation {
				return false
			}
			n *= int64(d)
		}
		return true
	}
	if !fits(input) {
		return p, fmt.Errorf("input shape %v", input)
	}
	s := nn.Shape(slices.Clone(input))
	for i, sp := range specs {
		out, n, err := nn.PlanLayer(s, sp)
		if err != nil {
			return p, fmt.Errorf("layer %d (%s %q): %v (input %v)", i, sp.Kind, sp.Name, err, s)
		}
		if n < 0 || n > MaxElements || p.elements+n > MaxElements {
			return p, fmt.Errorf("layer %d (%s %q): too many parameters (input %v)", i, sp.Kind, sp.Name, s)
		}
		p.elements += n
		if !fits(out) {
			return p, fmt.Errorf("layer %d (%s %q): output %v too large (input %v)", i, sp.Kind, sp.Name, out, s)
		}
		s = out
	}
	if len(s) != 1 {
		return p, fmt.Errorf("output %v is not a vector of logits", s)
	}
	return p, nil
}
