package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/shrink-ml/shrink/nn"
)

// maxTensorBytes caps the raw bytes of one tensor (MaxElements float32s).
const maxTensorBytes = 4 * MaxElements

// maxZstdRatio bounds how many raw bytes one stored zstd byte can decode
// to: a 128 KiB RLE block costs 4 bytes, so real frames never exceed it.
const maxZstdRatio = 1 << 15

// zstdCodec is the package's one encoder and decoder, made on first use.
var zstdCodec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderCRC(false), // the directory holds a CRC-32C of the raw bytes
		zstd.WithEncoderConcurrency(1),
	)
	if err != nil {
		panic(fmt.Sprintf("format: zstd encoder: %v", err))
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxTensorBytes),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		panic(fmt.Sprintf("format: zstd decoder: %v", err))
	}
	return enc, dec
})

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
)

// maybeCompress returns the stored bytes and compression name: zstd when
// asked for and smaller, else the raw bytes.
func maybeCompress(raw []byte, compress bool) ([]byte, string) {
	if !compress || len(raw) == 0 {
		return raw, compressionNone
	}
	enc, _ := zstdCodec()
	z := enc.EncodeAll(raw, make([]byte, 0, len(raw)/2+64))
	if len(z) < len(raw) {
		return z, compressionZstd
	}
	return raw, compressionNone
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
		var h zstd.Header
		if err := h.Decode(stored); err != nil {
			return nil, fmt.Errorf("zstd header: %v: %w", err, ErrCorrupt)
		}
		if h.Skippable || (h.HasFCS && h.FrameContentSize != uint64(rawLen)) {
			return nil, fmt.Errorf("zstd frame declares %d bytes, want %d: %w", h.FrameContentSize, rawLen, ErrCorrupt)
		}
		_, dec := zstdCodec()
		out, err := dec.DecodeAll(stored, make([]byte, 0, rawLen))
		if err != nil {
			if errors.Is(err, ErrCorrupt) {
				return nil, err
			}
			return nil, fmt.Errorf("zstd: %v: %w", err, ErrCorrupt)
		}
		if len(out) != rawLen {
			return nil, fmt.Errorf("zstd decoded %d bytes, want %d: %w", len(out), rawLen, ErrCorrupt)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown compression %q: %w", compression, ErrCorrupt)
}
