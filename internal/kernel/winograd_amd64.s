//go:build !purego

#include "textflag.h"

// Vector transforms of Winograd F(4×4, 3×3) (see winograd.go). Each lane of
// a ZMM register is one tile. Input taps are read with masked contiguous
// loads and split into tap columns with permutes (gathers are slow on
// Intel cores with the gather-data-sampling microcode fix); outputs are
// transposed in registers and written with masked 128-bit stores at
// per-lane offsets (scatters are slow on AMD cores). Formulas and their
// operation order match winoBT and winoAT, so the portable twins give the
// same float32 results. The per-row and per-column steps are macros
// (INROW, INCOL, OUTROW, OUTCOL, OUTST, POOLST) expanded once per row or column
// rather than loops: the row's mask and frame offsets stay immediates, and
// a loop would need registers that are all taken (R15 aside, which
// dynamic linking clobbers).

// WBT sets o0..o5 = Bᵀ·(d0..d5) with Z30 = 4 and temps Z20-Z23:
// a = d4−4d2, b = d3−4d1, c = d4−d2, e = 2(d3−d1);
// o = (a+4d0−d2, a+b, a−b, c+e, c−e, d5−b−4d3).
#define WBT(d0, d1, d2, d3, d4, d5, o0, o1, o2, o3, o4, o5) \
	VMOVAPS d4, Z20 \
	VFNMADD231PS d2, Z30, Z20 \
	VMOVAPS d3, Z21 \
	VFNMADD231PS d1, Z30, Z21 \
	VSUBPS d2, d4, Z22 \
	VSUBPS d1, d3, Z23 \
	VADDPS Z23, Z23, Z23 \
	VADDPS Z21, Z20, o1 \
	VSUBPS Z21, Z20, o2 \
	VADDPS Z23, Z22, o3 \
	VSUBPS Z23, Z22, o4 \
	VSUBPS Z21, d5, o5 \
	VFNMADD231PS d3, Z30, o5 \
	VFMADD231PS d0, Z30, Z20 \
	VSUBPS d2, Z20, o0

// WAT sets o0..o3 = Aᵀ·(m0..m5) with Z26 = 2, Z27 = 4, Z28 = 8 and temps
// Z22-Z25: p = m1+m2, q = m1−m2, r = m3+m4, s = m3−m4;
// o = (m0+p+r, q+2s, p+4r, q+8s+m5).
#define WAT(m0, m1, m2, m3, m4, m5, o0, o1, o2, o3) \
	VADDPS m2, m1, Z22 \
	VSUBPS m2, m1, Z23 \
	VADDPS m4, m3, Z24 \
	VSUBPS m4, m3, Z25 \
	VADDPS Z22, m0, o0 \
	VADDPS Z24, o0, o0 \
	VMOVAPS Z23, o1 \
	VFMADD231PS Z25, Z26, o1 \
	VMOVAPS Z22, o2 \
	VFMADD231PS Z24, Z27, o2 \
	VMOVAPS Z23, o3 \
	VFMADD231PS Z25, Z28, o3 \
	VADDPS m5, o3, o3

// winoEvens<> holds permutation indices: lanes 0, 2, ..., 30 of a pair of vectors.
DATA winoEvens<>+0(SB)/4, $0
DATA winoEvens<>+4(SB)/4, $2
DATA winoEvens<>+8(SB)/4, $4
DATA winoEvens<>+12(SB)/4, $6
DATA winoEvens<>+16(SB)/4, $8
DATA winoEvens<>+20(SB)/4, $10
DATA winoEvens<>+24(SB)/4, $12
DATA winoEvens<>+28(SB)/4, $14
DATA winoEvens<>+32(SB)/4, $16
DATA winoEvens<>+36(SB)/4, $18
DATA winoEvens<>+40(SB)/4, $20
DATA winoEvens<>+44(SB)/4, $22
DATA winoEvens<>+48(SB)/4, $24
DATA winoEvens<>+52(SB)/4, $26
DATA winoEvens<>+56(SB)/4, $28
DATA winoEvens<>+60(SB)/4, $30
GLOBL winoEvens<>(SB), RODATA|NOPTR, $64

// winoOdds<> holds permutation indices: lanes 1, 3, ..., 31.
DATA winoOdds<>+0(SB)/4, $1
DATA winoOdds<>+4(SB)/4, $3
DATA winoOdds<>+8(SB)/4, $5
DATA winoOdds<>+12(SB)/4, $7
DATA winoOdds<>+16(SB)/4, $9
DATA winoOdds<>+20(SB)/4, $11
DATA winoOdds<>+24(SB)/4, $13
DATA winoOdds<>+28(SB)/4, $15
DATA winoOdds<>+32(SB)/4, $17
DATA winoOdds<>+36(SB)/4, $19
DATA winoOdds<>+40(SB)/4, $21
DATA winoOdds<>+44(SB)/4, $23
DATA winoOdds<>+48(SB)/4, $25
DATA winoOdds<>+52(SB)/4, $27
DATA winoOdds<>+56(SB)/4, $29
DATA winoOdds<>+60(SB)/4, $31
GLOBL winoOdds<>(SB), RODATA|NOPTR, $64

// winoShift4<> holds permutation indices: lanes 1..15 of the first vector, then lane 0 of the second.
DATA winoShift4<>+0(SB)/4, $1
DATA winoShift4<>+4(SB)/4, $2
DATA winoShift4<>+8(SB)/4, $3
DATA winoShift4<>+12(SB)/4, $4
DATA winoShift4<>+16(SB)/4, $5
DATA winoShift4<>+20(SB)/4, $6
DATA winoShift4<>+24(SB)/4, $7
DATA winoShift4<>+28(SB)/4, $8
DATA winoShift4<>+32(SB)/4, $9
DATA winoShift4<>+36(SB)/4, $10
DATA winoShift4<>+40(SB)/4, $11
DATA winoShift4<>+44(SB)/4, $12
DATA winoShift4<>+48(SB)/4, $13
DATA winoShift4<>+52(SB)/4, $14
DATA winoShift4<>+56(SB)/4, $15
DATA winoShift4<>+60(SB)/4, $16
GLOBL winoShift4<>(SB), RODATA|NOPTR, $64

// winoShift5<> holds permutation indices: lanes 1..15 of the first vector, then lane 1 of the second.
DATA winoShift5<>+0(SB)/4, $1
DATA winoShift5<>+4(SB)/4, $2
DATA winoShift5<>+8(SB)/4, $3
DATA winoShift5<>+12(SB)/4, $4
DATA winoShift5<>+16(SB)/4, $5
DATA winoShift5<>+20(SB)/4, $6
DATA winoShift5<>+24(SB)/4, $7
DATA winoShift5<>+28(SB)/4, $8
DATA winoShift5<>+32(SB)/4, $9
DATA winoShift5<>+36(SB)/4, $10
DATA winoShift5<>+40(SB)/4, $11
DATA winoShift5<>+44(SB)/4, $12
DATA winoShift5<>+48(SB)/4, $13
DATA winoShift5<>+52(SB)/4, $14
DATA winoShift5<>+56(SB)/4, $15
DATA winoShift5<>+60(SB)/4, $17
GLOBL winoShift5<>(SB), RODATA|NOPTR, $64

// INROW builds tap row i of the 16 tiles in Z0-Z5 and stores its Bᵀ
// transform in frame slots 6i..6i+5 (384i bytes in). BX points at x + i*w;
// each run of seg loads its 80 floats from there under the row's masks
// (mask[i] sits 8+10i bytes into a winoSegment), splits them into the six
// tap columns with permutes and merges them into the run's lanes. i must
// be a literal, as it is pasted into the offset expressions; each row needs
// its own labels seg and done.
#define INROW(i, seg, done) \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	MOVQ nseg+40(FP), R14 \
	TESTQ R14, R14 \
	JZ done \
	MOVQ DX, R13 \
seg: \
	MOVLQSX (R13), AX \
	LEAQ (BX)(AX*4), AX \
	KMOVW 8+10*i(R13), K1 \
	VMOVUPS.Z 0(AX), K1, Z12 \
	KMOVW 10+10*i(R13), K2 \
	VMOVUPS.Z 64(AX), K2, Z13 \
	KMOVW 12+10*i(R13), K3 \
	VMOVUPS.Z 128(AX), K3, Z14 \
	KMOVW 14+10*i(R13), K4 \
	VMOVUPS.Z 192(AX), K4, Z15 \
	KMOVW 16+10*i(R13), K5 \
	VMOVUPS.Z 256(AX), K5, Z16 \
	VMOVAPS Z12, Z17 \
	VPERMT2PS Z13, Z25, Z17 \
	VMOVAPS Z12, Z18 \
	VPERMT2PS Z13, Z26, Z18 \
	VMOVAPS Z14, Z19 \
	VPERMT2PS Z15, Z25, Z19 \
	VMOVAPS Z14, Z24 \
	VPERMT2PS Z15, Z26, Z24 \
	VMOVAPS Z17, Z6 \
	VPERMT2PS Z19, Z25, Z6 \
	VMOVAPS Z17, Z8 \
	VPERMT2PS Z19, Z26, Z8 \
	VMOVAPS Z18, Z7 \
	VPERMT2PS Z24, Z25, Z7 \
	VMOVAPS Z18, Z9 \
	VPERMT2PS Z24, Z26, Z9 \
	VMOVAPS Z6, Z10 \
	VPERMT2PS Z16, Z27, Z10 \
	VMOVAPS Z7, Z11 \
	VPERMT2PS Z16, Z28, Z11 \
	KMOVW 4(R13), K6 \
	VMOVAPS Z6, K6, Z0 \
	VMOVAPS Z7, K6, Z1 \
	VMOVAPS Z8, K6, Z2 \
	VMOVAPS Z9, K6, Z3 \
	VMOVAPS Z10, K6, Z4 \
	VMOVAPS Z11, K6, Z5 \
	ADDQ $68, R13 \
	DECQ R14 \
	JNZ seg \
done: \
	WBT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11) \
	VMOVUPS Z6, 384*i(SP) \
	VMOVUPS Z7, 384*i+64(SP) \
	VMOVUPS Z8, 384*i+128(SP) \
	VMOVUPS Z9, 384*i+192(SP) \
	VMOVUPS Z10, 384*i+256(SP) \
	VMOVUPS Z11, 384*i+320(SP)

// INCOL applies Bᵀ to column j of the rows' results (frame slots j, 6+j,
// ..., 30+j) and stores its six results from BX on, 6 rows of ξ apart.
#define INCOL(j) \
	VMOVUPS 64*j(SP), Z0 \
	VMOVUPS 384+64*j(SP), Z1 \
	VMOVUPS 768+64*j(SP), Z2 \
	VMOVUPS 1152+64*j(SP), Z3 \
	VMOVUPS 1536+64*j(SP), Z4 \
	VMOVUPS 1920+64*j(SP), Z5 \
	WBT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11) \
	MOVQ BX, AX \
	VMOVUPS Z6, (AX) \
	ADDQ R12, AX \
	VMOVUPS Z7, (AX) \
	ADDQ R12, AX \
	VMOVUPS Z8, (AX) \
	ADDQ R12, AX \
	VMOVUPS Z9, (AX) \
	ADDQ R12, AX \
	VMOVUPS Z10, (AX) \
	ADDQ R12, AX \
	VMOVUPS Z11, (AX)

// func winoInputAVX512(v *float32, vc, vxi int, x *float32, seg *winoSegment, nseg, nc, plane, w int)
//
// For each of nc channels: builds and transforms the six tap rows (INROW,
// BX stepping by w from x; the rows' results wait in the 2304-byte frame),
// then transforms the six columns (INCOL, BX stepping by vxi from v), so
// that element ξ lands at v + ξ*vxi. Then x advances by plane and v by vc
// elements.
TEXT ·winoInputAVX512(SB), 0, $2304-72
	MOVQ v+0(FP), DI
	MOVQ vc+8(FP), R8
	SHLQ $2, R8
	MOVQ vxi+16(FP), R9
	SHLQ $2, R9
	MOVQ x+24(FP), SI
	MOVQ seg+32(FP), DX
	MOVQ nc+48(FP), CX
	MOVQ plane+56(FP), R10
	SHLQ $2, R10
	MOVQ w+64(FP), R11
	SHLQ $2, R11
	LEAQ (R9)(R9*2), R12
	SHLQ $1, R12 // 6 rows of ξ apart
	MOVL $0x40800000, AX // 4.0
	VPBROADCASTD AX, Z30
	VMOVDQU32 winoEvens<>(SB), Z25
	VMOVDQU32 winoOdds<>(SB), Z26
	VMOVDQU32 winoShift4<>(SB), Z27
	VMOVDQU32 winoShift5<>(SB), Z28

inchan:
	MOVQ SI, BX
	INROW(0, inrow0seg, inrow0done)
	ADDQ R11, BX
	INROW(1, inrow1seg, inrow1done)
	ADDQ R11, BX
	INROW(2, inrow2seg, inrow2done)
	ADDQ R11, BX
	INROW(3, inrow3seg, inrow3done)
	ADDQ R11, BX
	INROW(4, inrow4seg, inrow4done)
	ADDQ R11, BX
	INROW(5, inrow5seg, inrow5done)
	MOVQ DI, BX
	INCOL(0)
	ADDQ R9, BX
	INCOL(1)
	ADDQ R9, BX
	INCOL(2)
	ADDQ R9, BX
	INCOL(3)
	ADDQ R9, BX
	INCOL(4)
	ADDQ R9, BX
	INCOL(5)
	ADDQ R10, SI
	ADDQ R8, DI
	DECQ CX
	JNZ inchan
	VZEROUPPER
	RET

// OUTROW applies Aᵀ to row i of the products, elements 6i..6i+5 read from
// BX on, mxi apart (BX ends on the last), and stores its four results in
// frame slots 4i..4i+3 (256i bytes in).
#define OUTROW(i) \
	VMOVUPS (BX), Z0 \
	ADDQ R9, BX \
	VMOVUPS (BX), Z1 \
	ADDQ R9, BX \
	VMOVUPS (BX), Z2 \
	ADDQ R9, BX \
	VMOVUPS (BX), Z3 \
	ADDQ R9, BX \
	VMOVUPS (BX), Z4 \
	ADDQ R9, BX \
	VMOVUPS (BX), Z5 \
	WAT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9) \
	VMOVUPS Z6, 256*i(SP) \
	VMOVUPS Z7, 256*i+64(SP) \
	VMOVUPS Z8, 256*i+128(SP) \
	VMOVUPS Z9, 256*i+192(SP)

// OUTCOL applies Aᵀ to column j of the rows' results (frame slots j, 4+j,
// ..., 20+j), giving output pixels (0, j) .. (3, j) in o0..o3.
#define OUTCOL(j, o0, o1, o2, o3) \
	VMOVUPS 64*j(SP), Z0 \
	VMOVUPS 256+64*j(SP), Z1 \
	VMOVUPS 512+64*j(SP), Z2 \
	VMOVUPS 768+64*j(SP), Z3 \
	VMOVUPS 1024+64*j(SP), Z4 \
	VMOVUPS 1280+64*j(SP), Z5 \
	WAT(Z0, Z1, Z2, Z3, Z4, Z5, o0, o1, o2, o3)

// ST1 stores lane l's row a from 128-bit chunk q of r: mask store[16a+l]
// (DX), at BX + 4*out[l] (AX) + off. Masked-off lanes may lie outside y
// (past a row's end, or 8 bytes before it in POOLST), so the store must be
// one that suppresses faults on masked lanes: VMOVUPS does, a masked
// VEXTRACTF32X4 to memory does not (it faulted when y began a heap arena).
#define ST1(a, l, q, r, off) \
	VEXTRACTF32X4 $q, r, X31 \
	ST0(a, l, X31, off)

// ST0 is ST1 for chunk 0, stored straight from x (the low 128 bits of r).
#define ST0(a, l, x, off) \
	MOVLQSX 4*l(AX), R14 \
	KMOVW 32*a+2*l(DX), K1 \
	VMOVUPS x, K1, off(BX)(R14*4)

// OUTST stores output row a (pixels (a, 0..3) of the 16 tiles in o0..o3)
// to BX + out[ℓ]: two rounds of unpacks transpose each group of four lanes
// so that chunk q of Z4, Z5, Z22 and Z23 holds the row of tiles 4q .. 4q+3,
// and masked 128-bit stores write it. (Scatters cost several times as
// much on AMD cores.)
#define OUTST(a, o0, o1, o2, o3) \
	VUNPCKLPS o1, o0, Z0 \
	VUNPCKHPS o1, o0, Z1 \
	VUNPCKLPS o3, o2, Z2 \
	VUNPCKHPS o3, o2, Z3 \
	VUNPCKLPD Z2, Z0, Z4 \
	VUNPCKHPD Z2, Z0, Z5 \
	VUNPCKLPD Z3, Z1, Z22 \
	VUNPCKHPD Z3, Z1, Z23 \
	ST0(a, 0, X4, 0) \
	ST0(a, 1, X5, 0) \
	ST0(a, 2, X22, 0) \
	ST0(a, 3, X23, 0) \
	ST1(a, 4, 1, Z4, 0) \
	ST1(a, 5, 1, Z5, 0) \
	ST1(a, 6, 1, Z22, 0) \
	ST1(a, 7, 1, Z23, 0) \
	ST1(a, 8, 2, Z4, 0) \
	ST1(a, 9, 2, Z5, 0) \
	ST1(a, 10, 2, Z22, 0) \
	ST1(a, 11, 2, Z23, 0) \
	ST1(a, 12, 3, Z4, 0) \
	ST1(a, 13, 3, Z5, 0) \
	ST1(a, 14, 3, Z22, 0) \
	ST1(a, 15, 3, Z23, 0)

// POOLST stores pooled row a (pixels (a, 0) and (a, 1) in o0, o1): one
// unpack puts tile 4q's pair in the lower half of chunk q of Z0 and tile
// 4q+1's in the upper half (stored 8 bytes early, its mask shifted to
// match); Z1 holds tiles 4q+2 and 4q+3.
#define POOLST(a, o0, o1) \
	VUNPCKLPS o1, o0, Z0 \
	VUNPCKHPS o1, o0, Z1 \
	ST0(a, 0, X0, 0) \
	ST0(a, 1, X0, -8) \
	ST0(a, 2, X1, 0) \
	ST0(a, 3, X1, -8) \
	ST1(a, 4, 1, Z0, 0) \
	ST1(a, 5, 1, Z0, -8) \
	ST1(a, 6, 1, Z1, 0) \
	ST1(a, 7, 1, Z1, -8) \
	ST1(a, 8, 2, Z0, 0) \
	ST1(a, 9, 2, Z0, -8) \
	ST1(a, 10, 2, Z1, 0) \
	ST1(a, 11, 2, Z1, -8) \
	ST1(a, 12, 3, Z0, 0) \
	ST1(a, 13, 3, Z0, -8) \
	ST1(a, 14, 3, Z1, 0) \
	ST1(a, 15, 3, Z1, -8)

// func winoOutputAVX512(y *float32, idx *int32, masks *uint16, m *float32, mk, mxi, nk, plane, w int, bias *float32, flags int)
//
// For each of nk channels: transforms the six rows of the 16 products
// (OUTROW, element ξ at m + ξ*mxi; the rows' results wait in the 1536-byte
// frame), then the four columns (OUTCOL, output pixel (a, b) in
// Z6+4a+b), and, if flags&2, max-pools 2×2; adds *bias (when bias is not
// nil), applies ReLU if flags&1 and stores output row a of lane ℓ to
// y + idx[ℓ] + a*w under the column mask masks[16a+ℓ] (winoLanes.store).
// Then y advances by plane, m by mk elements and bias by one.
TEXT ·winoOutputAVX512(SB), 0, $1536-88
	MOVQ y+0(FP), DI
	MOVQ masks+16(FP), DX
	MOVQ m+24(FP), SI
	MOVQ mk+32(FP), R8
	SHLQ $2, R8
	MOVQ mxi+40(FP), R9
	SHLQ $2, R9
	MOVQ nk+48(FP), CX
	MOVQ plane+56(FP), R10
	SHLQ $2, R10
	MOVQ w+64(FP), R11
	SHLQ $2, R11
	MOVQ bias+72(FP), R12
	MOVQ flags+80(FP), R13
	MOVL $0x40000000, AX // 2.0
	VPBROADCASTD AX, Z26
	MOVL $0x40800000, AX // 4.0
	VPBROADCASTD AX, Z27
	MOVL $0x41000000, AX // 8.0
	VPBROADCASTD AX, Z28
	VPXORD Z29, Z29, Z29
	VPXORD Z30, Z30, Z30
	MOVQ idx+8(FP), AX

outchan:
	MOVQ SI, BX
	OUTROW(0)
	ADDQ R9, BX
	OUTROW(1)
	ADDQ R9, BX
	OUTROW(2)
	ADDQ R9, BX
	OUTROW(3)
	ADDQ R9, BX
	OUTROW(4)
	ADDQ R9, BX
	OUTROW(5)
	OUTCOL(0, Z6, Z10, Z14, Z18)
	OUTCOL(1, Z7, Z11, Z15, Z19)
	OUTCOL(2, Z8, Z12, Z16, Z20)
	OUTCOL(3, Z9, Z13, Z17, Z21)
	TESTQ R12, R12
	JZ outbias
	VBROADCASTSS (R12), Z30
	ADDQ $4, R12

outbias:
	TESTQ $2, R13
	JZ outfull
	VMAXPS Z7, Z6, Z6
	VMAXPS Z11, Z10, Z10
	VMAXPS Z10, Z6, Z6
	VADDPS Z30, Z6, Z6
	VMAXPS Z9, Z8, Z8
	VMAXPS Z13, Z12, Z12
	VMAXPS Z12, Z8, Z8
	VADDPS Z30, Z8, Z8
	VMAXPS Z15, Z14, Z14
	VMAXPS Z19, Z18, Z18
	VMAXPS Z18, Z14, Z14
	VADDPS Z30, Z14, Z14
	VMAXPS Z17, Z16, Z16
	VMAXPS Z21, Z20, Z20
	VMAXPS Z20, Z16, Z16
	VADDPS Z30, Z16, Z16
	TESTQ $1, R13
	JZ outpoolst
	VMAXPS Z29, Z6, Z6
	VMAXPS Z29, Z8, Z8
	VMAXPS Z29, Z14, Z14
	VMAXPS Z29, Z16, Z16

outpoolst:
	MOVQ DI, BX
	POOLST(0, Z6, Z8)
	ADDQ R11, BX
	POOLST(1, Z14, Z16)
	JMP outnext

outfull:
	VADDPS Z30, Z6, Z6
	VADDPS Z30, Z7, Z7
	VADDPS Z30, Z8, Z8
	VADDPS Z30, Z9, Z9
	VADDPS Z30, Z10, Z10
	VADDPS Z30, Z11, Z11
	VADDPS Z30, Z12, Z12
	VADDPS Z30, Z13, Z13
	VADDPS Z30, Z14, Z14
	VADDPS Z30, Z15, Z15
	VADDPS Z30, Z16, Z16
	VADDPS Z30, Z17, Z17
	VADDPS Z30, Z18, Z18
	VADDPS Z30, Z19, Z19
	VADDPS Z30, Z20, Z20
	VADDPS Z30, Z21, Z21
	TESTQ $1, R13
	JZ outfullst
	VMAXPS Z29, Z6, Z6
	VMAXPS Z29, Z7, Z7
	VMAXPS Z29, Z8, Z8
	VMAXPS Z29, Z9, Z9
	VMAXPS Z29, Z10, Z10
	VMAXPS Z29, Z11, Z11
	VMAXPS Z29, Z12, Z12
	VMAXPS Z29, Z13, Z13
	VMAXPS Z29, Z14, Z14
	VMAXPS Z29, Z15, Z15
	VMAXPS Z29, Z16, Z16
	VMAXPS Z29, Z17, Z17
	VMAXPS Z29, Z18, Z18
	VMAXPS Z29, Z19, Z19
	VMAXPS Z29, Z20, Z20
	VMAXPS Z29, Z21, Z21

outfullst:
	MOVQ DI, BX
	OUTST(0, Z6, Z7, Z8, Z9)
	ADDQ R11, BX
	OUTST(1, Z10, Z11, Z12, Z13)
	ADDQ R11, BX
	OUTST(2, Z14, Z15, Z16, Z17)
	ADDQ R11, BX
	OUTST(3, Z18, Z19, Z20, Z21)

outnext:
	ADDQ R10, DI
	ADDQ R8, SI
	DECQ CX
	JNZ outchan
	VZEROUPPER
	RET

// The adjoint of the output transform, for the filter gradient: each lane
// is one output channel of a single tile (channels are contiguous in E's
// packed layout, so E is written with plain 64-byte stores; dy is read with
// one gather per tile position). The operation order matches
// winoAdjointA; the products by 2, 4 and 8 are exact, so fused and unfused
// give the same bits.

// ADJGATHER loads tile position (the row at SI, byte offset b) of every
// channel lane with the mask at byte offset m of DX into z.
#define ADJGATHER(m, b, z) \
	KMOVW m(DX), K1 \
	VPXORD z, z, z \
	VGATHERDPS b(SI)(Z31*4), K1, z

// ADJA sets h0..h5 = A·(Z0..Z3) with Z28 = 4, Z29 = 2, Z30 = 8:
// p = e0+e2, q = e1+e3, r = e0+4e2, s = 2e1+8e3;
// h = (e0, p+q, p−q, r+s, r−s, e3). Z0 is clobbered.
#define ADJA(h0, h1, h2, h3, h4, h5) \
	VMOVAPS Z0, h0 \
	VMOVAPS Z3, h5 \
	VADDPS Z2, Z0, h3 \
	VADDPS Z3, Z1, h4 \
	VADDPS h4, h3, h1 \
	VSUBPS h4, h3, h2 \
	VMOVAPS Z0, h3 \
	VFMADD231PS Z2, Z28, h3 \
	VMULPS Z29, Z1, h4 \
	VFMADD231PS Z3, Z30, h4 \
	VSUBPS h4, h3, Z0 \
	VADDPS h4, h3, h3 \
	VMOVAPS Z0, h4

// ADJROW gathers one tile row e0..e3 into Z0-Z3 (masks from byte offset m
// of DX), sets h0..h5 = A·e and moves SI a row on.
#define ADJROW(m, h0, h1, h2, h3, h4, h5) \
	ADJGATHER(m, 0, Z0) \
	ADJGATHER(m+2, 4, Z1) \
	ADJGATHER(m+4, 8, Z2) \
	ADJGATHER(m+6, 12, Z3) \
	ADJA(h0, h1, h2, h3, h4, h5) \
	ADDQ BX, SI

// ADJROWT loads one tile row e0..e3 from the transposed tile at byte
// offset o of DX into Z0-Z3 and sets h0..h5 = A·e.
#define ADJROWT(o, h0, h1, h2, h3, h4, h5) \
	VMOVUPS o(DX), Z0 \
	VMOVUPS o+64(DX), Z1 \
	VMOVUPS o+128(DX), Z2 \
	VMOVUPS o+192(DX), Z3 \
	ADJA(h0, h1, h2, h3, h4, h5)

// ADJCOL transforms one column (h0..h3, the rows' results) the same way
// with temps Z0-Z2 and stores element r at DI + r*R12 (R13 = 3·R12,
// R14 = 5·R12); then DI moves to the next column.
#define ADJCOL(h0, h1, h2, h3) \
	VMOVUPS h0, (DI) \
	VMOVUPS h3, (DI)(R14*1) \
	VADDPS h2, h0, Z0 \
	VADDPS h3, h1, Z1 \
	VADDPS Z1, Z0, Z2 \
	VMOVUPS Z2, (DI)(R12*1) \
	VSUBPS Z1, Z0, Z2 \
	VMOVUPS Z2, (DI)(R12*2) \
	VMOVAPS h0, Z0 \
	VFMADD231PS h2, Z28, Z0 \
	VMULPS Z29, h1, Z1 \
	VFMADD231PS h3, Z30, Z1 \
	VADDPS Z1, Z0, Z2 \
	VMOVUPS Z2, (DI)(R13*1) \
	VSUBPS Z1, Z0, Z2 \
	VMOVUPS Z2, (DI)(R12*4) \
	ADDQ R11, DI

// ADJCONSTS sets the constants of ADJA and ADJCOL: Z28 = 4, Z29 = 2,
// Z30 = 8.
#define ADJCONSTS \
	MOVL $0x40800000, AX \
	VPBROADCASTD AX, Z28 \
	MOVL $0x40000000, AX \
	VPBROADCASTD AX, Z29 \
	MOVL $0x41000000, AX \
	VPBROADCASTD AX, Z30

// ADJCOLS transforms and stores the six columns of the row results
// h(a, q) = Z(4 + 6a + q), E's matrices R11 bytes apart from DI.
#define ADJCOLS \
	MOVQ R11, R12 \
	IMULQ $6, R12 \
	LEAQ (R12)(R12*2), R13 \
	LEAQ (R12)(R12*4), R14 \
	ADJCOL(Z4, Z10, Z16, Z22) \
	ADJCOL(Z5, Z11, Z17, Z23) \
	ADJCOL(Z6, Z12, Z18, Z24) \
	ADJCOL(Z7, Z13, Z19, Z25) \
	ADJCOL(Z8, Z14, Z20, Z26) \
	ADJCOL(Z9, Z15, Z21, Z27)

// func winoAdjointAVX512(e *float32, exi int, dy *float32, w int, idx *int32, masks *uint16)
//
// Lane j reads element (a, b) of its tile at dy[idx[j] + a*w + b] where bit
// j of masks[a*4+b] is set (zero elsewhere) and stores element ξ of
// A·e·Aᵀ at e[ξ*exi + j].
TEXT ·winoAdjointAVX512(SB), NOSPLIT, $0-48
	MOVQ e+0(FP), DI
	MOVQ exi+8(FP), R11
	SHLQ $2, R11
	MOVQ dy+16(FP), SI
	MOVQ w+24(FP), BX
	SHLQ $2, BX
	MOVQ idx+32(FP), AX
	VMOVDQU32 (AX), Z31
	MOVQ masks+40(FP), DX
	ADJCONSTS
	// h(a, q) = Z(4 + 6a + q).
	ADJROW(0, Z4, Z5, Z6, Z7, Z8, Z9)
	ADJROW(8, Z10, Z11, Z12, Z13, Z14, Z15)
	ADJROW(16, Z16, Z17, Z18, Z19, Z20, Z21)
	ADJROW(24, Z22, Z23, Z24, Z25, Z26, Z27)
	ADJCOLS
	VZEROUPPER
	RET

// ADJLOAD loads the 4×4 tile of one channel (rows at SI, SI+w, SI+2w,
// SI+3w, masked by K1-K4) into z, row a in its 128-bit lane a, and moves SI
// to the next channel's plane (R9 bytes on).
#define ADJLOAD(x, z) \
	VMOVUPS.Z (SI), K1, x \
	VMOVUPS.Z (SI)(BX*1), K2, X16 \
	VINSERTF32X4 $1, X16, z, z \
	VMOVUPS.Z (SI)(BX*2), K3, X17 \
	VINSERTF32X4 $2, X17, z, z \
	VMOVUPS.Z (SI)(R8*1), K4, X18 \
	VINSERTF32X4 $3, X18, z, z \
	ADDQ R9, SI

// ADJLANES finishes the transpose for one tile column: q0..q3 hold, in
// 128-bit lane L, channels 4g..4g+3 (g = 0..3) at tile position (L, column);
// it stores position (a, column) of all 16 channels at byte offset
// o + a*256 of DX.
#define ADJLANES(o, q0, q1, q2, q3) \
	VSHUFF32X4 $0x44, q1, q0, Z16 \
	VSHUFF32X4 $0xEE, q1, q0, Z17 \
	VSHUFF32X4 $0x44, q3, q2, Z18 \
	VSHUFF32X4 $0xEE, q3, q2, Z19 \
	VSHUFF32X4 $0x88, Z18, Z16, Z20 \
	VSHUFF32X4 $0xDD, Z18, Z16, Z21 \
	VSHUFF32X4 $0x88, Z19, Z17, Z22 \
	VSHUFF32X4 $0xDD, Z19, Z17, Z23 \
	VMOVUPS Z20, o(DX) \
	VMOVUPS Z21, o+256(DX) \
	VMOVUPS Z22, o+512(DX) \
	VMOVUPS Z23, o+768(DX)

// func winoAdjoint16AVX512(e *float32, exi int, dy *float32, w, plane int, rows *uint16, tmp *float32)
//
// The adjoint transform of one tile for 16 channels without gathers: channel
// j's element (a, b) is dy[j*plane + a*w + b] where bit b of rows[a] is set
// (zero elsewhere); element ξ of A·e·Aᵀ goes to e[ξ*exi + j]. Each
// channel's tile is loaded whole, the 16×16 block of channels and positions
// is transposed in registers into tmp (256 floats), and the transform
// reads tmp as winoAdjointAVX512 reads its gathers.
TEXT ·winoAdjoint16AVX512(SB), NOSPLIT, $0-56
	MOVQ dy+16(FP), SI
	MOVQ w+24(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R8
	MOVQ plane+32(FP), R9
	SHLQ $2, R9
	MOVQ rows+40(FP), AX
	KMOVW 0(AX), K1
	KMOVW 2(AX), K2
	KMOVW 4(AX), K3
	KMOVW 6(AX), K4
	MOVQ tmp+48(FP), DX
	ADJLOAD(X0, Z0)
	ADJLOAD(X1, Z1)
	ADJLOAD(X2, Z2)
	ADJLOAD(X3, Z3)
	ADJLOAD(X4, Z4)
	ADJLOAD(X5, Z5)
	ADJLOAD(X6, Z6)
	ADJLOAD(X7, Z7)
	ADJLOAD(X8, Z8)
	ADJLOAD(X9, Z9)
	ADJLOAD(X10, Z10)
	ADJLOAD(X11, Z11)
	ADJLOAD(X12, Z12)
	ADJLOAD(X13, Z13)
	ADJLOAD(X14, Z14)
	ADJLOAD(X15, Z15)
	// Pairs of channels interleaved: a_j in Z(16+j).
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPS Z5, Z4, Z20
	VUNPCKHPS Z5, Z4, Z21
	VUNPCKLPS Z7, Z6, Z22
	VUNPCKHPS Z7, Z6, Z23
	VUNPCKLPS Z9, Z8, Z24
	VUNPCKHPS Z9, Z8, Z25
	VUNPCKLPS Z11, Z10, Z26
	VUNPCKHPS Z11, Z10, Z27
	VUNPCKLPS Z13, Z12, Z28
	VUNPCKHPS Z13, Z12, Z29
	VUNPCKLPS Z15, Z14, Z30
	VUNPCKHPS Z15, Z14, Z31
	// Quads: Z(4g+c) holds channels 4g..4g+3 of tile column c' in each
	// lane, with c' = 0, 2, 1, 3 for c = 0, 1, 2, 3.
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z2
	VUNPCKLPD Z19, Z17, Z1
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPD Z22, Z20, Z4
	VUNPCKHPD Z22, Z20, Z6
	VUNPCKLPD Z23, Z21, Z5
	VUNPCKHPD Z23, Z21, Z7
	VUNPCKLPD Z26, Z24, Z8
	VUNPCKHPD Z26, Z24, Z10
	VUNPCKLPD Z27, Z25, Z9
	VUNPCKHPD Z27, Z25, Z11
	VUNPCKLPD Z30, Z28, Z12
	VUNPCKHPD Z30, Z28, Z14
	VUNPCKLPD Z31, Z29, Z13
	VUNPCKHPD Z31, Z29, Z15
	// Position (a, b) at tmp + (4a+b)*64 bytes.
	ADJLANES(0, Z0, Z4, Z8, Z12)
	ADJLANES(64, Z2, Z6, Z10, Z14)
	ADJLANES(128, Z1, Z5, Z9, Z13)
	ADJLANES(192, Z3, Z7, Z11, Z15)
	MOVQ e+0(FP), DI
	MOVQ exi+8(FP), R11
	SHLQ $2, R11
	ADJCONSTS
	ADJROWT(0, Z4, Z5, Z6, Z7, Z8, Z9)
	ADJROWT(256, Z10, Z11, Z12, Z13, Z14, Z15)
	ADJROWT(512, Z16, Z17, Z18, Z19, Z20, Z21)
	ADJROWT(768, Z22, Z23, Z24, Z25, Z26, Z27)
	ADJCOLS
	VZEROUPPER
	RET
