// Hand-written AVX2 assembly (not generated) for the uint8×int8 → int32
// GEMM behind GemmU8I8 and GemmU8I8F32, and for QuantizeU8.
//
// i8Kernel6x16 and i8Kernel1x16 compute a tile of 6 (or 1) activation rows
// × 16 output channels:
//
//	acc[r][j] = Σ_t a[r][t]·w[j][t] + corr[j]
//
// reading the activations a (uint8, every byte ≤ 127) straight from their
// rows and the weights w (int8) from one 16-channel panel of PackedI8, four
// k values per channel at a time: VPBROADCASTD puts four activation bytes
// in every dword, VPMADDUBSW multiplies them with the 4 weights of 8
// channels and adds adjacent products into int16 (|a1·w1 + a2·w2| ≤
// 2·127·128 = 32512, so it never saturates), and VPMADDWD with int16 ones
// adds the two int16 of each dword into int32; VPADDD accumulates (int32,
// wrapping, like the Go reference). The epilogue either stores the int32
// accumulators or converts them to float32 and applies
//
//	out[r][j] = float32(float32(acc[r][j])·scale[j]) + bias[j], max(·, 0) if relu
//
// with separate roundings (VMULPS then VADDPS, no FMA), bit-identical to
// DequantizeF32.
//
// i8QuantizeU8 is QuantizeU8 on 32 values at a time (VDIVPS, VROUNDPS to
// nearest even, clamp, pack to bytes).

//go:build amd64 && !purego

#include "textflag.h"

DATA i8ones<>+0(SB)/8, $0x0001000100010001
DATA i8ones<>+8(SB)/8, $0x0001000100010001
DATA i8ones<>+16(SB)/8, $0x0001000100010001
DATA i8ones<>+24(SB)/8, $0x0001000100010001
GLOBL i8ones<>(SB), RODATA|NOPTR, $32

DATA i8perm<>+0(SB)/4, $0
DATA i8perm<>+4(SB)/4, $4
DATA i8perm<>+8(SB)/4, $1
DATA i8perm<>+12(SB)/4, $5
DATA i8perm<>+16(SB)/4, $2
DATA i8perm<>+20(SB)/4, $6
DATA i8perm<>+24(SB)/4, $3
DATA i8perm<>+28(SB)/4, $7
GLOBL i8perm<>(SB), RODATA|NOPTR, $32

// ROW multiplies the four activation bytes at addr with the current weight
// quad (Y12: channels 0-7, Y13: channels 8-15) into acc0, acc1.
#define ROW(addr, acc0, acc1) \
	VPBROADCASTD addr, Y14 \
	VPMADDUBSW   Y12, Y14, Y15 \
	VPMADDWD     i8ones<>(SB), Y15, Y15 \
	VPADDD       Y15, acc0, acc0 \
	VPMADDUBSW   Y13, Y14, Y15 \
	VPMADDWD     i8ones<>(SB), Y15, Y15 \
	VPADDD       Y15, acc1, acc1

// CVT turns two int32 accumulators into scaled, biased float32 (scale in
// R11, bias in R12).
#define CVT(acc0, acc1) \
	VCVTDQ2PS acc0, acc0 \
	VCVTDQ2PS acc1, acc1 \
	VMULPS    (R11), acc0, acc0 \
	VMULPS    32(R11), acc1, acc1 \
	VADDPS    (R12), acc0, acc0 \
	VADDPS    32(R12), acc1, acc1

#define RELU(acc0, acc1) \
	VMAXPS Y12, acc0, acc0 \
	VMAXPS Y12, acc1, acc1

#define STORE(acc0, acc1) \
	VMOVDQU acc0, (DX) \
	VMOVDQU acc1, 32(DX) \
	ADDQ    AX, DX

// func i8Kernel6x16(kq int, a *uint8, lda int, tail *uint32, w *int8, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)
TEXT ·i8Kernel6x16(SB), NOSPLIT, $0-88
	MOVQ kq+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R9
	MOVQ tail+24(FP), BX
	MOVQ w+32(FP), DI
	LEAQ (SI)(R9*2), R10
	ADDQ R9, R10
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	TESTQ CX, CX
	JZ    tail6

loop6:
	VMOVDQU (DI), Y12
	VMOVDQU 32(DI), Y13
	ROW((SI), Y0, Y1)
	ROW((SI)(R9*1), Y2, Y3)
	ROW((SI)(R9*2), Y4, Y5)
	ROW((R10), Y6, Y7)
	ROW((R10)(R9*1), Y8, Y9)
	ROW((R10)(R9*2), Y10, Y11)
	ADDQ $64, DI
	ADDQ $4, SI
	ADDQ $4, R10
	DECQ CX
	JNZ  loop6

tail6:
	TESTQ BX, BX
	JZ    epi6
	VMOVDQU (DI), Y12
	VMOVDQU 32(DI), Y13
	ROW((BX), Y0, Y1)
	ROW(4(BX), Y2, Y3)
	ROW(8(BX), Y4, Y5)
	ROW(12(BX), Y6, Y7)
	ROW(16(BX), Y8, Y9)
	ROW(20(BX), Y10, Y11)

epi6:
	MOVQ corr+40(FP), R8
	MOVQ scale+48(FP), R11
	MOVQ bias+56(FP), R12
	MOVQ flags+64(FP), R13
	MOVQ c+72(FP), DX
	MOVQ ldc+80(FP), AX
	SHLQ $2, AX
	VMOVDQU (R8), Y12
	VMOVDQU 32(R8), Y13
	VPADDD  Y12, Y0, Y0
	VPADDD  Y13, Y1, Y1
	VPADDD  Y12, Y2, Y2
	VPADDD  Y13, Y3, Y3
	VPADDD  Y12, Y4, Y4
	VPADDD  Y13, Y5, Y5
	VPADDD  Y12, Y6, Y6
	VPADDD  Y13, Y7, Y7
	VPADDD  Y12, Y8, Y8
	VPADDD  Y13, Y9, Y9
	VPADDD  Y12, Y10, Y10
	VPADDD  Y13, Y11, Y11
	TESTQ   $1, R13
	JZ      store6
	CVT(Y0, Y1)
	CVT(Y2, Y3)
	CVT(Y4, Y5)
	CVT(Y6, Y7)
	CVT(Y8, Y9)
	CVT(Y10, Y11)
	TESTQ   $2, R13
	JZ      store6
	VXORPS  Y12, Y12, Y12
	RELU(Y0, Y1)
	RELU(Y2, Y3)
	RELU(Y4, Y5)
	RELU(Y6, Y7)
	RELU(Y8, Y9)
	RELU(Y10, Y11)

store6:
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET

// func i8Kernel1x16(kq int, a *uint8, lda int, tail *uint32, w *int8, corr *int32, scale *float32, bias *float32, flags int, c unsafe.Pointer, ldc int)
TEXT ·i8Kernel1x16(SB), NOSPLIT, $0-88
	MOVQ kq+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ tail+24(FP), BX
	MOVQ w+32(FP), DI
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VMOVDQU i8ones<>(SB), Y11
	SHRQ  $1, CX
	JZ    odd1

loop1:
	VPBROADCASTD (SI), Y14
	VPBROADCASTD 4(SI), Y13
	VPMADDUBSW   (DI), Y14, Y15
	VPMADDUBSW   32(DI), Y14, Y12
	VPMADDWD     Y11, Y15, Y15
	VPMADDWD     Y11, Y12, Y12
	VPADDD       Y15, Y0, Y0
	VPADDD       Y12, Y1, Y1
	VPMADDUBSW   64(DI), Y13, Y15
	VPMADDUBSW   96(DI), Y13, Y12
	VPMADDWD     Y11, Y15, Y15
	VPMADDWD     Y11, Y12, Y12
	VPADDD       Y15, Y2, Y2
	VPADDD       Y12, Y3, Y3
	ADDQ $128, DI
	ADDQ $8, SI
	DECQ CX
	JNZ  loop1

odd1:
	TESTQ $1, kq+0(FP)
	JZ    tail1
	VPBROADCASTD (SI), Y14
	VPMADDUBSW   (DI), Y14, Y15
	VPMADDUBSW   32(DI), Y14, Y12
	VPMADDWD     Y11, Y15, Y15
	VPMADDWD     Y11, Y12, Y12
	VPADDD       Y15, Y0, Y0
	VPADDD       Y12, Y1, Y1
	ADDQ $64, DI

tail1:
	TESTQ BX, BX
	JZ    epi1
	VPBROADCASTD (BX), Y14
	VPMADDUBSW   (DI), Y14, Y15
	VPMADDUBSW   32(DI), Y14, Y12
	VPMADDWD     Y11, Y15, Y15
	VPMADDWD     Y11, Y12, Y12
	VPADDD       Y15, Y2, Y2
	VPADDD       Y12, Y3, Y3

epi1:
	MOVQ corr+40(FP), R8
	MOVQ scale+48(FP), R11
	MOVQ bias+56(FP), R12
	MOVQ flags+64(FP), R13
	MOVQ c+72(FP), DX
	VPADDD  Y2, Y0, Y0
	VPADDD  Y3, Y1, Y1
	VPADDD  (R8), Y0, Y0
	VPADDD  32(R8), Y1, Y1
	TESTQ   $1, R13
	JZ      store1
	CVT(Y0, Y1)
	TESTQ   $2, R13
	JZ      store1
	VXORPS  Y12, Y12, Y12
	RELU(Y0, Y1)

store1:
	VMOVDQU Y0, (DX)
	VMOVDQU Y1, 32(DX)
	VZEROUPPER
	RET

// func i8QuantizeU8(n int, x *float32, scale float32, zero float32, hi float32, dst *uint8)
//
// n is a multiple of 32. dst[i] = clamp(RoundToEven(x[i]/scale) + zero, 0, hi),
// NaN → clamp(zero, 0, hi).
TEXT ·i8QuantizeU8(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	VBROADCASTSS scale+16(FP), Y8
	VBROADCASTSS zero+20(FP), Y9
	VBROADCASTSS hi+24(FP), Y10
	MOVQ dst+32(FP), DI
	VXORPS Y11, Y11, Y11
	VMOVDQU i8perm<>(SB), Y12
	SHRQ $5, CX
	JZ   doneq

loopq:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VDIVPS  Y8, Y0, Y0
	VDIVPS  Y8, Y1, Y1
	VDIVPS  Y8, Y2, Y2
	VDIVPS  Y8, Y3, Y3
	VROUNDPS $0, Y0, Y0
	VROUNDPS $0, Y1, Y1
	VROUNDPS $0, Y2, Y2
	VROUNDPS $0, Y3, Y3
	VADDPS  Y9, Y0, Y0
	VADDPS  Y9, Y1, Y1
	VADDPS  Y9, Y2, Y2
	VADDPS  Y9, Y3, Y3
	// NaN (unordered with itself) → zero.
	VCMPPS  $3, Y0, Y0, Y4
	VCMPPS  $3, Y1, Y1, Y5
	VCMPPS  $3, Y2, Y2, Y6
	VCMPPS  $3, Y3, Y3, Y7
	VBLENDVPS Y4, Y9, Y0, Y0
	VBLENDVPS Y5, Y9, Y1, Y1
	VBLENDVPS Y6, Y9, Y2, Y2
	VBLENDVPS Y7, Y9, Y3, Y3
	VMAXPS  Y11, Y0, Y0
	VMAXPS  Y11, Y1, Y1
	VMAXPS  Y11, Y2, Y2
	VMAXPS  Y11, Y3, Y3
	VMINPS  Y10, Y0, Y0
	VMINPS  Y10, Y1, Y1
	VMINPS  Y10, Y2, Y2
	VMINPS  Y10, Y3, Y3
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	VCVTTPS2DQ Y3, Y3
	VPACKSSDW Y1, Y0, Y0
	VPACKSSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0
	VPERMD    Y0, Y12, Y0
	VMOVDQU   Y0, (DI)
	ADDQ $128, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loopq

doneq:
	VZEROUPPER
	RET
