// Hand-written AVX2 kernel for SpMM (sparse CSR weights × dense activations).
// spmmRow64 computes, for one CSR row, acc[i] = Σ_t val[t]·xt[idx[t]·64+i]
// for the 64 activation rows i of a transposed block, keeping the 64 sums in
// eight YMM registers and using one broadcast + eight VFMADD231PS per nonzero.

//go:build amd64 && !purego

#include "textflag.h"

// func spmmRow64(acc *float32, xt *float32, idx *int32, val *float32, nnz int)
TEXT ·spmmRow64(SB), NOSPLIT, $0-40
	MOVQ acc+0(FP), DI
	MOVQ xt+8(FP), SI
	MOVQ idx+16(FP), R8
	MOVQ val+24(FP), R9
	MOVQ nnz+32(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ   done
loop:
	MOVLQSX (R8), AX
	SHLQ $8, AX
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
	JNZ  loop
done:
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
