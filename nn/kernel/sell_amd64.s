// sell8: one SELL-8 slice of the batch-1 sparse kernel. Gathers are slow on
// the cores this was tuned on (AMD Zen 3: a VGATHERDPS version of this
// kernel, since removed, took 12.4 µs on lenet300's fc1 at 90% zeros in
// BenchmarkSpMV, against 6.8 µs for this one), so each group of eight entries is assembled
// from scalar loads: two 64-bit loads bring the eight 16-bit column indices,
// VMOVSS and VINSERTPS (memory operands) put x[idx] in the lanes, one
// VINSERTF128 joins the halves, and one VFMADD231PS with the eight weights
// (a 256-bit load) adds to the eight row sums. That is 11 loads per eight
// entries instead of 24 for a scalar dot product. Four accumulators hide the
// FMA latency. Then bias, ReLU (NaN → 0) and one store.

//go:build amd64 && !purego

#include "textflag.h"

#define HALF(idxoff, xr) \
	MOVQ idxoff(R8), AX \
	MOVWLZX AX, DX \
	VMOVSS (SI)(DX*4), xr \
	SHRQ $16, AX \
	MOVWLZX AX, DX \
	VINSERTPS $0x10, (SI)(DX*4), xr, xr \
	SHRQ $16, AX \
	MOVWLZX AX, DX \
	VINSERTPS $0x20, (SI)(DX*4), xr, xr \
	SHRQ $16, AX \
	VINSERTPS $0x30, (SI)(AX*4), xr, xr

// func sell8(y *float32, x *float32, idx *uint16, val *float32, groups int, b *float32, relu bool)
TEXT ·sell8(SB), NOSPLIT, $0-49
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ idx+16(FP), R8
	MOVQ val+24(FP), R9
	MOVQ groups+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $4
	JLT  two
loop4:
	HALF(0, X4)
	HALF(8, X5)
	VINSERTF128 $1, X5, Y4, Y4
	VFMADD231PS (R9), Y4, Y0
	HALF(16, X6)
	HALF(24, X7)
	VINSERTF128 $1, X7, Y6, Y6
	VFMADD231PS 32(R9), Y6, Y1
	HALF(32, X8)
	HALF(40, X9)
	VINSERTF128 $1, X9, Y8, Y8
	VFMADD231PS 64(R9), Y8, Y2
	HALF(48, X10)
	HALF(56, X11)
	VINSERTF128 $1, X11, Y10, Y10
	VFMADD231PS 96(R9), Y10, Y3
	ADDQ $64, R8
	ADDQ $128, R9
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4
two:
	CMPQ CX, $2
	JLT  tail
	HALF(0, X4)
	HALF(8, X5)
	VINSERTF128 $1, X5, Y4, Y4
	VFMADD231PS (R9), Y4, Y0
	HALF(16, X6)
	HALF(24, X7)
	VINSERTF128 $1, X7, Y6, Y6
	VFMADD231PS 32(R9), Y6, Y1
	ADDQ $32, R8
	ADDQ $64, R9
	SUBQ $2, CX
tail:
	TESTQ CX, CX
	JZ   done
	HALF(0, X4)
	HALF(8, X5)
	VINSERTF128 $1, X5, Y4, Y4
	VFMADD231PS (R9), Y4, Y0
done:
	VADDPS Y2, Y0, Y0
	VADDPS Y3, Y1, Y1
	VADDPS Y1, Y0, Y0
	MOVQ b+40(FP), AX
	VADDPS (AX), Y0, Y0
	CMPB relu+48(FP), $0
	JEQ  store
	VXORPS Y8, Y8, Y8
	VMAXPS Y8, Y0, Y0
store:
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RET
