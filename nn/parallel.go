package nn

import (
	"runtime"
	"sync"
)

// parallelMin is the number of elements below which elementwise loops stay
// on one goroutine: under it, starting goroutines costs more than it saves.
const parallelMin = 1 << 15

// parallelFor runs fn over [0, n) split into contiguous chunks across
// GOMAXPROCS goroutines when n is large enough.
func parallelFor(n int, fn func(lo, hi int)) {
	w := runtime.GOMAXPROCS(0)
	if n < parallelMin || w == 1 {
		fn(0, n)
		return
	}
	w = min(w, n/(parallelMin/2))
	per := (n + w - 1) / w
	var wg sync.WaitGroup
	for lo := per; lo < n; lo += per {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			fn(lo, hi)
		}(lo, min(lo+per, n))
	}
	fn(0, min(per, n))
	wg.Wait()
}

// reuse returns buf resized to n, reallocating only when it is too small.
// Training passes use it so that each layer's buffers are allocated once,
// not once per batch. The contents are not cleared.
func reuse(buf *[]float32, n int) []float32 {
	if cap(*buf) < n {
		*buf = make([]float32, n)
	}
	*buf = (*buf)[:n]
	return *buf
}
