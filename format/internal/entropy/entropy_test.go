package entropy

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// skewed returns n bytes: tables bytes of noise, then codes that are 0
// about 80% of the time.
func skewed(n, tables int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 5))
	b := make([]byte, n)
	for i := range b {
		switch {
		case i < tables:
			b[i] = byte(rng.Uint32())
		case rng.IntN(5) > 0:
		default:
			b[i] = byte(1 + rng.IntN(7))
		}
	}
	return b
}

func TestFSERoundTrip(t *testing.T) {
	for _, c := range []struct{ n, tables int }{{1001, 0}, {1001, 37}, {5003, 400}} {
		raw := skewed(c.n, c.tables, uint64(c.n))
		z := CompressFSE(raw, c.tables)
		require.NotNil(t, z)
		require.Less(t, len(z), len(raw)*6/10, "80%% zeros")
		require.Equal(t, raw[:c.tables], z[varintLen(c.tables):][:c.tables], "tables verbatim after P")
		got, err := DecompressFSE(z, len(raw))
		require.NoError(t, err)
		require.Equal(t, raw, got)
		for _, n := range []int{len(raw) - 1, len(raw) + 1, c.tables} {
			_, err := DecompressFSE(z, n)
			require.ErrorIs(t, err, ErrCorrupt, "raw length %d of %d", n, len(raw))
		}
		_, err = DecompressFSE(z[:len(z)-3], len(raw))
		require.ErrorIs(t, err, ErrCorrupt)
	}
	require.Nil(t, CompressFSE(make([]byte, 100), 0), "one repeated byte: zstd's")
	require.Nil(t, CompressFSE(make([]byte, 10), 10))
	require.Nil(t, CompressFSE(make([]byte, 10), -1))
	_, err := DecompressFSE(nil, 10)
	require.ErrorIs(t, err, ErrCorrupt)
}

func varintLen(n int) int {
	l := 1
	for n >= 0x80 {
		n >>= 7
		l++
	}
	return l
}

func TestZstdRoundTrip(t *testing.T) {
	raw := skewed(4099, 0, 3)
	z := CompressZstd(raw)
	require.Less(t, len(z), len(raw)/2)
	size, has, err := ZstdSize(z)
	require.NoError(t, err)
	require.True(t, has)
	require.EqualValues(t, len(raw), size)
	got, err := DecompressZstd(z, len(raw))
	require.NoError(t, err)
	require.Equal(t, raw, got)
	for _, n := range []int{len(raw) - 1, len(raw) + 1, -1, MaxLen + 1} {
		_, err := DecompressZstd(z, n)
		require.ErrorIs(t, err, ErrCorrupt, n)
	}
	_, err = DecompressZstd(z[:len(z)/2], len(raw))
	require.ErrorIs(t, err, ErrCorrupt)
	_, _, err = ZstdSize([]byte{1, 2, 3})
	require.ErrorIs(t, err, ErrCorrupt)
}
