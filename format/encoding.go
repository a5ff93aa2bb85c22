package format

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/shrink-ml/shrink/format/internal/ctx"
	"github.com/shrink-ml/shrink/format/internal/entropy"
	"github.com/shrink-ml/shrink/nn"
)

// maxTensorBytes caps the raw bytes of one tensor (MaxElements float32s).
const maxTensorBytes = 4 * MaxElements

// The byte coders take exactly the tensors the format allows (a constant
// uint conversion of a negative difference does not compile).
const _ = uint(maxTensorBytes-ctx.MaxLen) + uint(ctx.MaxLen-maxTensorBytes) +
	uint(maxTensorBytes-entropy.MaxLen) + uint(entropy.MaxLen-maxTensorBytes)

// maxRatio bounds how many raw bytes one stored byte can decode to, for
// every compression. zstd: a 128 KiB RLE block costs 4 bytes, so real
// frames never exceed it. fse: the writer's tables have at most 2^12
// states, so even a symbol of normalized probability 4095/4096 costs
// −log₂(4095/4096) ≈ 1/2839 bit, under 2^15 values per byte, and a tensor
// of one repeated byte is never fse (fse.ErrUseRLE; zstd takes it). A
// hostile fse stream can decode to more (zero-bit state cycles): the
// decoder's DecompressLimit stops it at raw_length. ctx: its
// probabilities are at most 4095/4096 too, so a byte costs at least 1/2839
// bit; the writer checks the ratio before it picks ctx, and the decoder
// writes exactly raw_length bytes.
const maxRatio = 1 << 15

// codec is one tensor encoding's byte layout. Encodings register their
// codec in the codecs table (one file per family: float, quantized, sparse).
type codec struct {
	name string
	// rawBounds gives the smallest and largest raw byte length a tensor of
	// n values can have in this encoding; the reader checks raw_length
	// against it before decompressing or allocating. Fixed-size encodings
	// return the same number twice.
	rawBounds func(n int64) (lo, hi int64)
	// encode returns the raw bytes of p (its W, and p.Quant where the
	// encoding stores codes).
	encode func(p *nn.Param) ([]byte, error)
	// decode fills p.W (and p.Quant) from raw bytes whose length is within
	// rawBounds. It treats every byte as hostile and wraps ErrCorrupt.
	decode func(p *nn.Param, raw []byte) error
	// tables, if set, gives the length of the leading part of raw bytes
	// that encode produced for p that holds scales or centroids rather
	// than per-value codes; fse stores that part verbatim, so that float
	// bytes do not spoil the codes' symbol statistics.
	tables func(p *nn.Param, raw []byte) int
}

// codecs is the table of known encodings, by stable tag.
var codecs = map[Encoding]*codec{
	Float32: {
		name:      "float32",
		rawBounds: func(n int64) (int64, int64) { return 4 * n, 4 * n },
		encode: func(p *nn.Param) ([]byte, error) {
			b := make([]byte, 4*len(p.W))
			for i, v := range p.W {
				binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
			}
			return b, nil
		},
		decode: func(p *nn.Param, b []byte) error {
			if len(b) != 4*len(p.W) {
				return fmt.Errorf("%d raw bytes for %d float32 values: %w", len(b), len(p.W), ErrCorrupt)
			}
			for i := range p.W {
				p.W[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
			return nil
		},
	},
	Float16: {
		name:      "float16",
		rawBounds: func(n int64) (int64, int64) { return 2 * n, 2 * n },
		encode: func(p *nn.Param) ([]byte, error) {
			b := make([]byte, 2*len(p.W))
			for i, v := range p.W {
				binary.LittleEndian.PutUint16(b[2*i:], Float16Bits(v))
			}
			return b, nil
		},
		decode: func(p *nn.Param, b []byte) error {
			if len(b) != 2*len(p.W) {
				return fmt.Errorf("%d raw bytes for %d float16 values: %w", len(b), len(p.W), ErrCorrupt)
			}
			for i := range p.W {
				p.W[i] = Float16From(binary.LittleEndian.Uint16(b[2*i:]))
			}
			return nil
		},
	},
}

// encodeTensor returns the raw bytes of p in encoding e.
func encodeTensor(p *nn.Param, e Encoding) ([]byte, error) {
	c := codecs[e]
	if c == nil {
		return nil, fmt.Errorf("format: unknown encoding %d", uint8(e))
	}
	return c.encode(p)
}

// decodeTensor fills p from raw bytes in encoding e.
func decodeTensor(p *nn.Param, b []byte, e Encoding) error {
	c := codecs[e]
	if c == nil {
		return fmt.Errorf("unknown encoding %d: %w", uint8(e), ErrCorrupt)
	}
	return c.decode(p, b)
}

const (
	compressionNone = "none"
	compressionZstd = "zstd"
	compressionFSE  = "fse"
	compressionCtx  = "ctx"
)

// maybeCompress returns the stored bytes and compression name: when asked
// for, the smallest of zstd, fse and ctx (both with the first tables bytes
// verbatim, ctx with the rest in rows of cols bytes) and the raw bytes
// (the earlier on ties). ctx is tried only when cols > 0 (see ctxRowLen)
// and at least 3/4 of the coded bytes are one value, as in a pruned
// tensor: it is some ten times slower than fse, and gains little
// elsewhere.
func maybeCompress(raw []byte, tables, cols int, compress bool) ([]byte, string) {
	if !compress || len(raw) == 0 {
		return raw, compressionNone
	}
	best, name := raw, compressionNone
	if z := entropy.CompressZstd(raw); len(z) < len(best) {
		best, name = z, compressionZstd
	}
	if f := entropy.CompressFSE(raw, tables); f != nil && len(f) < len(best) {
		best, name = f, compressionFSE
	}
	if cols > 0 && tables >= 0 && tables < len(raw) && mostlyOneByte(raw[tables:]) {
		if c := ctx.Compress(raw, tables, cols); c != nil && len(c) < len(best) && len(raw) <= maxRatio*len(c) {
			best, name = c, compressionCtx
		}
	}
	return best, name
}

// mostlyOneByte reports whether one byte value makes up at least 3/4 of b.
func mostlyOneByte(b []byte) bool {
	var h [256]int
	for _, v := range b {
		h[v]++
	}
	return 4*slices.Max(h[:]) >= 3*len(b)
}

// ctxRowLen is the row length the writer gives ctx for p's raw bytes in
// enc, the first tables of them verbatim: the tensor's row length (its
// values over shape[0]) for an encoding of one-byte codes after its tables
// (Int8, Codebook8), and 0, no ctx, for the others. Float and sparse
// encodings are left to zstd and fse: their bytes are not codes, and
// which of them is smallest picks the layer's inference path.
func ctxRowLen(p *nn.Param, enc Encoding, raw []byte, tables int) int {
	if c := codecs[enc]; c == nil || c.tables == nil || len(raw)-tables != len(p.W) {
		return 0
	}
	_, cols := rowsCols(p)
	return cols
}

// decompress returns the raw bytes of a stored tensor whose raw length has
// been checked against the architecture.
func decompress(stored []byte, compression string, rawLen int) ([]byte, error) {
	switch compression {
	case compressionNone:
		if len(stored) != rawLen {
			return nil, fmt.Errorf("%d stored bytes, raw_length %d: %w", len(stored), rawLen, ErrCorrupt)
		}
		return stored, nil
	case compressionZstd:
		return corruptIf(entropy.DecompressZstd(stored, rawLen))
	case compressionFSE:
		return corruptIf(entropy.DecompressFSE(stored, rawLen))
	case compressionCtx:
		return corruptIf(ctx.Decompress(stored, rawLen))
	}
	return nil, fmt.Errorf("unknown compression %q: %w", compression, ErrCorrupt)
}

// corruptIf wraps ErrCorrupt around a byte coder's error (each means the
// stored bytes are corrupt).
func corruptIf(b []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrCorrupt)
	}
	return b, nil
}
