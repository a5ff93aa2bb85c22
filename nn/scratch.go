package nn

import (
	"math/bits"
	"sync"
)

// Inference scratch. A batch-1 forward pass of a small model is a few
// microseconds of arithmetic, and allocating (and later collecting) a fresh
// output for every layer and an im2col buffer for every convolution costs
// a noticeable share of that; large batches allocate megabytes per call.
// Layer outputs inside Model.Infer and im2col buffers therefore come from
// size-classed pools and go back as soon as the next layer has consumed
// them.

// scratchPools[c] holds buffers of capacity 1<<c.
var scratchPools [48]sync.Pool

// getScratch returns a buffer of length n (contents undefined).
func getScratch(n int) []float32 {
	if n == 0 {
		return nil
	}
	c := bits.Len(uint(n - 1))
	if c >= len(scratchPools) {
		return make([]float32, n)
	}
	if p, ok := scratchPools[c].Get().(*[]float32); ok {
		return (*p)[:n]
	}
	return make([]float32, n, 1<<c)
}

// putScratch returns b, which nothing references any more, to its pool.
func putScratch(b []float32) {
	c := bits.Len(uint(cap(b) - 1))
	if cap(b) == 0 || cap(b) != 1<<c || c >= len(scratchPools) {
		return
	}
	scratchPools[c].Put(&b)
}

// newScratchTensor is NewTensor on a pooled buffer whose contents are
// undefined: the caller overwrites every element.
func newScratchTensor(n int, s Shape) *Tensor {
	return &Tensor{N: n, Shape: s, Data: getScratch(n * s.Size()), pooled: true}
}
