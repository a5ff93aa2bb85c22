// Package nn is shrink's shared core: tensors, layers, models, forward and
// backward passes, optimizers, the training loop, evaluation and the exact
// accounting of parameters, MACs and bytes that every pass and report uses.
//
// Data layout is row-major contiguous float32. A batch is one matrix whose
// rows are samples; images are NHWC, so a sample of shape (H, W, C) is stored
// with the channel varying fastest.
package nn

import (
	"fmt"
	"strings"
)

// Shape is the shape of one sample (without the batch dimension): (D) for
// vectors, (H, W, C) for images.
type Shape []int

// Size is the number of elements in one sample.
func (s Shape) Size() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether two shapes are the same.
func (s Shape) Equal(t Shape) bool {
	if len(s) != len(t) {
		return false
	}
	for i := range s {
		if s[i] != t[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

func (s Shape) String() string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "(" + strings.Join(p, "×") + ")"
}

// Tensor is a batch of N samples of one shape, stored contiguously.
type Tensor struct {
	N     int       // batch size
	Shape Shape     // per-sample shape
	Data  []float32 // N × Shape.Size(), row-major

	// pooled marks Data as a scratch buffer that Model.Infer may recycle
	// once the next layer has consumed it.
	pooled bool
}

// NewTensor allocates a zeroed batch of n samples of shape s.
func NewTensor(n int, s Shape) *Tensor {
	return &Tensor{N: n, Shape: s.Clone(), Data: make([]float32, n*s.Size())}
}

// FromData wraps data (not copied) as a batch of n samples of shape s. It
// panics if the length does not match.
func FromData(n int, s Shape, data []float32) *Tensor {
	if len(data) != n*s.Size() {
		panic(fmt.Sprintf("nn: FromData: %d values for %d samples of %v", len(data), n, s))
	}
	return &Tensor{N: n, Shape: s.Clone(), Data: data}
}

// Row returns sample i (a view).
func (t *Tensor) Row(i int) []float32 {
	d := t.Shape.Size()
	return t.Data[i*d : (i+1)*d]
}
