package ctx

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format/internal/entropy"
)

// structuredCodes returns rows×cols bytes shaped like a pruned,
// weight-shared layer: a third of the columns all zero (inputs nobody
// reads), the others with densities from 2% to 50%, rows scaling them by
// 0.5 to 1.5; a non-zero code is one of k−1 others, skewed. zero is the
// zero code.
func structuredCodes(rows, cols, k int, zero byte, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 3))
	colD := make([]float64, cols)
	for c := range colD {
		if rng.IntN(3) > 0 {
			colD[c] = 0.02 + 0.48*rng.Float64()*rng.Float64()
		}
	}
	b := make([]byte, rows*cols)
	for r := range rows {
		rowF := 0.5 + rng.Float64()
		for c := range cols {
			v := zero
			if rng.Float64() < colD[c]*rowF {
				// Skewed: code j ≥ 1 about 1/((j+1)(j+2)) of the time.
				for v == zero {
					v = byte(min(int(1/(rng.Float64()+1e-9))-1, k-1))
				}
			}
			b[r*cols+c] = v
		}
	}
	return b
}

// ctxRoundTrip compresses raw (tables verbatim, rows of cols, D = lag, or
// chosen when lag < 0) and requires it to decode to raw.
func ctxRoundTrip(t *testing.T, raw []byte, tables, cols, lag int) []byte {
	t.Helper()
	var z []byte
	if lag < 0 {
		z = Compress(raw, tables, cols)
	} else {
		z = encodeCtx(raw, tables, cols, lag)
	}
	require.NotNil(t, z, "%d bytes, P %d, C %d, D %d", len(raw), tables, cols, lag)
	got, err := Decompress(z, len(raw))
	require.NoError(t, err, "%d bytes, P %d, C %d, D %d", len(raw), tables, cols, lag)
	require.Equal(t, raw, got, "%d bytes, P %d, C %d, D %d", len(raw), tables, cols, lag)
	return z
}

func TestCtxRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gens := map[string]func(n int) []byte{
		"zeros":      func(n int) []byte { return make([]byte, n) },
		"one symbol": func(n int) []byte { return bytes.Repeat([]byte{0xab}, n) },
		"random": func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			return b
		},
		"sparse 3 symbols": func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				if rng.IntN(10) == 0 {
					b[i] = byte(1 + rng.IntN(2))
				}
			}
			return b
		},
		"256 distinct": func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i)
			}
			rng.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
			return b
		},
		"top byte zero": func(n int) []byte {
			b := make([]byte, n)
			for i := range b {
				b[i] = 0xff
				if rng.IntN(4) == 0 {
					b[i] = byte(rng.IntN(255))
				}
			}
			return b
		},
		"structured": func(n int) []byte { return structuredCodes(1, n, 8, 0, rng.Uint64()) },
	}
	for _, gen := range gens {
		for _, n := range []int{1, 2, 3, 5, 64, 65, 127, 256, 1000, 2049} {
			for _, tables := range []int{0, 1, 7} {
				raw := append(gen(tables), gen(n)...)
				// Row lengths: edge cases and one at random; distances:
				// chosen, none, and one at random.
				for _, cols := range []int{1, 2, n / 3, n, 64, 1 + rng.IntN(n)} {
					if cols < 1 || cols > n {
						continue
					}
					ctxRoundTrip(t, raw, tables, cols, -1)
					ctxRoundTrip(t, raw, tables, cols, 0)
					if cols > 2 {
						ctxRoundTrip(t, raw, tables, cols, 2+rng.IntN(cols-2))
					}
				}
			}
		}
	}
}

// TestCtxRoundTripWide covers rows wider than 64 with long distances (the
// lag search's word shifts) and a partial last row.
func TestCtxRoundTripWide(t *testing.T) {
	for _, cols := range []int{63, 64, 65, 200, 300} {
		raw := structuredCodes(20, cols, 16, 5, uint64(cols))
		raw = append([]byte{1, 2, 3}, raw[:len(raw)-cols/3]...) // P = 3, partial last row
		for _, lag := range []int{-1, 0, 2, 63, 64, 65, cols - 1} {
			if lag < cols {
				ctxRoundTrip(t, raw, 3, cols, lag)
			}
		}
	}
}

// TestCtxBeatsFSE: on a matrix whose columns have very different
// densities ctx is well under fse, which sees only symbol frequencies.
func TestCtxBeatsFSE(t *testing.T) {
	raw := append(make([]byte, 36), structuredCodes(150, 300, 8, 0, 9)...)
	f := entropy.CompressFSE(raw, 36)
	require.NotNil(t, f)
	c := ctxRoundTrip(t, raw, 36, 300, -1)
	t.Logf("%d raw bytes: fse %d, ctx %d (%.1f%%)", len(raw), len(f), len(c), 100*float64(len(c))/float64(len(f)))
	require.Less(t, len(c), len(f)*92/100)
	// Without the rows (C = everything), ctx loses the column model.
	flat := ctxRoundTrip(t, raw, 36, len(raw)-36, -1)
	require.Less(t, len(c), len(flat)*90/100)
}

// TestCtxChooseLag finds the width of images flattened into rows: the
// non-zero pixels are vertical strokes, so a flag is the flag 28 places
// left more often than the flag 1 place left.
func TestCtxChooseLag(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const w, h, rows = 28, 28, 100
	raw := make([]byte, rows*w*h)
	for r := range rows {
		for range 3 {
			x, y0 := rng.IntN(w), rng.IntN(h/2)
			for y := y0; y < y0+h/2; y++ {
				raw[r*w*h+y*w+x] = byte(1 + rng.IntN(3))
			}
		}
	}
	require.Equal(t, w, ctxChooseLag(raw, w*h, 0))
	c := ctxRoundTrip(t, raw, 0, w*h, -1)
	hdr := ctxHeader(nil, w*h, 0, 3, w)
	require.Equal(t, hdr, c[:len(hdr)], "D = 28 in the header")
	require.Less(t, len(c), len(encodeCtx(raw, 0, w*h, 0))*8/10)
	// Short rows and rows of noise have no D.
	require.Equal(t, 0, ctxChooseLag(raw, 2, 0))
	require.Equal(t, 0, ctxChooseLag(structuredCodes(10, 50, 4, 0, 1), 50, 0))
}

// TestCtxCompressRefuses: compressCtx returns nil for layouts it cannot
// write.
func TestCtxCompressRefuses(t *testing.T) {
	raw := make([]byte, 100)
	require.Nil(t, Compress(raw, 100, 1), "nothing to code")
	require.Nil(t, Compress(raw, -1, 1))
	require.Nil(t, Compress(raw, 0, 0))
	require.Nil(t, Compress(raw, 0, 101))
	require.Nil(t, Compress(make([]byte, ctxMaxCols+1), 0, ctxMaxCols+1))
	require.NotNil(t, Compress(make([]byte, ctxMaxCols), 0, ctxMaxCols))
}

// ctxHeader builds a ctx stream's header by hand.
func ctxHeader(verbatim []byte, cols uint64, z, alphaM1 byte, lag uint64) []byte {
	b := binary.AppendUvarint(nil, uint64(len(verbatim)))
	b = append(b, verbatim...)
	b = binary.AppendUvarint(b, cols)
	b = append(b, z, alphaM1)
	return binary.AppendUvarint(b, lag)
}

func TestCtxCorrupt(t *testing.T) {
	raw := append([]byte{9, 9, 9, 9}, structuredCodes(30, 40, 8, 0, 5)...)
	good := ctxRoundTrip(t, raw, 4, 40, -1)
	hdr := len(ctxHeader(raw[:4], 40, 0, 7, 0))
	require.Equal(t, ctxHeader(raw[:4], 40, 0, 7, uint64(good[hdr-1])), good[:hdr])
	body := good[hdr:]
	bad := map[string][]byte{
		"empty":                   nil,
		"verbatim length varint":  {0x80},
		"verbatim length long":    append(bytes.Repeat([]byte{0x80}, 9), 1),
		"verbatim is everything":  append(binary.AppendUvarint(nil, uint64(len(raw))), good[1:]...),
		"verbatim past the end":   {50, 1, 2},
		"no row length":           {0},
		"row length 0":            append(ctxHeader(raw[:4], 0, 0, 7, 0), body...),
		"row length past the end": append(ctxHeader(raw[:4], uint64(len(raw)-3), 0, 7, 0), body...),
		"row length huge":         append(ctxHeader(raw[:4], 1<<40, 0, 7, 0), body...),
		"header cut":              ctxHeader(raw[:4], 40, 0, 7, 0)[:hdr-2],
		"no distance":             ctxHeader(raw[:4], 40, 0, 7, 0)[:hdr-1],
		"zero symbol ≥ A":         append(ctxHeader(raw[:4], 40, 8, 7, 0), body...),
		"distance 1":              append(ctxHeader(raw[:4], 40, 0, 7, 1), body...),
		"distance = C":            append(ctxHeader(raw[:4], 40, 0, 7, 40), body...),
		"distance huge":           append(ctxHeader(raw[:4], 40, 0, 7, 1<<40), body...),
		"byte appended":           append(bytes.Clone(good), 0),
		"no body":                 good[:hdr],
	}
	for name, b := range bad {
		got, err := Decompress(b, len(raw))
		require.ErrorIs(t, err, ErrCorrupt, name)
		require.Nil(t, got, name)
	}
	// Cut anywhere: an error, the decoder needs the missing bytes.
	for n := range len(good) {
		got, err := Decompress(good[:n], len(raw))
		require.ErrorIs(t, err, ErrCorrupt, "cut at %d", n)
		require.Nil(t, got)
	}
	// Cut and padded, or with a smaller alphabet: an error, or other bytes
	// (the reader's CRC-32C catches those). The last 4 bytes are checked,
	// so other last bytes never decode to the same bytes.
	small := append(ctxHeader(raw[:4], 40, 0, 3, uint64(good[hdr-1])), body...)
	for _, b := range [][]byte{
		small,
		append(bytes.Clone(good[:len(good)-1]), 0xff),
		append(bytes.Clone(good[:len(good)-3]), 0, 0, 0),
		append(bytes.Clone(good[:hdr+len(body)/2]), make([]byte, len(body)/2)...),
	} {
		if got, err := Decompress(b, len(raw)); err == nil {
			require.Len(t, got, len(raw))
			require.NotEqual(t, raw, got)
		} else {
			require.ErrorIs(t, err, ErrCorrupt)
		}
	}
	// Any flipped bit: an error, or len(raw) other bytes.
	for i := range len(good) {
		for bit := range 8 {
			b := bytes.Clone(good)
			b[i] ^= 1 << bit
			got, err := Decompress(b, len(raw))
			if err != nil {
				require.ErrorIs(t, err, ErrCorrupt)
				continue
			}
			require.Len(t, got, len(raw))
			require.NotEqual(t, raw, got, "byte %d bit %d", i, bit)
		}
	}
	// raw_length other than the stream's.
	for _, n := range []int{0, 1, 4, 5, len(raw) - 1, len(raw) + 1, 2 * len(raw)} {
		if got, err := Decompress(good, n); err == nil {
			require.Len(t, got, n)
		} else {
			require.ErrorIs(t, err, ErrCorrupt, n)
		}
	}
}

// TestCtxHostileLength: a body of two bytes claiming a huge raw_length
// fails, having allocated only the output and the model.
func TestCtxHostileLength(t *testing.T) {
	for _, n := range []int{100, 1 << 20} {
		b := append(ctxHeader(nil, 100, 0, 255, 0), 0x12, 0x34)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Decompress(b, n)
		runtime.ReadMemStats(&after)
		require.ErrorIs(t, err, ErrCorrupt)
		// The output, the model's ≤ 10 bytes per raw byte (at most 640
		// KiB), 4 KiB of constants and the error.
		require.LessOrEqual(t, after.TotalAlloc-before.TotalAlloc, uint64(n+min(10*n, 640<<10)+4<<10), n)
	}
}

func TestCtxSquash(t *testing.T) {
	prev := int32(0)
	for x := int64(-3000); x <= 3000; x++ {
		p := ctxSquash(x)
		require.GreaterOrEqual(t, p, int32(1))
		require.LessOrEqual(t, p, int32(4095))
		require.GreaterOrEqual(t, p, prev)
		prev = p
	}
	require.Equal(t, int32(2048), ctxSquash(0))
	for p := 1; p < 4096; p++ {
		s := ctxStretch[p]
		require.GreaterOrEqual(t, ctxSquash(int64(s)), int32(p), p)
		if s > -2047 && s < 2047 {
			require.Less(t, ctxSquash(int64(s)-1), int32(p), p)
		}
	}
}

func FuzzCtxRoundTrip(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 0, 2, 0, 0, 0}, uint8(1), uint16(3))
	f.Add(structuredCodes(4, 30, 8, 0, 1), uint8(0), uint16(30))
	f.Fuzz(func(t *testing.T, raw []byte, tables uint8, cols uint16) {
		if int(tables) >= len(raw) || cols == 0 || int(cols) > len(raw)-int(tables) {
			return
		}
		z := Compress(raw, int(tables), int(cols))
		got, err := Decompress(z, len(raw))
		require.NoError(t, err)
		require.Equal(t, raw, got)
	})
}

func FuzzCtxDecode(f *testing.F) {
	raw := append([]byte{1, 2}, structuredCodes(6, 20, 4, 0, 2)...)
	f.Add(Compress(raw, 2, 20), uint32(len(raw)))
	f.Add(ctxHeader(nil, 3, 0, 255, 2), uint32(17))
	f.Fuzz(func(t *testing.T, stored []byte, rawLen uint32) {
		n := int(rawLen % (1 << 16))
		got, err := Decompress(stored, n)
		if err != nil {
			require.True(t, errors.Is(err, ErrCorrupt), err)
			return
		}
		require.Len(t, got, n)
	})
}

// BenchmarkCtxDecode decodes a 300×784 codebook8 layer shaped like
// lenet300's fc1 (about 6% non-zero, 8 codes).
func BenchmarkCtxDecode(b *testing.B) {
	raw := append(make([]byte, 36), structuredCodes(300, 784, 8, 0, 7)...)
	z := Compress(raw, 36, 784)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := Decompress(z, len(raw)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(z)), "ctx_bytes")
	b.ReportMetric(float64(len(entropy.CompressFSE(raw, 36))), "fse_bytes")
}

func BenchmarkCtxEncode(b *testing.B) {
	raw := append(make([]byte, 36), structuredCodes(300, 784, 8, 0, 7)...)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		Compress(raw, 36, 784)
	}
}
