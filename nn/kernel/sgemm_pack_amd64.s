// Hand-written Go assembly (not generated): copies a full 16-column B panel
// into the packed layout, dst[p·16+j] = src[p·ldb+j] for p < k, j < 16
// (two 8-wide loads and stores per row), for packB with a non-transposed B.

//go:build amd64 && !purego

#include "textflag.h"

// func packPanel16(k int, src *float32, ldb int, dst *float32)
TEXT ·packPanel16(SB), NOSPLIT, $0-32
	MOVQ k+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8 // ldb in bytes
	MOVQ dst+24(FP), DI
	TESTQ CX, CX
	JZ    done

loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

done:
	VZEROUPPER
	RET
