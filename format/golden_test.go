package format_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/format")

const (
	goldenModel  = "../testdata/format/mlp-v1.shrink"
	goldenLogits = "../testdata/format/mlp-v1.logits.json"
	// oldModel is the golden file as written before fse, codebook8 and
	// compressed metadata (plain JSON, zstd tensors), kept to prove that
	// such files still read. It is never regenerated.
	oldModel = "../testdata/format/mlp-v1-pre-fse.shrink"
)

// goldenFile is the model behind testdata/format/mlp-v1.shrink: a tiny MLP
// with batch norm, one float16 tensor, and zstd on.
func goldenFile(t testing.TB) *format.File {
	m := buildModel(t, "dense:6,relu,bn,dense:10", nn.Shape{8}, 3)
	w := m.Layers[0].Params()[0].W
	for i := range w {
		if i%4 != 0 {
			w[i] = 0 // pruned, so that zstd has something to do
		}
	}
	f := format.New(m, provenance())
	f.Encodings = map[string]format.Encoding{"fc1.weight": format.Float16}
	return f
}

type goldenOutput struct {
	Inputs []float32 `json:"inputs"`
	Logits []float32 `json:"logits"`
}

func TestGolden(t *testing.T) {
	if *update {
		f := goldenFile(t)
		require.NoError(t, format.Write(goldenModel, f))
		g, err := format.Read(goldenModel)
		require.NoError(t, err)
		x := randomInputs(g.Model, 5, 11)
		out, err := json.MarshalIndent(goldenOutput{Inputs: x, Logits: logits(t, g.Model, x)}, "", "  ")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(goldenLogits, append(out, '\n'), 0o644))
	}
	f, err := format.Read(goldenModel)
	require.NoError(t, err, "run go test ./format -run TestGolden -update to regenerate")
	b, err := os.ReadFile(goldenLogits)
	require.NoError(t, err)
	var want goldenOutput
	require.NoError(t, json.Unmarshal(b, &want))
	require.Equal(t, want.Logits, logits(t, f.Model, want.Inputs))
	require.Equal(t, provenance(), f.Provenance)
	require.Equal(t, format.Float16, f.Encodings["fc1.weight"])
	require.Equal(t, format.Float32, f.Encodings["fc2.weight"])
	require.True(t, f.Compress)
	raw, err := os.ReadFile(goldenModel)
	require.NoError(t, err)
	require.EqualValues(t, 1, binary.LittleEndian.Uint16(raw[10:]), "zstd metadata")
	_, comp, _ := storedAs(t, raw, 0)
	require.Equal(t, "fse", comp, "fc1.weight")

	// The file still matches what the writer makes of the same model
	// (weights, architecture, encodings).
	g := goldenFile(t)
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, g))
	h, err := format.Decode(buf.Bytes())
	require.NoError(t, err)
	require.Equal(t, h.Model.Spec(), f.Model.Spec())
	require.Equal(t, h.Model.Params(), f.Model.Params())
	var names []string
	for _, ti := range f.Tensors() {
		names = append(names, ti.Name)
	}
	require.Equal(t, []string{"fc1.weight", "fc1.bias", "bn1.gamma", "bn1.beta", "bn1.running_mean", "bn1.running_var", "fc2.weight", "fc2.bias"}, names)
}

// TestReadPreFSE reads a file written before fse, codebook8 and
// compressed metadata: it decodes to the golden model.
func TestReadPreFSE(t *testing.T) {
	b, err := os.ReadFile(oldModel)
	require.NoError(t, err)
	require.EqualValues(t, 0, binary.LittleEndian.Uint16(b[10:]), "no flags: plain JSON metadata")
	old, err := format.Decode(b)
	require.NoError(t, err)
	g, err := format.Read(goldenModel)
	require.NoError(t, err)
	requireSameModel(t, g, old)
	require.Equal(t, g.Provenance, old.Provenance)
	require.Equal(t, g.Encodings, old.Encodings)
	require.True(t, old.Compress)
	b, err = os.ReadFile(goldenLogits)
	require.NoError(t, err)
	var want goldenOutput
	require.NoError(t, json.Unmarshal(b, &want))
	require.Equal(t, want.Logits, logits(t, old.Model, want.Inputs))
	// The current writer makes a smaller file of it.
	var buf bytes.Buffer
	require.NoError(t, format.Encode(&buf, old))
	require.Less(t, buf.Len(), len(b))
}

func FuzzDecode(f *testing.F) {
	seeds, _ := filepath.Glob("../testdata/format/*.shrink")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add(smallFile(f, false))
	f.Add(smallFile(f, true))
	// fse, codebook8 (and codebook) tensors, compressed metadata.
	f.Add(entropyFile(f, format.Codebook8, true))
	f.Add(entropyFile(f, format.Codebook8, false))
	f.Add(entropyFile(f, format.Codebook, true))
	// ctx (a codebook8 tensor with column structure).
	f.Add(ctxFile(f, true))
	f.Add(ctxFile(f, false))
	var int8z bytes.Buffer
	g := format.New(sparseInt8Model(f), format.Provenance{Tool: "test"})
	g.Encodings = map[string]format.Encoding{"fc1.weight": format.Int8}
	require.NoError(f, format.Encode(&int8z, g))
	f.Add(int8z.Bytes())
	for _, c := range corruptCases(f) {
		f.Add(c.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzDecode(t, b)
		// Mutations almost never keep the checksum right: try again with
		// it fixed, so that the checks behind it are fuzzed too.
		if len(b) >= 20 {
			c := append([]byte(nil), b[:len(b)-4]...)
			fuzzDecode(t, binary.LittleEndian.AppendUint32(c, crc32.Checksum(c, crc32.MakeTable(crc32.Castagnoli))))
		}
	})
}

func fuzzDecode(t *testing.T, b []byte) {
	{
		g, err := format.Decode(b)
		if err != nil {
			require.Nil(t, g)
			if !errorsIsAny(err, format.ErrCorrupt, format.ErrVersion) {
				t.Fatalf("error wraps neither ErrCorrupt nor ErrVersion: %v", err)
			}
			return
		}
		var buf bytes.Buffer
		if err := format.Encode(&buf, g); err != nil {
			// Re-marshalled metadata can outgrow the cap (escaping).
			require.Contains(t, err.Error(), "metadata is")
			return
		}
		h, err := format.Decode(buf.Bytes())
		require.NoError(t, err)
		requireSameModel(t, g, h)
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errorsIs(err, t) {
			return true
		}
	}
	return false
}

// requireSameModel checks architecture, encodings and weights (bit for
// bit, NaNs included).
func requireSameModel(t *testing.T, g, h *format.File) {
	t.Helper()
	require.Equal(t, g.Model.Input, h.Model.Input)
	require.Equal(t, g.Model.Spec(), h.Model.Spec())
	gt, ht := g.Tensors(), h.Tensors()
	require.Len(t, ht, len(gt))
	for i := range gt {
		require.Equal(t, gt[i].Name, ht[i].Name)
		require.Equal(t, gt[i].Shape, ht[i].Shape)
		require.Equal(t, gt[i].Encoding, ht[i].Encoding)
	}
	gp, hp := g.Model.Params(), h.Model.Params()
	require.Len(t, hp, len(gp))
	for i := range gp {
		require.Len(t, hp[i].W, len(gp[i].W))
		for j := range gp[i].W {
			if float32bits(gp[i].W[j]) != float32bits(hp[i].W[j]) {
				t.Fatalf("tensor %d value %d: %v != %v", i, j, gp[i].W[j], hp[i].W[j])
			}
		}
	}
}

func float32bits(f float32) uint32 { return math.Float32bits(f) }

func errorsIs(err, target error) bool { return errors.Is(err, target) }
