//go:build !purego

#include "textflag.h"

// func dwRowAVX512(dst, p *float32, offs *int, w *float32, nt, nb int, tail uint64, b float32)
// dst[j] = b + Σ_{t<nt} w[t]·p[offs[t]+j] for j < 64·nb, then for the
// masked tail block whose four 16-bit lane masks are packed in tail (zero:
// none). Four accumulators per block keep four FMA chains in flight; the
// taps are read straight from p, the output row is written once.
TEXT ·dwRowAVX512(SB), NOSPLIT, $0-60
	MOVQ dst+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ nt+32(FP), R10
	MOVQ nb+40(FP), CX
	VBROADCASTSS b+56(FP), Z31
	XORQ DX, DX // byte offset of the block in the row
	TESTQ CX, CX
	JZ    tailblock

block:
	VMOVAPS Z31, Z0
	VMOVAPS Z31, Z1
	VMOVAPS Z31, Z2
	VMOVAPS Z31, Z3
	MOVQ R8, R11
	MOVQ R9, R12
	MOVQ R10, R13

tap:
	MOVQ (R11), AX
	LEAQ (SI)(AX*4), BX
	ADDQ DX, BX
	VBROADCASTSS (R12), Z4
	VFMADD231PS (BX), Z4, Z0
	VFMADD231PS 64(BX), Z4, Z1
	VFMADD231PS 128(BX), Z4, Z2
	VFMADD231PS 192(BX), Z4, Z3
	ADDQ $8, R11
	ADDQ $4, R12
	DECQ R13
	JNZ  tap
	LEAQ (DI)(DX*1), BX
	VMOVUPS Z0, (BX)
	VMOVUPS Z1, 64(BX)
	VMOVUPS Z2, 128(BX)
	VMOVUPS Z3, 192(BX)
	ADDQ $256, DX
	DECQ CX
	JNZ  block

tailblock:
	MOVQ tail+48(FP), AX
	TESTQ AX, AX
	JZ    done
	KMOVW AX, K1
	SHRQ  $16, AX
	KMOVW AX, K2
	SHRQ  $16, AX
	KMOVW AX, K3
	SHRQ  $16, AX
	KMOVW AX, K4
	VMOVAPS Z31, Z0
	VMOVAPS Z31, Z1
	VMOVAPS Z31, Z2
	VMOVAPS Z31, Z3

tailtap:
	// Masked-off lanes are neither read nor stored, so the block may
	// reach past the end of p and dst.
	MOVQ (R8), AX
	LEAQ (SI)(AX*4), BX
	ADDQ DX, BX
	VBROADCASTSS (R9), Z4
	VMOVUPS.Z (BX), K1, Z5
	VMOVUPS.Z 64(BX), K2, Z6
	VMOVUPS.Z 128(BX), K3, Z7
	VMOVUPS.Z 192(BX), K4, Z8
	VFMADD231PS Z5, Z4, Z0
	VFMADD231PS Z6, Z4, Z1
	VFMADD231PS Z7, Z4, Z2
	VFMADD231PS Z8, Z4, Z3
	ADDQ $8, R8
	ADDQ $4, R9
	DECQ R10
	JNZ  tailtap
	LEAQ (DI)(DX*1), BX
	VMOVUPS Z0, K1, (BX)
	VMOVUPS Z1, K2, 64(BX)
	VMOVUPS Z2, K3, 128(BX)
	VMOVUPS Z3, K4, 192(BX)

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
