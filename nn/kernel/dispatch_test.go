package kernel

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParseLevel(t *testing.T) {
	for l := Generic; l <= AMX; l++ {
		got, err := ParseLevel(l.String())
		require.NoError(t, err)
		require.Equal(t, l, got)
	}
	_, err := ParseLevel("avx1024")
	require.ErrorContains(t, err, `unknown level "avx1024"`)
}

// redispatch re-runs the start-up choice under SHRINK_KERNEL=env ("" for
// unset) and restores the normal choice when the test ends.
func redispatch(t *testing.T, env string) {
	t.Cleanup(initDispatch) // runs after t.Setenv's cleanup restores the variable
	t.Setenv("SHRINK_KERNEL", env)
	initDispatch()
}

func TestShrinkKernelEnv(t *testing.T) {
	t.Run("generic", func(t *testing.T) {
		redispatch(t, "generic")
		require.NoError(t, Init())
		require.Equal(t, Generic, Active())
		require.Empty(t, Paths())
	})
	t.Run("unknown", func(t *testing.T) {
		redispatch(t, "sse9")
		require.ErrorContains(t, Init(), "SHRINK_KERNEL=sse9")
		require.Equal(t, Best(), Active(), "an unusable request leaves the best level")
	})
	t.Run("amx", func(t *testing.T) {
		redispatch(t, "amx")
		// No AMX kernels are built: refused whether or not the CPU has AMX.
		require.ErrorContains(t, Init(), "SHRINK_KERNEL=amx")
		require.NotEqual(t, AMX, Active())
	})
	for _, l := range []Level{AVX2, AVX512} {
		t.Run(l.String(), func(t *testing.T) {
			redispatch(t, l.String())
			if available(l) != nil {
				require.ErrorContains(t, Init(), "SHRINK_KERNEL="+l.String())
				return
			}
			require.NoError(t, Init())
			require.Equal(t, l, Active())
			require.Contains(t, Paths(), l.String())
		})
	}
}

// TestSelfCheckFallback breaks one AVX-512 micro-kernel (a wrong element in
// every tile it writes) and checks that the start-up self-check disables the
// AVX-512 path, falls back to AVX2, reports why, and refuses an explicit
// SHRINK_KERNEL=avx512; and that GEMMs then still give correct results.
func TestSelfCheckFallback(t *testing.T) {
	if !paths[pathAVX512].cpu() || !passed[pathAVX2] {
		t.Skip("needs a CPU with AVX-512 and AVX2")
	}
	saved := kernels512
	t.Cleanup(func() { kernels512 = saved; initDispatch() })
	broken := saved
	good := saved[1][1]
	broken[1][1] = func(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
		good(k, a, b, c, ldc, alpha, beta, bias, flags)
		c[ldc+3] += 1
	}
	kernels512 = broken

	redispatch(t, "")
	require.NoError(t, Init())
	require.Equal(t, AVX2, Active())
	require.Equal(t, AVX2, Best())
	require.NotContains(t, Paths(), "avx512")
	d := Disabled()
	require.Len(t, d, 1)
	require.Contains(t, d[0], "avx512: sgemm")
	require.Equal(t, AVX2, SetLevel(AVX512), "SetLevel(AVX512) keeps AVX2")
	require.Equal(t, AVX2, Active())

	redispatch(t, "avx512")
	require.ErrorContains(t, Init(), "disabled by the start-up self-check")
	require.Equal(t, AVX2, Active())

	// The fallback computes correctly.
	g := newCase(rand.New(rand.NewPCG(11, 12)), false, false, 40, 70, 50, 1, 0, 0)
	g.check(t, callSgemm)
}

// TestSelfCheckPanic checks that a path whose check panics is disabled, not
// fatal.
func TestSelfCheckPanic(t *testing.T) {
	if !paths[pathAVX512].cpu() || !passed[pathAVX2] {
		t.Skip("needs a CPU with AVX-512 and AVX2")
	}
	saved := kernels512
	t.Cleanup(func() { kernels512 = saved; initDispatch() })
	kernels512[0][0] = nil
	kernels512[1][0] = nil
	redispatch(t, "")
	require.Equal(t, AVX2, Active())
	require.Contains(t, Disabled()[0], "panicked")
}
