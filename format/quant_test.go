package format_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/quantize"
)

// quantModel is a small MLP whose first weight (40, 70) has rows that are
// not a multiple of 32 (or 16), quantized with s; int8 gets static
// activation parameters.
func quantModel(t testing.TB, s quantize.Scheme) *nn.Model {
	t.Helper()
	m := buildModel(t, "dense:40,relu,dense:10", nn.Shape{70}, 3)
	for _, p := range m.Params() {
		if p.Name == "weight" {
			for i := range p.W {
				p.W[i] -= 0.3
			}
		}
	}
	// An all-zero row and a constant row.
	w := m.Layers[0].Params()[0].W
	for c := 0; c < 70; c++ {
		w[c] = 0
		w[70+c] = 0.5
	}
	opt := quantize.Options{Scheme: s}
	_, err := quantize.Quantize(m, nil, opt)
	require.NoError(t, err)
	if _, ok := s.(quantize.Int8); ok {
		for i, l := range m.Layers {
			if a, ok := l.(nn.Accelerated); ok {
				a.Weight().Quant.Act = nn.ActQuant{Mode: nn.ActStatic, Scale: 0.02 * float32(i+1), Zero: int32(3 * i)}
			}
		}
		m.Prepare()
	}
	return m
}

var quantSchemes = []quantize.Scheme{
	quantize.Int8{}, quantize.Int8{PerTensor: true}, quantize.Int4{Block: 16}, quantize.Int4{Block: 32, Asym: true},
	quantize.Int4{Block: 0}, quantize.Q8_0{}, quantize.Q4_0{}, quantize.Codebook{K: 5}, quantize.Codebook{K: 256},
}

func quantFile(t testing.TB, s quantize.Scheme, compress bool) []byte {
	t.Helper()
	m := quantModel(t, s)
	f := format.New(m, format.Provenance{Tool: "test"})
	f.Compress = compress
	f.Encodings = format.QuantEncodings(m)
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	return buf.Bytes()
}

func TestQuantRoundTrip(t *testing.T) {
	for _, s := range quantSchemes {
		for _, z := range []bool{false, true} {
			m := quantModel(t, s)
			f := format.New(m, format.Provenance{Tool: "test"})
			f.Compress = z
			f.Encodings = format.QuantEncodings(m)
			var buf bytes.Buffer
			require.NoError(t, format.Encode(&buf, f), s.String())
			g, err := format.Decode(buf.Bytes())
			require.NoError(t, err, s.String())
			for i, p := range m.Params() {
				q := g.Model.Params()[i]
				require.Equal(t, p.W, q.W, "%s tensor %d", s, i)
				require.Equal(t, p.Quant, q.Quant, "%s tensor %d", s, i)
			}
			ti := g.Tensors()[0]
			enc, _ := format.QuantEncoding(s.Name())
			if enc == format.Codebook && z {
				// Compressed, the writer keeps the smaller layout.
				require.Contains(t, []format.Encoding{format.Codebook, format.Codebook8}, ti.Encoding, s.String())
			} else {
				require.Equal(t, enc, ti.Encoding, s.String())
			}
			if !z {
				require.EqualValues(t, s.Bytes(40, 70), ti.Bytes, s.String())
			}
			require.Equal(t, m.Paths(), g.Model.Paths(), s.String())
			// Re-encoding the decoded file gives the same bytes.
			var again bytes.Buffer
			require.NoError(t, format.Encode(&again, g))
			require.Equal(t, buf.Bytes(), again.Bytes(), s.String())
		}
	}
	m := quantModel(t, quantize.Int8{})
	require.Equal(t, "int8", m.Paths()["fc1"])
	require.Equal(t, "int8", format.Int8.String())
	require.Equal(t, "codebook", format.Codebook.String())
	e, err := format.ParseEncoding("q4_0")
	require.NoError(t, err)
	require.Equal(t, format.Q4_0, e)
}

func TestQuantBitsPerWeight(t *testing.T) {
	m := buildModel(t, "dense:300,relu,dense:100", nn.Shape{784}, 1)
	_, err := quantize.Quantize(m, nil, quantize.Options{Scheme: quantize.Int4{Block: 32}})
	require.NoError(t, err)
	f := format.New(m, format.Provenance{})
	f.Compress = false
	f.Encodings = format.QuantEncodings(m)
	ti := f.Tensors()
	require.Equal(t, "fc1.weight", ti[0].Name)
	require.Equal(t, format.Int4, ti[0].Encoding)
	// 784 = 24.5 blocks of 32: 25 blocks of 2 + 16 bytes per row.
	require.EqualValues(t, 8+300*25*18, ti[0].Bytes)
	require.InDelta(t, 8*float64(8+300*25*18)/(300*784), ti[0].BitsPerWeight, 1e-9)
}

// rawTensor returns tensor i's raw bytes from an uncompressed file.
func rawTensor(t testing.TB, b []byte, i int) []byte {
	p := split(t, b)
	e := p.tensor(i)
	off, _ := e["offset"].(interface{ Int64() (int64, error) }).Int64()
	n, _ := e["length"].(interface{ Int64() (int64, error) }).Int64()
	return p.data[off : off+n]
}

func TestGGMLBlockLayouts(t *testing.T) {
	// One row of 40 values: x_i = (i − 16)/16 for the first block, then 8
	// values 0.25 in a block padded with 24 zeros.
	m := buildModel(t, "dense:1", nn.Shape{40}, 1)
	w := m.Layers[0].Params()[0].W
	for i := range w {
		w[i] = float32(i-16) / 16
		if i >= 32 {
			w[i] = 0.25
		}
	}
	w0 := append([]float32(nil), w...)
	enc := func(s quantize.Scheme) []byte {
		copy(w, w0)
		_, err := quantize.Quantize(m, nil, quantize.Options{Scheme: s})
		require.NoError(t, err)
		f := format.New(m, format.Provenance{})
		f.Compress = false
		f.Encodings = format.QuantEncodings(m)
		var buf bytes.Buffer
		require.NoError(t, format.Encode(&buf, f))
		return rawTensor(t, buf.Bytes(), 0)
	}
	// q4_0: d = max/−8 = −1/−8 = 0.125 = 0x3000; byte j = n_j | n_{j+16}<<4
	// with n = int8(x·8 + 8.5): n_0 = 0, n_16 = 8, n_1 = 1, n_17 = 9.
	q4 := enc(quantize.Q4_0{})
	require.Len(t, q4, 36)
	require.Equal(t, []byte{0x00, 0x30, 0x80, 0x91, 0x91, 0xa2}, q4[:6])
	// Second block: max 0.25 → d = −0.03125 (0xa800), id = −32: 0.25 → int8(−8+8.5) = 0;
	// padding zeros → 8.
	require.Equal(t, []byte{0x00, 0xa8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x88}, q4[18:29])
	// q8_0: d = 1/127 in fp16, codes round(x·127) half away from zero.
	q8 := enc(quantize.Q8_0{})
	require.Len(t, q8, 68)
	require.Equal(t, format.Float16Bits(float32(1)/127), binary.LittleEndian.Uint16(q8))
	require.Equal(t, []byte{0x81, 0x89}, q8[2:4]) // −127, round(−119.0625) = −119
	require.Equal(t, byte(64), q8[2+24])          // 0.5·127 = 63.5 → 64
	require.Equal(t, format.Float16Bits(float32(0.25)/127), binary.LittleEndian.Uint16(q8[34:]))
	require.Equal(t, []byte{127, 127, 127, 127, 127, 127, 127, 127, 0}, q8[36:45])
	// int4 symmetric, block 32: nibbles code+8, low nibble first.
	i4 := enc(quantize.Int4{Block: 32})
	require.Equal(t, []byte{0, 0, 0, 0, 32, 0, 0, 0}, i4[:8])
	s := format.Float16From(binary.LittleEndian.Uint16(i4[8:]))
	require.Equal(t, format.Float16Bits(float32(1)/7), binary.LittleEndian.Uint16(i4[8:]))
	c0 := byte(int(math.RoundToEven(float64(-1/s))) + 8)
	c1 := byte(int(math.RoundToEven(float64(float32(-15.0/16)/s))) + 8)
	require.Equal(t, c0|c1<<4, i4[10])
	require.Equal(t, byte(0x88), i4[len(i4)-1], "padding nibbles hold the code of 0")
}

func quantCorruptCases(t testing.TB) []corruptCase {
	var cases []corruptCase
	add := func(name string, s quantize.Scheme, fn func(raw []byte) []byte) {
		good := quantFile(t, s, false)
		cases = append(cases, corruptCase{s.String() + ": " + name, rewriteQuant(t, good, 0, fn), format.ErrCorrupt})
	}
	set := func(at int, v ...byte) func([]byte) []byte {
		return func(r []byte) []byte { return with(r, at, v...) }
	}
	cut := func(r []byte) []byte { return r[:len(r)-1] }
	grow := func(r []byte) []byte { return append(r, 0) }
	nan := []byte{0x00, 0x00, 0xc0, 0x7f}
	for _, s := range []quantize.Scheme{quantize.Int8{}, quantize.Int8{PerTensor: true}} {
		add("truncated", s, cut)
		add("extra byte", s, grow)
		add("header only", s, func(r []byte) []byte { return r[:12] })
		add("empty", s, func([]byte) []byte { return nil })
		add("unknown flag", s, set(0, 0x82))
		add("activation mode 3", s, set(1, 3))
		add("reserved bytes", s, set(2, 1))
		add("zero activation scale", s, set(4, 0, 0, 0, 0))
		add("NaN activation scale", s, set(4, nan...))
		add("zero point 300", s, set(8, 0x2c, 0x01, 0, 0))
		add("negative zero point", s, set(8, 0xff, 0xff, 0xff, 0xff))
		add("NaN weight scale", s, set(12, nan...))
		add("dynamic with parameters", s, set(1, 1))
	}
	for _, s := range []quantize.Scheme{quantize.Int4{Block: 16}, quantize.Int4{Block: 32, Asym: true}} {
		add("truncated", s, cut)
		add("extra byte", s, grow)
		add("odd block", s, set(4, 15))
		add("zero block", s, set(4, 0))
		add("huge block", s, set(4, 0, 0, 0, 0x10))
		add("other block size", s, set(4, 8))
		add("flag flipped", s, func(r []byte) []byte { return with(r, 0, r[0]^1) })
		add("unknown flag", s, set(0, 0x80))
		add("Inf scale", s, set(8, 0x00, 0x7c))
		add("header only", s, func(r []byte) []byte { return r[:8] })
	}
	for _, s := range []quantize.Scheme{quantize.Q8_0{}, quantize.Q4_0{}} {
		add("truncated", s, cut)
		add("extra byte", s, grow)
		add("NaN scale", s, set(0, 0x00, 0x7e))
		add("one block only", s, func(r []byte) []byte { return r[:34] })
	}
	cb := quantize.Codebook{K: 5}
	add("truncated", cb, cut)
	add("extra byte", cb, grow)
	add("index past the codebook", cb, func(r []byte) []byte { return with(r, 4+4*5, 0xff) })
	add("9-bit indices", cb, set(0, 9))
	add("0-bit indices", cb, set(0, 0))
	add("one centroid", cb, set(2, 1, 0))
	add("more centroids than indices reach", cb, set(2, 9, 0))
	add("NaN centroid", cb, set(4, nan...))
	add("reserved byte", cb, set(1, 1))
	return cases
}

// rewriteQuant returns the uncompressed file b with tensor i's raw bytes
// replaced by fn(raw) and the directory fixed to match, so that the
// reader's checks reach the tensor's decoder.
func rewriteQuant(t testing.TB, b []byte, i int, fn func(raw []byte) []byte) []byte {
	return tamper(t, b, func(p *parts) {
		var data []byte
		for j := range p.tensors() {
			e := p.tensor(j)
			off, _ := e["offset"].(interface{ Int64() (int64, error) }).Int64()
			n, _ := e["length"].(interface{ Int64() (int64, error) }).Int64()
			raw := append([]byte(nil), p.data[off:off+n]...)
			if j == i {
				raw = fn(raw)
				e["raw_length"] = len(raw)
				e["crc32c"] = crc32.Checksum(raw, crc32.MakeTable(crc32.Castagnoli))
			}
			e["offset"] = len(data)
			e["length"] = len(raw)
			data = append(data, raw...)
		}
		p.data = data
	})
}

func TestQuantCorrupt(t *testing.T) {
	for _, c := range quantCorruptCases(t) {
		f, err := format.Decode(c.b)
		require.ErrorIs(t, err, c.want, c.name)
		require.Nil(t, f, c.name)
	}
	// Encoding a tensor without codes in a quantized encoding is an error.
	m := buildModel(t, "dense:3", nn.Shape{4}, 1)
	f := format.New(m, format.Provenance{})
	f.Encodings = map[string]format.Encoding{"fc1.weight": format.Int8}
	require.ErrorContains(t, format.Encode(&bytes.Buffer{}, f), "not quantized")
}

func FuzzDecodeQuant(f *testing.F) {
	for _, s := range quantSchemes {
		f.Add(quantFile(f, s, false))
		f.Add(quantFile(f, s, true))
	}
	for _, c := range quantCorruptCases(f) {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzDecode(t, b)
	})
}

// TestSchemeTable checks the scheme → encoding table against quantize:
// every scheme maps to encodings, Choose stores a tensor quantized with it
// in one of them (codes kept, values exact), and uncompressed that takes
// the scheme's Bytes.
func TestSchemeTable(t *testing.T) {
	for id, s := range quantize.Schemes {
		encs := format.SchemeEncodings(s.Name())
		require.NotEmpty(t, encs, "scheme %d %s has no encoding", id, s.Name())
		if _, fp16 := s.(quantize.FP16); fp16 {
			continue // the pass keeps float16 values, no codes
		}
		m := quantModel(t, s)
		for _, compress := range []bool{false, true} {
			f := format.New(m, format.Provenance{Tool: "test"})
			f.Compress = compress
			require.NoError(t, format.Choose(f, format.ChooseOptions{}))
			require.Contains(t, encs, f.Encodings["fc1.weight"], s.String())
			if !compress && f.Encodings["fc1.weight"] == encs[0] {
				require.Equal(t, s.Bytes(40, 70), f.Tensors()[0].Bytes, s.String())
			}
			var buf bytes.Buffer
			require.NoError(t, format.Encode(&buf, f))
			g, err := format.Decode(buf.Bytes())
			require.NoError(t, err)
			require.Equal(t, m.Tensors(), g.Model.Tensors(), s.String())
			require.Equal(t, m.Params()[0].Quant, g.Model.Params()[0].Quant, s.String())
		}
	}
	require.Nil(t, format.SchemeEncodings("int3"))
}
