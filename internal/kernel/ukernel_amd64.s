//go:build !purego

#include "textflag.h"

// Float32 micro-kernels. Both compute an MR×NR tile of C from packed panels:
// a holds kc columns of MR values, b holds kc rows of NR values. Rows of B
// are loaded as vectors, elements of A are broadcast, and the tile lives in
// registers for the whole kc loop. The k loop is unrolled four times.
// On exit C = alpha*tile + beta*C, and C is not read when beta is ±0.
//
// Both run with the MXCSR flush-to-zero and denormals-are-zero bits set and
// restore the caller's MXCSR before returning. Subnormal floats (softmax
// probabilities of confidently separated classes, their gradients) take a
// microcode assist on every FMA on x86, which made backward GEMMs up to 50×
// slower; as products of values below 2^-126 they do not matter to training.

// Save MXCSR in the frame slot and set FTZ (bit 15) and DAZ (bit 6).
#define FLUSH_DENORMALS \
	STMXCSR mxcsr-8(SP); \
	MOVL mxcsr-8(SP), R10; \
	MOVL R10, mxcsr-4(SP); \
	ORL $0x8040, R10; \
	MOVL R10, mxcsr-8(SP); \
	LDMXCSR mxcsr-8(SP)

#define RESTORE_MXCSR \
	LDMXCSR mxcsr-4(SP)

// ---------------------------------------------------------------------------
// AVX-512: MR=8, NR=48. Z0-Z23 hold the tile (row i in Z3i..Z3i+2), Z24-Z26
// one row of B, Z27/Z28 alternate as the broadcast A element.

#define FMA_ROW512(aoff, bc, r0, r1, r2) \
	VBROADCASTSS aoff(AX), bc; \
	VFMADD231PS Z24, bc, r0; \
	VFMADD231PS Z25, bc, r1; \
	VFMADD231PS Z26, bc, r2

#define KSTEP512(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	VMOVUPS boff+64(BX), Z25; \
	VMOVUPS boff+128(BX), Z26; \
	FMA_ROW512(aoff, Z27, Z0, Z1, Z2); \
	FMA_ROW512(aoff+4, Z28, Z3, Z4, Z5); \
	FMA_ROW512(aoff+8, Z27, Z6, Z7, Z8); \
	FMA_ROW512(aoff+12, Z28, Z9, Z10, Z11); \
	FMA_ROW512(aoff+16, Z27, Z12, Z13, Z14); \
	FMA_ROW512(aoff+20, Z28, Z15, Z16, Z17); \
	FMA_ROW512(aoff+24, Z27, Z18, Z19, Z20); \
	FMA_ROW512(aoff+28, Z28, Z21, Z22, Z23)

// Scale a tile row by alpha (Z27) and store it at R8, then advance R8.
#define STORE_ROW512(r0, r1, r2) \
	VMULPS Z27, r0, r0; \
	VMULPS Z27, r1, r1; \
	VMULPS Z27, r2, r2; \
	VMOVUPS r0, (R8); \
	VMOVUPS r1, 64(R8); \
	VMOVUPS r2, 128(R8); \
	ADDQ SI, R8

// Same, adding beta (Z28) times the old row.
#define UPDATE_ROW512(r0, r1, r2) \
	VMULPS Z27, r0, r0; \
	VMULPS Z27, r1, r1; \
	VMULPS Z27, r2, r2; \
	VFMADD231PS (R8), Z28, r0; \
	VFMADD231PS 64(R8), Z28, r1; \
	VFMADD231PS 128(R8), Z28, r2; \
	VMOVUPS r0, (R8); \
	VMOVUPS r1, 64(R8); \
	VMOVUPS r2, 128(R8); \
	ADDQ SI, R8

// The 8×48 tile: cleared, and stored with or without beta.
#define ZERO_TILE512 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7 \
	VPXORD Z8, Z8, Z8 \
	VPXORD Z9, Z9, Z9 \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15 \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23

#define UPDATE_TILE512 \
	UPDATE_ROW512(Z0, Z1, Z2); \
	UPDATE_ROW512(Z3, Z4, Z5); \
	UPDATE_ROW512(Z6, Z7, Z8); \
	UPDATE_ROW512(Z9, Z10, Z11); \
	UPDATE_ROW512(Z12, Z13, Z14); \
	UPDATE_ROW512(Z15, Z16, Z17); \
	UPDATE_ROW512(Z18, Z19, Z20); \
	UPDATE_ROW512(Z21, Z22, Z23)

#define STORE_TILE512 \
	STORE_ROW512(Z0, Z1, Z2); \
	STORE_ROW512(Z3, Z4, Z5); \
	STORE_ROW512(Z6, Z7, Z8); \
	STORE_ROW512(Z9, Z10, Z11); \
	STORE_ROW512(Z12, Z13, Z14); \
	STORE_ROW512(Z15, Z16, Z17); \
	STORE_ROW512(Z18, Z19, Z20); \
	STORE_ROW512(Z21, Z22, Z23)

// func sgemmAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmAVX512(SB), NOSPLIT, $8-48
	FLUSH_DENORMALS
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), SI
	SHLQ $2, SI

	ZERO_TILE512

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail512

loop512:
	KSTEP512(0, 0)
	KSTEP512(32, 192)
	KSTEP512(64, 384)
	KSTEP512(96, 576)
	ADDQ $128, AX
	ADDQ $768, BX
	DECQ R9
	JNZ  loop512

tail512:
	ANDQ $3, CX
	JZ   done512

tailloop512:
	KSTEP512(0, 0)
	ADDQ $32, AX
	ADDQ $192, BX
	DECQ CX
	JNZ  tailloop512

done512:
	VBROADCASTSS alpha+40(FP), Z27
	MOVQ DX, R8
	MOVL beta+44(FP), R9
	TESTL $0x7fffffff, R9
	JZ   store512
	VBROADCASTSS beta+44(FP), Z28
	UPDATE_TILE512
	VZEROUPPER
	RESTORE_MXCSR
	RET

store512:
	STORE_TILE512
	VZEROUPPER
	RESTORE_MXCSR
	RET

// Two-vector rows shared by the 8×32 AVX-512 and 6×16 AVX2 kernels:
// b0, b1 hold one row of B, sc the scale (alpha), bt beta, off the byte
// width of one vector.
#define FMA_ROW2(aoff, b0, b1, bc, r0, r1) \
	VBROADCASTSS aoff(AX), bc; \
	VFMADD231PS b0, bc, r0; \
	VFMADD231PS b1, bc, r1

#define STORE_ROW2(sc, r0, r1, off) \
	VMULPS sc, r0, r0; \
	VMULPS sc, r1, r1; \
	VMOVUPS r0, (R8); \
	VMOVUPS r1, off(R8); \
	ADDQ SI, R8

#define UPDATE_ROW2(sc, bt, r0, r1, off) \
	VMULPS sc, r0, r0; \
	VMULPS sc, r1, r1; \
	VFMADD231PS (R8), bt, r0; \
	VFMADD231PS off(R8), bt, r1; \
	VMOVUPS r0, (R8); \
	VMOVUPS r1, off(R8); \
	ADDQ SI, R8

// ---------------------------------------------------------------------------
// AVX-512, the first 16 or 32 columns of a 48-wide B panel: the 8×48
// kernel's arithmetic on fewer columns, so each element gets the same bits.
// Winograd blocks with fewer than 48 tiles use them. Z0-Z7 (16 columns) or
// Z0-Z15 (32 columns, row i in Z2i, Z2i+1) hold the tile.

#define KSTEP16(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	VBROADCASTSS aoff(AX), Z27; \
	VFMADD231PS Z24, Z27, Z0; \
	VBROADCASTSS aoff+4(AX), Z28; \
	VFMADD231PS Z24, Z28, Z1; \
	VBROADCASTSS aoff+8(AX), Z27; \
	VFMADD231PS Z24, Z27, Z2; \
	VBROADCASTSS aoff+12(AX), Z28; \
	VFMADD231PS Z24, Z28, Z3; \
	VBROADCASTSS aoff+16(AX), Z27; \
	VFMADD231PS Z24, Z27, Z4; \
	VBROADCASTSS aoff+20(AX), Z28; \
	VFMADD231PS Z24, Z28, Z5; \
	VBROADCASTSS aoff+24(AX), Z27; \
	VFMADD231PS Z24, Z27, Z6; \
	VBROADCASTSS aoff+28(AX), Z28; \
	VFMADD231PS Z24, Z28, Z7

#define KSTEP32(aoff, boff) \
	VMOVUPS boff(BX), Z24; \
	VMOVUPS boff+64(BX), Z25; \
	FMA_ROW2(aoff, Z24, Z25, Z27, Z0, Z1); \
	FMA_ROW2(aoff+4, Z24, Z25, Z28, Z2, Z3); \
	FMA_ROW2(aoff+8, Z24, Z25, Z27, Z4, Z5); \
	FMA_ROW2(aoff+12, Z24, Z25, Z28, Z6, Z7); \
	FMA_ROW2(aoff+16, Z24, Z25, Z27, Z8, Z9); \
	FMA_ROW2(aoff+20, Z24, Z25, Z28, Z10, Z11); \
	FMA_ROW2(aoff+24, Z24, Z25, Z27, Z12, Z13); \
	FMA_ROW2(aoff+28, Z24, Z25, Z28, Z14, Z15)

#define STORE_ROW16(r0) \
	VMULPS Z27, r0, r0; \
	VMOVUPS r0, (R8); \
	ADDQ SI, R8

#define UPDATE_ROW16(r0) \
	VMULPS Z27, r0, r0; \
	VFMADD231PS (R8), Z28, r0; \
	VMOVUPS r0, (R8); \
	ADDQ SI, R8

#define NARROW_PROLOGUE \
	FLUSH_DENORMALS; \
	MOVQ kc+0(FP), CX; \
	MOVQ a+8(FP), AX; \
	MOVQ b+16(FP), BX; \
	MOVQ c+24(FP), DX; \
	MOVQ ldc+32(FP), SI; \
	SHLQ $2, SI

// func sgemmAVX512x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmAVX512x16(SB), NOSPLIT, $8-48
	NARROW_PROLOGUE
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	TESTQ CX, CX
	JZ   done16

loop16:
	KSTEP16(0, 0)
	ADDQ $32, AX
	ADDQ $192, BX
	DECQ CX
	JNZ  loop16

done16:
	VBROADCASTSS alpha+40(FP), Z27
	MOVQ DX, R8
	MOVL beta+44(FP), R9
	TESTL $0x7fffffff, R9
	JZ   store16
	VBROADCASTSS beta+44(FP), Z28
	UPDATE_ROW16(Z0)
	UPDATE_ROW16(Z1)
	UPDATE_ROW16(Z2)
	UPDATE_ROW16(Z3)
	UPDATE_ROW16(Z4)
	UPDATE_ROW16(Z5)
	UPDATE_ROW16(Z6)
	UPDATE_ROW16(Z7)
	VZEROUPPER
	RESTORE_MXCSR
	RET

store16:
	STORE_ROW16(Z0)
	STORE_ROW16(Z1)
	STORE_ROW16(Z2)
	STORE_ROW16(Z3)
	STORE_ROW16(Z4)
	STORE_ROW16(Z5)
	STORE_ROW16(Z6)
	STORE_ROW16(Z7)
	VZEROUPPER
	RESTORE_MXCSR
	RET

// func sgemmAVX512x32(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmAVX512x32(SB), NOSPLIT, $8-48
	NARROW_PROLOGUE
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	TESTQ CX, CX
	JZ   done32

loop32:
	KSTEP32(0, 0)
	ADDQ $32, AX
	ADDQ $192, BX
	DECQ CX
	JNZ  loop32

done32:
	VBROADCASTSS alpha+40(FP), Z27
	MOVQ DX, R8
	MOVL beta+44(FP), R9
	TESTL $0x7fffffff, R9
	JZ   store32
	VBROADCASTSS beta+44(FP), Z28
	UPDATE_ROW2(Z27, Z28, Z0, Z1, 64)
	UPDATE_ROW2(Z27, Z28, Z2, Z3, 64)
	UPDATE_ROW2(Z27, Z28, Z4, Z5, 64)
	UPDATE_ROW2(Z27, Z28, Z6, Z7, 64)
	UPDATE_ROW2(Z27, Z28, Z8, Z9, 64)
	UPDATE_ROW2(Z27, Z28, Z10, Z11, 64)
	UPDATE_ROW2(Z27, Z28, Z12, Z13, 64)
	UPDATE_ROW2(Z27, Z28, Z14, Z15, 64)
	VZEROUPPER
	RESTORE_MXCSR
	RET

store32:
	STORE_ROW2(Z27, Z0, Z1, 64)
	STORE_ROW2(Z27, Z2, Z3, 64)
	STORE_ROW2(Z27, Z4, Z5, 64)
	STORE_ROW2(Z27, Z6, Z7, 64)
	STORE_ROW2(Z27, Z8, Z9, 64)
	STORE_ROW2(Z27, Z10, Z11, 64)
	STORE_ROW2(Z27, Z12, Z13, 64)
	STORE_ROW2(Z27, Z14, Z15, 64)
	VZEROUPPER
	RESTORE_MXCSR
	RET

// ---------------------------------------------------------------------------
// AVX2+FMA: MR=6, NR=16. Y0-Y11 hold the tile (row i in Y2i, Y2i+1),
// Y12/Y13 one row of B, Y14/Y15 alternate as the broadcast A element.

#define KSTEP256(aoff, boff) \
	VMOVUPS boff(BX), Y12; \
	VMOVUPS boff+32(BX), Y13; \
	FMA_ROW2(aoff, Y12, Y13, Y14, Y0, Y1); \
	FMA_ROW2(aoff+4, Y12, Y13, Y15, Y2, Y3); \
	FMA_ROW2(aoff+8, Y12, Y13, Y14, Y4, Y5); \
	FMA_ROW2(aoff+12, Y12, Y13, Y15, Y6, Y7); \
	FMA_ROW2(aoff+16, Y12, Y13, Y14, Y8, Y9); \
	FMA_ROW2(aoff+20, Y12, Y13, Y15, Y10, Y11)

// func sgemmAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemmAVX2(SB), NOSPLIT, $8-48
	FLUSH_DENORMALS
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), SI
	SHLQ $2, SI

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail256

loop256:
	KSTEP256(0, 0)
	KSTEP256(24, 64)
	KSTEP256(48, 128)
	KSTEP256(72, 192)
	ADDQ $96, AX
	ADDQ $256, BX
	DECQ R9
	JNZ  loop256

tail256:
	ANDQ $3, CX
	JZ   done256

tailloop256:
	KSTEP256(0, 0)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  tailloop256

done256:
	VBROADCASTSS alpha+40(FP), Y14
	MOVQ DX, R8
	MOVL beta+44(FP), R9
	TESTL $0x7fffffff, R9
	JZ   store256
	VBROADCASTSS beta+44(FP), Y15
	UPDATE_ROW2(Y14, Y15, Y0, Y1, 32)
	UPDATE_ROW2(Y14, Y15, Y2, Y3, 32)
	UPDATE_ROW2(Y14, Y15, Y4, Y5, 32)
	UPDATE_ROW2(Y14, Y15, Y6, Y7, 32)
	UPDATE_ROW2(Y14, Y15, Y8, Y9, 32)
	UPDATE_ROW2(Y14, Y15, Y10, Y11, 32)
	VZEROUPPER
	RESTORE_MXCSR
	RET

store256:
	STORE_ROW2(Y14, Y0, Y1, 32)
	STORE_ROW2(Y14, Y2, Y3, 32)
	STORE_ROW2(Y14, Y4, Y5, 32)
	STORE_ROW2(Y14, Y6, Y7, 32)
	STORE_ROW2(Y14, Y8, Y9, 32)
	STORE_ROW2(Y14, Y10, Y11, 32)
	VZEROUPPER
	RESTORE_MXCSR
	RET

// ---------------------------------------------------------------------------
// Panel fills for packing: for p < kc, copy the 48 (or 16) floats at
// src + offs[p] to dst + p*48 (or p*16). One call writes one packed panel
// sequentially from kc arbitrary source rows.

// func panelRows48(dst, src *float32, offs *int, kc int)
TEXT ·panelRows48(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), AX
	MOVQ kc+24(FP), CX

rows48:
	MOVQ (AX), R8
	LEAQ (SI)(R8*4), R9
	VMOVUPS (R9), Z0
	VMOVUPS 64(R9), Z1
	VMOVUPS 128(R9), Z2
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	ADDQ $8, AX
	ADDQ $192, DI
	DECQ CX
	JNZ  rows48
	VZEROUPPER
	RET

// func panelRows16(dst, src *float32, offs *int, kc int)
TEXT ·panelRows16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ offs+16(FP), AX
	MOVQ kc+24(FP), CX

rows16:
	MOVQ (AX), R8
	LEAQ (SI)(R8*4), R9
	VMOVUPS (R9), Y0
	VMOVUPS 32(R9), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $8, AX
	ADDQ $64, DI
	DECQ CX
	JNZ  rows16
	VZEROUPPER
	RET

// func gatherPanel48(dst, src *float32, idx *int32, kc int)
// For p < kc: dst[p*48+j] = src[idx[j]+p], j < 48: one panel of a transposed
// packing, three 16-lane gathers per packed row.
TEXT ·gatherPanel48(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), AX
	MOVQ kc+24(FP), CX
	VMOVDQU32 (AX), Z16
	VMOVDQU32 64(AX), Z17
	VMOVDQU32 128(AX), Z18

gloop48:
	KXNORW K1, K1, K1
	VGATHERDPS (SI)(Z16*4), K1, Z0
	KXNORW K2, K2, K2
	VGATHERDPS (SI)(Z17*4), K2, Z1
	KXNORW K3, K3, K3
	VGATHERDPS (SI)(Z18*4), K3, Z2
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	ADDQ $4, SI
	ADDQ $192, DI
	DECQ CX
	JNZ  gloop48
	VZEROUPPER
	RET

// func gatherA8(dst, src *float32, idx *int32, lda, kc int)
// Packs an 8-row panel of a row-major A: dst[p*8+i] = src[i*lda+p]. Blocks
// of eight columns are loaded row by row and transposed in registers
// (unpacks, shuffles, 128-bit lane swaps), which is several times cheaper
// than gathers on AMD cores. The last kc%8 columns use gathers: idx holds
// lane l's offset (l%8)*lda + l/8, so one gather yields two packed columns;
// an odd last column uses the low half only.
TEXT ·gatherA8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ idx+16(FP), AX
	MOVQ lda+24(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	MOVQ kc+32(FP), CX
	MOVQ CX, R9
	SHRQ $3, R9
	JZ   apairs

ablock:
	LEAQ (SI)(R10*4), R12
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R10*1), Y1
	VMOVUPS (SI)(R10*2), Y2
	VMOVUPS (SI)(R11*1), Y3
	VMOVUPS (R12), Y4
	VMOVUPS (R12)(R10*1), Y5
	VMOVUPS (R12)(R10*2), Y6
	VMOVUPS (R12)(R11*1), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xEE, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xEE, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x31, Y7, Y3, Y15
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	VMOVUPS Y10, 64(DI)
	VMOVUPS Y11, 96(DI)
	VMOVUPS Y12, 128(DI)
	VMOVUPS Y13, 160(DI)
	VMOVUPS Y14, 192(DI)
	VMOVUPS Y15, 224(DI)
	ADDQ $32, SI
	ADDQ $256, DI
	DECQ R9
	JNZ  ablock

apairs:
	ANDQ $7, CX
	JZ   adone
	VMOVDQU32 (AX), Z16
	MOVQ CX, R9
	SHRQ $1, R9
	JZ   atail

aloop:
	KXNORW K1, K1, K1
	VGATHERDPS (SI)(Z16*4), K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $8, SI
	ADDQ $64, DI
	DECQ R9
	JNZ  aloop

atail:
	ANDQ $1, CX
	JZ   adone
	MOVQ $0xff, R9
	KMOVW R9, K1
	KMOVW R9, K2
	VGATHERDPS (SI)(Z16*4), K1, Z0
	VMOVUPS Z0, K2, (DI)

adone:
	VZEROUPPER
	RET

// KSTEP512S is KSTEP512 with the row of B at BX, which then advances by
// R13 bytes: B read in place, rows ldb apart.
#define KSTEP512S(aoff) \
	VMOVUPS (BX), Z24; \
	VMOVUPS 64(BX), Z25; \
	VMOVUPS 128(BX), Z26; \
	ADDQ R13, BX; \
	FMA_ROW512(aoff, Z27, Z0, Z1, Z2); \
	FMA_ROW512(aoff+4, Z28, Z3, Z4, Z5); \
	FMA_ROW512(aoff+8, Z27, Z6, Z7, Z8); \
	FMA_ROW512(aoff+12, Z28, Z9, Z10, Z11); \
	FMA_ROW512(aoff+16, Z27, Z12, Z13, Z14); \
	FMA_ROW512(aoff+20, Z28, Z15, Z16, Z17); \
	FMA_ROW512(aoff+24, Z27, Z18, Z19, Z20); \
	FMA_ROW512(aoff+28, Z28, Z21, Z22, Z23)

// func sgemmAVX512S(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)
// sgemmAVX512 with B unpacked: row p of the 48 columns at b + p·ldb. The
// same operations in the same order, so the same bits.
TEXT ·sgemmAVX512S(SB), NOSPLIT, $8-56
	FLUSH_DENORMALS
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ ldb+24(FP), R13
	SHLQ $2, R13
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), SI
	SHLQ $2, SI

	ZERO_TILE512

	MOVQ CX, R9
	SHRQ $2, R9
	JZ   tail512s

loop512s:
	KSTEP512S(0)
	KSTEP512S(32)
	KSTEP512S(64)
	KSTEP512S(96)
	ADDQ $128, AX
	DECQ R9
	JNZ  loop512s

tail512s:
	ANDQ $3, CX
	JZ   done512s

tailloop512s:
	KSTEP512S(0)
	ADDQ $32, AX
	DECQ CX
	JNZ  tailloop512s

done512s:
	VBROADCASTSS alpha+48(FP), Z27
	MOVQ DX, R8
	MOVL beta+52(FP), R9
	TESTL $0x7fffffff, R9
	JZ   store512s
	VBROADCASTSS beta+52(FP), Z28
	UPDATE_TILE512
	VZEROUPPER
	RESTORE_MXCSR
	RET

store512s:
	STORE_TILE512
	VZEROUPPER
	RESTORE_MXCSR
	RET

// func sgemmAVX512Col(kc int, a, b, out *float32)
// One column of an 8-row tile: out[i] = Σ_{p<kc} a[8p+i]·b[48p], the
// p-major A panel against column 0 of a 48-wide B panel. One multiply-add
// chain in the order of the full kernel, so each output gets its bits.
TEXT ·sgemmAVX512Col(SB), NOSPLIT, $8-32
	FLUSH_DENORMALS
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	VXORPS Y0, Y0, Y0

colloop:
	VBROADCASTSS (BX), Y1
	VFMADD231PS (AX), Y1, Y0
	ADDQ $32, AX
	ADDQ $192, BX
	DECQ CX
	JNZ  colloop
	MOVQ out+24(FP), DI
	VMOVUPS Y0, (DI)
	VZEROUPPER
	RESTORE_MXCSR
	RET
