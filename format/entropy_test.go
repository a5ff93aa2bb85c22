package format_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/quantize"
)

// clustered gives p codebook codes of the given width: K = 2^bits centroids
// (centroid 0 is 0, the others distinct and non-zero) and each value the
// zero centroid with probability zeros, else a uniformly random other one.
func clustered(p *nn.Param, bits int, zeros float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 11))
	k := 1 << bits
	q := &nn.Quant{Scheme: "codebook", Bits: bits, Rows: p.Shape[0], Cols: len(p.W) / p.Shape[0],
		Block: len(p.W) / p.Shape[0], Codebook: make([]float32, k), Codes: make([]int16, len(p.W))}
	for i := 1; i < k; i++ {
		q.Codebook[i] = float32(i-k/2) / 8
		if q.Codebook[i] == 0 {
			q.Codebook[i] = 1.5
		}
	}
	for i := range q.Codes {
		if rng.Float64() >= zeros {
			q.Codes[i] = int16(1 + rng.IntN(k-1))
		}
	}
	q.Dequantize(p.W)
	p.Quant = q
}

// clusteredModel is an MLP whose first weight (rows × cols) is clustered.
func clusteredModel(t testing.TB, rows, cols, bits int, zeros float64, seed uint64) *nn.Model {
	t.Helper()
	m := buildModel(t, "dense:"+itoa(rows)+",relu,dense:3", nn.Shape{cols}, seed)
	clustered(m.Layers[0].Params()[0], bits, zeros, seed)
	return m
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// requireSameWeights checks every parameter bit for bit.
func requireSameWeights(t *testing.T, want, got *nn.Model) {
	t.Helper()
	wp, gp := want.Params(), got.Params()
	require.Len(t, gp, len(wp))
	for i := range wp {
		require.Len(t, gp[i].W, len(wp[i].W))
		for j := range wp[i].W {
			if float32bits(wp[i].W[j]) != float32bits(gp[i].W[j]) {
				t.Fatalf("tensor %d value %d: %v != %v", i, j, wp[i].W[j], gp[i].W[j])
			}
		}
	}
}

// storedAs returns tensor i's encoding and compression in the directory.
func storedAs(t testing.TB, b []byte, i int) (format.Encoding, string, int64) {
	t.Helper()
	p := split(t, b)
	e, _ := p.tensor(i)["encoding"].(json.Number).Int64()
	n, _ := p.tensor(i)["length"].(json.Number).Int64()
	return format.Encoding(e), p.tensor(i)["compression"].(string), n
}

// encodeOne encodes m with fc1.weight in enc (the rest float32).
func encodeOne(t testing.TB, m *nn.Model, enc format.Encoding, compress bool) []byte {
	t.Helper()
	f := format.New(m, format.Provenance{Command: "test", Tool: "test"})
	f.Compress = compress
	f.Encodings = map[string]format.Encoding{"fc1.weight": enc}
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	// Tensors of the in-memory file predict what was written.
	g, err := format.Decode(buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, f.Tensors(), g.Tensors())
	return buf.Bytes()
}

// TestCodebook8RoundTrip covers every index width, odd sizes, sparse and
// dense codes, both codebook layouts, with and without compression.
func TestCodebook8RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	usedFSE := 0
	for bits := 1; bits <= 8; bits++ {
		for _, zeros := range []float64{0, 0.5, 0.95} {
			rows, cols := 1+rng.IntN(40), 1+rng.IntN(97)
			if bits == 8 {
				rows, cols = 37, 91 // room for the 256 centroids to matter
			}
			m := clusteredModel(t, rows, cols, bits, zeros, uint64(bits))
			want := m.Layers[0].Params()[0]
			for _, enc := range []format.Encoding{format.Codebook, format.Codebook8} {
				for _, z := range []bool{false, true} {
					name := map[bool]string{false: "raw", true: "compressed"}[z]
					b := encodeOne(t, m, enc, z)
					g, err := format.Decode(b)
					require.NoError(t, err, "%d bits %v zeros %v %s", bits, zeros, enc, name)
					got := g.Model.Layers[0].Params()[0]
					requireSameWeights(t, m, g.Model)
					require.Equal(t, want.Quant, got.Quant)
					stored, comp, _ := storedAs(t, b, 0)
					if z {
						require.Contains(t, []format.Encoding{format.Codebook, format.Codebook8}, stored)
						if comp == "fse" {
							usedFSE++
						}
					} else {
						require.Equal(t, enc, stored)
						require.Equal(t, "none", comp)
					}
					require.Equal(t, stored, g.Encodings["fc1.weight"])
					// Re-encoding the file read gives the same bytes.
					var again bytes.Buffer
					require.NoError(t, format.Encode(&again, g))
					require.Equal(t, b, again.Bytes())
				}
			}
		}
	}
	require.Greater(t, usedFSE, 8, "sparse codes pick fse")
}

// structured gives p codebook codes (K = 2^bits, centroid 0 is 0) shaped
// like a pruned layer: every third column all zero, the others non-zero
// with a density from 5% to 60% that rows scale by 0.5 to 1.5.
func structured(p *nn.Param, bits int, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 13))
	clustered(p, bits, 1, seed) // all zero, the centroids set
	q := p.Quant
	colD := make([]float64, q.Cols)
	for c := range colD {
		if c%3 != 0 {
			colD[c] = 0.05 + 0.55*rng.Float64()
		}
	}
	for r := range q.Rows {
		rowF := 0.5 + rng.Float64()
		for c := range q.Cols {
			if rng.Float64() < colD[c]*rowF {
				q.Codes[r*q.Cols+c] = int16(1 + rng.IntN(len(q.Codebook)-1))
			}
		}
	}
	q.Dequantize(p.W)
}

// ctxFile is a small valid file whose fc1.weight (24×60, 3-bit codes,
// column structure) is codebook8; compressed, it is ctx.
func ctxFile(t testing.TB, compress bool) []byte {
	t.Helper()
	m := buildModel(t, "dense:24,relu,dense:3", nn.Shape{60}, 5)
	structured(m.Layers[0].Params()[0], 3, 5)
	f := format.New(m, provenance())
	f.Compress = compress
	f.Encodings = map[string]format.Encoding{"fc1.weight": format.Codebook8}
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	return buf.Bytes()
}

// TestCtxPicked: ctx is chosen where columns differ in density, is
// smaller than fse would be, decodes bit-exactly, and re-encoding the
// file read gives the same bytes.
func TestCtxPicked(t *testing.T) {
	for _, shape := range [][2]int{{24, 60}, {100, 300}, {50, 500}} {
		rows, cols := shape[0], shape[1]
		m := buildModel(t, "dense:"+itoa(rows)+",relu,dense:3", nn.Shape{cols}, 2)
		structured(m.Layers[0].Params()[0], 3, uint64(rows))
		b := encodeOne(t, m, format.Codebook8, true)
		enc, comp, n := storedAs(t, b, 0)
		raw := rawTensor(t, encodeOne(t, m, format.Codebook8, false), 0)
		z, err := fseCompress(raw[4+4*8:])
		require.NoError(t, err)
		t.Logf("%d×%d: fse %d bytes, %v+%s %d", rows, cols, 1+4+4*8+len(z), enc, comp, n)
		require.Equal(t, "ctx", comp, shape)
		require.Equal(t, format.Codebook8, enc)
		require.Less(t, n, int64(1+4+4*8+len(z))*95/100, shape)
		g, err := format.Decode(b)
		require.NoError(t, err)
		requireSameWeights(t, m, g.Model)
		require.Equal(t, m.Layers[0].Params()[0].Quant, g.Model.Layers[0].Params()[0].Quant)
		var again bytes.Buffer
		require.NoError(t, format.Encode(&again, g))
		require.Equal(t, b, again.Bytes())
	}
	b := ctxFile(t, true)
	_, comp, _ := storedAs(t, b, 0)
	require.Equal(t, "ctx", comp)
}

// TestFSEPicked checks that fse is chosen where it wins and decodes
// bit-exactly, for tensors of every size around the FSE block edges.
func TestFSEPicked(t *testing.T) {
	for _, n := range []int{2, 3, 7, 255, 256, 257, 1023, 4099, 65537} {
		m := buildModel(t, "dense:1,relu,dense:2", nn.Shape{n}, 1)
		clustered(m.Layers[0].Params()[0], 3, 0.9, uint64(n))
		b := encodeOne(t, m, format.Codebook8, true)
		g, err := format.Decode(b)
		require.NoError(t, err, n)
		requireSameWeights(t, m, g.Model)
		require.Equal(t, m.Layers[0].Params()[0].Quant, g.Model.Layers[0].Params()[0].Quant)
		if n >= 1023 {
			enc, comp, _ := storedAs(t, b, 0)
			require.Equal(t, "fse", comp, n)
			require.Equal(t, format.Codebook8, enc, n)
		}
	}
}

// zstdSize is the size of raw as the package's zstd stores it (same level).
func zstdSize(t testing.TB, raw []byte) int {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderCRC(false), zstd.WithEncoderConcurrency(1))
	require.NoError(t, err)
	defer enc.Close()
	return len(enc.EncodeAll(raw, nil))
}

// TestWriterPicksSmaller: a 95%-sparse clustered lenet300-sized layer
// comes out smaller than its packed codebook bytes under zstd (the
// previous writer), and decodes bit-exactly.
func TestWriterPicksSmaller(t *testing.T) {
	for _, bits := range []int{2, 4, 5} {
		m := clusteredModel(t, 300, 784, bits, 0.95, 7)
		old := zstdSize(t, rawTensor(t, encodeOne(t, m, format.Codebook, false), 0))
		b := encodeOne(t, m, format.Codebook, true)
		enc, comp, n := storedAs(t, b, 0)
		t.Logf("%d bits: codebook+zstd %d bytes, now %v+%s %d bytes (%.3f bits/weight)", bits, old, enc, comp, n, 8*float64(n)/(300*784))
		require.Less(t, n, int64(old))
		require.Equal(t, "fse", comp)
		g, err := format.Decode(b)
		require.NoError(t, err)
		requireSameWeights(t, m, g.Model)
		require.Equal(t, m.Layers[0].Params()[0].Quant, g.Model.Layers[0].Params()[0].Quant)
	}
}

// sparseInt8Model is a 90%-sparse MLP quantized to per-channel int8.
func sparseInt8Model(t testing.TB) *nn.Model {
	m := buildModel(t, "dense:100,relu,dense:10", nn.Shape{300}, 4)
	sparsify(m.Layers[0].Params()[0].W, 0.9, 4)
	_, err := quantize.Quantize(m, nil, quantize.Options{Scheme: quantize.Int8{}})
	require.NoError(t, err)
	return m
}

func TestInt8SparseFSE(t *testing.T) {
	m := sparseInt8Model(t)
	raw := encodeOne(t, m, format.Int8, false)
	old := zstdSize(t, rawTensor(t, raw, 0))
	b := encodeOne(t, m, format.Int8, true)
	enc, comp, n := storedAs(t, b, 0)
	t.Logf("int8 90%% sparse: %d raw, zstd %d, %s %d", len(rawTensor(t, raw, 0)), old, comp, n)
	require.Equal(t, format.Int8, enc)
	require.Contains(t, []string{"fse", "ctx"}, comp)
	require.Less(t, n, int64(old))
	g, err := format.Decode(b)
	require.NoError(t, err)
	requireSameWeights(t, m, g.Model)
	require.Equal(t, m.Layers[0].Params()[0].Quant, g.Model.Layers[0].Params()[0].Quant)
}

func TestCompressedMetadata(t *testing.T) {
	m := mlp(t)
	f := format.New(m, provenance())
	var z, raw bytes.Buffer
	require.NoError(t, format.Encode(&z, f))
	f.Compress = false
	require.NoError(t, format.Encode(&raw, f))
	require.EqualValues(t, 1, binary.LittleEndian.Uint16(z.Bytes()[10:]), "compressed metadata flag")
	require.EqualValues(t, 0, binary.LittleEndian.Uint16(raw.Bytes()[10:]), "uncompressed files keep plain JSON")
	require.Less(t, binary.LittleEndian.Uint32(z.Bytes()[12:]), binary.LittleEndian.Uint32(raw.Bytes()[12:]))
	g, err := format.Decode(z.Bytes())
	require.NoError(t, err)
	require.Equal(t, f.Provenance, g.Provenance)
	require.True(t, g.Compress)
	requireSameModel(t, f, g)
}

// entropyFile is a small valid file whose fc1.weight (20×31, 2-bit codes,
// 90% zero) is stored as enc; compressed, it is fse and so is the
// metadata (zstd).
func entropyFile(t testing.TB, enc format.Encoding, compress bool) []byte {
	t.Helper()
	m := clusteredModel(t, 20, 31, 2, 0.9, 3)
	f := format.New(m, provenance())
	f.Compress = compress
	f.Encodings = map[string]format.Encoding{"fc1.weight": enc}
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	return buf.Bytes()
}

// rewriteStored returns b with tensor i's stored bytes replaced by fn and
// the offsets and lengths made to match; raw_length and crc32c stay.
func rewriteStored(t testing.TB, b []byte, i int, fn func(stored []byte) []byte) []byte {
	return rewrite(t, b, i, fn, false)
}

// rewrite replaces tensor i's stored bytes in b by fn of them and makes
// the offsets and lengths match; with raw, the bytes are the raw ones (an
// uncompressed file) and raw_length and crc32c are made to match too.
func rewrite(t testing.TB, b []byte, i int, fn func([]byte) []byte, raw bool) []byte {
	return tamper(t, b, func(p *parts) {
		var data []byte
		for j := range p.tensors() {
			e := p.tensor(j)
			off, _ := e["offset"].(json.Number).Int64()
			n, _ := e["length"].(json.Number).Int64()
			s := append([]byte(nil), p.data[off:off+n]...)
			if j == i {
				s = fn(s)
				if raw {
					e["raw_length"] = len(s)
					e["crc32c"] = crc32.Checksum(s, crc32.MakeTable(crc32.Castagnoli))
				}
			}
			e["offset"] = len(data)
			e["length"] = len(s)
			data = append(data, s...)
		}
		p.data = data
	})
}

// entropyCorruptCases damage fse streams, codebook8 tensors and compressed
// metadata; they join the corrupt table (and so FuzzDecode's seeds).
func entropyCorruptCases(t testing.TB) []corruptCase {
	zf := entropyFile(t, format.Codebook8, true)
	enc, comp, n := storedAs(t, zf, 0)
	require.Equal(t, format.Codebook8, enc)
	require.Equal(t, "fse", comp)
	require.EqualValues(t, 1, binary.LittleEndian.Uint16(zf[10:]))
	rawLen, _ := split(t, zf).tensor(0)["raw_length"].(json.Number).Int64()
	cb8 := entropyFile(t, format.Codebook8, false)
	k := 4
	set := func(at int, v ...byte) func([]byte) []byte {
		return func(r []byte) []byte { return with(r, at, v...) }
	}
	var cases []corruptCase
	add := func(name string, b []byte) {
		cases = append(cases, corruptCase{name, b, format.ErrCorrupt})
	}
	// fse streams.
	add("fse: truncated stream", rewriteStored(t, zf, 0, func(s []byte) []byte { return s[:len(s)-1] }))
	add("fse: stream cut in half", rewriteStored(t, zf, 0, func(s []byte) []byte { return s[:len(s)/2] }))
	add("fse: stream cut to its tables", rewriteStored(t, zf, 0, func(s []byte) []byte { return s[:1+4+4*k+2] }))
	add("fse: byte appended", rewriteStored(t, zf, 0, func(s []byte) []byte { return append(s, 0x5a) }))
	add("fse: last byte damaged", rewriteStored(t, zf, 0, func(s []byte) []byte { return with(s, len(s)-1, s[len(s)-1]^0xa5) }))
	add("fse: table damaged", rewriteStored(t, zf, 0, func(s []byte) []byte { return with(s, 1+4+4*k, s[1+4+4*k]^0xff) }))
	add("fse: verbatim length past the end", rewriteStored(t, zf, 0, set(0, 0xff, 0xff, 0x03)))
	add("fse: verbatim length is everything", rewriteStored(t, zf, 0, func(s []byte) []byte {
		return append(binary.AppendUvarint(nil, uint64(rawLen)), s[1:]...)
	}))
	add("fse: verbatim length overlong varint", rewriteStored(t, zf, 0, func(s []byte) []byte {
		return append([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, s[1:]...)
	}))
	add("fse: verbatim centroids damaged", rewriteStored(t, zf, 0, func(s []byte) []byte { return with(s, 6, s[6]^1) }))
	add("fse: raw_length 4 short", tamper(t, zf, func(p *parts) { p.tensor(0)["raw_length"] = rawLen - 4 }))
	add("fse: raw_length 4 long", tamper(t, zf, func(p *parts) { p.tensor(0)["raw_length"] = rawLen + 4 }))
	add("fse: raw_length past the ratio", tamper(t, zf, func(p *parts) {
		// A bigger fc1 whose raw_length fits its shape but not 2^15 × the
		// stored bytes.
		cols := (1<<15)*n/20 + 1
		p.meta["input"] = []any{cols}
		p.tensor(0)["shape"] = []any{20, cols}
		p.tensor(0)["raw_length"] = 4 + 4*4 + 20*cols
	}))
	add("fse: claimed on raw bytes", tamper(t, cb8, func(p *parts) { p.tensor(0)["compression"] = "fse" }))
	add("fse: claimed on zstd bytes", tamper(t, smallFile(t, true), func(p *parts) {
		for i := range p.tensors() {
			if p.tensor(i)["compression"] == "zstd" {
				p.tensor(i)["compression"] = "fse"
			}
		}
	}))
	add("zstd: claimed on fse bytes", tamper(t, zf, func(p *parts) { p.tensor(0)["compression"] = "zstd" }))
	// A valid stream that decodes to far more than raw_length.
	add("fse: stream longer than raw_length", rewriteStored(t, zf, 0, func([]byte) []byte {
		raw := rawTensor(t, cb8, 0)
		long := append([]byte(nil), raw...)
		for range 40 {
			long = append(long, raw[4+4*k:]...)
		}
		return fseStored(t, long, 4+4*k)
	}))

	// ctx streams: uvarint P = 36, the codebook header and centroids, uvarint
	// C = 60, Z, A−1, uvarint D, body.
	cf := ctxFile(t, true)
	_, comp, _ = storedAs(t, cf, 0)
	require.Equal(t, "ctx", comp)
	cfRaw := rawTensor(t, ctxFile(t, false), 0)
	const ctxHdr = 1 + 36 + 1 + 1 + 1 + 1
	ctxCut := func(name string, fn func([]byte) []byte) {
		add("ctx: "+name, rewriteStored(t, cf, 0, fn))
	}
	ctxCut("truncated body", func(s []byte) []byte { return s[:len(s)-1] })
	ctxCut("body cut in half", func(s []byte) []byte { return s[:(len(s)+ctxHdr)/2] })
	ctxCut("no body", func(s []byte) []byte { return s[:ctxHdr] })
	ctxCut("cut in the header", func(s []byte) []byte { return s[:ctxHdr-2] })
	ctxCut("byte appended", func(s []byte) []byte { return append(s, 0) })
	ctxCut("first body byte damaged", func(s []byte) []byte { return with(s, ctxHdr, s[ctxHdr]^0x40) })
	ctxCut("middle byte damaged", func(s []byte) []byte { return with(s, (len(s)+ctxHdr)/2, s[(len(s)+ctxHdr)/2]^0x08) })
	ctxCut("verbatim length past the end", set(0, 0xff, 0xff, 0x03))
	ctxCut("verbatim length is everything", func(s []byte) []byte {
		return append(binary.AppendUvarint(nil, uint64(len(cfRaw))), s[1:]...)
	})
	ctxCut("verbatim centroids damaged", func(s []byte) []byte { return with(s, 6, s[6]^1) })
	ctxCut("row length 0", set(37, 0))
	ctxCut("row length 188", func(s []byte) []byte {
		return append(append(append([]byte(nil), s[:37]...), 0x80|60, 0x01), s[38:]...)
	})
	ctxCut("row length past the coded bytes", func(s []byte) []byte {
		return append(append(append([]byte(nil), s[:37]...), binary.AppendUvarint(nil, uint64(len(cfRaw)-35))...), s[38:]...)
	})
	ctxCut("zero symbol outside the alphabet", func(s []byte) []byte { return with(s, 38, s[39]+1) })
	ctxCut("zero symbol changed", func(s []byte) []byte { return with(s, 38, s[38]+1) })
	ctxCut("alphabet of 2", set(39, 1))
	ctxCut("alphabet of 256", set(39, 0xff))
	ctxCut("distance 1", set(40, 1))
	ctxCut("distance = row length", set(40, 60))
	ctxCut("distance 2", set(40, 2))
	add("ctx: raw_length 4 short", tamper(t, cf, func(p *parts) { p.tensor(0)["raw_length"] = len(cfRaw) - 4 }))
	add("ctx: raw_length 4 long", tamper(t, cf, func(p *parts) { p.tensor(0)["raw_length"] = len(cfRaw) + 4 }))
	add("ctx: raw_length past the ratio", tamper(t, cf, func(p *parts) {
		n, _ := p.tensor(0)["length"].(json.Number).Int64()
		cols := (1<<15)*int(n)/24 + 1
		p.meta["input"] = []any{cols}
		p.tensor(0)["shape"] = []any{24, cols}
		p.tensor(0)["raw_length"] = 4 + 4*8 + 24*cols
	}))
	add("ctx: claimed on fse bytes", tamper(t, zf, func(p *parts) { p.tensor(0)["compression"] = "ctx" }))
	add("ctx: claimed on raw bytes", tamper(t, ctxFile(t, false), func(p *parts) { p.tensor(0)["compression"] = "ctx" }))
	add("fse: claimed on ctx bytes", tamper(t, cf, func(p *parts) { p.tensor(0)["compression"] = "fse" }))
	add("zstd: claimed on ctx bytes", tamper(t, cf, func(p *parts) { p.tensor(0)["compression"] = "zstd" }))
	add("ctx: stream of a longer tensor", rewriteStored(t, cf, 0, func([]byte) []byte {
		long := append(append([]byte(nil), cfRaw...), cfRaw[36:]...)
		return ctxStored(long, 36, 60)
	}))
	// A valid ctx stream of other codes: the CRC-32C catches it; with the
	// CRC fixed, codes ≥ K reach the codebook8 decoder.
	other := with(cfRaw, len(cfRaw)-1, cfRaw[len(cfRaw)-1]^1)
	add("ctx: valid stream of other bytes", rewriteStored(t, cf, 0, func([]byte) []byte { return ctxStored(other, 36, 60) }))
	badCodes := with(cfRaw, len(cfRaw)-1, 8)
	add("codebook8: index ≥ K under ctx", tamper(t, rewriteStored(t, cf, 0, func([]byte) []byte { return ctxStored(badCodes, 36, 60) }),
		func(p *parts) { p.tensor(0)["crc32c"] = crc32.Checksum(badCodes, crc32.MakeTable(crc32.Castagnoli)) }))

	// codebook8 raw bytes.
	addRaw := func(name string, fn func([]byte) []byte) {
		add("codebook8: "+name, rewriteQuant(t, cb8, 0, fn))
	}
	addRaw("index equal to K", set(4+4*k+3, byte(k)))
	addRaw("index 255", set(4+4*k, 0xff))
	addRaw("truncated", func(r []byte) []byte { return r[:len(r)-1] })
	addRaw("extra byte", func(r []byte) []byte { return append(r, 0) })
	addRaw("packed length", func(r []byte) []byte { return r[:4+4*k+(20*31*2+7)/8] })
	addRaw("9-bit indices", set(0, 9))
	addRaw("0-bit indices", set(0, 0))
	addRaw("more centroids than bits reach", set(2, 5, 0))
	addRaw("one centroid", set(2, 1, 0))
	addRaw("reserved byte", set(1, 1))
	addRaw("NaN centroid", set(8, 0x00, 0x00, 0xc0, 0x7f))
	addRaw("Inf centroid", set(8, 0x00, 0x00, 0x80, 0x7f))
	// A valid fse stream of codes that include K, CRC-32C fixed, so that
	// the codebook8 decoder sees it.
	badRaw := rawTensor(t, cb8, 0)
	badRaw = with(badRaw, len(badRaw)-1, byte(k))
	add("codebook8: index ≥ K under fse", tamper(t, rewriteStored(t, zf, 0, func([]byte) []byte { return fseStored(t, badRaw, 4+4*k) }),
		func(p *parts) { p.tensor(0)["crc32c"] = crc32.Checksum(badRaw, crc32.MakeTable(crc32.Castagnoli)) }))

	// Compressed metadata.
	zp := split(t, zf)
	meta, err := json.Marshal(zp.meta)
	require.NoError(t, err)
	frame := zstdFrame(t, meta)
	withMeta := func(m []byte) []byte {
		return tamper(t, zf, func(p *parts) { p.rawMeta = m })
	}
	add("metadata: frame truncated", withMeta(frame[:len(frame)-1]))
	add("metadata: frame cut to its header", withMeta(frame[:6]))
	add("metadata: magic damaged", withMeta(with(frame, 0, frame[0]^0xff)))
	add("metadata: block damaged", withMeta(with(frame, 8, frame[8]^0xff)))
	add("metadata: empty", withMeta([]byte{}))
	add("metadata: plain JSON under the flag", withMeta(meta))
	add("metadata: compressed without the flag", tamper(t, zf, func(p *parts) { p.rawMeta, p.flags = frame, 0 }))
	huge := zstdFrame(t, bytes.Repeat([]byte{' '}, format.MaxMetadata+1))
	add("metadata: claims more than the cap", withMeta(huge))
	// A hand-made single-segment frame declaring 1 GiB: one raw block.
	gib := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0}
	gib = binary.LittleEndian.AppendUint64(gib, 1<<30)
	add("metadata: claims 1 GiB", withMeta(append(gib, 0x09, 0, 0, '{')))
	// A hand-made frame without a content size: window 1 MiB, one raw
	// block holding the JSON.
	noFCS := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x50}
	bh := uint32(1 | len(meta)<<3)
	noFCS = append(noFCS, byte(bh), byte(bh>>8), byte(bh>>16))
	noFCS = append(noFCS, meta...)
	var hd zstd.Header
	require.NoError(t, hd.Decode(noFCS))
	require.False(t, hd.HasFCS)
	add("metadata: frame without a content size", withMeta(noFCS))
	add("metadata: two frames", withMeta(append(append([]byte(nil), frame...), frame...)))
	add("metadata: skippable frame", withMeta(append([]byte{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4}, frame...)))
	add("metadata: compressed, bad JSON", withMeta(zstdFrame(t, meta[:len(meta)-1])))
	return cases
}

// fseStored lays raw out as the fse compression stores it: uvarint P, P
// verbatim bytes, one FSE block of the rest.
func fseStored(t testing.TB, raw []byte, p int) []byte {
	t.Helper()
	z, err := fseCompress(raw[p:])
	require.NoError(t, err)
	out := binary.AppendUvarint(nil, uint64(p))
	return append(append(out, raw[:p]...), z...)
}

// ctxStored lays raw out as the ctx compression stores it: P verbatim
// bytes, the rest in rows of cols.
func ctxStored(raw []byte, p, cols int) []byte { return format.CompressCtxForTest(raw, p, cols) }

// TestFSECRC: fse cannot see every corruption; a stream that decodes to
// the right length but other bytes is caught by the tensor's CRC-32C.
func TestFSECRC(t *testing.T) {
	zf := entropyFile(t, format.Codebook8, true)
	cb8 := entropyFile(t, format.Codebook8, false)
	raw := rawTensor(t, cb8, 0)
	other := with(raw, len(raw)-1, raw[len(raw)-1]^1) // still a valid index < 4
	b := rewriteStored(t, zf, 0, func([]byte) []byte { return fseStored(t, other, 4+4*4) })
	_, err := format.Decode(b)
	require.ErrorIs(t, err, format.ErrCorrupt)
	require.ErrorContains(t, err, "crc32c")
}

func TestCodebook8Names(t *testing.T) {
	require.Equal(t, "codebook8", format.Codebook8.String())
	e, err := format.ParseEncoding("codebook8")
	require.NoError(t, err)
	require.Equal(t, format.Codebook8, e)
	require.EqualValues(t, 9, format.Codebook8)
	require.Equal(t, "encoding(7)", format.Encoding(7).String())
}

func fseCompress(b []byte) ([]byte, error) { return fse.Compress(b, &fse.Scratch{}) }
