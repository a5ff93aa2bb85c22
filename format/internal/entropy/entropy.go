// Package entropy holds the order-0 byte coders of shrink's model files,
// bytes in, bytes out: zstd (one shared encoder and decoder, as
// klauspost/compress makes them) and FSE in the format's "fse" layout,
// whose leading scales or centroids are stored verbatim. Decoders are
// given the exact output length and never allocate beyond it (plus a
// fixed slack); every error they return matches ErrCorrupt.
package entropy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/fse"
	"github.com/klauspost/compress/zstd"
)

// MaxLen is the longest output a decoder produces and the longest input
// a coder takes (the format's cap on one tensor's raw bytes).
const MaxLen = 1 << 30

// ErrCorrupt is matched (errors.Is) by every error a decoder returns.
var ErrCorrupt = errors.New("entropy: corrupt stream")

// corruptError is an error about a corrupt stream.
type corruptError struct{ msg string }

func (e corruptError) Error() string        { return e.msg }
func (e corruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(format string, args ...any) error {
	return corruptError{fmt.Sprintf(format, args...)}
}

// fseSlack is how far past its DecompressLimit fse.Decompress can append
// before it checks (it flushes 256 symbols at a time, then a tail): the
// output buffer gets this much room so that a lying stream never makes it
// reallocate.
const fseSlack = 1024

// zstdCodec is the package's one encoder and decoder, made on first use.
var zstdCodec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil,
		zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
		zstd.WithEncoderCRC(false), // the format's directory holds a CRC-32C of the raw bytes
		zstd.WithEncoderConcurrency(1),
	)
	if err != nil {
		panic(fmt.Sprintf("entropy: zstd encoder: %v", err))
	}
	dec, err := zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(MaxLen),
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		panic(fmt.Sprintf("entropy: zstd decoder: %v", err))
	}
	return enc, dec
})

// CompressZstd returns raw as one zstd frame (level SpeedBetterCompression, no
// frame checksum), which declares its content size.
func CompressZstd(raw []byte) []byte {
	enc, _ := zstdCodec()
	return enc.EncodeAll(raw, make([]byte, 0, len(raw)/2+64))
}

// ZstdSize returns the content size a zstd frame declares, and false when
// it declares none.
func ZstdSize(stored []byte) (uint64, bool, error) {
	var h zstd.Header
	if err := h.Decode(stored); err != nil {
		return 0, false, corrupt("zstd header: %v", err)
	}
	if h.Skippable {
		return 0, false, corrupt("skippable zstd frame")
	}
	return h.FrameContentSize, h.HasFCS, nil
}

// DecompressZstd decodes zstd data to exactly rawLen bytes (at most MaxLen): a
// declared content size must match, and decoding stops at rawLen.
func DecompressZstd(stored []byte, rawLen int) ([]byte, error) {
	size, has, err := ZstdSize(stored)
	if err != nil {
		return nil, err
	}
	if rawLen < 0 || rawLen > MaxLen || (has && size != uint64(rawLen)) {
		return nil, corrupt("zstd frame declares %d bytes, want %d", size, rawLen)
	}
	_, dec := zstdCodec()
	out, err := dec.DecodeAll(stored, make([]byte, 0, rawLen))
	if err != nil {
		return nil, corrupt("zstd: %v", err)
	}
	if len(out) != rawLen {
		return nil, corrupt("zstd decoded %d bytes, want %d", len(out), rawLen)
	}
	return out, nil
}

// CompressFSE returns raw in the fse layout: uvarint P, the first P = tables bytes
// of raw, then one order-0 FSE block of the rest. It returns nil when the
// layout cannot hold raw, when fse finds the rest incompressible
// (fse.ErrIncompressible) or one repeated byte (fse.ErrUseRLE, which zstd
// stores in a few bytes).
func CompressFSE(raw []byte, tables int) []byte {
	if len(raw) > MaxLen || tables < 0 || tables >= len(raw) {
		return nil
	}
	z, err := fse.Compress(raw[tables:], &fse.Scratch{})
	if err != nil {
		return nil
	}
	out := make([]byte, 0, binary.MaxVarintLen64+tables+len(z))
	out = binary.AppendUvarint(out, uint64(tables))
	out = append(out, raw[:tables]...)
	return append(out, z...)
}

// DecompressFSE decodes the fse layout (see CompressFSE) to exactly rawLen bytes,
// allocating rawLen + fseSlack at most: the FSE decoder's DecompressLimit
// stops a stream that decodes to more as soon as it passes what remains.
// fse.Decompress "may not detect all corruption": the caller checks a
// checksum of the output.
func DecompressFSE(stored []byte, rawLen int) ([]byte, error) {
	p, n := binary.Uvarint(stored)
	if n <= 0 || n > binary.MaxVarintLen32 {
		return nil, corrupt("fse: bad verbatim length")
	}
	if rawLen > MaxLen || p >= uint64(rawLen) || p > uint64(len(stored)-n) {
		return nil, corrupt("fse: %d verbatim bytes, raw_length %d, %d stored bytes", p, rawLen, len(stored))
	}
	tables := int(p)
	out := make([]byte, rawLen+fseSlack)
	copy(out, stored[n:n+tables])
	rest := rawLen - tables
	s := &fse.Scratch{DecompressLimit: rest + 1, Out: out[tables:tables:len(out)]}
	got, err := fse.Decompress(stored[n+tables:], s)
	if err != nil {
		return nil, corrupt("fse: %v", err)
	}
	if len(got) != rest {
		return nil, corrupt("fse decoded %d bytes, want %d", len(got), rest)
	}
	copy(out[tables:], got) // a no-op: got is out[tables:] unless fse reallocated
	return out[:rawLen:rawLen], nil
}
