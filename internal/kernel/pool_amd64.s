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

// BLOCKMASKS sets the masks of a block of R11 ≤ 16 windows: K5 for the
// R11 outputs, K3 and K4 for the 2·R11 inputs of each row (loads and
// stores of masked lanes cannot fault); CX and BX are scratch.
#define BLOCKMASKS \
	MOVQ R11, CX; \
	SHLQ $1, CX; \
	MOVQ $1, BX; \
	SHLQ CX, BX; \
	DECQ BX; \
	KMOVW BX, K3; \
	SHRQ $16, BX; \
	KMOVW BX, K4; \
	MOVQ R11, CX; \
	MOVQ $1, BX; \
	SHLQ CX, BX; \
	DECQ BX; \
	KMOVW BX, K5

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
	BLOCKMASKS
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

// Interleaving indices for VPERMT2PS: ilo<> picks lanes 0, 16, 1, 17, …,
// 7, 23 of a pair of vectors, ihi<> lanes 8, 24, …, 15, 31.
DATA ilo<>+0(SB)/4, $0
DATA ilo<>+4(SB)/4, $16
DATA ilo<>+8(SB)/4, $1
DATA ilo<>+12(SB)/4, $17
DATA ilo<>+16(SB)/4, $2
DATA ilo<>+20(SB)/4, $18
DATA ilo<>+24(SB)/4, $3
DATA ilo<>+28(SB)/4, $19
DATA ilo<>+32(SB)/4, $4
DATA ilo<>+36(SB)/4, $20
DATA ilo<>+40(SB)/4, $5
DATA ilo<>+44(SB)/4, $21
DATA ilo<>+48(SB)/4, $6
DATA ilo<>+52(SB)/4, $22
DATA ilo<>+56(SB)/4, $7
DATA ilo<>+60(SB)/4, $23
GLOBL ilo<>(SB), RODATA|NOPTR, $64
DATA ihi<>+0(SB)/4, $8
DATA ihi<>+4(SB)/4, $24
DATA ihi<>+8(SB)/4, $9
DATA ihi<>+12(SB)/4, $25
DATA ihi<>+16(SB)/4, $10
DATA ihi<>+20(SB)/4, $26
DATA ihi<>+24(SB)/4, $11
DATA ihi<>+28(SB)/4, $27
DATA ihi<>+32(SB)/4, $12
DATA ihi<>+36(SB)/4, $28
DATA ihi<>+40(SB)/4, $13
DATA ihi<>+44(SB)/4, $29
DATA ihi<>+48(SB)/4, $14
DATA ihi<>+52(SB)/4, $30
DATA ihi<>+56(SB)/4, $15
DATA ihi<>+60(SB)/4, $31
GLOBL ihi<>(SB), RODATA|NOPTR, $64

// One input row of a block: EVEN and ODD hold the routed values of the
// block's 16 windows at their even and odd columns; interleaved, they are
// the row's 32 values, to which the dense part (by the mode's bits in R12:
// 1 b·x + d, 4 also c·h, 2 also dst) is added before they are stored at
// DST (XS, HS: the same columns of x and h), masked by K3 and K4.
#define UNPOOL_ROW(EVEN, ODD, XS, HS, DST) \
	VMOVAPS EVEN, Z10; \
	VPERMT2PS ODD, Z21, Z10; \
	VMOVAPS EVEN, Z11; \
	VPERMT2PS ODD, Z19, Z11; \
	TESTQ $1, R12; \
	JEQ  19(PC); \
	VMOVUPS.Z (XS), K3, Z12; \
	VMOVUPS.Z 64(XS), K4, Z13; \
	VMOVAPS Z28, Z14; \
	VFMADD231PS Z29, Z12, Z14; \
	VMOVAPS Z28, Z15; \
	VFMADD231PS Z29, Z13, Z15; \
	TESTQ $4, R12; \
	JEQ  5(PC); \
	VMOVUPS.Z (HS), K3, Z12; \
	VMOVUPS.Z 64(HS), K4, Z13; \
	VFMADD231PS Z27, Z12, Z14; \
	VFMADD231PS Z27, Z13, Z15; \
	VADDPS Z14, Z10, Z10; \
	VADDPS Z15, Z11, Z11; \
	TESTQ $2, R12; \
	JEQ  3(PC); \
	VADDPS.Z (DST), Z10, K3, Z10; \
	VADDPS.Z 64(DST), Z11, K4, Z11; \
	VMOVUPS Z10, K3, (DST); \
	VMOVUPS Z11, K4, 64(DST)

// func unpool2x2AVX512(dst, x, h, grad, keep *float32, arg *int32, w, oh, ow, mode int, a, b, c, d float32)
//
// The 2×2 windows of rows 0..oh-1 (ow each) of a plane of width w: every
// element of input rows 0..2·oh-1, columns 0..2·ow-1 of dst is set to the
// routed gradient (a·grad of the window whose argmax it is, where keep is
// positive, else 0) plus the dense part that mode's bits select (see
// UNPOOL_ROW).
TEXT ·unpool2x2AVX512(SB), NOSPLIT, $0-96
	MOVQ mode+72(FP), R12
	VBROADCASTSS a+80(FP), Z30
	VBROADCASTSS b+84(FP), Z29
	VBROADCASTSS c+88(FP), Z27
	VBROADCASTSS d+92(FP), Z28
	VPXORD Z31, Z31, Z31
	VMOVDQU32 evens<>(SB), Z22
	VMOVDQU32 ilo<>(SB), Z21
	VMOVDQU32 ihi<>(SB), Z19
	MOVL $1, AX
	VPBROADCASTD AX, Z26
	MOVQ w+48(FP), AX
	VPBROADCASTD AX, Z25 // w: the bottom-left tap
	INCQ AX
	VPBROADCASTD AX, Z24 // w+1: the bottom-right tap
	MOVL $32, AX
	VPBROADCASTD AX, Z23 // window index step per block
	XORQ R13, R13         // output row i

unrow:
	CMPQ R13, oh+56(FP)
	JGE  undone
	MOVQ w+48(FP), AX
	MOVQ R13, BX
	SHLQ $1, BX
	IMULQ AX, BX // 2·i·w
	VPBROADCASTD BX, Z20
	VPADDD Z22, Z20, Z20 // each window's top-left index
	MOVQ dst+0(FP), DI
	LEAQ (DI)(BX*4), DI  // input row 2i of dst
	MOVQ x+8(FP), SI
	LEAQ (SI)(BX*4), SI  // and of x
	SHLQ $2, AX          // row stride in bytes
	MOVQ AX, R14
	MOVQ R13, BX
	IMULQ ow+64(FP), BX
	SHLQ $2, BX
	MOVQ grad+24(FP), DX
	ADDQ BX, DX
	MOVQ keep+32(FP), R8
	ADDQ BX, R8
	MOVQ arg+40(FP), R10
	ADDQ BX, R10
	XORQ R9, R9 // windows done in the row

unblock:
	MOVQ ow+64(FP), R11
	SUBQ R9, R11
	JLE  unrowdone
	CMPQ R11, $16
	JLE  unmask
	MOVQ $16, R11

unmask:
	BLOCKMASKS
	VMOVDQU32.Z (R10), K5, Z0 // argmax
	VMOVUPS.Z (DX), K5, Z1    // grad
	VMOVDQU32.Z (R8), K5, Z2  // keep
	VPCMPGTD Z31, Z2, K5, K1  // kept: signed bits > 0
	VMULPS.Z Z30, Z1, K1, Z1  // a·grad where kept, else 0
	VPSUBD Z20, Z0, Z3        // tap index within the window
	VPCMPEQD Z31, Z3, K2
	VMOVAPS.Z Z1, K2, Z4      // top-left
	VPCMPEQD Z26, Z3, K2
	VMOVAPS.Z Z1, K2, Z5      // top-right
	VPCMPEQD Z25, Z3, K2
	VMOVAPS.Z Z1, K2, Z6      // bottom-left
	VPCMPEQD Z24, Z3, K2
	VMOVAPS.Z Z1, K2, Z7      // bottom-right
	MOVQ h+16(FP), CX
	SUBQ x+8(FP), CX
	ADDQ SI, CX // the same columns of h (not read unless mode has bit 4)
	UNPOOL_ROW(Z4, Z5, SI, CX, DI)
	LEAQ (SI)(R14*1), AX
	LEAQ (DI)(R14*1), BX
	ADDQ R14, CX
	UNPOOL_ROW(Z6, Z7, AX, CX, BX)
	VPADDD Z23, Z20, Z20
	ADDQ $128, SI
	ADDQ $128, DI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, R10
	ADDQ R11, R9
	JMP  unblock

unrowdone:
	INCQ R13
	JMP  unrow

undone:
	VZEROUPPER
	RET

// func maxRunsAVX512(dst, p *float32, offs *int, nt, nb int, tail uint16)
// dst[j] = max over t < nt of p[offs[t]+j], for nb blocks of 16 outputs
// and then, when tail is not zero, a block of the lanes tail sets. A NaN
// in any run gives NaN: VMAXPS passes its second source on a NaN, so the
// new value wins when it is one and a NaN already held is kept by a blend.
TEXT ·maxRunsAVX512(SB), NOSPLIT, $0-42
	MOVQ dst+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ nt+24(FP), R9
	MOVQ nb+32(FP), R10
	MOVWQZX tail+40(FP), AX
	KMOVW AX, K1
	XORQ CX, CX // byte offset of the block

maxblock:
	TESTQ R10, R10
	JZ    maxtail
	MOVQ (R8), AX
	LEAQ (SI)(AX*4), R11
	VMOVUPS (R11)(CX*1), Z0
	MOVQ $1, DX

maxtap:
	CMPQ DX, R9
	JAE  maxstore
	MOVQ (R8)(DX*8), AX
	LEAQ (SI)(AX*4), R11
	VMOVUPS (R11)(CX*1), Z1
	VCMPPS $3, Z0, Z0, K2 // lanes already NaN
	VMAXPS Z1, Z0, Z2
	VBLENDMPS Z0, Z2, K2, Z0
	INCQ DX
	JMP  maxtap

maxstore:
	VMOVUPS Z0, (DI)(CX*1)
	ADDQ $64, CX
	DECQ R10
	JMP  maxblock

maxtail:
	KORTESTW K1, K1
	JZ   maxdone
	MOVQ (R8), AX
	LEAQ (SI)(AX*4), R11
	VMOVUPS.Z (R11)(CX*1), K1, Z0
	MOVQ $1, DX

maxtailtap:
	CMPQ DX, R9
	JAE  maxtailstore
	MOVQ (R8)(DX*8), AX
	LEAQ (SI)(AX*4), R11
	VMOVUPS.Z (R11)(CX*1), K1, Z1
	VCMPPS $3, Z0, Z0, K2
	VMAXPS Z1, Z0, Z2
	VBLENDMPS Z0, Z2, K2, Z0
	INCQ DX
	JMP  maxtailtap

maxtailstore:
	VMOVUPS Z0, K1, (DI)(CX*1)

maxdone:
	VZEROUPPER
	RET
