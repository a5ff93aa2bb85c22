package format_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
)

// flagMetaZstd is the header flag of a zstd-compressed metadata section.
const flagMetaZstd = 1

// zstdFrame compresses b into one zstd frame that declares its size.
func zstdFrame(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// parts is a model file taken apart, for tampering. split and join
// decompress and recompress a zstd metadata section (flagMetaZstd);
// rawMeta is stored as is.
type parts struct {
	magic   []byte
	version uint16
	flags   uint16
	meta    map[string]any
	rawMeta []byte // used instead of meta when non-nil
	data    []byte
}

func split(t testing.TB, b []byte) *parts {
	t.Helper()
	n := binary.LittleEndian.Uint32(b[12:])
	p := &parts{
		magic: append([]byte(nil), b[:8]...), version: binary.LittleEndian.Uint16(b[8:]),
		flags: binary.LittleEndian.Uint16(b[10:]), data: append([]byte(nil), b[16+n:len(b)-4]...),
	}
	meta := b[16 : 16+n]
	if p.flags&flagMetaZstd != 0 {
		dec, err := zstd.NewReader(nil)
		require.NoError(t, err)
		defer dec.Close()
		meta, err = dec.DecodeAll(meta, nil)
		require.NoError(t, err)
	}
	d := json.NewDecoder(bytes.NewReader(meta))
	d.UseNumber()
	require.NoError(t, d.Decode(&p.meta))
	return p
}

// join assembles the parts with a correct checksum.
func (p *parts) join(t testing.TB) []byte {
	t.Helper()
	meta := p.rawMeta
	if meta == nil {
		var err error
		meta, err = json.Marshal(p.meta)
		require.NoError(t, err)
		if p.flags&flagMetaZstd != 0 {
			meta = zstdFrame(t, meta)
		}
	}
	b := append([]byte(nil), p.magic...)
	b = binary.LittleEndian.AppendUint16(b, p.version)
	b = binary.LittleEndian.AppendUint16(b, p.flags)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(meta)))
	b = append(b, meta...)
	b = append(b, p.data...)
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

func (p *parts) tensors() []any { return p.meta["tensors"].([]any) }

func (p *parts) tensor(i int) map[string]any { return p.tensors()[i].(map[string]any) }

func (p *parts) layers() []any { return p.meta["layers"].([]any) }

// tamper returns a copy of the file b changed by fn, checksum fixed.
func tamper(t testing.TB, b []byte, fn func(p *parts)) []byte {
	t.Helper()
	p := split(t, b)
	fn(p)
	return p.join(t)
}

// smallFile is a tiny valid model file (uncompressed unless z).
func smallFile(t testing.TB, z bool) []byte {
	t.Helper()
	m := buildModel(t, "dense:3,relu,bn,dense:2", []int{4}, 1)
	if z {
		// Give zstd something to compress.
		w := m.Layers[0].Params()[0].W
		for i := range w {
			w[i] = float32(i % 2)
		}
	}
	f := format.New(m, format.Provenance{Command: "test", Tool: "test"})
	f.Compress = z
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	return buf.Bytes()
}

func with(b []byte, at int, v ...byte) []byte {
	c := append([]byte(nil), b...)
	copy(c[at:], v)
	return c
}

type corruptCase struct {
	name string
	b    []byte
	want error
}

func corruptCases(t testing.TB) []corruptCase {
	good := smallFile(t, false)
	_, err := format.Decode(tamper(t, good, func(*parts) {})) // the helper round-trips
	require.NoError(t, err)
	fixCRC := func(b []byte) []byte {
		b = b[:len(b)-4]
		return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	}
	nTensors := len(split(t, good).tensors())
	cases := []corruptCase{
		{"empty", nil, format.ErrCorrupt},
		{"bad magic", with(good, 0, 'X'), format.ErrCorrupt},
		{"text", []byte("hello, world, this is not a model"), format.ErrCorrupt},
		{"version 0", fixCRC(with(good, 8, 0, 0)), format.ErrCorrupt},
		{"future version", with(good, 8, 2, 0), format.ErrVersion},
		{"far future version", with(good, 8, 0xff, 0xff), format.ErrVersion},
		{"unknown flags", fixCRC(with(good, 10, 2, 0)), format.ErrVersion},
		{"unknown high flag", fixCRC(with(good, 10, 0, 0x80)), format.ErrVersion},
		{"metadata flag on plain JSON", fixCRC(with(good, 10, 1, 0)), format.ErrCorrupt},
		{"huge metadata length", with(good, 12, 0xff, 0xff, 0xff, 0xff), format.ErrCorrupt},
		{"metadata length past EOF", with(good, 12, byte(len(good)-19), byte((len(good)-19)>>8), byte((len(good)-19)>>16), 0), format.ErrCorrupt},
		{"metadata length past EOF, crc fixed", fixCRC(with(good, 12, byte(len(good)-19), byte((len(good)-19)>>8), byte((len(good)-19)>>16), 0)), format.ErrCorrupt},
		{"flipped data byte", with(good, len(good)-10, good[len(good)-10]^0x40), format.ErrCorrupt},
		{"flipped metadata byte", with(good, 20, good[20]^0x01), format.ErrCorrupt},
		{"flipped checksum", with(good, len(good)-1, good[len(good)-1]^0x80), format.ErrCorrupt},
		{"trailing garbage", append(append([]byte(nil), good...), 0), format.ErrCorrupt},
		{"trailing garbage, crc fixed", fixCRC(append(append([]byte(nil), good...), 0, 0, 0, 0)), format.ErrCorrupt},
		{"bad JSON", tamper(t, good, func(p *parts) { p.rawMeta = []byte(`{"input":[4],"layers":[`) }), format.ErrCorrupt},
		{"JSON not an object", tamper(t, good, func(p *parts) { p.rawMeta = []byte(`[1,2,3]`) }), format.ErrCorrupt},
		{"JSON trailing", tamper(t, good, func(p *parts) {
			b, _ := json.Marshal(p.meta)
			p.rawMeta = append(b, []byte(` {}`)...)
		}), format.ErrCorrupt},
		{"JSON trailing bracket", tamper(t, good, func(p *parts) {
			b, _ := json.Marshal(p.meta)
			p.rawMeta = append(b, ']')
		}), format.ErrCorrupt},
		{"JSON null", tamper(t, good, func(p *parts) { p.rawMeta = []byte(`null`) }), format.ErrCorrupt},
		{"empty metadata", tamper(t, good, func(p *parts) { p.rawMeta = []byte{} }), format.ErrCorrupt},
		{"no layers", tamper(t, good, func(p *parts) { p.meta["layers"] = []any{} }), format.ErrCorrupt},
		{"no input", tamper(t, good, func(p *parts) { delete(p.meta, "input") }), format.ErrCorrupt},
		{"negative input", tamper(t, good, func(p *parts) { p.meta["input"] = []any{-4} }), format.ErrCorrupt},
		{"huge input", tamper(t, good, func(p *parts) { p.meta["input"] = []any{1 << 20, 1 << 20, 1 << 20} }), format.ErrCorrupt},
		{"input overflow", tamper(t, good, func(p *parts) { p.meta["input"] = []any{1 << 62, 4} }), format.ErrCorrupt},
		{"unknown layer kind", tamper(t, good, func(p *parts) { p.layers()[1].(map[string]any)["kind"] = "gelu" }), format.ErrCorrupt},
		{"huge dense units", tamper(t, good, func(p *parts) { p.layers()[0].(map[string]any)["units"] = 1_000_000_000 }), format.ErrCorrupt},
		{"huge dense units, within nn cap", tamper(t, good, func(p *parts) {
			p.meta["input"] = []any{1 << 24}
			p.layers()[0].(map[string]any)["units"] = 1 << 16
		}), format.ErrCorrupt},
		{"negative units", tamper(t, good, func(p *parts) { p.layers()[0].(map[string]any)["units"] = -3 }), format.ErrCorrupt},
		{"huge conv", tamper(t, good, func(p *parts) {
			p.meta["input"] = []any{64, 64, 1 << 10}
			p.meta["layers"] = []any{
				map[string]any{"kind": "conv2d", "name": "c", "filters": 1 << 16, "kernel": 64, "stride": 1},
				map[string]any{"kind": "flatten"}, map[string]any{"kind": "dense", "units": 2},
			}
		}), format.ErrCorrupt},
		{"huge conv output", tamper(t, good, func(p *parts) {
			p.meta["input"] = []any{4096, 4096, 1}
			p.meta["layers"] = []any{
				map[string]any{"kind": "conv2d", "name": "c", "filters": 1 << 16, "kernel": 1, "stride": 1},
				map[string]any{"kind": "maxpool2d", "kernel": 4096, "stride": 1},
				map[string]any{"kind": "flatten"}, map[string]any{"kind": "dense", "units": 2},
			}
		}), format.ErrCorrupt},
		{"output not a vector", tamper(t, good, func(p *parts) {
			p.meta["input"] = []any{4, 4, 1}
			p.meta["layers"] = []any{map[string]any{"kind": "relu"}}
			p.meta["tensors"] = []any{}
			p.data = nil
		}), format.ErrCorrupt},
		{"dropout rate 1", tamper(t, good, func(p *parts) {
			p.layers()[1].(map[string]any)["kind"], p.layers()[1].(map[string]any)["rate"] = "dropout", 1
		}), format.ErrCorrupt},
		{"duplicate layer names", tamper(t, good, func(p *parts) { p.layers()[3].(map[string]any)["name"] = "fc1" }), format.ErrCorrupt},
		{"duplicate tensor", tamper(t, good, func(p *parts) { p.tensor(1)["name"] = p.tensor(0)["name"] }), format.ErrCorrupt},
		{"missing tensor", tamper(t, good, func(p *parts) {
			last := p.tensor(nTensors - 1)
			n, _ := last["length"].(json.Number).Int64()
			p.meta["tensors"] = p.tensors()[:nTensors-1]
			p.data = p.data[:int64(len(p.data))-n]
		}), format.ErrCorrupt},
		{"unknown tensor", tamper(t, good, func(p *parts) { p.tensor(0)["name"] = "fc9.weight" }), format.ErrCorrupt},
		{"extra tensor", tamper(t, good, func(p *parts) {
			e := map[string]any{"name": "fc9.weight", "shape": []any{1}, "encoding": 1, "compression": "none",
				"offset": len(p.data), "length": 4, "raw_length": 4, "crc32c": crc32.Checksum([]byte{0, 0, 0, 0}, crc32.MakeTable(crc32.Castagnoli))}
			p.meta["tensors"] = append(p.tensors(), e)
			p.data = append(p.data, 0, 0, 0, 0)
		}), format.ErrCorrupt},
		{"wrong shape", tamper(t, good, func(p *parts) { p.tensor(0)["shape"] = []any{4, 3} }), format.ErrCorrupt},
		{"wrong rank", tamper(t, good, func(p *parts) { p.tensor(0)["shape"] = []any{12} }), format.ErrCorrupt},
		{"zero dim", tamper(t, good, func(p *parts) { p.tensor(0)["shape"] = []any{0, 4} }), format.ErrCorrupt},
		{"huge shape", tamper(t, good, func(p *parts) { p.tensor(0)["shape"] = []any{1 << 40, 1 << 40} }), format.ErrCorrupt},
		{"no shape", tamper(t, good, func(p *parts) { p.tensor(0)["shape"] = []any{} }), format.ErrCorrupt},
		{"offset outside the file", tamper(t, good, func(p *parts) { p.tensor(0)["offset"] = 1 << 40 }), format.ErrCorrupt},
		{"negative offset", tamper(t, good, func(p *parts) { p.tensor(0)["offset"] = -8 }), format.ErrCorrupt},
		{"length past the end", tamper(t, good, func(p *parts) { p.tensor(nTensors - 1)["length"] = 1 << 62 }), format.ErrCorrupt},
		{"overlap", tamper(t, good, func(p *parts) { p.tensor(1)["offset"] = 4 }), format.ErrCorrupt},
		{"same bytes twice", tamper(t, good, func(p *parts) {
			p.tensor(2)["offset"] = p.tensor(1)["offset"]
			p.tensor(2)["crc32c"] = p.tensor(1)["crc32c"]
		}), format.ErrCorrupt},
		{"gap", tamper(t, good, func(p *parts) {
			for i := range p.tensors() {
				o, _ := p.tensor(i)["offset"].(json.Number).Int64()
				p.tensor(i)["offset"] = o + 4
			}
			p.data = append([]byte{1, 2, 3, 4}, p.data...)
		}), format.ErrCorrupt},
		{"raw_length mismatch", tamper(t, good, func(p *parts) { p.tensor(0)["raw_length"] = 44 }), format.ErrCorrupt},
		{"raw_length mismatch, compressed", tamper(t, good, func(p *parts) {
			p.tensor(0)["raw_length"] = 44
			p.tensor(0)["compression"] = "zstd"
		}), format.ErrCorrupt},
		{"encoding of another tensor kind", tamper(t, good, func(p *parts) { p.tensor(0)["encoding"] = 3 }), format.ErrCorrupt},
		{"unknown encoding 7", tamper(t, good, func(p *parts) { p.tensor(0)["encoding"] = 7 }), format.ErrCorrupt},
		{"unknown encoding 255", tamper(t, good, func(p *parts) { p.tensor(0)["encoding"] = 255 }), format.ErrCorrupt},
		{"encoding 0", tamper(t, good, func(p *parts) { p.tensor(0)["encoding"] = 0 }), format.ErrCorrupt},
		{"float16 claimed", tamper(t, good, func(p *parts) { p.tensor(0)["encoding"] = 2 }), format.ErrCorrupt},
		{"unknown compression", tamper(t, good, func(p *parts) { p.tensor(0)["compression"] = "lz4" }), format.ErrCorrupt},
		{"zstd claimed on raw bytes", tamper(t, good, func(p *parts) { p.tensor(0)["compression"] = "zstd" }), format.ErrCorrupt},
		{"tensor crc", tamper(t, good, func(p *parts) { p.tensor(0)["crc32c"] = 12345 }), format.ErrCorrupt},
		{"tensor data changed, file crc fixed", tamper(t, good, func(p *parts) { p.data[0] ^= 1 }), format.ErrCorrupt},
		{"no tensors", tamper(t, good, func(p *parts) { p.meta["tensors"] = nil; p.data = nil }), format.ErrCorrupt},
		{"string as number", tamper(t, good, func(p *parts) { p.tensor(0)["offset"] = "0" }), format.ErrCorrupt},
	}
	zf := smallFile(t, true)
	zp := split(t, zf)
	require.Equal(t, "zstd", zp.tensor(0)["compression"], "smallFile(true) has a zstd tensor")
	// Find a compressed tensor in the zstd file to damage.
	for i := range zp.tensors() {
		if zp.tensor(i)["compression"] != "zstd" {
			continue
		}
		off, _ := zp.tensor(i)["offset"].(json.Number).Int64()
		cases = append(cases,
			corruptCase{"zstd frame damaged", tamper(t, zf, func(p *parts) { p.data[off+6] ^= 0xff }), format.ErrCorrupt},
			corruptCase{"zstd magic damaged", tamper(t, zf, func(p *parts) { p.data[off] ^= 0xff }), format.ErrCorrupt},
			corruptCase{"zstd raw_length grown", tamper(t, zf, func(p *parts) { p.tensor(i)["shape"] = []any{1 << 20} }), format.ErrCorrupt},
		)
		break
	}
	return append(cases, entropyCorruptCases(t)...)
}

func TestCorrupt(t *testing.T) {
	_, err := format.Decode(smallFile(t, false))
	require.NoError(t, err)
	_, err = format.Decode(smallFile(t, true))
	require.NoError(t, err)
	for _, c := range corruptCases(t) {
		t.Run(c.name, func(t *testing.T) {
			f, err := format.Decode(c.b)
			require.ErrorIs(t, err, c.want)
			require.Nil(t, f)
			require.Contains(t, err.Error(), "format:")
		})
	}
}

// TestTruncated cuts valid files at every length.
func TestTruncated(t *testing.T) {
	for _, z := range []bool{false, true} {
		good := smallFile(t, z)
		for n := range len(good) {
			_, err := format.Decode(good[:n])
			require.ErrorIs(t, err, format.ErrCorrupt, "length %d of %d", n, len(good))
		}
		// A truncated file whose checksum was recomputed still fails.
		for n := 20; n < len(good)-4; n++ {
			b := append([]byte(nil), good[:n]...)
			b = binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
			_, err := format.Decode(b)
			require.ErrorIs(t, err, format.ErrCorrupt, "length %d of %d, crc fixed", n, len(good))
		}
	}
}

// TestFlippedBytes flips every bit of a small file.
func TestFlippedBytes(t *testing.T) {
	good := smallFile(t, true)
	for i := range good {
		for bit := range 8 {
			b := with(good, i, good[i]^1<<bit)
			_, err := format.Decode(b)
			require.Error(t, err, "byte %d bit %d", i, bit)
			if !(i >= 8 && i < 10) {
				require.ErrorIs(t, err, format.ErrCorrupt, "byte %d bit %d", i, bit)
			}
		}
	}
}
