package format

import (
	"testing"

	"github.com/shrink-ml/shrink/format/internal/ctx"
	"github.com/shrink-ml/shrink/format/internal/entropy"
)

// CompressCtxForTest is ctx.Compress, for the format_test package.
var CompressCtxForTest = ctx.Compress

// BenchmarkCtxDecodeLenet300 decodes fc1.weight of the lenet300 recipe
// file that bench/compress.sh writes (skipped when it is not there).
func BenchmarkCtxDecodeLenet300(b *testing.B) {
	f, err := Read("../bench/out/compress/lenet300-recipe.shrink")
	if err != nil {
		b.Skip(err)
	}
	var raw []byte
	var tables int
	for _, t := range f.Model.NamedParams() {
		if t.Name == "fc1.weight" {
			if raw, err = encodeTensor(t.Param, Codebook8); err != nil {
				b.Skip(err)
			}
			tables = tablesLen(t.Param, Codebook8, raw)
		}
	}
	if raw == nil {
		b.Skip("no fc1.weight")
	}
	z := ctx.Compress(raw, tables, 784)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ctx.Decompress(z, len(raw)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(z)), "ctx_bytes")
	b.ReportMetric(float64(len(entropy.CompressFSE(raw, tables))), "fse_bytes")
}

// BenchmarkFSEDecodeLenet300 is BenchmarkCtxDecodeLenet300 with fse, for
// comparison.
func BenchmarkFSEDecodeLenet300(b *testing.B) {
	f, err := Read("../bench/out/compress/lenet300-recipe.shrink")
	if err != nil {
		b.Skip(err)
	}
	for _, t := range f.Model.NamedParams() {
		if t.Name != "fc1.weight" {
			continue
		}
		raw, err := encodeTensor(t.Param, Codebook8)
		if err != nil {
			b.Skip(err)
		}
		z := entropy.CompressFSE(raw, tablesLen(t.Param, Codebook8, raw))
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			if _, err := entropy.DecompressFSE(z, len(raw)); err != nil {
				b.Fatal(err)
			}
		}
		return
	}
	b.Skip("no fc1.weight")
}
