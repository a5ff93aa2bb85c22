package measure

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// zRef is the 97.5% standard normal quantile, written out.
const zRef = 1.959963984540054

func TestZ(t *testing.T) {
	require.InDelta(t, zRef, z, 1e-12)
}

// wilsonRef is the Wilson interval as the two roots of
// (p̂ − π)² = z²·π(1 − π)/n in π, a quadratic
// (1 + z²/n)π² − (2p̂ + z²/n)π + p̂² = 0.
func wilsonRef(k, n int) (float64, float64) {
	p, fn := float64(k)/float64(n), float64(n)
	a := 1 + zRef*zRef/fn
	b := -(2*p + zRef*zRef/fn)
	c := p * p
	disc := math.Sqrt(b*b - 4*a*c)
	return (-b - disc) / (2 * a), (-b + disc) / (2 * a)
}

func TestWilson(t *testing.T) {
	// By hand: k = 8, n = 10: centre (8 + z²/2)/(10 + z²) = 0.716740,
	// half z·√(1.6 + z²/4)/(10 + z²) = 0.226578: [0.490162, 0.943318].
	lo, hi := Wilson(8, 10)
	require.InDelta(t, 0.490162, lo, 1e-6)
	require.InDelta(t, 0.943318, hi, 1e-6)
	// k = 0, n = 10: [0, z²/(n + z²)] = [0, 0.277533].
	lo, hi = Wilson(0, 10)
	require.Zero(t, lo)
	require.InDelta(t, zRef*zRef/(10+zRef*zRef), hi, 1e-12)
	// k = n mirrors k = 0.
	lo, hi = Wilson(10, 10)
	require.InDelta(t, 1-zRef*zRef/(10+zRef*zRef), lo, 1e-12)
	require.Equal(t, 1.0, hi)

	rng := rand.New(rand.NewPCG(3, 5))
	for range 200 {
		n := 2*rng.IntN(2000) + 1
		k := rng.IntN(n + 1)
		lo, hi := Wilson(k, n)
		rl, rh := wilsonRef(k, n)
		require.InDelta(t, rl, lo, 1e-12, "k=%d n=%d", k, n)
		require.InDelta(t, rh, hi, 1e-12, "k=%d n=%d", k, n)
		p := float64(k) / float64(n)
		require.True(t, lo <= p && p <= hi, "k=%d n=%d: %g not in [%g, %g]", k, n, p, lo, hi)
		// Symmetry: the interval of n − k mirrors this one.
		ml, mh := Wilson(n-k, n)
		require.InDelta(t, 1-hi, ml, 1e-12)
		require.InDelta(t, 1-lo, mh, 1e-12)
	}
	require.Panics(t, func() { Wilson(3, 2) })
	require.Panics(t, func() { Wilson(0, 0) })
}

func TestMcNemar(t *testing.T) {
	// Exact two-sided p = 2·P(X ≤ min(b, c)), X ~ Binomial(b + c, ½), by hand:
	// b = 10, c = 2: 2·(1 + 12 + 66)/2¹² = 158/4096.
	require.InDelta(t, 158.0/4096, McNemar(10, 2), 1e-13)
	require.InDelta(t, 158.0/4096, McNemar(2, 10), 1e-13)
	// b = 7, c = 3: 2·(1 + 10 + 45 + 120)/2¹⁰ = 352/1024.
	require.InDelta(t, 352.0/1024, McNemar(7, 3), 1e-13)
	// b = 5, c = 0: 2/2⁵.
	require.InDelta(t, 2.0/32, McNemar(5, 0), 1e-13)
	// Balanced or empty: 1.
	require.Equal(t, 1.0, McNemar(3, 3))
	require.Equal(t, 1.0, McNemar(0, 0))

	// Against a float64 sum of binomial terms on random odd sizes.
	rng := rand.New(rand.NewPCG(7, 11))
	for range 100 {
		n := 2*rng.IntN(300) + 1
		b := rng.IntN(n + 1)
		c := n - b
		k := min(b, c)
		var s float64
		for i := 0; i <= k; i++ {
			lg, _ := math.Lgamma(float64(n + 1))
			li, _ := math.Lgamma(float64(i + 1))
			lni, _ := math.Lgamma(float64(n - i + 1))
			s += math.Exp(lg - li - lni - float64(n)*math.Ln2)
		}
		want := math.Min(1, 2*s)
		got := McNemar(b, c)
		require.InDelta(t, want, got, 1e-9*math.Max(want, 1e-300)+1e-15, "b=%d c=%d", b, c)
	}
	require.Panics(t, func() { McNemar(-1, 2) })
}

// newcombeRef is Newcombe's method 10 in the paper's notation: a table
// (e, f; g, h) with first-model margin e+f and second-model margin e+g.
func newcombeRef(e, f, g, h int) (float64, float64) {
	n := float64(e + f + g + h)
	a1, a2 := float64(e+f)/n, float64(e+g)/n
	l1, u1 := wilsonRef(e+f, e+f+g+h)
	l2, u2 := wilsonRef(e+g, e+f+g+h)
	fe, ff, fg, fh := float64(e), float64(f), float64(g), float64(h)
	phi := 0.0
	if (fe+ff)*(fg+fh)*(fe+fg)*(ff+fh) != 0 {
		phi = (fe*fh - ff*fg) / math.Sqrt((fe+ff)*(fg+fh)*(fe+fg)*(ff+fh))
	}
	d := a1 - a2
	dl := math.Sqrt((a1-l1)*(a1-l1) - 2*phi*(a1-l1)*(u2-a2) + (u2-a2)*(u2-a2))
	du := math.Sqrt((u1-a1)*(u1-a1) - 2*phi*(u1-a1)*(a2-l2) + (a2-l2)*(a2-l2))
	return d - dl, d + du
}

func TestDropCI(t *testing.T) {
	// A small table by hand: 40 both right, 10 only the first, 2 only the
	// second, 8 neither (n = 60). Δ = 8/60; p₁ = 50/60, p₂ = 42/60.
	p := Pair{Both: 40, FirstOnly: 10, SecondOnly: 2, Neither: 8}
	require.Equal(t, 60, p.Total())
	require.InDelta(t, 8.0/60, p.Drop(), 1e-15)
	lo, hi := DropCI(p)
	rl, rh := newcombeRef(40, 10, 2, 8)
	require.InDelta(t, rl, lo, 1e-12)
	require.InDelta(t, rh, hi, 1e-12)
	require.Greater(t, lo, 0.0, "10 against 2 on 60 samples is a real drop (McNemar p = 0.039)")
	require.Less(t, hi, 0.3)

	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		q := Pair{Both: rng.IntN(500), FirstOnly: rng.IntN(30), SecondOnly: rng.IntN(30), Neither: rng.IntN(60)}
		if q.Total() == 0 {
			continue
		}
		lo, hi := DropCI(q)
		rl, rh := newcombeRef(q.Both, q.FirstOnly, q.SecondOnly, q.Neither)
		require.InDelta(t, rl, lo, 1e-12, "%+v", q)
		require.InDelta(t, rh, hi, 1e-12, "%+v", q)
		require.True(t, lo <= q.Drop() && q.Drop() <= hi, "%+v: %g not in [%g, %g]", q, q.Drop(), lo, hi)
		// Swapping the models negates the interval.
		sl, sh := DropCI(Pair{Both: q.Both, FirstOnly: q.SecondOnly, SecondOnly: q.FirstOnly, Neither: q.Neither})
		require.InDelta(t, -hi, sl, 1e-12)
		require.InDelta(t, -lo, sh, 1e-12)
	}
	require.Panics(t, func() { DropCI(Pair{}) })
}

// TestCoverage draws paired outcomes with a known difference and checks
// that the intervals cover it close to 95% of the time.
func TestCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 43))
	// Cell probabilities: both, first only, second only, neither.
	probs := [4]float64{0.90, 0.04, 0.02, 0.04}
	trueDrop, trueAcc := probs[1]-probs[2], probs[0]+probs[2]
	const reps, n = 2000, 301
	var coverDrop, coverAcc int
	for range reps {
		var p Pair
		for range n {
			u := rng.Float64()
			switch {
			case u < probs[0]:
				p.Both++
			case u < probs[0]+probs[1]:
				p.FirstOnly++
			case u < probs[0]+probs[1]+probs[2]:
				p.SecondOnly++
			default:
				p.Neither++
			}
		}
		if lo, hi := DropCI(p); lo <= trueDrop && trueDrop <= hi {
			coverDrop++
		}
		if lo, hi := Wilson(p.Both+p.SecondOnly, n); lo <= trueAcc && trueAcc <= hi {
			coverAcc++
		}
	}
	// With 2000 replications the standard error of a 95% coverage is 0.5%.
	require.InDelta(t, 0.95, float64(coverDrop)/reps, 0.02, "drop interval coverage")
	require.InDelta(t, 0.95, float64(coverAcc)/reps, 0.02, "accuracy interval coverage")
}

func TestCountPair(t *testing.T) {
	y := []int{0, 1, 2, 3, 4, 5, 6}
	a := []int{0, 1, 2, 9, 9, 5, 9}
	b := []int{0, 9, 2, 3, 9, 9, 9}
	require.Equal(t, Pair{Both: 2, FirstOnly: 2, SecondOnly: 1, Neither: 2}, CountPair(y, a, b))
	require.Panics(t, func() { CountPair(y, a, b[:3]) })
}
