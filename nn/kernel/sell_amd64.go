//go:build amd64 && !purego

package kernel

// sell8 sets y[l] = act(b[l] + Σ_g val[8g+l]·x[idx[8g+l]]) for l < 8 over
// groups groups of eight entries (AVX2+FMA). Every idx must be < len(x).
//
//go:noescape
func sell8(y *float32, x *float32, idx *uint16, val *float32, groups int, b *float32, relu bool)

// sellSlice computes one SELL-8 slice; y and b have 8 elements and every
// idx is a valid index into x (guaranteed by NewSELL and SpMV).
func sellSlice(y, x []float32, idx []uint16, val []float32, b []float32, relu bool) {
	if !use.avx2 || len(idx) == 0 {
		sellSliceGo(y, x, idx, val, b, relu)
		return
	}
	_, _, _ = y[7], b[7], val[len(idx)-1]
	sell8(&y[0], &x[0], &idx[0], &val[0], len(idx)/8, &b[0], relu)
}
