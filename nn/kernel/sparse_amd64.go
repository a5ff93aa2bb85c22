//go:build amd64 && !purego

package kernel

// spmmRowW sets acc[i] = act(bias + Σ_t val[t]·xt[idx[t]·stride+i]) for
// i < W (AVX2+FMA), act being ReLU (NaN → 0) if relu, else the identity.
// idx must be valid column indices of the transposed block xt.

//go:noescape
func spmmRow64(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)

//go:noescape
func spmmRow32(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)

//go:noescape
func spmmRow16(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)

//go:noescape
func spmmRow8(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)

// spmmAccRow sets acc[i] = act(bias + Σ_t val[t]·xt[idx[t]·mb+i]) for
// i < len(acc) ≤ mb, act being ReLU if relu.
// On AVX2, mb must be a multiple of 8 (spmmBlocks pads the block) and the
// lanes are covered by 64-, 32-, 16- and 8-wide kernels; the caller has
// checked that every idx is < k and len(xt) ≥ k·mb.
func spmmAccRow(acc, xt []float32, mb int, idx []int32, val []float32, bias float32, relu bool) {
	if !use.avx2 || mb%8 != 0 || len(acc) != mb || len(idx) == 0 {
		spmmAccRowGo(acc, xt, mb, idx, val, bias, relu)
		return
	}
	_ = val[len(idx)-1]
	ip, vp := &idx[0], &val[0]
	for off := 0; off < mb; {
		switch rem := mb - off; {
		case rem >= 64:
			spmmRow64(&acc[off], &xt[off], mb, ip, vp, len(idx), bias, relu)
			off += 64
		case rem >= 32:
			spmmRow32(&acc[off], &xt[off], mb, ip, vp, len(idx), bias, relu)
			off += 32
		case rem >= 16:
			spmmRow16(&acc[off], &xt[off], mb, ip, vp, len(idx), bias, relu)
			off += 16
		default:
			spmmRow8(&acc[off], &xt[off], mb, ip, vp, len(idx), bias, relu)
			off += 8
		}
	}
}

// spmvDot returns Σ_t val[t]·x[min(uint32(idx[t]), kmax)] over the first
// 16·n16 nonzeros (AVX2 gathers; the clamp keeps every load inside x, whose
// length must exceed kmax).
//
//go:noescape
func spmvDot(x *float32, kmax int, idx *int32, val *float32, n16 int) float32

// spmvRow is the m = 1 case: one gather-dot per output row.
func spmvRow(x []float32, w *CSR, bias []float32, relu bool, y []float32) {
	if !use.avx2 {
		spmvRowGo(x, w, bias, relu, y)
		return
	}
	for j := range y {
		lo, hi := int(w.RowPtr[j]), int(w.RowPtr[j+1])
		idx, val := w.ColIdx[lo:hi], w.Val[lo:hi]
		var s float32
		n16 := len(idx) / 16
		if n16 > 0 {
			_ = val[16*n16-1]
			s = spmvDot(&x[0], len(x)-1, &idx[0], &val[0], n16)
		}
		for t := 16 * n16; t < len(idx); t++ {
			s += val[t] * x[idx[t]]
		}
		if bias != nil {
			s += bias[j]
		}
		if relu && !(s > 0) {
			s = 0
		}
		y[j] = s
	}
}
