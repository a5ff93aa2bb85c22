// Hand-written AVX2 kernels for SpMM (sparse CSR weights × dense activations).
// spmmRowW computes, for one CSR row, acc[i] = bias + Σ_t val[t]·xt[idx[t]·stride+i]
// for W = 64, 32, 16 or 8 consecutive activation rows i of a transposed block
// (stride in floats), keeping the W sums in W/8 YMM registers and using one
// broadcast plus W/8 VFMADD231PS per nonzero; it then adds bias and, if relu,
// takes max(·, 0) (NaN → 0) before storing.
//
// spmvDot (the batch-1 case) computes Σ_t val[t]·x[min(idx[t], kmax)] over
// n16·16 nonzeros with VGATHERDPS (indices clamped with VPMINUD, so a
// malformed index can never read outside x) and two FMA accumulators, then
// sums the lanes.

//go:build amd64 && !purego

#include "textflag.h"

// func spmmRow64(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)
TEXT ·spmmRow64(SB), NOSPLIT, $0-53
	MOVQ acc+0(FP), DI
	MOVQ xt+8(FP), SI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVQ idx+24(FP), R8
	MOVQ val+32(FP), R9
	MOVQ nnz+40(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ   done64
loop64:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	VBROADCASTSS (R9), Y8
	VFMADD231PS 0(SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y8, Y1
	VFMADD231PS 64(SI)(AX*1), Y8, Y2
	VFMADD231PS 96(SI)(AX*1), Y8, Y3
	VFMADD231PS 128(SI)(AX*1), Y8, Y4
	VFMADD231PS 160(SI)(AX*1), Y8, Y5
	VFMADD231PS 192(SI)(AX*1), Y8, Y6
	VFMADD231PS 224(SI)(AX*1), Y8, Y7
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  loop64
done64:
	VBROADCASTSS bias+48(FP), Y8
	VADDPS Y8, Y0, Y0
	VADDPS Y8, Y1, Y1
	VADDPS Y8, Y2, Y2
	VADDPS Y8, Y3, Y3
	VADDPS Y8, Y4, Y4
	VADDPS Y8, Y5, Y5
	VADDPS Y8, Y6, Y6
	VADDPS Y8, Y7, Y7
	CMPB relu+52(FP), $0
	JEQ  store64
	VXORPS Y8, Y8, Y8
	VMAXPS Y8, Y0, Y0
	VMAXPS Y8, Y1, Y1
	VMAXPS Y8, Y2, Y2
	VMAXPS Y8, Y3, Y3
	VMAXPS Y8, Y4, Y4
	VMAXPS Y8, Y5, Y5
	VMAXPS Y8, Y6, Y6
	VMAXPS Y8, Y7, Y7
store64:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	VZEROUPPER
	RET

// func spmmRow32(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)
TEXT ·spmmRow32(SB), NOSPLIT, $0-53
	MOVQ acc+0(FP), DI
	MOVQ xt+8(FP), SI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVQ idx+24(FP), R8
	MOVQ val+32(FP), R9
	MOVQ nnz+40(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	TESTQ CX, CX
	JZ   done32
loop32:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	VBROADCASTSS (R9), Y8
	VFMADD231PS 0(SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y8, Y1
	VFMADD231PS 64(SI)(AX*1), Y8, Y2
	VFMADD231PS 96(SI)(AX*1), Y8, Y3
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  loop32
done32:
	VBROADCASTSS bias+48(FP), Y8
	VADDPS Y8, Y0, Y0
	VADDPS Y8, Y1, Y1
	VADDPS Y8, Y2, Y2
	VADDPS Y8, Y3, Y3
	CMPB relu+52(FP), $0
	JEQ  store32
	VXORPS Y8, Y8, Y8
	VMAXPS Y8, Y0, Y0
	VMAXPS Y8, Y1, Y1
	VMAXPS Y8, Y2, Y2
	VMAXPS Y8, Y3, Y3
store32:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VZEROUPPER
	RET

// func spmmRow16(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)
TEXT ·spmmRow16(SB), NOSPLIT, $0-53
	MOVQ acc+0(FP), DI
	MOVQ xt+8(FP), SI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVQ idx+24(FP), R8
	MOVQ val+32(FP), R9
	MOVQ nnz+40(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ CX, CX
	JZ   done16
loop16:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	VBROADCASTSS (R9), Y8
	VFMADD231PS 0(SI)(AX*1), Y8, Y0
	VFMADD231PS 32(SI)(AX*1), Y8, Y1
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  loop16
done16:
	VBROADCASTSS bias+48(FP), Y8
	VADDPS Y8, Y0, Y0
	VADDPS Y8, Y1, Y1
	CMPB relu+52(FP), $0
	JEQ  store16
	VXORPS Y8, Y8, Y8
	VMAXPS Y8, Y0, Y0
	VMAXPS Y8, Y1, Y1
store16:
	VMOVUPS Y0, 0(DI)
	VMOVUPS Y1, 32(DI)
	VZEROUPPER
	RET

// func spmmRow8(acc *float32, xt *float32, stride int, idx *int32, val *float32, nnz int, bias float32, relu bool)
TEXT ·spmmRow8(SB), NOSPLIT, $0-53
	MOVQ acc+0(FP), DI
	MOVQ xt+8(FP), SI
	MOVQ stride+16(FP), DX
	SHLQ $2, DX
	MOVQ idx+24(FP), R8
	MOVQ val+32(FP), R9
	MOVQ nnz+40(FP), CX
	VXORPS Y0, Y0, Y0
	TESTQ CX, CX
	JZ   done8
loop8:
	MOVLQSX (R8), AX
	IMULQ DX, AX
	VBROADCASTSS (R9), Y8
	VFMADD231PS 0(SI)(AX*1), Y8, Y0
	ADDQ $4, R8
	ADDQ $4, R9
	DECQ CX
	JNZ  loop8
done8:
	VBROADCASTSS bias+48(FP), Y8
	VADDPS Y8, Y0, Y0
	CMPB relu+52(FP), $0
	JEQ  store8
	VXORPS Y8, Y8, Y8
	VMAXPS Y8, Y0, Y0
store8:
	VMOVUPS Y0, 0(DI)
	VZEROUPPER
	RET

// func spmvDot(x *float32, kmax int, idx *int32, val *float32, n16 int) float32
TEXT ·spmvDot(SB), NOSPLIT, $0-44
	MOVQ x+0(FP), SI
	VPBROADCASTD kmax+8(FP), Y7
	MOVQ idx+16(FP), R8
	MOVQ val+24(FP), R9
	MOVQ n16+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	TESTQ CX, CX
	JZ   reduce
dotloop:
	VPCMPEQD Y4, Y4, Y4
	VPMINUD (R8), Y7, Y5
	VGATHERDPS Y4, (SI)(Y5*4), Y6
	VFMADD231PS (R9), Y6, Y0
	VPCMPEQD Y8, Y8, Y8
	VPMINUD 32(R8), Y7, Y9
	VGATHERDPS Y8, (SI)(Y9*4), Y10
	VFMADD231PS 32(R9), Y10, Y1
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ  dotloop
reduce:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VMOVSS X0, ret+40(FP)
	VZEROUPPER
	RET
