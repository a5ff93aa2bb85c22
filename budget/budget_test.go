package budget

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mulRef is the exact product, saturated at MaxInt64, from math/big.
func mulRef(a, b int64) int64 {
	if a < 0 || b < 0 {
		return math.MaxInt64
	}
	p := new(big.Int).Mul(big.NewInt(a), big.NewInt(b))
	if !p.IsInt64() {
		return math.MaxInt64
	}
	return p.Int64()
}

func TestMulAddEdges(t *testing.T) {
	const M = math.MaxInt64
	cases := []struct{ a, b int64 }{
		{0, 0}, {0, M}, {1, M}, {M, 1}, {2, M / 2}, {2, M/2 + 1}, {M, M},
		{1 << 31, 1 << 32}, {1 << 32, 1 << 32}, {1 << 31, 1 << 31}, {3037000499, 3037000499},
		{3037000500, 3037000500}, {-1, 5}, {5, -1}, {math.MinInt64, -1}, {-1, -1},
	}
	for _, c := range cases {
		require.Equal(t, mulRef(c.a, c.b), Mul(c.a, c.b), "Mul(%d, %d)", c.a, c.b)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for range 10000 {
		a, b := rng.Int64()>>rng.IntN(63), rng.Int64()>>rng.IntN(63)
		require.Equal(t, mulRef(a, b), Mul(a, b), "Mul(%d, %d)", a, b)
	}
	require.Equal(t, int64(M), Add(M, 1))
	require.Equal(t, int64(M), Add(M-1, 1))
	require.Equal(t, int64(M-1), Add(M-2, 1))
	require.Equal(t, int64(M), Add(-1, 1))
	require.Equal(t, int64(1), Product())
	require.Equal(t, int64(7*9*11), Product(7, 9, 11))
	require.Equal(t, int64(0), Product(1<<40, 0, 1<<40))
	require.Equal(t, int64(M), Product(1<<40, 1<<40))
	require.Equal(t, int64(M), Product(3, -1))
}

func TestParse(t *testing.T) {
	good := []struct {
		s     string
		bytes bool
		want  int64
	}{
		{"1", false, 1}, {"2e9", false, 2e9}, {" 17 ", false, 17}, {"unlimited", true, math.MaxInt64},
		{"512MiB", true, 512 << 20}, {"512mib", true, 512 << 20}, {"2GiB", true, 2 << 30}, {"2G", true, 2e9},
		{"1.5GiB", true, 3 << 29}, {"3K", true, 3000}, {"3KB", true, 3000}, {"7B", true, 7}, {"1TiB", true, 1 << 40},
		{"9223372036854775807", false, math.MaxInt64},
	}
	for _, g := range good {
		v, err := Parse(g.s, g.bytes)
		require.NoError(t, err, g.s)
		require.Equal(t, g.want, v, g.s)
	}
	for _, s := range []string{"", "0", "-1", "1.5", "abc", "NaN", "1e400", "9223372036854775808", "8TiB0", "9000000TiB", "1GiB", "-2e9", "0.5"} {
		_, err := Parse(s, false)
		require.Error(t, err, s)
	}
	for _, s := range []string{"", "0", "GiB", "9000000TiB", "0.3B", "1XB"} {
		_, err := Parse(s, true)
		require.Error(t, err, s)
	}
}

func TestSetGetFlags(t *testing.T) {
	var b Budget
	for _, f := range Flags() {
		v, err := b.Get(f.Name)
		require.NoError(t, err)
		require.Equal(t, f.Default, v, f.Name)
		require.NotEmpty(t, f.Usage)
	}
	require.Equal(t, Default(), b.Effective())
	require.NoError(t, b.Set("--max-memory", "3GiB"))
	require.Equal(t, int64(3<<30), b.Memory)
	require.NoError(t, b.Set("max-macs", "unlimited"))
	v, _ := b.Get("max-macs")
	require.Equal(t, "unlimited", v)
	require.NoError(t, b.CheckMACs(math.MaxInt64, ""))
	err := b.Set("max-classes", "ten thousand and some more text to be cut off because it is very long indeed, really")
	require.ErrorContains(t, err, "--max-classes")
	require.Less(t, len(err.Error()), 200)
	require.Error(t, b.Set("max-nothing", "1"))
	_, err = b.Get("nope")
	require.Error(t, err)
}

func TestErrorNamesLimitValueAndFlag(t *testing.T) {
	b := Default()
	err := b.CheckMemory(17<<30, "largest activation 16777216 values × batch 256")
	require.ErrorIs(t, err, ErrExceeded)
	var e *Error
	require.True(t, errors.As(err, &e))
	require.Equal(t, "--max-memory", e.Flag)
	require.Equal(t, "memory: 17GiB (largest activation 16777216 values × batch 256) is above the limit of 1GiB (raise it with --max-memory)", err.Error())
	require.NoError(t, b.CheckMemory(DefaultMemory, ""))
	require.ErrorContains(t, b.CheckClasses(30000, "label 29999"), "classes: 30000 (label 29999) is above the limit of 4096 (raise it with --max-classes)")
	require.ErrorContains(t, b.CheckMACs(38_500_000_000, ""), "--max-macs")
	require.ErrorContains(t, b.CheckFolded(math.MaxInt64, ""), "more than")
	require.ErrorContains(t, b.CheckRows(DefaultRows+1, ""), "--max-rows")
	require.ErrorContains(t, b.CheckFields(DefaultFields+1, ""), "--max-fields")
	require.ErrorContains(t, b.CheckLineBytes(DefaultLineBytes+1, ""), "--max-line-bytes")
	require.ErrorContains(t, b.CheckDataBytes(DefaultInflated+3, ""), "268435459 bytes (256.0 MiB)")
	for _, l := range limits {
		v := b.get(&l)
		require.NoError(t, b.check(l.flag, v, ""), l.flag)
		require.ErrorIs(t, b.check(l.flag, v+1, ""), ErrExceeded, l.flag)
	}
	require.Panics(t, func() { _ = b.check("max-typo", 1, "") })
}

func TestCheckInflated(t *testing.T) {
	b := Default()
	require.NoError(t, b.CheckInflated(InflateFloor, 1)) // the floor is always allowed
	require.ErrorContains(t, b.CheckInflated(InflateFloor+1, 1), "--max-inflate-ratio")
	require.NoError(t, b.CheckInflated(100<<20, 1<<20))
	require.ErrorIs(t, b.CheckInflated(100<<20+1, 1<<20), ErrExceeded)
	require.ErrorContains(t, b.CheckInflated(DefaultInflated+1, DefaultInflated), "--max-data-bytes")
	b.InflateRatio = math.MaxInt64
	require.NoError(t, b.CheckInflated(DefaultInflated, 1))
}

func TestLimitInflatedRefusesABomb(t *testing.T) {
	// 72 MiB of zeros gzip to about 72 KiB: a ratio near 1000.
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	zero := make([]byte, 1<<20)
	for range 72 {
		w.Write(zero)
	}
	w.Close()
	b := Default()
	c := &Counter{R: bytes.NewReader(z.Bytes())}
	zr, err := gzip.NewReader(c)
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, b.LimitInflated(zr, func() int64 { return c.N }))
	require.ErrorIs(t, err, ErrExceeded)
	require.ErrorContains(t, err, "--max-inflate-ratio")
	require.LessOrEqual(t, n, int64(InflateFloor+64<<10)) // stopped at the floor, not at 72 MiB
	require.Greater(t, n, int64(InflateFloor))

	// A raised ratio lets it through.
	b.InflateRatio = 10000
	c = &Counter{R: bytes.NewReader(z.Bytes())}
	zr, _ = gzip.NewReader(c)
	n, err = io.Copy(io.Discard, b.LimitInflated(zr, func() int64 { return c.N }))
	require.NoError(t, err)
	require.Equal(t, int64(72<<20), n)

	// Plain data: the absolute cap.
	b = Budget{Inflated: 1000}
	n, err = io.Copy(io.Discard, b.LimitData(bytes.NewReader(make([]byte, 1001))))
	require.ErrorContains(t, err, "--max-data-bytes")
	require.LessOrEqual(t, n, int64(1001))
	_, err = io.Copy(io.Discard, b.LimitData(bytes.NewReader(make([]byte, 1000))))
	require.NoError(t, err)
	require.Panics(t, func() { b.LimitInflated(nil, nil) })
}

func TestBatch(t *testing.T) {
	b := Budget{Memory: 1000}
	n, err := b.Batch(512, 10, 100, "eval")
	require.NoError(t, err)
	require.Equal(t, 90, n) // 100 + 90×10 = 1000
	n, err = b.Batch(50, 10, 100, "eval")
	require.NoError(t, err)
	require.Equal(t, 50, n)
	n, err = b.Batch(7, 0, 1000, "eval")
	require.NoError(t, err)
	require.Equal(t, 7, n)
	n, err = b.Batch(3, 900, 100, "eval")
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = b.Batch(3, 901, 100, "eval")
	require.ErrorContains(t, err, "memory: 1001 bytes (eval at batch 1) is above the limit of 1000 bytes (raise it with --max-memory)")
	_, err = b.Batch(3, 1, 1001, "eval")
	require.ErrorIs(t, err, ErrExceeded)
	_, err = b.Batch(3, math.MaxInt64, math.MaxInt64, "eval")
	require.ErrorIs(t, err, ErrExceeded)
	_, err = b.Batch(3, -1, 0, "eval")
	require.ErrorIs(t, err, ErrExceeded)
	_, err = b.Batch(0, 1, 1, "eval")
	require.Error(t, err)

	require.NoError(t, b.CheckBatch(90, 10, 100, "train"))
	require.ErrorContains(t, b.CheckBatch(91, 10, 100, "train"), "train at batch 91")
	require.ErrorIs(t, b.CheckBatch(100000000000, 1<<20, 0, "train"), ErrExceeded)
	require.ErrorIs(t, b.CheckBatch(1, -1, 0, "train"), ErrExceeded)
	require.Error(t, b.CheckBatch(-5, 1, 0, "train"))
}

func TestQuoteAndList(t *testing.T) {
	require.Equal(t, `"abc"`, Quote("abc"))
	long := strings.Repeat("secret,", 2_000_000)
	q := Quote(long)
	require.Less(t, len(q), 120)
	require.Contains(t, q, "… (14000000 bytes)")
	// Multi-byte runes are never split, and a line of them is bounded too.
	q = Quote(strings.Repeat("é", 1000))
	require.Contains(t, q, strings.Repeat("é", 64)+`"`)
	require.Less(t, len(Quote(strings.Repeat("\x00", 1000))), 300)
	items := make([]string, 1_770_000)
	for i := range items {
		items[i] = "layer.weight"
	}
	l := List(items)
	require.Less(t, len(l), 200)
	require.Contains(t, l, "(1770000 in all)")
	require.Equal(t, `a, "b\n"`, List([]string{"a", "b\n"}))
}

// FuzzParse: Parse never panics, and what it accepts is positive and
// round-trips through the printed form.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "2e9", "512MiB", "1.5GiB", "unlimited", "9223372036854775807", "-1", "1e400"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, bytes bool) {
		v, err := Parse(s, bytes)
		if err != nil {
			return
		}
		require.Positive(t, v)
		w, err := Parse(format(v, bytes), bytes)
		require.NoError(t, err)
		require.Equal(t, v, w)
	})
}

// FuzzBudgetChecks: the budget arithmetic agrees with exact arithmetic for
// any operands, and Batch's answer fits while one more sample would not.
func FuzzBudgetChecks(f *testing.F) {
	f.Add(int64(1000), int64(10), int64(100), 512)
	f.Add(int64(math.MaxInt64), int64(math.MaxInt64), int64(0), 1)
	f.Add(int64(1), int64(-3), int64(-7), -1)
	f.Fuzz(func(t *testing.T, mem, per, fixed int64, want int) {
		require.Equal(t, mulRef(per, fixed), Mul(per, fixed))
		b := Budget{Memory: mem}
		limit := b.Effective().Memory
		n, err := b.Batch(want, per, fixed, "x")
		if err != nil {
			return
		}
		require.GreaterOrEqual(t, n, 1)
		require.LessOrEqual(t, n, want)
		used := new(big.Int).Add(big.NewInt(fixed), new(big.Int).Mul(big.NewInt(int64(n)), big.NewInt(per)))
		require.LessOrEqual(t, used.Cmp(big.NewInt(limit)), 0)
		require.NoError(t, b.CheckBatch(n, per, fixed, "x"))
		if n < want && limit < math.MaxInt64 { // an unlimited budget admits any saturated total
			more := new(big.Int).Add(used, big.NewInt(per))
			require.Positive(t, more.Cmp(big.NewInt(limit)))
			require.ErrorIs(t, b.CheckBatch(n+1, per, fixed, "x"), ErrExceeded)
		}
	})
}

func TestClip(t *testing.T) {
	require.Equal(t, "short", Clip("short"))
	s := Clip(strings.Repeat("ü", 1000))
	require.True(t, strings.HasSuffix(s, "… (2000 bytes)"))
	require.LessOrEqual(t, len(s), 256+len("… (2000 bytes)"))
	require.True(t, strings.HasPrefix(s, strings.Repeat("ü", 128)))
}

// TestChecksDoNotAllocate: readers check per row and per field, so a check
// that passes must cost no allocation.
func TestChecksDoNotAllocate(t *testing.T) {
	b := Default()
	allocs := testing.AllocsPerRun(100, func() {
		_ = b.CheckRows(5, "")
		_ = b.CheckFields(5, "")
		_ = b.CheckClasses(5, "")
		_ = b.CheckInflated(100<<20, 10<<20)
		_, _ = b.Batch(512, 10, 10, "")
	})
	require.Zero(t, allocs)
}
