package kernel

import (
	"fmt"
)

// The start-up self-check (see initDispatch): each assembly path runs a few
// small known-answer problems against the portable reference before it is
// used. The float inputs are small integers, so every partial sum is exact
// in float32 and any summation order gives the reference's bits: the check
// compares exactly, at every level. It takes well under a millisecond.

// checkLCG returns a deterministic generator of small integers in
// [-span, span] (and 0 replaced by 1), for the self-check's inputs.
func checkLCG(seed uint32, span int) func() int {
	x := seed
	return func() int {
		x = x*1664525 + 1013904223
		v := int(x>>16)%(2*span+1) - span
		if v == 0 {
			v = 1
		}
		return v
	}
}

func checkFloats(seed uint32, n int) []float32 {
	g := checkLCG(seed, 4)
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(g())
	}
	return s
}

// checkAVX2 checks the AVX2 path: float32 GEMM (packed, in-place A, row
// kernels, pre-packed B, epilogues), int8 GEMM and Adam.
func checkAVX2() error {
	if err := checkSgemm(); err != nil {
		return err
	}
	if err := checkInt8(); err != nil {
		return err
	}
	return checkAdam()
}

// checkSgemm compares Sgemm with sgemmRef (and SgemmBiasActPacked with
// the reference plus bias and ReLU) on shapes that cover full and edge
// tiles of every level, on the calling goroutine.
func checkSgemm() error {
	shapes := [][3]int{{30, 70, 40}, {13, 33, 9}, {1, 50, 20}, {2, 17, 5}, {24, 64, 260}}
	for si, s := range shapes {
		m, n, k := s[0], s[1], s[2]
		for combo := range 4 {
			tA, tB := combo&1 != 0, combo&2 != 0
			a := checkFloats(uint32(7*si+combo), m*k)
			b := checkFloats(uint32(100+7*si+combo), k*n)
			c0 := checkFloats(uint32(200+si), m*n)
			alpha, beta := float32(1), float32(0)
			if combo == 1 {
				alpha, beta = 0.5, 2
			} else if combo == 3 {
				beta = 1
			}
			lda, ldb := k, n
			if tA {
				lda = m
			}
			if tB {
				ldb = k
			}
			want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
			sgemmRef(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, want, n)
			gemmSerial(&gemmArgs{transA: tA, transB: tB, m: m, n: n, k: k, alpha: alpha, beta: beta,
				a: a, lda: lda, b: b, ldb: ldb, c: got, ldc: n}, kernelFor())
			if i := firstDiff(want, got); i >= 0 {
				return fmt.Errorf("sgemm %dx%dx%d transA=%v transB=%v: C[%d] = %v, want %v", m, n, k, tA, tB, i, got[i], want[i])
			}
		}
		// Dense-layer form: pre-packed weight, bias, ReLU.
		a := checkFloats(uint32(300+si), m*k)
		wt := checkFloats(uint32(400+si), n*k)
		bias := checkFloats(uint32(500+si), n)
		want, got := make([]float32, m*n), make([]float32, m*n)
		sgemmRef(false, true, m, n, k, 1, a, k, wt, k, 0, want, n)
		for i := range want {
			want[i] += bias[i%n]
			want[i] = max(want[i], 0)
		}
		gemmSerial(&gemmArgs{m: m, n: n, k: k, alpha: 1, a: a, lda: k, c: got, ldc: n,
			pb: PackB(true, k, n, wt, k), bias: bias, relu: true}, kernelFor())
		if i := firstDiff(want, got); i >= 0 {
			return fmt.Errorf("sgemm bias+relu %dx%dx%d: C[%d] = %v, want %v", m, n, k, i, got[i], want[i])
		}
	}
	return nil
}

// checkInt8 compares the int8 GEMM (accumulators and the fused float
// epilogue) with the reference, with activations below and above 128.
func checkInt8() error {
	for si, s := range [][3]int{{13, 37, 45}, {6, 64, 64}, {1, 20, 7}, {25, 80, 130}} {
		m, n, k := s[0], s[1], s[2]
		g := checkLCG(uint32(600+si), 127)
		a := make([]uint8, m*k)
		for i := range a {
			a[i] = uint8(g() + 127)
			if si%2 == 1 {
				a[i] &= 127 // the fast case of the AVX2 path
			}
		}
		w := make([]int8, n*k)
		for i := range w {
			w[i] = int8(g())
		}
		za := int32(3 + si)
		p := PackI8(w, n, k)
		want, got := make([]int32, m*n), make([]int32, m*n)
		gemmU8I8Ref(m, n, k, a, k, za, w, want, n)
		gemmU8I8(m, a, k, za, p, got, n, 1)
		for i := range want {
			if want[i] != got[i] {
				return fmt.Errorf("int8 GEMM %dx%dx%d: acc[%d] = %d, want %d", m, n, k, i, got[i], want[i])
			}
		}
		scale, bias := checkFloats(uint32(700+si), n), checkFloats(uint32(800+si), n)
		for i := range scale {
			scale[i] *= 0.25
		}
		wantF, gotF := make([]float32, m*n), make([]float32, m*n)
		DequantizeF32(m, n, want, n, 0.5, scale, bias, true, wantF, n)
		gemmU8I8F32(m, a, k, za, p, 0.5, scale, bias, true, gotF, n, 1)
		if i := firstDiff(wantF, gotF); i >= 0 {
			return fmt.Errorf("int8 GEMM+dequantize %dx%dx%d: out[%d] = %v, want %v", m, n, k, i, gotF[i], wantF[i])
		}
	}
	return nil
}

// checkAdam compares Adam with adamRef bit for bit.
func checkAdam() error {
	const n = 37
	w, g, m, v := checkFloats(900, n), checkFloats(901, n), checkFloats(902, n), checkFloats(903, n)
	for i := range v {
		v[i] = v[i] * v[i]
	}
	w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
	Adam(w, g, m, v, 0.01, 0.9, 0.999, 1e-8, 0.01)
	adamRef(w2, g, m2, v2, 0.01, 0.9, 0.999, 1e-8, 0.01)
	if i := firstDiff(w2, w); i >= 0 {
		return fmt.Errorf("adam: w[%d] = %v, want %v", i, w[i], w2[i])
	}
	return nil
}

// firstDiff returns the first index where want and got differ in bits
// (NaNs compare equal to NaNs), or -1.
func firstDiff(want, got []float32) int {
	for i := range want {
		if want[i] != got[i] && !(want[i] != want[i] && got[i] != got[i]) {
			return i
		}
	}
	return -1
}
