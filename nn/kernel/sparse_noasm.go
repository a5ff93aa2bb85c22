//go:build !amd64 || purego

package kernel

// spmmAccRow sets acc[i] = act(bias + Σ_t val[t]·xt[idx[t]·mb+i]) for
// i < len(acc), act being ReLU if relu.
func spmmAccRow(acc, xt []float32, mb int, idx []int32, val []float32, bias float32, relu bool) {
	spmmAccRowGo(acc, xt, mb, idx, val, bias, relu)
}

// spmvRow is the m = 1 case: one gather-dot per output row.
func spmvRow(x []float32, w *CSR, bias []float32, relu bool, y []float32) {
	spmvRowGo(x, w, bias, relu, y)
}
