// Hand-written Go assembly (not generated): AVX2+FMA float32 kernels for a
// GEMM with a single row of A (m = 1, the batch-1 inference case), reading
// B from the micro-kernel's packed panels (k×16, k-major, see sgemm.go).
//
// sgemvKernel1x64 computes 64 columns (four consecutive panels, bstride
// bytes apart):
//
//	c[j] = alpha·Σ_p a[p]·B[p][j]  (+ beta·c[j]) (+ bias[j]), ReLU
//
// with eight YMM accumulators (one per 8 columns): per k step one broadcast
// of a[p] feeds eight VFMADD231PS with B as memory operands, enough
// independent chains to cover the FMA latency. sgemvKernel1x16 computes the
// same for one panel, splitting the sum over k into four interleaved chains
// (p mod 4) that are added at the end. The epilogue terms are chosen by flags
// (1 = beta·c, 2 = bias, 4 = ReLU), as for the 6×16 micro-kernel.

//go:build amd64 && !purego

#include "textflag.h"

#define STEP64(ao, bo, bo2) \
	VBROADCASTSS ao(SI), Y0; \
	VFMADD231PS bo(DI), Y0, Y8; \
	VFMADD231PS bo2(DI), Y0, Y9; \
	VFMADD231PS bo(DI)(R10*1), Y0, Y10; \
	VFMADD231PS bo2(DI)(R10*1), Y0, Y11; \
	VFMADD231PS bo(R11), Y0, Y12; \
	VFMADD231PS bo2(R11), Y0, Y13; \
	VFMADD231PS bo(R11)(R10*1), Y0, Y14; \
	VFMADD231PS bo2(R11)(R10*1), Y0, Y15

// func sgemvKernel1x64(k int, a, b *float32, bstride int, c *float32, alpha, beta float32, bias *float32, flags int)
TEXT ·sgemvKernel1x64(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ bstride+24(FP), R10
	LEAQ (DI)(R10*2), R11
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail64

loop64:
	STEP64(0, 0, 32)
	STEP64(4, 64, 96)
	STEP64(8, 128, 160)
	STEP64(12, 192, 224)
	ADDQ $16, SI
	ADDQ $256, DI
	ADDQ $256, R11
	DECQ R9
	JNZ  loop64

tail64:
	ANDQ $3, CX
	JZ   epi64

loop64one:
	STEP64(0, 0, 32)
	ADDQ $4, SI
	ADDQ $64, DI
	ADDQ $64, R11
	DECQ CX
	JNZ  loop64one

epi64:
	MOVQ c+32(FP), DX
	MOVQ flags+56(FP), R12
	VBROADCASTSS alpha+40(FP), Y1
	VMULPS Y1, Y8, Y8
	VMULPS Y1, Y9, Y9
	VMULPS Y1, Y10, Y10
	VMULPS Y1, Y11, Y11
	VMULPS Y1, Y12, Y12
	VMULPS Y1, Y13, Y13
	VMULPS Y1, Y14, Y14
	VMULPS Y1, Y15, Y15

	TESTQ $1, R12
	JZ    nobeta64
	VBROADCASTSS beta+44(FP), Y2
	VFMADD231PS 0(DX), Y2, Y8
	VFMADD231PS 32(DX), Y2, Y9
	VFMADD231PS 64(DX), Y2, Y10
	VFMADD231PS 96(DX), Y2, Y11
	VFMADD231PS 128(DX), Y2, Y12
	VFMADD231PS 160(DX), Y2, Y13
	VFMADD231PS 192(DX), Y2, Y14
	VFMADD231PS 224(DX), Y2, Y15

nobeta64:
	TESTQ $2, R12
	JZ    nobias64
	MOVQ  bias+48(FP), AX
	VADDPS 0(AX), Y8, Y8
	VADDPS 32(AX), Y9, Y9
	VADDPS 64(AX), Y10, Y10
	VADDPS 96(AX), Y11, Y11
	VADDPS 128(AX), Y12, Y12
	VADDPS 160(AX), Y13, Y13
	VADDPS 192(AX), Y14, Y14
	VADDPS 224(AX), Y15, Y15

nobias64:
	TESTQ $4, R12
	JZ    store64
	VXORPS Y3, Y3, Y3
	VMAXPS Y8, Y3, Y8 // max(0, x): x when x is NaN
	VMAXPS Y9, Y3, Y9
	VMAXPS Y10, Y3, Y10
	VMAXPS Y11, Y3, Y11
	VMAXPS Y12, Y3, Y12
	VMAXPS Y13, Y3, Y13
	VMAXPS Y14, Y3, Y14
	VMAXPS Y15, Y3, Y15

store64:
	VMOVUPS Y8, 0(DX)
	VMOVUPS Y9, 32(DX)
	VMOVUPS Y10, 64(DX)
	VMOVUPS Y11, 96(DX)
	VMOVUPS Y12, 128(DX)
	VMOVUPS Y13, 160(DX)
	VMOVUPS Y14, 192(DX)
	VMOVUPS Y15, 224(DX)
	VZEROUPPER
	RET

// func sgemvKernel1x16(k int, a, b, c *float32, alpha, beta float32, bias *float32, flags int)
TEXT ·sgemvKernel1x16(SB), NOSPLIT, $0-56
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail16

loop16:
	VBROADCASTSS 0(SI), Y0
	VFMADD231PS 0(DI), Y0, Y8
	VFMADD231PS 32(DI), Y0, Y9
	VBROADCASTSS 4(SI), Y1
	VFMADD231PS 64(DI), Y1, Y10
	VFMADD231PS 96(DI), Y1, Y11
	VBROADCASTSS 8(SI), Y2
	VFMADD231PS 128(DI), Y2, Y12
	VFMADD231PS 160(DI), Y2, Y13
	VBROADCASTSS 12(SI), Y3
	VFMADD231PS 192(DI), Y3, Y14
	VFMADD231PS 224(DI), Y3, Y15
	ADDQ $16, SI
	ADDQ $256, DI
	DECQ R9
	JNZ  loop16

tail16:
	ANDQ $3, CX
	JZ   sum16

loop16one:
	VBROADCASTSS 0(SI), Y0
	VFMADD231PS 0(DI), Y0, Y8
	VFMADD231PS 32(DI), Y0, Y9
	ADDQ $4, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop16one

sum16:
	VADDPS Y10, Y8, Y8
	VADDPS Y11, Y9, Y9
	VADDPS Y14, Y12, Y12
	VADDPS Y15, Y13, Y13
	VADDPS Y12, Y8, Y8
	VADDPS Y13, Y9, Y9

	MOVQ c+24(FP), DX
	MOVQ flags+48(FP), R12
	VBROADCASTSS alpha+32(FP), Y1
	VMULPS Y1, Y8, Y8
	VMULPS Y1, Y9, Y9

	TESTQ $1, R12
	JZ    nobeta16
	VBROADCASTSS beta+36(FP), Y2
	VFMADD231PS 0(DX), Y2, Y8
	VFMADD231PS 32(DX), Y2, Y9

nobeta16:
	TESTQ $2, R12
	JZ    nobias16
	MOVQ  bias+40(FP), AX
	VADDPS 0(AX), Y8, Y8
	VADDPS 32(AX), Y9, Y9

nobias16:
	TESTQ $4, R12
	JZ    store16
	VXORPS Y3, Y3, Y3
	VMAXPS Y8, Y3, Y8 // max(0, x): x when x is NaN
	VMAXPS Y9, Y3, Y9

store16:
	VMOVUPS Y8, 0(DX)
	VMOVUPS Y9, 32(DX)
	VZEROUPPER
	RET
