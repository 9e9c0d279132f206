//go:build !purego

#include "textflag.h"

// evens<> holds 0, 2, ..., 30: permutation indices that pick the even lanes
// of a 32-float pair of vectors, and the window offsets of 16 outputs.
DATA evens<>+0(SB)/4, $0
DATA evens<>+4(SB)/4, $2
DATA evens<>+8(SB)/4, $4
DATA evens<>+12(SB)/4, $6
DATA evens<>+16(SB)/4, $8
DATA evens<>+20(SB)/4, $10
DATA evens<>+24(SB)/4, $12
DATA evens<>+28(SB)/4, $14
DATA evens<>+32(SB)/4, $16
DATA evens<>+36(SB)/4, $18
DATA evens<>+40(SB)/4, $20
DATA evens<>+44(SB)/4, $22
DATA evens<>+48(SB)/4, $24
DATA evens<>+52(SB)/4, $26
DATA evens<>+56(SB)/4, $28
DATA evens<>+60(SB)/4, $30
GLOBL evens<>(SB), RODATA|NOPTR, $64

// func maxPool2x2AVX512(x, y *float32, arg *int32, w, row0, oh, ow int) int
//
// Output rows row0..oh-1 of 2×2, stride-2 max pooling of the plane x (rows
// of w floats; y and arg hold oh rows of ow), 16 outputs per step: taps a,
// b (input row 2i) and c, d (row 2i+1) are split into even and odd lanes,
// and a tap replaces the running maximum only when strictly greater, so the
// first maximum wins as in the portable code. It stops before the first
// block that holds a NaN (which the caller then handles) and returns the
// number of outputs written from row row0 on, in row order. A last block
// of fewer than 16 outputs in a row uses masks.
TEXT ·maxPool2x2AVX512(SB), NOSPLIT, $0-64
	MOVQ w+24(FP), AX
	VPBROADCASTD AX, Z21 // w: tap c's index from tap a's
	VMOVDQU32 evens<>(SB), Z22
	MOVL $1, AX
	VPBROADCASTD AX, Z25
	VPADDD Z22, Z25, Z23 // odd indices: 1, 3, ..., 31
	MOVL $32, AX
	VPBROADCASTD AX, Z24 // index step per block
	MOVQ row0+32(FP), R13
	MOVQ ow+48(FP), R10
	XORQ R14, R14 // outputs written

poolrow:
	CMPQ R13, oh+40(FP)
	JGE  pooldone
	// Row R13: input rows 2·R13 and 2·R13+1, output row R13.
	MOVQ w+24(FP), AX
	MOVQ R13, BX
	SHLQ $1, BX
	IMULQ AX, BX // 2·i·w: window index of the row's output 0, tap a
	VPBROADCASTD BX, Z20
	VPADDD Z22, Z20, Z20 // per-lane tap a index
	MOVQ x+0(FP), SI
	LEAQ (SI)(BX*4), SI
	LEAQ (SI)(AX*4), DX
	MOVQ R13, BX
	IMULQ R10, BX
	MOVQ y+8(FP), DI
	LEAQ (DI)(BX*4), DI
	MOVQ arg+16(FP), R8
	LEAQ (R8)(BX*4), R8
	XORQ R9, R9

pool16:
	// m = min(16, outputs left); masks: K5 for m outputs, K3/K4 for the
	// 2m inputs of each row (loads of masked lanes cannot fault).
	MOVQ R10, R11
	SUBQ R9, R11
	JLE  rowdone
	CMPQ R11, $16
	JLE  poolmask
	MOVQ $16, R11

poolmask:
	MOVQ R11, CX
	SHLQ $1, CX
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K3
	SHRQ $16, BX
	KMOVW BX, K4
	MOVQ R11, CX
	MOVQ $1, BX
	SHLQ CX, BX
	DECQ BX
	KMOVW BX, K5
	VMOVUPS.Z (SI), K3, Z0
	VMOVUPS.Z 64(SI), K4, Z1
	VMOVUPS.Z (DX), K3, Z2
	VMOVUPS.Z 64(DX), K4, Z3
	// NaN check: any lane unordered with itself.
	VCMPPS $3, Z0, Z0, K1
	VCMPPS $3, Z1, Z1, K2
	KORW K1, K2, K1
	VCMPPS $3, Z2, Z2, K2
	KORW K1, K2, K1
	VCMPPS $3, Z3, Z3, K2
	KORW K1, K2, K1
	KORTESTW K1, K1
	JNE  pooldone
	// a = even(r0), b = odd(r0), c = even(r1), d = odd(r1)
	VMOVAPS Z0, Z4
	VPERMT2PS Z1, Z22, Z4
	VMOVAPS Z0, Z5
	VPERMT2PS Z1, Z23, Z5
	VMOVAPS Z2, Z6
	VPERMT2PS Z3, Z22, Z6
	VMOVAPS Z2, Z7
	VPERMT2PS Z3, Z23, Z7
	// running max in Z4, its tap index in Z10
	VMOVDQA32 Z20, Z10
	VPADDD Z20, Z21, Z11 // tap c index = a + w
	VPADDD Z20, Z25, Z12 // tap b index = a + 1
	VCMPPS $0x1e, Z4, Z5, K1 // b > max
	VMOVAPS Z5, K1, Z4
	VMOVDQA32 Z12, K1, Z10
	VCMPPS $0x1e, Z4, Z6, K1 // c > max
	VMOVAPS Z6, K1, Z4
	VMOVDQA32 Z11, K1, Z10
	VPADDD Z11, Z25, Z12 // tap d index = c + 1
	VCMPPS $0x1e, Z4, Z7, K1 // d > max
	VMOVAPS Z7, K1, Z4
	VMOVDQA32 Z12, K1, Z10
	VMOVUPS Z4, K5, (DI)
	VMOVDQU32 Z10, K5, (R8)
	VPADDD Z24, Z20, Z20
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $64, DI
	ADDQ $64, R8
	ADDQ R11, R9
	ADDQ R11, R14
	JMP  pool16

rowdone:
	INCQ R13
	JMP  poolrow

pooldone:
	MOVQ R14, ret+56(FP)
	VZEROUPPER
	RET
