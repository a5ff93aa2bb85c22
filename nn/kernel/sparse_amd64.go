//go:build amd64 && !purego

package kernel

// spmmRow64 sets acc[i] = Σ_t val[t]·xt[idx[t]·64+i] for i < 64 (AVX2+FMA;
// xt is a transposed block of exactly 64 activation rows).
//
//go:noescape
func spmmRow64(acc *float32, xt *float32, idx *int32, val *float32, nnz int)

// spmmAccRow sets acc[i] = Σ_t val[t]·xt[idx[t]·mb+i] for i < mb = len(acc).
func spmmAccRow(acc, xt []float32, mb int, idx []int32, val []float32) {
	if level == AVX2 && mb == 64 && len(acc) == 64 {
		if len(idx) > 0 {
			_ = val[len(idx)-1]
		}
		var ip *int32
		var vp *float32
		if len(idx) > 0 {
			ip, vp = &idx[0], &val[0]
		}
		spmmRow64(&acc[0], &xt[0], ip, vp, len(idx))
		return
	}
	spmmAccRowGo(acc, xt, mb, idx, val)
}
