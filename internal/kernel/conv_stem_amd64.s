//go:build !purego

#include "textflag.h"
#include "transpose_amd64.h"

#define STEM_FMA(i, zmm) VFMADD231PS.BCST (8*i)(BX), Z16, zmm

#define STEM_RELU(zmm) VMAXPS zmm, Z18, zmm

// func stemAVX512(y *float32, ldy int, x *float32, offs *int32, nt int, w, bias *float32, relu bool, rows int, mask uint16)
// Sixteen outputs of a row of a stride-2 convolution with few input
// channels, for up to sixteen output channels: output pixel i (of the
// lanes in mask) of channel j < rows is bias[j] + Σ_t w[16t+j]·x[offs[t]+2i],
// then max(·, 0) if relu (NaNs kept, as in reluAVX512); channel j's pixels
// are stored at y + j·ldy. Each tap's input scalar is broadcast into the
// multiply-add; the sixteen pixel vectors are transposed into channel
// rows at the end.
TEXT ·stemAVX512(SB), NOSPLIT, $0-74
	MOVQ x+16(FP), SI
	MOVQ offs+24(FP), R8
	MOVQ nt+32(FP), R12
	MOVQ w+40(FP), R10
	MOVQ bias+48(FP), AX
	VMOVUPS (AX), Z17
	VMOVAPS Z17, Z0
	VMOVAPS Z17, Z1
	VMOVAPS Z17, Z2
	VMOVAPS Z17, Z3
	VMOVAPS Z17, Z4
	VMOVAPS Z17, Z5
	VMOVAPS Z17, Z6
	VMOVAPS Z17, Z7
	VMOVAPS Z17, Z8
	VMOVAPS Z17, Z9
	VMOVAPS Z17, Z10
	VMOVAPS Z17, Z11
	VMOVAPS Z17, Z12
	VMOVAPS Z17, Z13
	VMOVAPS Z17, Z14
	VMOVAPS Z17, Z15

stemtap:
	MOVLQSX (R8), R11
	LEAQ (SI)(R11*4), BX
	VMOVUPS (R10), Z16
	STEM_FMA(0, Z0)
	STEM_FMA(1, Z1)
	STEM_FMA(2, Z2)
	STEM_FMA(3, Z3)
	STEM_FMA(4, Z4)
	STEM_FMA(5, Z5)
	STEM_FMA(6, Z6)
	STEM_FMA(7, Z7)
	STEM_FMA(8, Z8)
	STEM_FMA(9, Z9)
	STEM_FMA(10, Z10)
	STEM_FMA(11, Z11)
	STEM_FMA(12, Z12)
	STEM_FMA(13, Z13)
	STEM_FMA(14, Z14)
	STEM_FMA(15, Z15)
	ADDQ $4, R8
	ADDQ $64, R10
	DECQ R12
	JNZ  stemtap

	MOVBLZX relu+56(FP), AX
	TESTQ AX, AX
	JZ    stemstore
	VPXORD Z18, Z18, Z18
	STEM_RELU(Z0)
	STEM_RELU(Z1)
	STEM_RELU(Z2)
	STEM_RELU(Z3)
	STEM_RELU(Z4)
	STEM_RELU(Z5)
	STEM_RELU(Z6)
	STEM_RELU(Z7)
	STEM_RELU(Z8)
	STEM_RELU(Z9)
	STEM_RELU(Z10)
	STEM_RELU(Z11)
	STEM_RELU(Z12)
	STEM_RELU(Z13)
	STEM_RELU(Z14)
	STEM_RELU(Z15)

stemstore:
	TR16
	MOVQ y+0(FP), DI
	MOVQ ldy+8(FP), R10
	SHLQ $2, R10
	MOVQ rows+64(FP), R9
	MOVWLZX mask+72(FP), AX
	KMOVW AX, K1
	TR_STORE16
	VZEROUPPER
	RET
