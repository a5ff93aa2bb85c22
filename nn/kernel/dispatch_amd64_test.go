//go:build amd64 && !purego

package kernel

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// TestSelfCheckVNNI breaks the 6-row AVX512-VNNI kernel (one accumulator
// off by one) and checks that the self-check disables that path only: the
// level stays AVX-512 and int8 GEMMs take the next path, still exact.
func TestSelfCheckVNNI(t *testing.T) {
	if !paths[pathVNNI512].cpu() || !passed[pathAVX512] {
		t.Skip("needs a CPU with AVX512-VNNI")
	}
	saved := i8VNNI512
	t.Cleanup(func() { i8VNNI512 = saved; initDispatch() })
	good := saved.k6[4]
	i8VNNI512.k6[4] = func(kq int, a *uint8, lda int, tail *uint32, w *int8, wstride int, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int) {
		good(kq, a, lda, tail, w, wstride, corr, scale, bias, flags, c, ldc)
		*(*int32)(c) ^= 1 // the first element, int32 or float32 bits
	}
	redispatch(t, "")
	require.Equal(t, AVX512, Active())
	require.NotContains(t, Paths(), "avx512-vnni")
	require.Len(t, Disabled(), 1)
	require.Contains(t, Disabled()[0], "avx512-vnni: int8 GEMM")
	require.False(t, use.vnni512)
	require.NoError(t, checkInt8(), "int8 through the remaining paths")
}
