//go:build !purego

#include "textflag.h"
#include "transpose_amd64.h"

// The plane kernel below reads a table of vectors, 8 bytes each: the
// lanes to keep (bits 0–15), the lanes to read (16–31) and the vector's
// first output in the long row (32–63).

// DW_BASE sets reg to the address in p (SI) of the vector at off(R14).
#define DW_BASE(off, reg) \
	MOVLQZX 4+off(R14), reg \
	LEAQ    (SI)(reg*4), reg

// DW_MASK sets mask register k to the read lanes of the vector at off(R14).
#define DW_MASK(off, k) \
	MOVWLZX 2+off(R14), AX \
	KMOVW   AX, k

// DW_TAPS runs the tap loop for the vectors whose FMAs FMAS lists:
// accumulators Z0–Z3, bases R11, R12, BX, DX, R8 the offsets, R9 the
// weights, R10 the tap count (clobbered with AX, R8, R9).
#define DW_TAPS(label, FMAS) \
label:                          \
	MOVQ (R8), AX               \
	VBROADCASTSS (R9), Z4       \
	FMAS                        \
	ADDQ $8, R8                 \
	ADDQ $4, R9                 \
	DECQ R10                    \
	JNZ  label

#define DW_FMA4 \
	VFMADD231PS (R11)(AX*4), Z4, Z0 \
	VFMADD231PS (R12)(AX*4), Z4, Z1 \
	VFMADD231PS (BX)(AX*4), Z4, Z2  \
	VFMADD231PS (DX)(AX*4), Z4, Z3

// The masked forms read only the lanes in K1–K4, so the last vectors may
// reach past the end of p.
#define DW_FMA1M VFMADD231PS (R11)(AX*4), Z4, K1, Z0
#define DW_FMA2M DW_FMA1M; VFMADD231PS (R12)(AX*4), Z4, K2, Z1
#define DW_FMA3M DW_FMA2M; VFMADD231PS (BX)(AX*4), Z4, K3, Z2
#define DW_FMA4M DW_FMA3M; VFMADD231PS (DX)(AX*4), Z4, K4, Z3

#define DW_START \
	VMOVAPS Z31, Z0          \
	VMOVAPS Z31, Z1          \
	VMOVAPS Z31, Z2          \
	VMOVAPS Z31, Z3          \
	MOVQ offs+16(FP), R8     \
	MOVQ w+24(FP), R9        \
	MOVQ nt+32(FP), R10

// DW_KEEP applies Relu to zmm if R15 is set, then writes its lanes kept
// by the vector at off(R14) to DI on, packed together, and advances DI
// past them (a plain store when all are kept, as in most vectors of wide
// planes). R13 holds 0xffff. Clobbers AX, BX, DX, Z5, K5 and K6.
#define DW_KEEP(zmm, off) \
	TESTQ   R15, R15          \
	JZ      2(PC)             \
	VMAXPS  zmm, Z30, zmm     \
	MOVWLZX off(R14), AX      \
	CMPL    AX, R13           \
	JNE     4(PC)             \
	VMOVUPS zmm, (DI)         \
	ADDQ    $64, DI           \
	JMP     8(PC)             \
	KMOVW   AX, K5            \
	POPCNTL AX, BX            \
	BZHIL   BX, R13, DX       \
	KMOVW   DX, K6            \
	VCOMPRESSPS.Z zmm, K5, Z5 \
	VMOVUPS Z5, K6, (DI)      \
	LEAQ    (DI)(BX*4), DI

// func dwPlaneAVX512(dst, p *float32, offs *int, w *float32, nt int, vecs *uint64, full, rem int, b float32, relu bool)
// One depthwise plane (see depthwiseConv), four vectors of 16 outputs at
// a time: out = b + Σ_{t<nt} w[t]·p[offs[t]+j] for the outputs j of the
// long row that each vector of vecs covers, then max(out, 0) if relu
// (NaNs kept, as in reluAVX512), and the lanes that are output columns
// are written to dst one after the other. The first full groups of four
// vectors read all their lanes; rem ≤ 4 vectors follow.
TEXT ·dwPlaneAVX512(SB), NOSPLIT, $0-69
	MOVQ dst+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ vecs+40(FP), R14
	MOVQ full+48(FP), CX
	VBROADCASTSS b+64(FP), Z31
	VPXORD Z30, Z30, Z30
	MOVBLZX relu+68(FP), R15
	MOVL $0xffff, R13
	TESTQ CX, CX
	JZ    rest

group:
	DW_BASE(0, R11)
	DW_BASE(8, R12)
	DW_BASE(16, BX)
	DW_BASE(24, DX)
	DW_START
	DW_TAPS(taps4, DW_FMA4)
	DW_KEEP(Z0, 0)
	DW_KEEP(Z1, 8)
	DW_KEEP(Z2, 16)
	DW_KEEP(Z3, 24)
	ADDQ $32, R14
	DECQ CX
	JNZ  group

rest:
	MOVQ rem+56(FP), CX
	TESTQ CX, CX
	JZ    done
	DW_BASE(0, R11)
	DW_MASK(0, K1)
	CMPQ CX, $2
	JLT  rest1
	DW_BASE(8, R12)
	DW_MASK(8, K2)
	JEQ  rest2
	DW_BASE(16, BX)
	DW_MASK(16, K3)
	CMPQ CX, $3
	JEQ  rest3
	DW_BASE(24, DX)
	DW_MASK(24, K4)
	DW_START
	DW_TAPS(taps4m, DW_FMA4M)
	DW_KEEP(Z0, 0)
	DW_KEEP(Z1, 8)
	DW_KEEP(Z2, 16)
	DW_KEEP(Z3, 24)
	JMP done

rest3:
	DW_START
	DW_TAPS(taps3m, DW_FMA3M)
	DW_KEEP(Z0, 0)
	DW_KEEP(Z1, 8)
	DW_KEEP(Z2, 16)
	JMP done

rest2:
	DW_START
	DW_TAPS(taps2m, DW_FMA2M)
	DW_KEEP(Z0, 0)
	DW_KEEP(Z1, 8)
	JMP done

rest1:
	DW_START
	DW_TAPS(taps1m, DW_FMA1M)
	DW_KEEP(Z0, 0)

done:
	VZEROUPPER
	RET

// Lane indices of the even and odd elements of a pair of vectors, for
// VPERMT2PS (16..31 pick from the second vector).
DATA dwEvenIdx<>+0(SB)/4, $0
DATA dwEvenIdx<>+4(SB)/4, $2
DATA dwEvenIdx<>+8(SB)/4, $4
DATA dwEvenIdx<>+12(SB)/4, $6
DATA dwEvenIdx<>+16(SB)/4, $8
DATA dwEvenIdx<>+20(SB)/4, $10
DATA dwEvenIdx<>+24(SB)/4, $12
DATA dwEvenIdx<>+28(SB)/4, $14
DATA dwEvenIdx<>+32(SB)/4, $16
DATA dwEvenIdx<>+36(SB)/4, $18
DATA dwEvenIdx<>+40(SB)/4, $20
DATA dwEvenIdx<>+44(SB)/4, $22
DATA dwEvenIdx<>+48(SB)/4, $24
DATA dwEvenIdx<>+52(SB)/4, $26
DATA dwEvenIdx<>+56(SB)/4, $28
DATA dwEvenIdx<>+60(SB)/4, $30
GLOBL dwEvenIdx<>(SB), RODATA|NOPTR, $64
DATA dwOddIdx<>+0(SB)/4, $1
DATA dwOddIdx<>+4(SB)/4, $3
DATA dwOddIdx<>+8(SB)/4, $5
DATA dwOddIdx<>+12(SB)/4, $7
DATA dwOddIdx<>+16(SB)/4, $9
DATA dwOddIdx<>+20(SB)/4, $11
DATA dwOddIdx<>+24(SB)/4, $13
DATA dwOddIdx<>+28(SB)/4, $15
DATA dwOddIdx<>+32(SB)/4, $17
DATA dwOddIdx<>+36(SB)/4, $19
DATA dwOddIdx<>+40(SB)/4, $21
DATA dwOddIdx<>+44(SB)/4, $23
DATA dwOddIdx<>+48(SB)/4, $25
DATA dwOddIdx<>+52(SB)/4, $27
DATA dwOddIdx<>+56(SB)/4, $29
DATA dwOddIdx<>+60(SB)/4, $31
GLOBL dwOddIdx<>(SB), RODATA|NOPTR, $64

// func deinterleave2AVX512(even, odd *float32, ldd int, src *float32, lds, n, rows int, tail uint64)
// For r < rows and k < n (n ≥ 1): even[r*ldd+k] = src[r*lds+2k] and
// odd[r*ldd+k] = src[r*lds+2k+1], the two phases of stride-2 rows; ldd
// and lds count elements. The last n%16 pairs of a row are done under
// masks packed in tail by the caller: bits 0–15 the output lanes, 16–31
// and 32–47 the lanes of the two source vectors.
TEXT ·deinterleave2AVX512(SB), NOSPLIT, $0-64
	MOVQ ldd+16(FP), R11
	SHLQ $2, R11
	MOVQ lds+32(FP), R12
	SHLQ $2, R12
	MOVQ n+40(FP), R10
	SHRQ $4, R10
	MOVQ rows+48(FP), R9
	MOVQ tail+56(FP), AX
	KMOVW AX, K1
	SHRQ $16, AX
	KMOVW AX, K2
	SHRQ $16, AX
	KMOVW AX, K3
	MOVQ tail+56(FP), R13
	SHRQ $16, R13 // zero: no partial block
	VMOVDQU32 dwEvenIdx<>(SB), Z30
	VMOVDQU32 dwOddIdx<>(SB), Z31
	MOVQ even+0(FP), R14
	MOVQ odd+8(FP), R15
	MOVQ src+24(FP), BX

deinterleaveRow:
	MOVQ R14, DI
	MOVQ R15, SI
	MOVQ BX, DX
	MOVQ R10, CX
	TESTQ CX, CX
	JZ    deinterleaveTail

deinterleave:
	VMOVUPS (DX), Z0
	VMOVUPS 64(DX), Z1
	VMOVAPS Z0, Z2
	VPERMT2PS Z1, Z30, Z2
	VPERMT2PS Z1, Z31, Z0
	VMOVUPS Z2, (DI)
	VMOVUPS Z0, (SI)
	ADDQ $128, DX
	ADDQ $64, DI
	ADDQ $64, SI
	DECQ CX
	JNZ  deinterleave

deinterleaveTail:
	TESTQ R13, R13
	JZ    deinterleaveNext
	VMOVUPS.Z (DX), K2, Z0
	VMOVUPS.Z 64(DX), K3, Z1
	VMOVAPS Z0, Z2
	VPERMT2PS Z1, Z30, Z2
	VPERMT2PS Z1, Z31, Z0
	VMOVUPS Z2, K1, (DI)
	VMOVUPS Z0, K1, (SI)

deinterleaveNext:
	ADDQ R11, R14
	ADDQ R11, R15
	ADDQ R12, BX
	DECQ R9
	JNZ  deinterleaveRow
	VZEROUPPER
	RET

// The channel-blocked depthwise route (depthwiseBlocked): sixteen channels
// of a small plane in each vector, through three kernels.

// TR_LOAD loads row i (at SI, then SI advances by R10 bytes) into zmm
// under mask K1, or zeros when i ≥ rows (R9).
#define TR_LOAD(i, zmm) \
	VPXORD zmm, zmm, zmm        \
	CMPQ   R9, $i               \
	JLE    2(PC)                \
	VMOVUPS.Z (SI), K1, zmm     \
	ADDQ   R10, SI

// func dwGatherAVX512(t *float32, tab *int32, src *float32, lds, rows int, mask uint16)
// Transposes rows < 16 rows of 16 floats at src (lds floats apart; lanes
// outside mask are not read and count as zero, missing rows too) and
// stores column j, the 16 channels of pixel j, at t + tab[j] floats.
TEXT ·dwGatherAVX512(SB), NOSPLIT, $0-42
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R10
	SHLQ $2, R10
	MOVQ rows+32(FP), R9
	MOVWLZX mask+40(FP), AX
	KMOVW AX, K1
	TR_LOAD(0, Z0)
	TR_LOAD(1, Z1)
	TR_LOAD(2, Z2)
	TR_LOAD(3, Z3)
	TR_LOAD(4, Z4)
	TR_LOAD(5, Z5)
	TR_LOAD(6, Z6)
	TR_LOAD(7, Z7)
	TR_LOAD(8, Z8)
	TR_LOAD(9, Z9)
	TR_LOAD(10, Z10)
	TR_LOAD(11, Z11)
	TR_LOAD(12, Z12)
	TR_LOAD(13, Z13)
	TR_LOAD(14, Z14)
	TR_LOAD(15, Z15)
	TR16
	MOVQ t+0(FP), DI
	MOVQ tab+8(FP), R8
#define TR_PUT(i, zmm) \
	MOVLQSX (i*4)(R8), AX \
	VMOVUPS zmm, (DI)(AX*4)
	TR_PUT(0, Z0)
	TR_PUT(1, Z1)
	TR_PUT(2, Z2)
	TR_PUT(3, Z3)
	TR_PUT(4, Z4)
	TR_PUT(5, Z5)
	TR_PUT(6, Z6)
	TR_PUT(7, Z7)
	TR_PUT(8, Z8)
	TR_PUT(9, Z9)
	TR_PUT(10, Z10)
	TR_PUT(11, Z11)
	TR_PUT(12, Z12)
	TR_PUT(13, Z13)
	TR_PUT(14, Z14)
	TR_PUT(15, Z15)
	VZEROUPPER
	RET

// func dwScatterAVX512(dst *float32, ldd int, o *float32, rows int, mask uint16)
// The inverse of dwGatherAVX512 for the outputs: transposes the 16
// vectors at o (16 floats each, one per pixel) and stores the lanes in
// mask of row i < rows, the pixels of channel i, at dst + i·ldd floats.
TEXT ·dwScatterAVX512(SB), NOSPLIT, $0-34
	MOVQ o+16(FP), SI
	VMOVUPS 0(SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS 192(SI), Z3
	VMOVUPS 256(SI), Z4
	VMOVUPS 320(SI), Z5
	VMOVUPS 384(SI), Z6
	VMOVUPS 448(SI), Z7
	VMOVUPS 512(SI), Z8
	VMOVUPS 576(SI), Z9
	VMOVUPS 640(SI), Z10
	VMOVUPS 704(SI), Z11
	VMOVUPS 768(SI), Z12
	VMOVUPS 832(SI), Z13
	VMOVUPS 896(SI), Z14
	VMOVUPS 960(SI), Z15
	TR16
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R10
	SHLQ $2, R10
	MOVQ rows+24(FP), R9
	MOVWLZX mask+32(FP), AX
	KMOVW AX, K1
	TR_STORE16
	VZEROUPPER
	RET

// func dwBlockAVX512(o, t *float32, bases *int32, nq int, offs *int32, nt int, w, bias *float32, relu bool)
// For each output pixel q < nq: o[q] = bias + Σ_{k<nt} w[k]·t[bases[q]+offs[k]],
// vectors of 16 channels (o[q] at o + 16q floats, w[k] at w + 16k), then
// max(·, 0) if relu (NaNs kept, as in reluAVX512). Four pixels at a time
// keep four FMA chains in flight.
TEXT ·dwBlockAVX512(SB), NOSPLIT, $0-65
	MOVQ o+0(FP), DI
	MOVQ t+8(FP), SI
	MOVQ bases+16(FP), R8
	MOVQ nq+24(FP), CX
	MOVQ bias+56(FP), AX
	VMOVUPS (AX), Z31
	VPXORD Z30, Z30, Z30
	MOVBLZX relu+64(FP), R15
	CMPQ CX, $4
	JLT  one

four:
	MOVLQSX 0(R8), AX
	LEAQ (SI)(AX*4), AX
	MOVLQSX 4(R8), BX
	LEAQ (SI)(BX*4), BX
	MOVLQSX 8(R8), DX
	LEAQ (SI)(DX*4), DX
	MOVLQSX 12(R8), R14
	LEAQ (SI)(R14*4), R14
	VMOVAPS Z31, Z0
	VMOVAPS Z31, Z1
	VMOVAPS Z31, Z2
	VMOVAPS Z31, Z3
	MOVQ offs+32(FP), R9
	MOVQ w+48(FP), R10
	MOVQ nt+40(FP), R12

fourtap:
	MOVLQSX (R9), R11
	VMOVUPS (R10), Z4
	VFMADD231PS (AX)(R11*4), Z4, Z0
	VFMADD231PS (BX)(R11*4), Z4, Z1
	VFMADD231PS (DX)(R11*4), Z4, Z2
	VFMADD231PS (R14)(R11*4), Z4, Z3
	ADDQ $4, R9
	ADDQ $64, R10
	DECQ R12
	JNZ  fourtap
	TESTQ R15, R15
	JZ    fourstore
	VMAXPS Z0, Z30, Z0
	VMAXPS Z1, Z30, Z1
	VMAXPS Z2, Z30, Z2
	VMAXPS Z3, Z30, Z3

fourstore:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, DI
	ADDQ $16, R8
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  four

one:
	TESTQ CX, CX
	JZ    done

onepix:
	MOVLQSX 0(R8), AX
	LEAQ (SI)(AX*4), AX
	VMOVAPS Z31, Z0
	MOVQ offs+32(FP), R9
	MOVQ w+48(FP), R10
	MOVQ nt+40(FP), R12

onetap:
	MOVLQSX (R9), R11
	VMOVUPS (R10), Z4
	VFMADD231PS (AX)(R11*4), Z4, Z0
	ADDQ $4, R9
	ADDQ $64, R10
	DECQ R12
	JNZ  onetap
	TESTQ R15, R15
	JZ    onestore
	VMAXPS Z0, Z30, Z0

onestore:
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $4, R8
	DECQ CX
	JNZ  onepix

done:
	VZEROUPPER
	RET
