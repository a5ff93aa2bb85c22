//go:build !amd64 || purego

package kernel

// spmmAccRow sets acc[i] = Σ_t val[t]·xt[idx[t]·mb+i] for i < mb = len(acc).
func spmmAccRow(acc, xt []float32, mb int, idx []int32, val []float32) {
	spmmAccRowGo(acc, xt, mb, idx, val)
}

// spmvRow is the m = 1 case: one gather-dot per output row.
func spmvRow(x []float32, w *CSR, bias []float32, relu bool, y []float32) {
	spmvRowGo(x, w, bias, relu, y)
}
