package kernel

import "sort"

// SELL is a sparse matrix in sliced ELLPACK form with slices of eight rows
// (SELL-8), the layout of the batch-1 sparse kernel. Rows are taken eight at
// a time; slice s holds Len[s] groups of eight entries, entry l of a group
// belonging to row 8s+l, so that one group is one gather and one vector
// multiply-add into the eight row sums. Rows are sorted by their number of
// nonzeros before they are sliced (magnitude pruning leaves some units of a
// layer with many times more weights than others), so that rows of similar
// length share a slice and little padding is needed; SpMV writes each sum
// back to its original row. A row shorter than its slice's
// longest row is padded with entries of value 0 at column Cols, which SpMV
// maps to an appended zero input, so that padding never turns a NaN or
// infinite input into a NaN output that the CSR form would not produce.
// Column indices are 16-bit: four come with one 64-bit load.
//
// Compared with CSR at batch 1 it needs no horizontal sums and no scalar
// tails, and it writes eight outputs with one store. Measured on lenet300's
// fc1 shape (BenchmarkSpMV) it is about twice as fast as the CSR gather-dot.
//
// The fields are unexported so that a SELL can only come from NewSELL: the
// kernel trusts its column indices without checking them on every call.
type SELL struct {
	rows, cols int
	// slicePtr[s] is the index (in entries) of slice s's first group;
	// len(slicePtr) = ⌈rows/8⌉ + 1.
	slicePtr []int32
	colIdx   []uint16 // cols for padding, else in [0, cols)
	val      []float32
	perm     []int32 // row 8s+l of the sliced form is row perm[8s+l]
}

// Rows returns the number of rows (outputs).
func (s *SELL) Rows() int { return s.rows }

// Cols returns the number of columns (inputs).
func (s *SELL) Cols() int { return s.cols }

// SELLMaxCols is the largest number of columns a SELL matrix can have
// (column indices and the padding index Cols are 16-bit).
const SELLMaxCols = 1<<16 - 1

// NewSELL converts a CSR matrix to SELL-8. It panics if c is malformed or
// has more than SELLMaxCols columns.
func NewSELL(c *CSR) *SELL {
	c.check()
	if c.Cols > SELLMaxCols {
		panic("kernel: NewSELL matrix too wide for 16-bit column indices")
	}
	slices := (c.Rows + 7) / 8
	s := &SELL{rows: c.Rows, cols: c.Cols, slicePtr: make([]int32, slices+1), perm: make([]int32, c.Rows)}
	rowLen := func(j int32) int32 { return c.RowPtr[j+1] - c.RowPtr[j] }
	for j := range s.perm {
		s.perm[j] = int32(j)
	}
	sort.SliceStable(s.perm, func(a, b int) bool { return rowLen(s.perm[a]) > rowLen(s.perm[b]) })
	total := 0
	for sl := 0; sl < slices; sl++ {
		longest := 0
		for j := 8 * sl; j < min(8*sl+8, c.Rows); j++ {
			longest = max(longest, int(rowLen(s.perm[j])))
		}
		total += 8 * longest
		if int64(total) > 1<<31-1 {
			panic("kernel: NewSELL matrix too large for int32 offsets")
		}
		s.slicePtr[sl+1] = int32(total)
	}
	s.colIdx = make([]uint16, total)
	s.val = make([]float32, total)
	for i := range s.colIdx {
		s.colIdx[i] = uint16(c.Cols)
	}
	for sl := 0; sl < slices; sl++ {
		base := int(s.slicePtr[sl])
		for l := 0; l < 8 && 8*sl+l < c.Rows; l++ {
			j := s.perm[8*sl+l]
			for t, p := 0, int(c.RowPtr[j]); p < int(c.RowPtr[j+1]); t, p = t+1, p+1 {
				s.colIdx[base+8*t+l] = uint16(c.ColIdx[p])
				s.val[base+8*t+l] = c.Val[p]
			}
		}
	}
	return s
}

// NNZ returns the number of stored entries, padding included.
func (s *SELL) NNZ() int { return len(s.val) }

// check panics unless s is well formed (NewSELL output always is).
func (s *SELL) check() {
	slices := (s.rows + 7) / 8
	if s.rows < 0 || s.cols < 0 || s.cols > SELLMaxCols || len(s.slicePtr) != slices+1 || s.slicePtr[0] != 0 ||
		int(s.slicePtr[slices]) != len(s.colIdx) || len(s.val) != len(s.colIdx) {
		panic("kernel: malformed SELL")
	}
	if len(s.perm) != s.rows {
		panic("kernel: malformed SELL permutation")
	}
	for sl := 0; sl < slices; sl++ {
		if s.slicePtr[sl] > s.slicePtr[sl+1] || (s.slicePtr[sl+1]-s.slicePtr[sl])%8 != 0 {
			panic("kernel: malformed SELL slice pointers")
		}
	}
	for _, p := range s.colIdx {
		if int(p) > s.cols {
			panic("kernel: SELL column index out of range")
		}
	}
}

// SpMV computes one row of a pruned dense layer with SELL weights:
//
//	y[j] = bias[j] + Σ_{p ∈ nz(W[j,·])} x[p]·W[j,p]
//	if relu: y[j] = max(y[j], 0) (NaN → 0)
//
// for 0 ≤ j < w.rows. bias may be nil. Sums are float32 in an unspecified
// order. It panics if x, y or bias is too short or w is malformed.
func SpMV(x []float32, w *SELL, bias []float32, relu bool, y []float32) {
	if len(x) < w.cols || len(y) < w.rows || (bias != nil && len(bias) < w.rows) {
		panic("kernel: SpMV slice too short for its shape")
	}
	if len(w.slicePtr) != (w.rows+7)/8+1 {
		panic("kernel: SpMV on a SELL not made by NewSELL")
	}
	if w.rows == 0 {
		return
	}
	bufp := spmmPool.Get().(*[]float32)
	defer spmmPool.Put(bufp)
	if cap(*bufp) < w.cols+1 {
		*bufp = make([]float32, w.cols+1)
	}
	xp := (*bufp)[:w.cols+1] // x and the zero that padding reads
	copy(xp, x[:w.cols])
	xp[w.cols] = 0
	var yb, bb [8]float32
	for sl := 0; sl < len(w.slicePtr)-1; sl++ {
		perm := w.perm[8*sl : min(8*sl+8, w.rows)]
		if bias != nil {
			for l, j := range perm {
				bb[l] = bias[j]
			}
		}
		lo, hi := int(w.slicePtr[sl]), int(w.slicePtr[sl+1])
		sellSlice(yb[:], xp, w.colIdx[lo:hi], w.val[lo:hi], bb[:], relu)
		for l, j := range perm {
			y[j] = yb[l]
		}
	}
}

// sellSliceGo sets y[l] = act(b[l] + Σ_g val[8g+l]·x[idx[8g+l]]) for l < 8.
func sellSliceGo(y, x []float32, idx []uint16, val []float32, b []float32, relu bool) {
	var acc [8]float32
	for g := 0; g+8 <= len(idx); g += 8 {
		for l := range 8 {
			acc[l] += val[g+l] * x[idx[g+l]]
		}
	}
	for l := range 8 {
		v := acc[l] + b[l]
		if relu && !(v > 0) {
			v = 0
		}
		y[l] = v
	}
}
