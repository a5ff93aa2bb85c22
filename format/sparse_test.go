package format_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

var sparseEncodings = []format.Encoding{
	format.SparseBitmask, format.SparseBitmask16, format.SparseRelative, format.SparseRelative16,
	format.CSR, format.CSR16, format.SparseNM, format.SparseNM16,
}

func half(e format.Encoding) bool {
	switch e {
	case format.SparseBitmask16, format.SparseRelative16, format.CSR16, format.SparseNM16, format.Float16:
		return true
	}
	return false
}

// sparsify zeroes each weight with probability frac (seeded), and gives
// the rest values that are not too small for float16.
func sparsify(w []float32, frac float64, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	for i := range w {
		if rng.Float64() < frac {
			w[i] = 0
		} else {
			w[i] = float32(rng.NormFloat64()) + 0.01
		}
	}
}

// sparseModel is a small MLP whose first weight (7×13 = 91 values, not a
// multiple of 8 or 4) has the given sparsity.
func sparseModel(t testing.TB, frac float64) *nn.Model {
	m := buildModel(t, "dense:7,relu,dense:3", nn.Shape{13}, 1)
	sparsify(m.Layers[0].Params()[0].W, frac, 1)
	sparsify(m.Layers[2].Params()[0].W, frac, 2)
	return m
}

func encodeWith(t testing.TB, m *nn.Model, enc format.Encoding, compress bool) []byte {
	t.Helper()
	f := format.New(m, format.Provenance{Command: "test", Tool: "test"})
	f.Compress = compress
	f.Encodings = map[string]format.Encoding{}
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			f.Encodings[l.Name()+"."+p.Name] = enc
		}
	}
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	return buf.Bytes()
}

func TestSparseRoundTrip(t *testing.T) {
	cases := map[string]func(w []float32){
		"all zero":   func(w []float32) { clear(w) },
		"dense":      func(w []float32) { sparsify(w, 0, 4) },
		"half":       func(w []float32) { sparsify(w, 0.5, 5) },
		"97% zero":   func(w []float32) { sparsify(w, 0.97, 6) },
		"long gaps":  func(w []float32) { clear(w); w[0], w[300], w[len(w)-1] = 1, -2, 3 },
		"last only":  func(w []float32) { clear(w); w[len(w)-1] = 0.5 },
		"first only": func(w []float32) { clear(w); w[0] = 0.5 },
		"2:4": func(w []float32) {
			sparsify(w, 0, 7)
			for i := range w {
				if i%4 == 1 || i%4 == 2 {
					w[i] = 0
				}
			}
		},
	}
	for name, fill := range cases {
		for _, enc := range sparseEncodings {
			for _, compress := range []bool{false, true} {
				// 17×31 first weight, 1-value last layer bias, odd everything.
				m := buildModel(t, "dense:17,relu,dense:1", nn.Shape{31}, 2)
				for _, p := range m.Params() {
					if len(p.W) > 20 {
						fill(p.W)
					}
				}
				want := make([][]float32, 0)
				for _, p := range m.Params() {
					w := append([]float32(nil), p.W...)
					if half(enc) {
						for i, v := range w {
							w[i] = format.Float16From(format.Float16Bits(v))
						}
					}
					want = append(want, w)
				}
				b := encodeWith(t, m, enc, compress)
				g, err := format.Decode(b)
				require.NoError(t, err, "%s %v", name, enc)
				for i, p := range g.Model.Params() {
					require.Equal(t, want[i], p.W, "%s %v tensor %d", name, enc, i)
				}
				for _, ti := range g.Tensors() {
					require.Equal(t, enc, ti.Encoding)
				}
				// Re-encoding gives the same bytes.
				require.Equal(t, b, encodeWith(t, g.Model, enc, compress), "%s %v", name, enc)
			}
		}
	}
}

func TestChooseShrinksWithSparsity(t *testing.T) {
	var prev int64 = 1 << 62
	for _, frac := range []float64{0, 0.5, 0.9, 0.99} {
		m := buildModel(t, "lenet300", nn.Shape{784}, 1)
		for _, l := range m.Layers {
			if a, ok := l.(nn.Accelerated); ok {
				sparsify(a.Weight().W, frac, 9)
			}
		}
		f := format.New(m, format.Provenance{Command: "test", Tool: "test"})
		require.NoError(t, format.Choose(f, format.ChooseOptions{}))
		var buf bytes.Buffer
		require.NoError(t, format.Encode(&buf, f))
		n := int64(buf.Len())
		require.Less(t, n, prev, "sparsity %v", frac)
		prev = n
		if frac == 0.9 {
			require.Less(t, n, int64(4*266610/8), "90%% zeros: under 1/8 of dense float32")
		}
		g, err := format.Decode(buf.Bytes())
		require.NoError(t, err)
		for i, p := range g.Model.Params() {
			require.Equal(t, m.Params()[i].W, p.W)
		}
	}
	// Lossy admits the float16 forms; a quantized tensor keeps its codes.
	m := buildModel(t, "dense:40", nn.Shape{10}, 3)
	w := m.Layers[0].Params()[0]
	clear(w.W)
	w.W[3], w.W[77] = 1.1, -0.3
	for i, b := range m.Layers[0].Params()[1].W {
		m.Layers[0].Params()[1].W[i] = float32(math.Round(float64(b)*64)) / 64 // float16 exactly
	}
	f := format.New(m, format.Provenance{})
	require.NoError(t, format.Choose(f, format.ChooseOptions{Lossy: true}))
	require.Contains(t, []format.Encoding{format.SparseBitmask16, format.SparseRelative16, format.CSR16, format.SparseNM16}, f.Encodings["fc1.weight"])
	require.NoError(t, format.Choose(f, format.ChooseOptions{}))
	require.Contains(t, []format.Encoding{format.SparseBitmask, format.SparseRelative, format.CSR, format.SparseNM}, f.Encodings["fc1.weight"])
	f.Compress = false // compressed, zeros tie and float32 (the earlier tag) wins
	require.NoError(t, format.Choose(f, format.ChooseOptions{Candidates: []format.Encoding{format.Float16}}))
	require.Equal(t, format.Float32, f.Encodings["fc1.weight"], "1.1 is no float16: without Lossy it stays float32")
	require.Equal(t, format.Float16, f.Encodings["fc1.bias"], "multiples of 1/64 are float16 exactly")
}

func TestSparseEncodingNames(t *testing.T) {
	for _, e := range sparseEncodings {
		got, err := format.ParseEncoding(e.String())
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
}

// rewriteTensor returns the uncompressed file b with tensor i's raw bytes
// replaced by fn(raw), the directory (offsets, lengths, CRC) made to match,
// so that the reader's checks reach the tensor's decoder.
func rewriteTensor(t testing.TB, b []byte, i int, fn func(raw []byte) []byte) []byte {
	return rewrite(t, b, i, fn, true)
}

func sparseCorruptCases(t testing.TB) []corruptCase {
	var cases []corruptCase
	add := func(name string, enc format.Encoding, m *nn.Model, fn func(raw []byte) []byte) {
		good := encodeWith(t, m, enc, false)
		cases = append(cases, corruptCase{enc.String() + ": " + name, rewriteTensor(t, good, 0, fn), format.ErrCorrupt})
	}
	set := func(at int, v ...byte) func([]byte) []byte {
		return func(r []byte) []byte { return with(r, at, v...) }
	}
	cut := func(n int) func([]byte) []byte { return func(r []byte) []byte { return r[:len(r)-n] } }
	grow := func(r []byte) []byte { return append(r, 0, 0, 0, 0) }
	sparse := sparseModel(t, 0.7)
	nm := sparseModel(t, 0)
	for i, w := range nm.Layers[0].Params()[0].W { // 2:4 on rows of 13
		if i%13%4 >= 2 {
			w = 0
		}
		nm.Layers[0].Params()[0].W[i] = w
	}
	for _, enc := range []format.Encoding{format.SparseBitmask, format.SparseBitmask16} {
		add("values cut short", enc, sparse, cut(1))
		add("extra values", enc, sparse, grow)
		add("only a partial bitmask", enc, sparse, func(r []byte) []byte { return r[:5] })
		add("bit past the end", enc, sparse, func(r []byte) []byte { return with(r, 11, r[11]|0x80) }) // 91 values: 3 pad bits
		add("bitmask bit flipped", enc, sparse, func(r []byte) []byte { return with(r, 0, r[0]^0x01) })
	}
	for _, enc := range []format.Encoding{format.SparseRelative, format.SparseRelative16} {
		add("gap width 0", enc, sparse, set(0, 0))
		add("gap width 9", enc, sparse, set(0, 9))
		add("more entries than values", enc, sparse, set(1, 0xff, 0xff, 0xff, 0x7f))
		add("entry count off by one", enc, sparse, func(r []byte) []byte { return with(r, 1, r[1]+1) })
		add("gaps run past the end", enc, sparse, func(r []byte) []byte {
			c := append([]byte(nil), r...)
			for i := 5; i < 9; i++ {
				c[i] = 0xff
			}
			return c
		})
		add("header only", enc, sparse, func(r []byte) []byte { return r[:3] })
		add("truncated", enc, sparse, cut(1))
	}
	for _, enc := range []format.Encoding{format.CSR, format.CSR16} {
		add("index width 4 for short rows", enc, sparse, set(0, 4))
		add("row count past the row", enc, sparse, set(1, 14, 0))
		add("huge row count", enc, sparse, set(1, 0xff, 0xff))
		add("column past the row", enc, sparse, func(r []byte) []byte { return with(r, 1+2*7, 13, 0) })
		add("columns out of order", enc, sparse, func(r []byte) []byte {
			c := append([]byte(nil), r...)
			c[1+2*7], c[1+2*7+2] = c[1+2*7+2], c[1+2*7]
			return c
		})
		add("truncated counts", enc, sparse, func(r []byte) []byte { return r[:4] })
		add("empty", enc, sparse, func([]byte) []byte { return []byte{} })
		add("extra bytes", enc, sparse, grow)
	}
	for _, enc := range []format.Encoding{format.SparseNM, format.SparseNM16} {
		add("M = 1", enc, nm, set(1, 1))
		add("M = 65", enc, nm, set(1, 65))
		add("N > M", enc, nm, set(0, 5))
		add("N changed", enc, nm, set(0, 1))
		add("offsets out of order", enc, nm, func(r []byte) []byte { return with(r, 2, 0x01) }) // 1 then 0
		add("truncated", enc, nm, cut(1))
		add("header only", enc, nm, func(r []byte) []byte { return r[:2] })
	}
	return cases
}

func TestSparseCorrupt(t *testing.T) {
	for _, c := range sparseCorruptCases(t) {
		f, err := format.Decode(c.b)
		require.ErrorIs(t, err, c.want, c.name)
		require.Nil(t, f, c.name)
	}
}

func FuzzDecodeSparse(f *testing.F) {
	for _, enc := range sparseEncodings {
		f.Add(encodeWith(f, sparseModel(f, 0.7), enc, false))
		f.Add(encodeWith(f, sparseModel(f, 0.95), enc, true))
	}
	for _, c := range sparseCorruptCases(f) {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzDecode(t, b)
	})
}
