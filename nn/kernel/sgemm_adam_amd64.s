// Hand-written Go assembly (not generated): the AVX2 Adam update (it lives
// beside the GEMM kernels because they share the dispatch). For i < n, a
// multiple of 8, eight lanes at a time:
//
//	g    = grad[i] + wd·w[i]
//	m[i] = b1·m[i] + c1·g              (c1 = 1 − b1)
//	v[i] = b2·v[i] + (c2·g)·g          (c2 = 1 − b2)
//	w[i] = w[i] − (a·m[i]) / (sqrt(v[i]) + eps)
//
// with separate multiplies and adds (no FMA) in the same order as adamRef in
// kernel.go, so that it matches the Go reference bit for bit (VSQRTPS is the
// correctly rounded float32 square root, as float32(math.Sqrt(float64(x)))).

//go:build amd64 && !purego

#include "textflag.h"

// func adamAVX2(n int, w, grad, m, v *float32, a, b1, c1, b2, c2, eps, wd float32)
TEXT ·adamAVX2(SB), NOSPLIT, $0-68
	MOVQ n+0(FP), CX
	MOVQ w+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	VBROADCASTSS a+40(FP), Y4
	VBROADCASTSS b1+44(FP), Y0
	VBROADCASTSS c1+48(FP), Y1
	VBROADCASTSS b2+52(FP), Y2
	VBROADCASTSS c2+56(FP), Y3
	VBROADCASTSS eps+60(FP), Y5
	VBROADCASTSS wd+64(FP), Y6
	SHRQ $3, CX
	JZ   done

loop:
	VMOVUPS (DI), Y7          // w
	VMULPS  Y7, Y6, Y9        // wd·w
	VADDPS  (SI), Y9, Y9      // g = grad + wd·w
	VMULPS  (R8), Y0, Y10     // b1·m
	VMULPS  Y9, Y1, Y11       // c1·g
	VADDPS  Y11, Y10, Y10     // m
	VMOVUPS Y10, (R8)
	VMULPS  (R9), Y2, Y12     // b2·v
	VMULPS  Y9, Y3, Y13       // c2·g
	VMULPS  Y9, Y13, Y13      // (c2·g)·g
	VADDPS  Y13, Y12, Y12     // v
	VMOVUPS Y12, (R9)
	VSQRTPS Y12, Y13
	VADDPS  Y5, Y13, Y13      // sqrt(v) + eps
	VMULPS  Y10, Y4, Y11      // a·m
	VDIVPS  Y13, Y11, Y11     // (a·m) / (sqrt(v) + eps)
	VSUBPS  Y11, Y7, Y7
	VMOVUPS Y7, (DI)
	ADDQ $32, DI
	ADDQ $32, SI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
