package onnx

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/shrink-ml/shrink/nn"
)

// floatTensor encodes a FLOAT TensorProto with typed float_data (raw
// false) or raw_data.
func floatTensor(name string, dims []int64, v []float32, raw bool) []byte {
	var t []byte
	for _, d := range dims {
		t = appendVarint(t, 1, d)
	}
	t = appendVarint(t, 2, typeFloat)
	t = appendString(t, 8, name)
	if raw {
		b := make([]byte, 4*len(v))
		for k, x := range v {
			binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(x))
		}
		t = appendBytes(t, 9, b)
	} else {
		var p []byte
		for _, x := range v {
			p = binary.LittleEndian.AppendUint32(p, math.Float32bits(x))
		}
		t = appendBytes(t, 4, p)
	}
	return t
}

// modelBytes assembles a model with one float input of the given dims.
func modelBytes(nodes []*node, inits [][]byte, in []int64, out string, opset int64) []byte {
	var g []byte
	for _, n := range nodes {
		g = appendBytes(g, 1, encodeNode(n))
	}
	for _, t := range inits {
		g = appendBytes(g, 5, t)
	}
	g = appendBytes(g, 11, encodeValueInfo("x", in))
	g = appendBytes(g, 12, encodeValueInfo(out, []int64{-1, 1}))
	var b []byte
	b = appendVarint(b, 1, 7)
	b = appendBytes(b, 7, g)
	var op []byte
	op = appendString(op, 1, "")
	op = appendVarint(op, 2, opset)
	return appendBytes(b, 8, op)
}

func nd(op, name string, in []string, out []string, attrs ...*attribute) *node {
	return &node{opType: op, name: name, inputs: in, outputs: out, attrs: attrs}
}

func TestGemmVariants(t *testing.T) {
	// x (N, 3) → Gemm(alpha 2, beta 0.5, transB 0, B (3, 2), C [1, 2]) →
	// MatMul by (2, 2) → Add (2).
	B := []float32{1, 2, 3, 4, 5, 6} // (3, 2)
	C := []float32{10, 20}
	M := []float32{1, -1, 0.5, 2}
	A := []float32{0.25, -0.75}
	b := modelBytes([]*node{
		nd("Gemm", "g", []string{"x", "B", "C"}, []string{"h"}, &attribute{name: "alpha", typ: attrFloat, f: 2}, &attribute{name: "beta", typ: attrFloat, f: 0.5}),
		nd("MatMul", "mm", []string{"h", "M"}, []string{"m"}),
		nd("Add", "add", []string{"A", "m"}, []string{"y"}),
	}, [][]byte{floatTensor("B", []int64{3, 2}, B, false), floatTensor("C", []int64{1, 2}, C, true),
		floatTensor("M", []int64{2, 2}, M, false), floatTensor("A", []int64{2}, A, true)}, []int64{-1, 3}, "y", 13)
	m, _, err := Import(b)
	require.NoError(t, err)
	require.Len(t, m.Layers, 2)
	x := []float32{1, -2, 0.5}
	z, err := nn.Logits(m, x)
	require.NoError(t, err)
	h := make([]float64, 2)
	for j := 0; j < 2; j++ {
		for k := 0; k < 3; k++ {
			h[j] += 2 * float64(x[k]) * float64(B[k*2+j])
		}
		h[j] += 0.5 * float64(C[j])
	}
	for j := 0; j < 2; j++ {
		want := float64(A[j])
		for k := 0; k < 2; k++ {
			want += h[k] * float64(M[k*2+j])
		}
		require.InDelta(t, want, z[j], 1e-4)
	}
}

func TestHostile(t *testing.T) {
	relu := func(in, out string) *node { return nd("Relu", out, []string{in}, []string{out}) }
	w := floatTensor("W", []int64{1, 4}, []float32{1, 2, 3, 4}, true)
	gemm := nd("Gemm", "fc", []string{"r", "W"}, []string{"y"}, intAttr("transB", 1))
	cases := []struct {
		name string
		b    []byte
		err  error
		want string
	}{
		{"empty", nil, ErrCorrupt, "no graph"},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff}, ErrCorrupt, ""},
		{"huge length", append(protowire.AppendTag(nil, 7, protowire.BytesType), protowire.AppendVarint(nil, 1<<40)...), ErrCorrupt, ""},
		{"wrong wire type", appendVarint(nil, 7, 3), ErrCorrupt, "wire type"},
		{"cycle", modelBytes([]*node{relu("b", "a"), relu("a", "b"), relu("x", "r"), gemm}, [][]byte{w}, []int64{-1, 4}, "y", 13), ErrCorrupt, "cycle"},
		{"duplicate output", modelBytes([]*node{relu("x", "r"), relu("x", "r"), gemm}, [][]byte{w}, []int64{-1, 4}, "y", 13), ErrCorrupt, "defined twice"},
		{"duplicate initializer", modelBytes([]*node{relu("x", "r"), gemm}, [][]byte{w, w}, []int64{-1, 4}, "y", 13), ErrCorrupt, "duplicate initializer"},
		{"dangling", modelBytes([]*node{relu("nowhere", "r"), gemm}, [][]byte{w}, []int64{-1, 4}, "y", 13), ErrCorrupt, "not defined"},
		{"huge dims", modelBytes([]*node{relu("x", "r"), gemm}, [][]byte{floatTensor("W", []int64{1 << 40, 1 << 40}, []float32{1}, true)}, []int64{-1, 4}, "y", 13), ErrCorrupt, "elements"},
		{"short raw", modelBytes([]*node{relu("x", "r"), gemm}, [][]byte{floatTensor("W", []int64{1, 4}, []float32{1}, true)}, []int64{-1, 4}, "y", 13), ErrCorrupt, "raw_data"},
		{"short typed", modelBytes([]*node{relu("x", "r"), gemm}, [][]byte{floatTensor("W", []int64{1, 4}, []float32{1}, false)}, []int64{-1, 4}, "y", 13), ErrCorrupt, "needs 4 values"},
		{"unsupported ops", modelBytes([]*node{nd("LSTM", "rnn", []string{"x"}, []string{"l"}), relu("l", "r"), nd("Foo", "", []string{"r"}, []string{"y"})}, nil, []int64{-1, 4}, "y", 13), ErrUnsupported, `LSTM at node 0 "rnn"; Foo at node 2`},
		{"residual", modelBytes([]*node{relu("x", "r0"), nd("Add", "res", []string{"x", "r0"}, []string{"r"}), gemm}, [][]byte{w}, []int64{-1, 4}, "y", 13), ErrUnsupported, "two activations"},
		{"symbolic feature dim", modelBytes([]*node{relu("x", "r"), gemm}, [][]byte{w}, []int64{-1, -1}, "y", 13), ErrUnsupported, "fixed"},
		{"old opset", modelBytes([]*node{relu("x", "r"), gemm}, [][]byte{w}, []int64{-1, 4}, "y", 3), ErrUnsupported, "opset"},
		{"grouped conv", modelBytes([]*node{nd("Conv", "c", []string{"x", "K"}, []string{"y"}, intAttr("group", 2))},
			[][]byte{floatTensor("K", []int64{2, 1, 1, 1}, []float32{1, 1}, true)}, []int64{-1, 2, 4, 4}, "y", 13), ErrUnsupported, "group"},
		{"pool padding", modelBytes([]*node{nd("MaxPool", "p", []string{"x"}, []string{"y"}, ints("kernel_shape", 2, 2), ints("pads", 1, 1, 1, 1))},
			nil, []int64{-1, 1, 4, 4}, "y", 13), ErrUnsupported, "pads"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Import(c.b)
			require.Error(t, err)
			require.ErrorIs(t, err, c.err)
			require.Contains(t, err.Error(), c.want)
		})
	}
}

func TestTruncated(t *testing.T) {
	b, err := os.ReadFile("../../testdata/onnx/gapcnn_op11.onnx")
	require.NoError(t, err)
	for n := 0; n < len(b); n += 1 + n/16 {
		_, _, err := Import(b[:n])
		require.Error(t, err, "truncated at %d", n)
		require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported), "%v", err)
	}
}

func FuzzImport(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/onnx/*.onnx")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil && len(b) < 50000 {
			f.Add(b)
		}
	}
	f.Add(modelBytes([]*node{nd("Relu", "r", []string{"x"}, []string{"r"}), nd("Gemm", "g", []string{"r", "W"}, []string{"y"}, intAttr("transB", 1))},
		[][]byte{floatTensor("W", []int64{2, 4}, []float32{1, 2, 3, 4, 5, 6, 7, 8}, false)}, []int64{-1, 4}, "y", 13))
	f.Add(qdqSeed(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, _, err := Import(b)
		if err != nil {
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported), "%v", err)
			return
		}
		if m.Input.Size() > 1<<16 || m.Stats().MACs > 1<<24 {
			return
		}
		out, err := Export(m, ExportOptions{})
		require.NoError(t, err)
		m2, _, err := Import(out)
		require.NoError(t, err)
		x := make([]float32, m.Input.Size())
		for k := range x {
			x[k] = float32(k%7) / 7
		}
		z1, err := nn.Logits(m, x)
		require.NoError(t, err)
		z2, err := nn.Logits(m2, x)
		require.NoError(t, err)
		for k := range z1 {
			require.Equal(t, math.Float32bits(z1[k]), math.Float32bits(z2[k]))
		}
	})
}
