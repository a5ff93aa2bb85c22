package safetensors_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format/safetensors"
	"github.com/shrink-ml/shrink/nn"
)

func build(t testing.TB, arch string) *nn.Model {
	t.Helper()
	specs, err := nn.ParseArch(arch, nn.Shape{28, 28, 1}, 10)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape{28, 28, 1}, specs)
	require.NoError(t, err)
	return m
}

func TestPyTorchFixture(t *testing.T) {
	var ref struct {
		Arch   string      `json:"arch"`
		N      int         `json:"n"`
		Logits [][]float64 `json:"logits"`
	}
	b, err := os.ReadFile("../../testdata/safetensors/seqcnn.json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &ref))
	f, err := safetensors.Read("../../testdata/safetensors/seqcnn.safetensors")
	require.NoError(t, err)
	require.Equal(t, "pt", f.Metadata["format"])
	m := build(t, ref.Arch)
	require.NoError(t, safetensors.Bind(m, f)) // positional names "0.weight", "1.running_mean", …
	d, err := data.Load("mnist-mini", data.Options{})
	require.NoError(t, err)
	z, err := nn.Logits(m, d.Test.X[:ref.N*d.Test.Dim()])
	require.NoError(t, err)
	worst := 0.0
	for i, row := range ref.Logits {
		best := 0
		for j, v := range row {
			worst = math.Max(worst, math.Abs(float64(z[i*10+j])-v))
			if v > row[best] {
				best = j
			}
		}
		require.Equal(t, best, nn.Argmax(z[i*10:(i+1)*10]))
	}
	require.LessOrEqual(t, worst, 1e-4)

	// Write with shrink's names and read back: identical weights.
	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, safetensors.WriteFile(path, m, map[string]string{"tool": "shrink"}, false))
	g, err := safetensors.Read(path)
	require.NoError(t, err)
	m2 := build(t, ref.Arch)
	require.NoError(t, safetensors.Bind(m2, g))
	for i, p := range m.Params() {
		require.Equal(t, p.W, m2.Params()[i].W)
	}
	// The same weights as PyTorch wrote them (same layouts).
	require.Equal(t, f.Tensors["0.weight"].Data, g.Tensors["conv1.weight"].Data)
	require.Equal(t, f.Tensors["5.weight"].Data, g.Tensors["fc1.weight"].Data)
}

func TestF16(t *testing.T) {
	m := build(t, "mlp:8")
	m.Init(3)
	b, err := safetensors.Encode(safetensors.Tensors(m), nil, true)
	require.NoError(t, err)
	f, err := safetensors.Decode(b)
	require.NoError(t, err)
	m2 := build(t, "mlp:8")
	require.NoError(t, safetensors.Bind(m2, f))
	for i, p := range m.Params() {
		for k, v := range p.W {
			require.InDelta(t, v, m2.Params()[i].W[k], 1e-3)
		}
	}
}

// file assembles a safetensors file from a raw header and data.
func file(header string, data []byte) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestCorrupt(t *testing.T) {
	four := make([]byte, 4)
	cases := map[string][]byte{
		"empty":          {},
		"short":          {1, 2, 3},
		"huge header":    binary.LittleEndian.AppendUint64(nil, 1<<40),
		"header > file":  binary.LittleEndian.AppendUint64(nil, 100),
		"not json":       file("nope", nil),
		"array":          file("[]", nil),
		"bad dtype":      file(`{"a":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}}`, four),
		"wrong size":     file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, four),
		"hole":           file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"overlap":        file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four),
		"trailing data":  file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 8)),
		"out of range":   file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,400]}}`, four),
		"negative":       file(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four),
		"huge shape":     file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}`, four),
		"duplicate key":  file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, four),
		"unknown field":  file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, four),
		"wrong type":     file(`{"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}`, four),
		"bad metadata":   file(`{"__metadata__":{"a":1}}`, nil),
		"offsets length": file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}}`, four),
		"trailing json":  file(`{}{}`, nil),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := safetensors.Decode(b)
			require.ErrorIs(t, err, safetensors.ErrCorrupt)
		})
	}
}

func TestBindErrors(t *testing.T) {
	m := build(t, "mlp:8")
	ts := safetensors.Tensors(m)
	b, err := safetensors.Encode(ts[:3], nil, false)
	require.NoError(t, err)
	f, err := safetensors.Decode(b)
	require.NoError(t, err)
	require.Error(t, safetensors.Bind(build(t, "mlp:8"), f), "missing tensor")
	require.Error(t, safetensors.Bind(build(t, "mlp:9"), mustDecode(t, ts)), "wrong shapes")
	extra := append(append([]safetensors.Named{}, ts...), safetensors.Named{Name: "zz.weight", Shape: []int{1}, Data: []float32{1}})
	require.Error(t, safetensors.Bind(build(t, "mlp:8"), mustDecode(t, extra)), "unused tensor")
}

func mustDecode(t *testing.T, ts []safetensors.Named) *safetensors.File {
	b, err := safetensors.Encode(ts, nil, false)
	require.NoError(t, err)
	f, err := safetensors.Decode(b)
	require.NoError(t, err)
	return f
}

func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile("../../testdata/safetensors/seqcnn.safetensors"); err == nil {
		f.Add(b)
	}
	f.Add(file(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"__metadata__":{"k":"v"}}`, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := safetensors.Decode(b)
		if err != nil {
			require.ErrorIs(t, err, safetensors.ErrCorrupt)
			return
		}
		var ts []safetensors.Named
		for _, n := range g.Names {
			if tt := g.Tensors[n]; tt.DType == "F32" {
				ts = append(ts, safetensors.Named{Name: n, Shape: tt.Shape, Data: tt.Data})
			}
		}
		out, err := safetensors.Encode(ts, g.Metadata, false)
		require.NoError(t, err)
		h, err := safetensors.Decode(out)
		require.NoError(t, err)
		for _, n := range ts {
			for k, v := range n.Data {
				require.Equal(t, math.Float32bits(v), math.Float32bits(h.Tensors[n.Name].Data[k]))
			}
		}
	})
}
