//go:build amd64 && !purego

package kernel

// spmmRowW sets acc[i] = Σ_t val[t]·xt[idx[t]·stride+i] for i < W (AVX2+FMA).
// idx must be valid column indices of the transposed block xt.

//go:noescape
func spmmRow64(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int)

//go:noescape
func spmmRow32(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int)

//go:noescape
func spmmRow16(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int)

//go:noescape
func spmmRow8(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int)

// spmmAccRow sets acc[i] = Σ_t val[t]·xt[idx[t]·mb+i] for i < len(acc) ≤ mb.
// On AVX2, mb must be a multiple of 8 (spmmBlocks pads the block) and the
// lanes are covered by 64-, 32-, 16- and 8-wide kernels; the caller has
// checked that every idx is < k and len(xt) ≥ k·mb.
func spmmAccRow(acc, xt []float32, mb int, idx []int32, val []float32) {
	if level != AVX2 || mb%8 != 0 || len(acc) != mb {
		spmmAccRowGo(acc, xt, mb, idx, val)
		return
	}
	if len(idx) == 0 {
		clear(acc)
		return
	}
	_ = val[len(idx)-1]
	ip, vp := &idx[0], &val[0]
	for off := 0; off < mb; {
		switch rem := mb - off; {
		case rem >= 64:
			spmmRow64(&acc[off], &xt[off], mb, ip, vp, len(idx))
			off += 64
		case rem >= 32:
			spmmRow32(&acc[off], &xt[off], mb, ip, vp, len(idx))
			off += 32
		case rem >= 16:
			spmmRow16(&acc[off], &xt[off], mb, ip, vp, len(idx))
			off += 16
		default:
			spmmRow8(&acc[off], &xt[off], mb, ip, vp, len(idx))
			off += 8
		}
	}
}
