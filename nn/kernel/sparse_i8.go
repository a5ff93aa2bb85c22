package kernel

// CSRI8 is a sparse int8 weight matrix in compressed sparse row form, the
// quantized counterpart of CSR: W, shape (Rows, Cols), one row per output
// channel (symmetric quantization, zero point 0), with the per-row sums
// RowSum[j] = Σ_p W[j,p] kept for the activation zero-point correction.
type CSRI8 struct {
	Rows, Cols int
	RowPtr     []int32 // length Rows+1
	ColIdx     []int32
	Val        []int8
	RowSum     []int32 // length Rows
}

// NewCSRI8 converts the dense row-major int8 matrix w, shape (rows, cols),
// to CSRI8, dropping zeros. It panics if len(w) < rows·cols.
func NewCSRI8(w []int8, rows, cols int) *CSRI8 {
	if rows < 0 || cols < 0 {
		panic("kernel: negative dimension")
	}
	if len(w) < rows*cols {
		panic("kernel: NewCSRI8 matrix too short")
	}
	c := &CSRI8{Rows: rows, Cols: cols, RowPtr: make([]int32, rows+1), RowSum: make([]int32, rows)}
	for j := 0; j < rows; j++ {
		var s int32
		for p, v := range w[j*cols : j*cols+cols] {
			if v != 0 {
				c.ColIdx = append(c.ColIdx, int32(p))
				c.Val = append(c.Val, v)
				s += int32(v)
			}
		}
		c.RowSum[j] = s
		if len(c.Val) > 1<<31-1 {
			panic("kernel: NewCSRI8 matrix too large for int32 indices")
		}
		c.RowPtr[j+1] = int32(len(c.Val))
	}
	return c
}

// NNZ returns the number of stored nonzeros.
func (c *CSRI8) NNZ() int { return len(c.Val) }

// Dense returns the matrix as a new dense row-major (Rows, Cols) slice.
func (c *CSRI8) Dense() []int8 {
	d := make([]int8, c.Rows*c.Cols)
	for j := 0; j < c.Rows; j++ {
		for t := c.RowPtr[j]; t < c.RowPtr[j+1]; t++ {
			d[j*c.Cols+int(c.ColIdx[t])] = c.Val[t]
		}
	}
	return d
}

// SpMMU8I8 is the sparse counterpart of GemmU8I8: with uint8 activations A
// (m, Cols), leading dimension lda, zero point za, it computes
//
//	acc[i·ldc+j] = Σ_{p ∈ nz(W[j,·])} A[i·lda+p]·W[j,p] − za·RowSum[j]
//	             = Σ_p (A[i·lda+p] − za)·W[j,p]
//
// in int32 with wraparound, so it is bit-identical to GemmU8I8 on the same
// (dense) weights and feeds the same DequantizeF32/RequantizeU8 epilogues.
// It panics if a slice is too short for its shape.
func SpMMU8I8(m int, a []uint8, lda int, za int32, w *CSRI8, acc []int32, ldc int) {
	checkSpMM(m, len(a), lda, w.Cols, w.Rows, 0, false, len(acc), ldc)
	if len(w.RowSum) < w.Rows || len(w.RowPtr) != w.Rows+1 {
		panic("kernel: malformed CSRI8")
	}
	const blk = 64
	for i0 := 0; i0 < m; i0 += blk {
		i1 := min(m, i0+blk)
		for j := 0; j < w.Rows; j++ {
			lo, hi := int(w.RowPtr[j]), int(w.RowPtr[j+1])
			idx, val := w.ColIdx[lo:hi], w.Val[lo:hi]
			corr := za * w.RowSum[j]
			for i := i0; i < i1; i++ {
				row := a[i*lda : i*lda+w.Cols]
				var s0, s1 int32
				t := 0
				for ; t+2 <= len(idx); t += 2 {
					s0 += int32(row[idx[t]]) * int32(val[t])
					s1 += int32(row[idx[t+1]]) * int32(val[t+1])
				}
				if t < len(idx) {
					s0 += int32(row[idx[t]]) * int32(val[t])
				}
				acc[i*ldc+j] = s0 + s1 - corr
			}
		}
	}
}
