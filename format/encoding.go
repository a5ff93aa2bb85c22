package format

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"
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

// encodeTensor returns the raw bytes of w in encoding e.
func encodeTensor(w []float32, e Encoding) ([]byte, error) {
	switch e {
	case Float32:
		b := make([]byte, 4*len(w))
		for i, v := range w {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b, nil
	case Float16:
		b := make([]byte, 2*len(w))
		for i, v := range w {
			binary.LittleEndian.PutUint16(b[2*i:], Float16Bits(v))
		}
		return b, nil
	}
	return nil, fmt.Errorf("format: unknown encoding %d", uint8(e))
}

// decodeTensor fills w from raw bytes in encoding e; len(b) has been checked.
func decodeTensor(w []float32, b []byte, e Encoding) error {
	if len(b) != len(w)*e.bytesPer() {
		return fmt.Errorf("%d raw bytes for %d values of %v: %w", len(b), len(w), e, ErrCorrupt)
	}
	switch e {
	case Float32:
		for i := range w {
			w[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
	case Float16:
		for i := range w {
			w[i] = Float16From(binary.LittleEndian.Uint16(b[2*i:]))
		}
	default:
		return fmt.Errorf("unknown encoding %d: %w", uint8(e), ErrCorrupt)
	}
	return nil
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
