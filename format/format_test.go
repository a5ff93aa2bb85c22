package format_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// buildModel makes a model from an ARCH string for 28×28×1 inputs and 10
// classes, initialised from seed, with non-trivial batch-norm statistics.
func buildModel(t testing.TB, arch string, input nn.Shape, seed uint64) *nn.Model {
	t.Helper()
	specs, err := nn.ParseArch(arch, input, 10)
	require.NoError(t, err)
	m, err := nn.Build(input, specs)
	require.NoError(t, err)
	m.Init(seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, p := range m.Params() {
		if !p.Trainable || p.Name == "bias" || p.Name == "gamma" || p.Name == "beta" {
			for i := range p.W {
				p.W[i] += float32(rng.Float64()*0.5 + 0.01)
			}
		}
	}
	return m
}

func mlp(t testing.TB) *nn.Model { return buildModel(t, "mlp:16,8", nn.Shape{28, 28, 1}, 1) }

func cnn(t testing.TB) *nn.Model {
	return buildModel(t, "conv:4:3:1:1,bn,relu,maxpool:2,conv:6:3,relu,maxpool:2,dense:12,bn,relu,dense:10", nn.Shape{12, 12, 1}, 2)
}

func provenance() format.Provenance {
	return format.Provenance{
		Command: "train", Options: map[string]string{"arch": "mlp:16,8", "epochs": "3"}, Seed: 42,
		Data: "mnist-mini", DataInfo: json.RawMessage(`{"train":3000,"test":1000}`), Accuracy: 0.9375,
		Passes:  []format.Pass{{Name: "prune", Options: map[string]string{"sparsity": "0.5"}, Seed: 3, Accuracy: 0.93}},
		Created: "2025-01-02T03:04:05Z", Tool: "shrink test",
	}
}

func randomInputs(m *nn.Model, n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x := make([]float32, n*m.Input.Size())
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

func logits(t testing.TB, m *nn.Model, x []float32) []float32 {
	t.Helper()
	z, err := nn.Logits(m, x)
	require.NoError(t, err)
	return z
}

func TestRoundTrip(t *testing.T) {
	for name, mk := range map[string]func(testing.TB) *nn.Model{"mlp": mlp, "cnn": cnn} {
		for _, compress := range []bool{true, false} {
			t.Run(name+map[bool]string{true: "/zstd", false: "/raw"}[compress], func(t *testing.T) {
				m := mk(t)
				f := format.New(m, provenance())
				f.Compress = compress
				path := filepath.Join(t.TempDir(), "m.shrink")
				require.NoError(t, format.Write(path, f))
				g, err := format.Read(path)
				require.NoError(t, err)
				require.Equal(t, m.Spec(), g.Model.Spec())
				require.Equal(t, m.Input, g.Model.Input)
				want, got := m.Params(), g.Model.Params()
				require.Len(t, got, len(want))
				for i := range want {
					require.Equal(t, want[i].Shape, got[i].Shape)
					require.Equal(t, want[i].W, got[i].W, want[i].Name)
				}
				require.Equal(t, f.Provenance, g.Provenance)
				x := randomInputs(m, 17, 5)
				require.Equal(t, logits(t, m, x), logits(t, g.Model, x))
				if !compress {
					require.False(t, g.Compress)
				}
				for _, ti := range g.Tensors() {
					require.Equal(t, format.Float32, ti.Encoding)
					require.Equal(t, format.Float32, g.Encodings[ti.Name])
					if !compress {
						require.InDelta(t, 32, ti.BitsPerWeight, 1e-9)
					}
				}
				// Encoding the file read gives the same bytes.
				b1, err := os.ReadFile(path)
				require.NoError(t, err)
				var buf bytes.Buffer
				require.NoError(t, format.Encode(&buf, g))
				require.Equal(t, b1, buf.Bytes())
			})
		}
	}
}

func TestFloat16RoundTrip(t *testing.T) {
	m := cnn(t)
	f := format.New(m, provenance())
	f.Encodings = map[string]format.Encoding{}
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			f.Encodings[l.Name()+"."+p.Name] = format.Float16
		}
	}
	f.Encodings["conv1.bias"] = format.Float32
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, f))
	g, err := format.Decode(buf.Bytes())
	require.NoError(t, err)
	want, got := m.Params(), g.Model.Params()
	for i := range want {
		for j, v := range want[i].W {
			require.InEpsilon(t, v, got[i].W[j], 1.0/2048+1e-7, "%s[%d]", want[i].Name, j)
		}
	}
	infos := map[string]format.TensorInfo{}
	for _, ti := range g.Tensors() {
		infos[ti.Name] = ti
	}
	require.Equal(t, format.Float32, infos["conv1.bias"].Encoding)
	require.Equal(t, format.Float16, infos["conv1.weight"].Encoding)
	require.Equal(t, format.Float16, g.Encodings["fc1.weight"])
	require.LessOrEqual(t, infos["fc1.weight"].BitsPerWeight, 16.0)
	// Tensors of an in-memory file predict the stored sizes.
	require.Equal(t, f.Tensors(), g.Tensors())
	// Half precision is stable: a second round trip changes nothing.
	var buf2 bytes.Buffer
	require.NoError(t, format.Encode(&buf2, g))
	require.Equal(t, buf.Bytes(), buf2.Bytes())
}

func TestFloat16Conversion(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	cases := []struct {
		f    float32
		bits uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{65504, 0x7bff},               // largest finite half
		{65519.99, 0x7bff},            // below the rounding midpoint to 65536
		{65520, 0x7c00},               // midpoint rounds to even: Inf
		{1e6, 0x7c00},                 // overflow
		{-1e6, 0xfc00},                // negative overflow
		{inf, 0x7c00},                 // Inf
		{-inf, 0xfc00},                // -Inf
		{6.103515625e-05, 0x0400},     // smallest normal 2^-14
		{5.9604645e-08, 0x0001},       // smallest subnormal 2^-24
		{2.9802322e-08, 0x0000},       // 2^-25: tie between 0 and 2^-24, to even (0)
		{2.9802326e-08, 0x0001},       // just above 2^-25 rounds up
		{8.940697e-08, 0x0002},        // 1.5 × 2^-24: tie, to even (2)
		{6.097555e-05, 0x03ff},        // largest subnormal
		{1e-10, 0x0000},               // underflow
		{math.Float32frombits(1), 0},  // float32 subnormal
		{1 + 1.0/2048, 0x3c00},        // tie between 1 and 1+2^-10: to even (1)
		{1 + 3.0/2048, 0x3c02},        // tie: to even (1+2^-9)
		{1 + 1.0/2048 + 1e-7, 0x3c01}, // above the tie: up
		{0.1, 0x2e66},
		{-65504, 0xfbff},
	}
	for _, c := range cases {
		require.Equal(t, c.bits, format.Float16Bits(c.f), "%g", c.f)
	}
	require.Equal(t, uint16(0x7e00), format.Float16Bits(nan)&0x7e00)
	require.True(t, math.IsNaN(float64(format.Float16From(format.Float16Bits(nan)))))
	require.True(t, math.IsNaN(float64(format.Float16From(format.Float16Bits(math.Float32frombits(0x7f800001))))))
	// Every half value converts to float32 and back exactly.
	for h := range 1 << 16 {
		f := format.Float16From(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		require.Equal(t, uint16(h), format.Float16Bits(f), "%#04x", h)
	}
	require.Equal(t, float32(5.9604645e-08), format.Float16From(1))
	require.Equal(t, float32(65504), format.Float16From(0x7bff))
	// Random values: the error is within half an ulp of half precision.
	rng := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		f := float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(30)-15)))
		g := format.Float16From(format.Float16Bits(f))
		a := math.Abs(float64(f))
		if a < 6.103515625e-05 {
			require.LessOrEqual(t, math.Abs(float64(f-g)), math.Pow(2, -25)*1.0000001)
		} else if a < 65504 {
			require.LessOrEqual(t, math.Abs(float64(f-g)), a*math.Pow(2, -11)*1.0000001)
		}
	}
}

func TestCompressionSmaller(t *testing.T) {
	m := mlp(t)
	// Pruned (mostly zero) weights compress well.
	w := m.Layers[1].Params()[0].W
	for i := range w {
		if i%10 != 0 {
			w[i] = 0
		}
	}
	var raw, z bytes.Buffer
	f := format.New(m, format.Provenance{Tool: "test"})
	f.Compress = false
	require.NoError(t, format.Encode(&raw, f))
	f.Compress = true
	require.NoError(t, format.Encode(&z, f))
	require.Less(t, z.Len(), raw.Len()/2)
	g, err := format.Decode(z.Bytes())
	require.NoError(t, err)
	require.Equal(t, w, g.Model.Layers[1].Params()[0].W)
}

func TestWriteMissingFolder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "missing", "m.shrink")
	err := format.Write(path, format.New(mlp(t), provenance()))
	require.Error(t, err)
	require.NoFileExists(t, path)
	require.NoDirExists(t, filepath.Join(dir, "missing"))
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	// Renaming over a non-empty folder fails after the temporary file exists.
	target := filepath.Join(dir, "m.shrink")
	require.NoError(t, os.MkdirAll(filepath.Join(target, "x"), 0o755))
	require.Error(t, format.Write(target, format.New(mlp(t), provenance())))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only the folder in the way remains")

	// An invalid file fails before anything is written.
	bad := format.New(mlp(t), format.Provenance{Accuracy: math.NaN()})
	p2 := filepath.Join(dir, "bad.shrink")
	require.Error(t, format.Write(p2, bad))
	require.NoFileExists(t, p2)
	bad = format.New(mlp(t), provenance())
	bad.Encodings = map[string]format.Encoding{"nope.weight": format.Float16}
	require.Error(t, format.Write(p2, bad))
	bad.Encodings = map[string]format.Encoding{"fc1.weight": 7}
	require.Error(t, format.Write(p2, bad))
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)

	// A good write replaces an existing file and leaves nothing else.
	good := filepath.Join(dir, "good.shrink")
	require.NoError(t, os.WriteFile(good, []byte("old"), 0o644))
	require.NoError(t, format.Write(good, format.New(mlp(t), provenance())))
	entries, err = os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2)
	_, err = format.Read(good)
	require.NoError(t, err)
}

func TestReadErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "junk.shrink")
	require.NoError(t, os.WriteFile(p, []byte("not a model"), 0o644))
	_, err := format.Read(p)
	require.ErrorIs(t, err, format.ErrCorrupt)
	require.Contains(t, err.Error(), p)
	_, err = format.Read(filepath.Join(dir, "absent.shrink"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "absent.shrink")
	_, err = format.Read(dir)
	require.Error(t, err)
}

func TestEncodeRejectsUnnamedLayers(t *testing.T) {
	m := mlp(t)
	m.Layers[0].SetName("")
	require.Error(t, format.Encode(&bytes.Buffer{}, format.New(m, provenance())))
	require.Error(t, format.Encode(&bytes.Buffer{}, &format.File{}))
}

func TestEncodingNames(t *testing.T) {
	for _, e := range []format.Encoding{format.Float32, format.Float16} {
		g, err := format.ParseEncoding(e.String())
		require.NoError(t, err)
		require.Equal(t, e, g)
	}
	_, err := format.ParseEncoding("int3")
	require.Error(t, err)
	require.Equal(t, "encoding(7)", format.Encoding(7).String())
}

// TestUnknownTags: tag 7 is unassigned (the package documentation keeps it
// so), and neither it nor 255 names an encoding; every other tag up to the
// largest does, and ParseEncoding gives it back.
func TestUnknownTags(t *testing.T) {
	encs := format.Encodings()
	require.Equal(t, format.Float32, encs[0])
	for _, e := range []format.Encoding{0, 7, 18, 255} {
		require.NotContains(t, encs, e)
		require.Equal(t, fmt.Sprintf("encoding(%d)", uint8(e)), e.String())
		_, err := format.ParseEncoding(e.String())
		require.Error(t, err)
	}
	for _, e := range encs {
		got, err := format.ParseEncoding(e.String())
		require.NoError(t, err)
		require.Equal(t, e, got)
	}
	m := mlp(t)
	f := format.New(m, provenance())
	f.Encodings = map[string]format.Encoding{"fc1.weight": 7}
	var b bytes.Buffer
	require.ErrorContains(t, format.Encode(&b, f), "unsupported encoding encoding(7)")
	require.ErrorContains(t, format.Choose(f, format.ChooseOptions{Candidates: []format.Encoding{7}}), "unknown encoding")
}

// TestReadUnknownTag: a file whose directory names tag 7 or 255 is refused
// for that reason, before anything is decoded.
func TestReadUnknownTag(t *testing.T) {
	for _, tag := range []int{7, 255} {
		b := tamper(t, smallFile(t, false), func(p *parts) { p.tensor(0)["encoding"] = tag })
		_, err := format.Decode(b)
		require.ErrorIs(t, err, format.ErrCorrupt)
		require.ErrorContains(t, err, fmt.Sprintf("unknown encoding %d", tag))
	}
}
