// Package data loads labelled data sets for shrink: the embedded mnist-mini
// subset of MNIST, folders of MNIST IDX files and numeric CSV files.
//
// Every loader returns a *Data holding a training and a test *Set together
// with an Info record describing exactly how the parts were produced, so that
// a model file can store the Info and evaluation can reload the identical
// split and normalisation with LoadWithInfo.
//
// The package never prints; all problems are reported as errors that name
// the offending file and, where meaningful, the line or record.
package data

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Set is a labelled data set held in memory: N samples of Dim = product(Shape) float32 features each.
type Set struct {
	X       []float32 // N×Dim, row-major
	Y       []int     // N labels in [0, Classes); for unlabelled inputs, nil
	Shape   []int     // per-sample shape: [28,28,1] (H,W,C — NHWC) for images, [D] for CSV
	Classes int       // number of classes; labels lie in [0, Classes)
}

// Dim returns the number of features per sample, the product of Shape
// (0 when Shape is empty).
func (s *Set) Dim() int {
	if len(s.Shape) == 0 {
		return 0
	}
	d := 1
	for _, v := range s.Shape {
		d *= v
	}
	return d
}

// Len returns the number of samples N.
func (s *Set) Len() int {
	d := s.Dim()
	if d <= 0 {
		return len(s.Y)
	}
	return len(s.X) / d
}

// Sample returns the features of sample i as a sub-slice of X (not a copy).
// It panics if i is out of range, like a slice index.
func (s *Set) Sample(i int) []float32 {
	d := s.Dim()
	return s.X[i*d : (i+1)*d : (i+1)*d]
}

// Subset returns a new Set holding copies of the samples idx, in that order.
// It panics if an index is out of range.
func (s *Set) Subset(idx []int) *Set {
	d := s.Dim()
	out := &Set{
		X:       make([]float32, len(idx)*d),
		Shape:   append([]int(nil), s.Shape...),
		Classes: s.Classes,
	}
	if s.Y != nil {
		out.Y = make([]int, len(idx))
	}
	for j, i := range idx {
		copy(out.X[j*d:(j+1)*d], s.Sample(i))
		if s.Y != nil {
			out.Y[j] = s.Y[i]
		}
	}
	return out
}

// Head returns a copy of the first n samples; n is clamped to [0, Len()].
func (s *Set) Head(n int) *Set {
	n = max(0, min(n, s.Len()))
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// CheckShape reports whether a model whose input has the given shape (per
// sample, without batch dimension) runs on s: the shapes are equal, or one
// of them is a vector (a flat input, such as a PyTorch MLP's [N, 784]) with
// as many values as the other. Samples are handed over as they are stored
// (row-major; images H×W×C), so a flat model sees an image's values in that
// order, which for one channel is PyTorch's order too.
func (s *Set) CheckShape(shape []int) error {
	want := s.Shape
	if len(shape) == 0 {
		return fmt.Errorf("model input shape is empty; data samples have shape %v", want)
	}
	prod := 1
	for _, v := range shape {
		if v <= 0 || v > 1<<30 || prod > (1<<40)/v {
			return fmt.Errorf("model input shape %v has a bad dimension", shape)
		}
		prod *= v
	}
	if slices.Equal(shape, want) {
		return nil
	}
	if (len(shape) == 1 || len(want) == 1) && prod == s.Dim() {
		return nil
	}
	return fmt.Errorf("model input shape %v (%d values) does not fit data samples of shape %v (%d values)", shape, prod, want, s.Dim())
}

// Draw returns n samples drawn from s without replacement, chosen by seed,
// in increasing index order (copies, like Subset); s itself when n ≥ Len().
// Passes draw their calibration and scoring samples with it.
func (s *Set) Draw(n int, seed int64) *Set {
	if n >= s.Len() {
		return s
	}
	n = max(n, 0)
	rng := rand.New(rand.NewPCG(uint64(seed), 0xca11b))
	idx := rng.Perm(s.Len())[:n]
	slices.Sort(idx)
	return s.Subset(idx)
}

// Split randomly divides the set into two disjoint copies: held receives
// round(frac*N) samples (frac is clamped to [0,1]) and rest the others. The
// choice depends only on N, frac and seed (a self-contained generator is used,
// so splits are stable across Go releases); both parts keep the original
// sample order. It is used to carve validation and test sets.
func (s *Set) Split(frac float64, seed int64) (rest, held *Set) {
	restIdx, heldIdx := splitIndices(s.Len(), frac, seed)
	return s.Subset(restIdx), s.Subset(heldIdx)
}

// splitIndices returns the sorted index sets of a seeded random split.
func splitIndices(n int, frac float64, seed int64) (rest, held []int) {
	if math.IsNaN(frac) || frac < 0 {
		frac = 0
	}
	if frac > 1 {
		frac = 1
	}
	k := int(math.Round(frac * float64(n)))
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	r := splitmix64(uint64(seed))
	for i := n - 1; i > 0; i-- {
		j := int(r.next() % uint64(i+1))
		perm[i], perm[j] = perm[j], perm[i]
	}
	held = append([]int(nil), perm[:k]...)
	rest = append([]int(nil), perm[k:]...)
	sort.Ints(held)
	sort.Ints(rest)
	return rest, held
}

// splitmix64 is a tiny deterministic generator whose output is fixed forever.
type splitmix64 uint64

func (s *splitmix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// validate checks internal consistency of a set built by a loader.
func (s *Set) validate() error {
	d := s.Dim()
	if d <= 0 {
		return fmt.Errorf("invalid sample shape %v", s.Shape)
	}
	if len(s.X)%d != 0 {
		return fmt.Errorf("%d features is not a multiple of sample size %d", len(s.X), d)
	}
	if s.Y != nil && len(s.Y) != len(s.X)/d {
		return fmt.Errorf("%d labels for %d samples", len(s.Y), len(s.X)/d)
	}
	for i, y := range s.Y {
		if y < 0 || y >= s.Classes {
			return fmt.Errorf("sample %d: label %d out of range [0,%d)", i, y, s.Classes)
		}
	}
	return nil
}
