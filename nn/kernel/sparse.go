package kernel

import (
	"runtime"
	"sync"
)

// CSR is a sparse matrix in compressed sparse row form. For pruned dense
// layers it holds the weights W, shape (Rows, Cols) = (out, in), one CSR row
// per output channel: the nonzeros of row j are Val[RowPtr[j]:RowPtr[j+1]]
// at columns ColIdx[RowPtr[j]:RowPtr[j+1]] (increasing).
type CSR struct {
	Rows, Cols int
	RowPtr     []int32 // length Rows+1, RowPtr[0] = 0
	ColIdx     []int32 // length NNZ
	Val        []float32
}

// NewCSR converts the dense row-major matrix w, shape (rows, cols), to CSR,
// dropping exact zeros (−0 included). It panics if len(w) < rows·cols or the
// number of nonzeros does not fit in an int32.
func NewCSR(w []float32, rows, cols int) *CSR {
	if rows < 0 || cols < 0 {
		panic("kernel: negative dimension")
	}
	if len(w) < rows*cols {
		panic("kernel: NewCSR matrix too short")
	}
	nnz := 0
	for _, v := range w[:rows*cols] {
		if v != 0 {
			nnz++
		}
	}
	if int64(nnz) > 1<<31-1 || int64(cols) > 1<<31-1 {
		panic("kernel: NewCSR matrix too large for int32 indices")
	}
	c := &CSR{Rows: rows, Cols: cols, RowPtr: make([]int32, rows+1),
		ColIdx: make([]int32, 0, nnz), Val: make([]float32, 0, nnz)}
	for j := 0; j < rows; j++ {
		for p, v := range w[j*cols : j*cols+cols] {
			if v != 0 {
				c.ColIdx = append(c.ColIdx, int32(p))
				c.Val = append(c.Val, v)
			}
		}
		c.RowPtr[j+1] = int32(len(c.Val))
	}
	return c
}

// check panics unless c is a well-formed CSR matrix.
func (c *CSR) check() {
	if len(c.RowPtr) != c.Rows+1 || c.RowPtr[0] != 0 || int(c.RowPtr[c.Rows]) != len(c.ColIdx) || len(c.Val) != len(c.ColIdx) {
		panic("kernel: malformed CSR")
	}
	for j := 0; j < c.Rows; j++ {
		if c.RowPtr[j] > c.RowPtr[j+1] {
			panic("kernel: malformed CSR row pointers")
		}
	}
	for _, p := range c.ColIdx {
		if p < 0 || int(p) >= c.Cols {
			panic("kernel: CSR column index out of range")
		}
	}
}

// NNZ returns the number of stored nonzeros.
func (c *CSR) NNZ() int { return len(c.Val) }

// Dense returns the matrix as a new dense row-major (Rows, Cols) slice.
func (c *CSR) Dense() []float32 {
	d := make([]float32, c.Rows*c.Cols)
	for j := 0; j < c.Rows; j++ {
		for t := c.RowPtr[j]; t < c.RowPtr[j+1]; t++ {
			d[j*c.Cols+int(c.ColIdx[t])] = c.Val[t]
		}
	}
	return d
}

func checkSpMM(m int, lx, ldx, cols, rows int, biasLen int, hasBias bool, ly, ldy int) {
	if m < 0 {
		panic("kernel: negative dimension")
	}
	if hasBias && biasLen < rows {
		panic("kernel: bias must have one entry per output row")
	}
	if m == 0 {
		return
	}
	if cols > 0 && (ldx < cols || lx < (m-1)*ldx+cols) {
		panic("kernel: x too short for its shape")
	}
	if rows > 0 && (ldy < rows || ly < (m-1)*ldy+rows) {
		panic("kernel: y too short for its shape")
	}
}

// spmmPool recycles the per-goroutine scratch of spmmBlocks.
var spmmPool = sync.Pool{New: func() any { return new([]float32) }}

// spmmBlock is the number of x rows transposed and processed together; a
// block of a 784-wide input is 784·64·4 = 200 KB.
const spmmBlock = 64

// SpMM computes a pruned dense layer with sparse weights:
//
//	y[i·ldy+j] = bias[j] + Σ_{p ∈ nz(W[j,·])} x[i·ldx+p]·W[j,p]
//	if relu:     y[i·ldy+j] = max(y[i·ldy+j], 0)
//
// for 0 ≤ i < m, 0 ≤ j < w.Rows, i.e. y(m, n) = x(m, k)·Wᵀ + bias with
// x row-major (leading dimension ldx ≥ w.Cols) and W in CSR form. bias may
// be nil. Sums are float32; their order is unspecified (it differs between
// m = 1 and larger m), so results agree with a dense GEMM up to rounding.
// The padding between rows of y is not touched. It panics if a slice is too
// short for its shape.
func SpMM(m int, x []float32, ldx int, w *CSR, bias []float32, relu bool, y []float32, ldy int) {
	checkSpMM(m, len(x), ldx, w.Cols, w.Rows, len(bias), bias != nil, len(y), ldy)
	if m == 0 || w.Rows == 0 {
		return
	}
	if m < 4 {
		for i := 0; i < m; i++ {
			spmvRow(x[i*ldx:i*ldx+w.Cols], w, bias, relu, y[i*ldy:i*ldy+w.Rows])
		}
		return
	}
	w.check() // the assembly path trusts ColIdx
	blocks := (m + spmmBlock - 1) / spmmBlock
	procs := min(runtime.GOMAXPROCS(0), blocks)
	if procs <= 1 || m*w.NNZ() < 1<<20 {
		spmmBlocks(0, m, x, ldx, w, bias, relu, y, ldy)
		return
	}
	var wg sync.WaitGroup
	per := (blocks + procs - 1) / procs * spmmBlock
	for i0 := 0; i0 < m; i0 += per {
		i1 := min(m, i0+per)
		wg.Go(func() { spmmBlocks(i0, i1, x, ldx, w, bias, relu, y, ldy) })
	}
	wg.Wait()
}

// spmvRowGo is the m = 1 case in Go: one gather-dot per output row, with four
// partial sums to shorten the dependency chain.
func spmvRowGo(x []float32, w *CSR, bias []float32, relu bool, y []float32) {
	for j := range y {
		lo, hi := int(w.RowPtr[j]), int(w.RowPtr[j+1])
		idx, val := w.ColIdx[lo:hi], w.Val[lo:hi]
		var s0, s1, s2, s3 float32
		t := 0
		for ; t+4 <= len(idx); t += 4 {
			s0 += val[t] * x[idx[t]]
			s1 += val[t+1] * x[idx[t+1]]
			s2 += val[t+2] * x[idx[t+2]]
			s3 += val[t+3] * x[idx[t+3]]
		}
		for ; t < len(idx); t++ {
			s0 += val[t] * x[idx[t]]
		}
		s := (s0 + s1) + (s2 + s3)
		if bias != nil {
			s += bias[j]
		}
		if relu && !(s > 0) {
			s = 0
		}
		y[j] = s
	}
}

// spmmBlocks handles rows [i0, i1) of x in blocks of spmmBlock: the block
// is transposed to xt (k, mb) so that each nonzero W[j,p] is applied to all
// mb rows as one contiguous axpy acc += W[j,p]·xt[p,:].
func spmmBlocks(i0, i1 int, x []float32, ldx int, w *CSR, bias []float32, relu bool, y []float32, ldy int) {
	const jb = 8 // output channels finished together, for contiguous stores
	k, n := w.Cols, w.Rows
	bufp := spmmPool.Get().(*[]float32)
	defer spmmPool.Put(bufp)
	if cap(*bufp) < (k+jb)*spmmBlock {
		*bufp = make([]float32, (k+jb)*spmmBlock)
	}
	xt := (*bufp)[:k*spmmBlock]
	tile := (*bufp)[k*spmmBlock : (k+jb)*spmmBlock]
	for b0 := i0; b0 < i1; b0 += spmmBlock {
		mb := min(spmmBlock, i1-b0)
		mbp := (mb + 7) &^ 7 // lanes padded to whole vectors (zeros)
		xt := xt[:k*mbp]
		if mbp != mb {
			clear(xt)
		}
		// Transpose eight rows at a time: eight read streams, one
		// contiguous 8-float write per column.
		i := 0
		for ; i+8 <= mb; i += 8 {
			r0 := x[(b0+i)*ldx:][:k]
			r1 := x[(b0+i+1)*ldx:][:k]
			r2 := x[(b0+i+2)*ldx:][:k]
			r3 := x[(b0+i+3)*ldx:][:k]
			r4 := x[(b0+i+4)*ldx:][:k]
			r5 := x[(b0+i+5)*ldx:][:k]
			r6 := x[(b0+i+6)*ldx:][:k]
			r7 := x[(b0+i+7)*ldx:][:k]
			for p := range r0 {
				d := xt[p*mbp+i:][:8]
				d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
				d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
			}
		}
		for ; i < mb; i++ {
			for p, v := range x[(b0+i)*ldx:][:k] {
				xt[p*mbp+i] = v
			}
		}
		for j0 := 0; j0 < n; j0 += jb {
			nj := min(jb, n-j0)
			for jj := 0; jj < nj; jj++ {
				lo, hi := int(w.RowPtr[j0+jj]), int(w.RowPtr[j0+jj+1])
				var bj float32
				if bias != nil {
					bj = bias[j0+jj]
				}
				spmmAccRow(tile[jj*mbp:(jj+1)*mbp], xt, mbp, w.ColIdx[lo:hi], w.Val[lo:hi], bj, relu)
			}
			for i := 0; i < mb; i++ {
				out := y[(b0+i)*ldy+j0:][:nj]
				for jj := range out {
					out[jj] = tile[jj*mbp+i]
				}
			}
		}
	}
}

// spmmAccRowGo sets acc[i] = act(bias + Σ_t val[t]·xt[idx[t]·mb+i]),
// four nonzeros at a time; act is ReLU (NaN → 0) if relu.
func spmmAccRowGo(acc, xt []float32, mb int, idx []int32, val []float32, bias float32, relu bool) {
	clear(acc)
	t := 0
	for ; t+4 <= len(idx); t += 4 {
		v0, v1, v2, v3 := val[t], val[t+1], val[t+2], val[t+3]
		x0 := xt[int(idx[t])*mb:][:len(acc)]
		x1 := xt[int(idx[t+1])*mb:][:len(acc)]
		x2 := xt[int(idx[t+2])*mb:][:len(acc)]
		x3 := xt[int(idx[t+3])*mb:][:len(acc)]
		for i := range acc {
			acc[i] += v0*x0[i] + v1*x1[i] + v2*x2[i] + v3*x3[i]
		}
	}
	for ; t < len(idx); t++ {
		v := val[t]
		xs := xt[int(idx[t])*mb:][:len(acc)]
		for i := range acc {
			acc[i] += v * xs[i]
		}
	}
	for i, v := range acc {
		v += bias
		if relu && !(v > 0) {
			v = 0
		}
		acc[i] = v
	}
}

// SparseFaster reports whether the sparse kernels on an (rows, cols)
// weight matrix with nnz nonzeros and a batch of m input rows are expected
// to beat the dense path, i.e. weights pre-packed with PackB and
// SgemmBiasActPacked (the AVX2+FMA cache-blocked Sgemm of this package,
// bias and ReLU fused). Batches of fewer than four rows run SpMV (SELL-8)
// once per row, larger ones SpMM (CSR).
//
// Measured on a 2-vCPU AMD EPYC (Zen 3, AVX2), idle machine, speedup =
// dense time / sparse time. SpMV, with `go test ./nn/kernel -run XXX -bench
// SpMV -benchtime 2000x`:
//
//	sparsity        0.5   0.7   0.8   0.9   0.95
//	300×784 (fc1)   0.47  0.79  1.12  2.03  3.76
//	100×300 (fc2)   0.32  0.61  0.69  1.16  1.67
//
// The dense row kernel streams the weights, so it is slower per weight when
// they do not fit in the 512 KB L2 (fc1's 940 KB): one row crosses over near
// density 0.2 for such matrices and near 0.13 for smaller ones
// (interpolating between sparsity 0.8 and 0.9). SpMM, with
// `-bench SpMM -benchtime 300ms` on 300×784:
//
//	sparsity   0.3   0.5   0.6   0.7   0.8   0.9   0.95
//	m = 256    0.58  0.69  0.85  1.04  1.50  2.08  2.44
//
// so batch 256 crosses over near density 0.3. Batches from 4 to 63 were not
// measured: they take density < 0.07, where even the CSR gather-dot wins at
// m = 1 (BenchmarkSpMV's csr column on fc1: 0.87× dense at sparsity 0.9,
// 1.57× at 0.95).
func SparseFaster(m, rows, cols, nnz int) bool {
	if m <= 0 || rows <= 0 || cols <= 0 {
		return false
	}
	density := float64(nnz) / (float64(rows) * float64(cols))
	switch {
	case m < SpMVMaxBatch && cols <= SELLMaxCols:
		if float64(rows)*float64(cols)*4 > 1<<19 {
			return density < 0.2
		}
		return density < 0.13
	case m < 64:
		return density < 0.07
	}
	return density < 0.3
}

// SpMVMaxBatch is the batch size below which a sparse layer runs SpMV once
// per row rather than SpMM (the rule SparseFaster assumes).
const SpMVMaxBatch = 4
