package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// i8Variant is a kernel level with some int8 paths turned off, so that the
// paths a better one shadows on this CPU (VPMADDUBSW under AVX-VNNI,
// AVX-VNNI under AVX512-VNNI) are tested too.
type i8Variant struct {
	name  string
	level Level
	off   []path
}

// i8Variants lists every level available here and each shadowed int8 path.
func i8Variants() []i8Variant {
	var vs []i8Variant
	for _, l := range levels() {
		vs = append(vs, i8Variant{name: l.String(), level: l})
	}
	for _, v := range []i8Variant{
		{"avx2-vpmaddubsw", AVX2, []path{pathAVXVNNI}},
		{"avx512-avxvnni", AVX512, []path{pathVNNI512}},
	} {
		if available(v.level) == nil && passed[v.off[0]] {
			vs = append(vs, v)
		}
	}
	return vs
}

// apply makes v current and returns the function that undoes it.
func (v i8Variant) apply() (restore func()) {
	prevLevel, prevPassed := SetLevel(v.level), passed
	for _, p := range v.off {
		passed[p] = false
	}
	setUse()
	return func() {
		passed = prevPassed
		SetLevel(prevLevel)
	}
}

// forLevels runs f once per int8 variant available here (i8Variants),
// restoring the active level afterwards.
func forLevels(t *testing.T, f func(t *testing.T)) {
	for _, v := range i8Variants() {
		t.Run(v.name, func(t *testing.T) {
			defer v.apply()()
			f(t)
		})
	}
}

func randU8(r *rand.Rand, n int) []uint8 {
	s := make([]uint8, n)
	for i := range s {
		s[i] = uint8(1 + r.IntN(255)) // no zeros
	}
	return s
}

func randI8(r *rand.Rand, n int) []int8 {
	s := make([]int8, n)
	for i := range s {
		v := r.IntN(255) - 127 // -127..127 without 0
		if v == 0 {
			v = -128
		}
		s[i] = int8(v)
	}
	return s
}

// i8Dims covers every residue mod the 6-row and 16-channel tiles and mod 4
// in k, plus larger sizes up to 70.
var i8Dims = []int{1, 2, 3, 4, 5, 6, 7, 11, 12, 13, 15, 16, 17, 23, 31, 32, 33, 47, 48, 49, 64, 70}

// randU7 returns n random activations in 1..127 (the fast 7-bit range).
func randU7(r *rand.Rand, n int) []uint8 {
	s := make([]uint8, n)
	for i := range s {
		s[i] = uint8(1 + r.IntN(127))
	}
	return s
}

func checkGemmU8I8Case(t *testing.T, r *rand.Rand, m, n, k int, procs int) {
	checkGemmCase(t, r, m, n, k, procs, randU8)
}

// checkGemmCase compares GemmU8I8 and GemmU8I8F32 with the reference on
// activations from gen, with odd strides and offsets.
func checkGemmCase(t *testing.T, r *rand.Rand, m, n, k int, procs int, gen func(*rand.Rand, int) []uint8) {
	lda := k + r.IntN(3)
	ldc := n + r.IntN(3)
	aOff := r.IntN(3)
	a := gen(r, aOff+(m-1)*lda+k+r.IntN(2))
	w := randI8(r, n*k)
	za := int32(r.IntN(256))
	a0, w0 := slices.Clone(a), slices.Clone(w)
	p := PackI8(w, n, k)
	want := make([]int32, (m-1)*ldc+n)
	for i := range want {
		want[i] = -7
	}
	got := slices.Clone(want)
	gemmU8I8Ref(m, n, k, a[aOff:], lda, za, w, want, ldc)
	gemmU8I8(m, a[aOff:], lda, za, p, got, ldc, procs)
	require.Equal(t, want, got, "m=%d n=%d k=%d lda=%d ldc=%d za=%d", m, n, k, lda, ldc, za)
	require.Equal(t, a0, a, "A modified")
	require.Equal(t, w0, w, "W modified")

	// Fused dequantization: bit-identical to GemmU8I8 + DequantizeF32.
	scaleA := 0.01 + r.Float32()
	scaleW := make([]float32, n)
	bias := make([]float32, n)
	for j := range scaleW {
		scaleW[j] = 1e-3 * (0.5 + r.Float32())
		bias[j] = float32(r.NormFloat64())
	}
	if r.IntN(3) == 0 {
		scaleW = scaleW[:1]
	}
	if r.IntN(4) == 0 {
		bias = nil
	}
	relu := r.IntN(2) == 0
	wantF := make([]float32, len(want))
	gotF := make([]float32, len(want))
	for i := range wantF {
		wantF[i], gotF[i] = -9, -9
	}
	DequantizeF32(m, n, want, ldc, scaleA, scaleW, bias, relu, wantF, ldc)
	gemmU8I8F32(m, a[aOff:], lda, za, p, scaleA, scaleW, bias, relu, gotF, ldc, procs)
	require.Equal(t, wantF, gotF, "fused m=%d n=%d k=%d relu=%v", m, n, k, relu)
}

// i8Dims70 is 1..70 subsampled: every residue mod 6, 16 and 4, plus edges.
var i8Dims70 = []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 23, 24, 25, 29, 31, 32, 33, 35, 40, 47, 48, 49, 53, 63, 64, 65, 69, 70}

// TestGemmU7I8 runs the fast 7-bit activation range (1..127), and blocks
// that mix 7-bit rows with rows holding a byte ≥ 128, over m, n, k in 1..70.
func TestGemmU7I8(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		mixed := func(r *rand.Rand, n int) []uint8 {
			s := randU7(r, n)
			s[r.IntN(n)] = uint8(128 + r.IntN(128))
			return s
		}
		for _, m := range i8Dims70 {
			for _, n := range i8Dims70 {
				for _, k := range i8Dims70 {
					if (m*31+n*7+k*3)%8 != 0 && m > 6 && n > 16 && k > 8 {
						continue // subsample the larger shapes
					}
					checkGemmCase(t, r, m, n, k, 1, randU7)
					if (m+n+k)%4 == 0 {
						checkGemmCase(t, r, m, n, k, 1, mixed)
					}
				}
			}
		}
		for _, s := range [][3]int{{150, 70, 130}, {1, 600, 2000}, {3, 300, 1100}, {97, 33, 700}, {256, 300, 784}} {
			checkGemmCase(t, r, s[0], s[1], s[2], 4, randU7)
		}
	})
}

// TestGemmU7I8Extremes: the largest fast activation (127) with −128/127
// weights, the worst case for VPMADDUBSW's int16 pair sums, and 128 (the
// smallest split one), in full and partial tiles, with tails in k.
func TestGemmU7I8Extremes(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		for _, av := range []uint8{127, 128, 255} {
			for _, wv := range [][]int8{{-128}, {127}, {-128, 127}, {127, -128, -128}} {
				for _, mk := range [][3]int{{6, 16, 64}, {7, 17, 70}, {1, 16, 4099}, {12, 32, 65535}, {5, 3, 3}} {
					m, n, k := mk[0], mk[1], mk[2]
					for _, za := range []int32{0, 127, 255} {
						a := make([]uint8, m*k)
						for i := range a {
							a[i] = av
						}
						w := make([]int8, n*k)
						for i := range w {
							w[i] = wv[i%len(wv)]
						}
						want := make([]int32, m*n)
						got := make([]int32, m*n)
						gemmU8I8Ref(m, n, k, a, k, za, w, want, n)
						GemmU8I8(m, a, k, za, PackI8(w, n, k), got, n)
						require.Equal(t, want, got, "a=%d w=%v za=%d m=%d n=%d k=%d", av, wv, za, m, n, k)
					}
				}
			}
		}
	})
}

func TestQuantizeU8Fast(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := []float32{0, float32(math.Copysign(0, -1)), 0.5, 1.5, 2.5, -0.5, -1.5, 127.5, 128.5, 254.5, 255.5, -128.5, 1e30, -1e30,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 3e-39, 1 << 22, -(1 << 22), 1 << 24, 1<<24 + 2, 600, -600}
	for i := 0; i < 20000; i++ {
		x = append(x, float32(r.NormFloat64()*100), float32(r.IntN(1200)-600)/2, float32(r.IntN(1200)-600)/2*0.1, math.Float32frombits(r.Uint32()))
	}
	for _, sc := range []float32{1, 0.1, 0.0039215689, 0.0078740157, 3, 1e-6, 1e-38} {
		for _, z := range []int32{0, 1, 127, 128, 255, -3, 300} {
			for _, off := range []int{0, 1, 7} {
				want := make([]uint8, len(x)-off)
				got := make([]uint8, len(x)-off)
				quantizeU8Ref(x[off:], sc, z, want)
				QuantizeU8(x[off:], sc, z, got)
				require.Equal(t, want, got, "scale %v zero %d", sc, z)
			}
		}
	}
}

func TestGemmU8I8(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for _, m := range i8Dims {
			for _, n := range i8Dims {
				for _, k := range i8Dims {
					if (m*7+n*3+k)%3 != 0 && m > 7 && n > 17 {
						continue // subsample the larger shapes
					}
					checkGemmU8I8Case(t, r, m, n, k, 1)
				}
			}
		}
	})
}

func TestGemmU8I8Parallel(t *testing.T) {
	// Force the split at these sizes at every level.
	s1, s2 := i8MinParallel, i8MinParallelVNNI
	i8MinParallel, i8MinParallelVNNI = 0, 0
	defer func() { i8MinParallel, i8MinParallelVNNI = s1, s2 }()
	forLevels(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for _, s := range [][3]int{{150, 70, 130}, {1, 600, 2000}, {3, 300, 1100}, {97, 33, 700}} {
			checkGemmU8I8Case(t, r, s[0], s[1], s[2], 4)
		}
	})
}

func TestGemmU8I8Extremes(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		for _, c := range []struct {
			av uint8
			wv int8
			za int32
		}{{255, -128, 0}, {255, 127, 0}, {0, -128, 0}, {0, 127, 255}, {255, -128, 255}, {255, -128, 128}, {0, -128, 128}} {
			for _, mk := range [][3]int{{7, 17, 70}, {1, 16, 4096}, {6, 16, 65536}} {
				m, n, k := mk[0], mk[1], mk[2]
				a := make([]uint8, m*k)
				for i := range a {
					a[i] = c.av
				}
				w := make([]int8, n*k)
				for i := range w {
					w[i] = c.wv
				}
				want := make([]int32, m*n)
				got := make([]int32, m*n)
				gemmU8I8Ref(m, n, k, a, k, c.za, w, want, n)
				GemmU8I8(m, a, k, c.za, PackI8(w, n, k), got, n)
				require.Equal(t, want, got, "a=%d w=%d za=%d k=%d", c.av, c.wv, c.za, k)
				exp := int32(k) * (int32(c.av) - c.za) * int32(c.wv) // wraps like the kernel
				require.Equal(t, exp, got[0])
			}
			// Alternating extremes: adjacent pairs (255·−128 + 255·−128) and
			// mixed signs inside a pair.
			m, n, k := 7, 19, 67
			a := make([]uint8, m*k)
			w := make([]int8, n*k)
			for i := range a {
				a[i] = []uint8{255, 0, 255, 255}[i%4]
			}
			for i := range w {
				w[i] = []int8{-128, 127, -128, -128, 127}[i%5]
			}
			want := make([]int32, m*n)
			got := make([]int32, m*n)
			gemmU8I8Ref(m, n, k, a, k, 0, w, want, n)
			GemmU8I8(m, a, k, 0, PackI8(w, n, k), got, n)
			require.Equal(t, want, got)
		}
	})
}

func TestGemmU8I8Empty(t *testing.T) {
	forLevels(t, func(t *testing.T) {
		acc := []int32{5, 5, 5, 5}
		GemmU8I8(2, []uint8{}, 0, 3, PackI8(nil, 2, 0), acc, 2)
		require.Equal(t, []int32{0, 0, 0, 0}, acc)
		GemmU8I8(0, nil, 0, 3, PackI8([]int8{1, 2}, 1, 2), nil, 1)
		GemmU8I8(3, []uint8{1, 2, 3}, 1, 3, PackI8(nil, 0, 1), nil, 0)
	})
	require.Panics(t, func() { GemmU8I8(2, make([]uint8, 3), 2, 0, PackI8(make([]int8, 4), 2, 2), make([]int32, 4), 2) })
	require.Panics(t, func() { GemmU8I8(2, make([]uint8, 4), 2, 0, PackI8(make([]int8, 4), 2, 2), make([]int32, 3), 2) })
	require.Panics(t, func() { PackI8(make([]int8, 3), 2, 2) })
}

func TestQuantizeU8(t *testing.T) {
	x := []float32{0, 0.5, 1.5, 2.5, -0.5, -1.5, 1000, -1000, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3.49}
	dst := make([]uint8, len(x))
	QuantizeU8(x, 1, 10, dst)
	require.Equal(t, []uint8{10, 10, 12, 12, 10, 8, 255, 0, 10, 255, 0, 13}, dst)
	QuantizeU8([]float32{0.25, 0.75}, 0.5, 0, dst)
	require.Equal(t, []uint8{0, 2}, dst[:2])
}

func TestDequantizeRequantize(t *testing.T) {
	acc := []int32{-10, 0, 7, 99 /*pad*/, 100, -3, 1 << 20, 99}
	out := make([]float32, 6)
	DequantizeF32(2, 3, acc, 4, 0.5, []float32{1, 2, 4}, []float32{1, 0, -1}, false, out, 3)
	require.Equal(t, []float32{-4, 0, 13, 51, -3, float32(1<<21) - 1}, out)
	DequantizeF32(2, 3, acc, 4, 0.5, []float32{1}, nil, true, out, 3)
	require.Equal(t, []float32{0, 0, 3.5, 50, 0, 1 << 19}, out)

	q := make([]uint8, 6)
	// v = (acc+bias)·mult: (-10+1)/2=-4.5→-4, 0→0, (7+1)·0.5=4; 100.5→100 (even), -1.5→-2, huge
	RequantizeU8(2, 3, acc, 4, []float32{0.5}, []int32{1, 0, 1}, 100, false, q, 3)
	require.Equal(t, []uint8{96, 100, 104, 150, 98, 255}, q)
	RequantizeU8(2, 3, acc, 4, []float32{0.5}, []int32{1, 0, 1}, 100, true, q, 3)
	require.Equal(t, []uint8{100, 100, 104, 150, 100, 255}, q)
	RequantizeU8(1, 3, []int32{-1000, 5, 6}, 3, []float32{1, 1, 0.5}, nil, 0, false, q, 3)
	require.Equal(t, []uint8{0, 5, 3}, q[:3])
}

func FuzzGemmU8I8(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint8(33), uint8(128), int64(1))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), int64(2))
	f.Add(uint8(6), uint8(16), uint8(4), uint8(255), int64(3))
	f.Fuzz(func(t *testing.T, mb, nb, kb, za uint8, seed int64) {
		m, n, k := int(mb%40)+1, int(nb%40)+1, int(kb%80)+1
		r := rand.New(rand.NewPCG(uint64(seed), 9))
		a := make([]uint8, m*k)
		for i := range a {
			a[i] = uint8(r.Uint32())
		}
		w := make([]int8, n*k)
		for i := range w {
			w[i] = int8(r.Uint32())
		}
		p := PackI8(w, n, k)
		want := make([]int32, m*n)
		gemmU8I8Ref(m, n, k, a, k, int32(za), w, want, n)
		for _, v := range i8Variants() {
			restore := v.apply()
			got := make([]int32, m*n)
			GemmU8I8(m, a, k, int32(za), p, got, n)
			restore()
			require.Equal(t, want, got, "variant %v m=%d n=%d k=%d", v.name, m, n, k)
		}
	})
}

func benchGemmI8(b *testing.B, m, n, k, procs int) {
	r := rand.New(rand.NewPCG(5, 6))
	a := randU7(r, m*k)
	p := PackI8(randI8(r, n*k), n, k)
	acc := make([]int32, m*n)
	b.ResetTimer()
	c0 := cpuSeconds()
	for b.Loop() {
		gemmU8I8(m, a, k, 3, p, acc, n, procs)
	}
	ops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(ops/b.Elapsed().Seconds()/1e9, "GOP/s")
	if c := cpuSeconds() - c0; c > 0 {
		// Throughput per busy core, insensitive to time-slicing on a
		// shared machine, and its fraction of the measured peak of the
		// level's int8 unit (levelPeak).
		b.ReportMetric(ops/c/1e9, "GOP/cpu-s")
		if _, peak := levelPeak(); peak > 0 {
			b.ReportMetric(ops/c/1e9/peak, "peak-fraction")
		}
	}
}

// BenchmarkGEMMInt8 measures GemmU8I8 at the active level.
func BenchmarkGEMMInt8(b *testing.B) {
	b.Run("i8/1024", func(b *testing.B) { benchGemmI8(b, 1024, 1024, 1024, 1) })
	b.Run("i8/1024/par", func(b *testing.B) { benchGemmI8(b, 1024, 1024, 1024, runtime.GOMAXPROCS(0)) })
	b.Run("i8/256x784x300", func(b *testing.B) { benchGemmI8(b, 256, 300, 784, runtime.GOMAXPROCS(0)) })
	b.Run("i8/1x784x300", func(b *testing.B) { benchGemmI8(b, 1, 300, 784, 1) })
	b.Run("i8/4x784x300", func(b *testing.B) { benchGemmI8(b, 4, 300, 784, 1) })
	b.Run(fmt.Sprintf("i8/256/%v", Generic), func(b *testing.B) {
		prev := SetLevel(Generic)
		defer SetLevel(prev)
		benchGemmI8(b, 256, 256, 256, 1)
	})
}

// BenchmarkGemmI8Crossover compares one goroutine with two on small square
// int8 GEMMs at the active level, to place i8MinParallel(VNNI).
func BenchmarkGemmI8Crossover(b *testing.B) {
	for _, n := range []int{48, 64, 96, 128, 160, 192} {
		b.Run(fmt.Sprintf("%d/serial", n), func(b *testing.B) { benchGemmI8(b, n, n, n, 1) })
		b.Run(fmt.Sprintf("%d/par", n), func(b *testing.B) {
			s1, s2 := i8MinParallel, i8MinParallelVNNI
			i8MinParallel, i8MinParallelVNNI = 0, 0
			defer func() { i8MinParallel, i8MinParallelVNNI = s1, s2 }()
			benchGemmI8(b, n, n, n, 2)
		})
	}
}
