package quantize

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/nn"
)

// Observer watches activation batches during calibration and proposes the
// range [lo, hi] to quantize them to; nn.ActParams7 turns the range into a
// scale and zero point mapping it onto the codes 0..127 (widened to include
// 0; lo == hi == 0 gives scale 1, zero 0).
type Observer interface {
	// Observe records one batch of values.
	Observe(x []float32)
	// Range returns the chosen clipping range (0, 0 before any value).
	Range() (lo, hi float32)
}

// NewObserver returns the observer named by spec: "minmax", "ema" (moving-
// average min-max), "percentile:P" (0 < P ≤ 100), "mse" or "entropy". The
// sampling observers (percentile, mse, entropy) keep a seeded reservoir of
// at most 1<<20 values.
func NewObserver(spec string, seed uint64) (Observer, error) {
	switch {
	case spec == "" || spec == "minmax":
		return &MinMax{}, nil
	case spec == "ema":
		return &MovingAverage{C: 0.01}, nil
	case strings.HasPrefix(spec, "percentile:"):
		p, err := strconv.ParseFloat(spec[len("percentile:"):], 64)
		if err != nil || !(p > 0 && p <= 100) {
			return nil, fmt.Errorf("quantize: observer %q: P must be in (0, 100]", spec)
		}
		return &Percentile{P: p, sample: newSample(seed)}, nil
	case spec == "mse":
		return &MSE{sample: newSample(seed)}, nil
	case spec == "entropy":
		return &Entropy{sample: newSample(seed)}, nil
	}
	return nil, fmt.Errorf("quantize: unknown observer %q (want minmax, ema, percentile:P, mse or entropy)", spec)
}

// MinMax keeps the smallest and largest value seen: Range = [min x, max x].
type MinMax struct {
	lo, hi float32
	seen   bool
}

// Observe implements Observer.
func (o *MinMax) Observe(x []float32) {
	for _, v := range x {
		if v != v || math.IsInf(float64(v), 0) {
			continue
		}
		if !o.seen {
			o.lo, o.hi, o.seen = v, v, true
		}
		o.lo, o.hi = min(o.lo, v), max(o.hi, v)
	}
}

// Range implements Observer.
func (o *MinMax) Range() (lo, hi float32) { return o.lo, o.hi }

// MovingAverage is min-max with an exponential moving average over
// batches: the first batch sets [lo, hi], each later one moves them by
// C·(batch min − lo) and C·(batch max − hi).
type MovingAverage struct {
	C      float32
	lo, hi float32
	seen   bool
}

// Observe implements Observer.
func (o *MovingAverage) Observe(x []float32) {
	var b MinMax
	b.Observe(x)
	if !b.seen {
		return
	}
	if !o.seen {
		o.lo, o.hi, o.seen = b.lo, b.hi, true
		return
	}
	o.lo += o.C * (b.lo - o.lo)
	o.hi += o.C * (b.hi - o.hi)
}

// Range implements Observer.
func (o *MovingAverage) Range() (lo, hi float32) { return o.lo, o.hi }

// sample is a seeded reservoir (Algorithm R) of at most capacity values.
type sample struct {
	vals     []float32
	capacity int
	seen     int64
	rng      *rand.Rand
}

func newSample(seed uint64) sample {
	return sample{capacity: 1 << 20, rng: rand.New(rand.NewPCG(seed, 0x0b5e))}
}

func (s *sample) add(x []float32) {
	for _, v := range x {
		if v != v || math.IsInf(float64(v), 0) {
			continue
		}
		s.seen++
		if len(s.vals) < s.capacity {
			s.vals = append(s.vals, v)
			continue
		}
		if j := s.rng.Int64N(s.seen); j < int64(s.capacity) {
			s.vals[j] = v
		}
	}
}

// sorted returns the sampled values in increasing order.
func (s *sample) sorted() []float32 {
	v := slices.Clone(s.vals)
	slices.Sort(v)
	return v
}

// Percentile clips at percentiles of the values: hi is the P-th percentile
// and lo the (100 − P)-th (nearest rank on the sorted sample), so P = 100
// is min-max over the sample.
type Percentile struct {
	P      float64
	sample sample
}

// Observe implements Observer.
func (o *Percentile) Observe(x []float32) { o.sample.add(x) }

// Range implements Observer.
func (o *Percentile) Range() (lo, hi float32) {
	v := o.sample.sorted()
	if len(v) == 0 {
		return 0, 0
	}
	at := func(p float64) float32 {
		i := int(math.Ceil(p/100*float64(len(v)))) - 1
		return v[min(max(i, 0), len(v)-1)]
	}
	return at(100 - o.P), at(o.P)
}

// histBins is the histogram resolution of the MSE and entropy observers.
const histBins = 2048

// histogram bins the values over [lo, hi] (lo < hi).
func histogram(v []float32, lo, hi float64) []float64 {
	h := make([]float64, histBins)
	w := (hi - lo) / histBins
	for _, x := range v {
		i := int((float64(x) - lo) / w)
		h[min(max(i, 0), histBins-1)]++
	}
	return h
}

// MSE chooses the clipping range that minimises the mean squared error of
// uint8 fake quantization over the sampled values: candidates shrink the
// min-max range [lo, hi] (0 included) by factors α = 1, 0.99, …, 0.20
// towards 0, and the error is evaluated on a 2048-bin histogram (bin
// centres); the smallest error wins (the widest range on ties).
type MSE struct {
	sample sample
}

// Observe implements Observer.
func (o *MSE) Observe(x []float32) { o.sample.add(x) }

// Range implements Observer.
func (o *MSE) Range() (lo, hi float32) {
	v := o.sample.vals
	var mm MinMax
	mm.Observe(v)
	l, h := math.Min(float64(mm.lo), 0), math.Max(float64(mm.hi), 0)
	if l == h {
		return 0, 0
	}
	hist := histogram(v, l, h)
	w := (h - l) / histBins
	best, bestErr := 1.0, math.Inf(1)
	for a := 100; a >= 20; a-- {
		alpha := float64(a) / 100
		p := nn.ActParams7(float32(alpha*l), float32(alpha*h))
		var e float64
		for i, c := range hist {
			if c == 0 {
				continue
			}
			x := float32(l + (float64(i)+0.5)*w)
			d := float64(p.FakeQuant(x) - x)
			e += c * d * d
		}
		if e < bestErr {
			best, bestErr = alpha, e
		}
	}
	return float32(best * l), float32(best * h)
}

// Entropy chooses the clipping threshold T that minimises the KL
// divergence between the histogram of |x| (2048 bins over [0, max|x|]) and
// its quantized version (TensorRT's calibration): for each candidate
// threshold bin i ≥ L (L = 256 levels when all values are ≥ 0, else 128),
// P is the histogram cut at i with the outliers added to its last bin, Q
// merges P's first i bins into L levels and spreads each level back over
// its non-empty bins, and T = i·width for the i with the least KL(P‖Q).
// Range = [max(min x, −T), min(max x, T)].
type Entropy struct {
	sample sample
}

// Observe implements Observer.
func (o *Entropy) Observe(x []float32) { o.sample.add(x) }

// Range implements Observer.
func (o *Entropy) Range() (lo, hi float32) {
	v := o.sample.vals
	var mm MinMax
	mm.Observe(v)
	amax := math.Max(math.Abs(float64(mm.lo)), math.Abs(float64(mm.hi)))
	if amax == 0 {
		return 0, 0
	}
	abs := make([]float32, len(v))
	for i, x := range v {
		abs[i] = float32(math.Abs(float64(x)))
	}
	hist := histogram(abs, 0, amax)
	levels := 256
	if mm.lo < 0 {
		levels = 128
	}
	best, bestKL := histBins, math.Inf(1)
	p := make([]float64, histBins)
	q := make([]float64, histBins)
	for i := levels; i <= histBins; i += 8 {
		copy(p, hist[:i])
		for _, c := range hist[i:] {
			p[i-1] += c
		}
		// Merge the first i bins into levels groups, spread back uniformly
		// over each group's non-empty bins.
		clear(q[:i])
		for g := 0; g < levels; g++ {
			a, b := g*i/levels, (g+1)*i/levels
			var sum float64
			nz := 0
			for j := a; j < b; j++ {
				sum += hist[j]
				if hist[j] > 0 {
					nz++
				}
			}
			for j := a; j < b; j++ {
				if hist[j] > 0 {
					q[j] = sum / float64(nz)
				}
			}
		}
		kl := klDiv(p[:i], q[:i])
		if kl < bestKL {
			best, bestKL = i, kl
		}
	}
	t := float32(float64(best) * amax / histBins)
	return max(mm.lo, -t), min(mm.hi, t)
}

// klDiv is KL(p‖q) of two unnormalised histograms; bins where p > 0 and
// q == 0 cost a large constant (smoothing).
func klDiv(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	var kl float64
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		qi := q[i] / sq
		if qi == 0 {
			qi = 1e-9
		}
		kl += pi * math.Log(pi/qi)
	}
	return kl
}
