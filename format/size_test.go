package format_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// TestLenet300Size measures an initialised lenet300 file with and without
// zstd, in float32 and float16.
func TestLenet300Size(t *testing.T) {
	specs, err := nn.ParseArch("lenet300", nn.Shape{28, 28, 1}, 10)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape{28, 28, 1}, specs)
	require.NoError(t, err)
	m.Init(1)
	size := func(compress bool, enc format.Encoding) int {
		f := format.New(m, format.Provenance{Command: "train", Tool: "test"})
		f.Compress = compress
		f.Encodings = map[string]format.Encoding{}
		for _, ti := range f.Tensors() {
			f.Encodings[ti.Name] = enc
		}
		var buf bytes.Buffer
		require.NoError(t, format.Encode(&buf, f))
		return buf.Len()
	}
	raw, z := size(false, format.Float32), size(true, format.Float32)
	raw16, z16 := size(false, format.Float16), size(true, format.Float16)
	t.Logf("lenet300 (266,610 params): float32 %d bytes raw, %d with zstd; float16 %d raw, %d with zstd", raw, z, raw16, z16)
	require.LessOrEqual(t, z, raw)
	require.Greater(t, raw, 4*266610)
	require.Less(t, raw16, raw/2+4096)
}

func BenchmarkDecodeLenet300(b *testing.B) {
	specs, err := nn.ParseArch("lenet300", nn.Shape{28, 28, 1}, 10)
	require.NoError(b, err)
	m, err := nn.Build(nn.Shape{28, 28, 1}, specs)
	require.NoError(b, err)
	m.Init(1)
	var buf bytes.Buffer
	require.NoError(b, format.Encode(&buf, format.New(m, format.Provenance{})))
	b.SetBytes(int64(buf.Len()))
	for b.Loop() {
		if _, err := format.Decode(buf.Bytes()); err != nil {
			b.Fatal(err)
		}
	}
}
