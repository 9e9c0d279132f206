//go:build !purego

#include "textflag.h"

// Element-wise loops, 16 float32 lanes per step; n is a positive multiple
// of 16. Reductions widen each half of a vector to float64 (VCVTPS2PD) and
// keep two accumulators per sum.

// Horizontal sum of the eight doubles of Z, left in the low lane of X.
#define HSUM_PD(Z, Y, X, YT, XT) \
	VEXTRACTF64X4 $1, Z, YT; \
	VADDPD YT, Y, Y; \
	VEXTRACTF128 $1, Y, XT; \
	VADDPD XT, X, X; \
	VUNPCKHPD X, X, XT; \
	VADDSD XT, X, X

// func maskPositiveAVX512(z, v, x *float32, n int)
TEXT ·maskPositiveAVX512(SB), NOSPLIT, $0-32
	MOVQ z+0(FP), DI
	MOVQ v+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	VPXORD Z31, Z31, Z31

maskloop:
	VMOVDQU32 (DX), Z0
	VPCMPGTD Z31, Z0, K1 // signed bits > 0: x > 0 or a NaN with the sign clear
	VMOVDQU32.Z (SI), K1, Z1
	VMOVDQU32 Z1, (DI)
	ADDQ $64, DX
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  maskloop
	VZEROUPPER
	RET

// func sumAVX512(x *float32, n int) float64
TEXT ·sumAVX512(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $4, CX
	VPXORQ Z2, Z2, Z2
	VPXORQ Z3, Z3, Z3

sumloop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VADDPD Z0, Z2, Z2
	VADDPD Z1, Z3, Z3
	ADDQ $64, SI
	DECQ CX
	JNZ  sumloop
	VADDPD Z3, Z2, Z2
	HSUM_PD(Z2, Y2, X2, Y3, X3)
	MOVSD X2, ret+16(FP)
	VZEROUPPER
	RET

// func gradSumsAVX512(gv, x *float32, n int, mu float64) (sg, sgx float64)
TEXT ·gradSumsAVX512(SB), NOSPLIT, $0-48
	MOVQ gv+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSD mu+24(FP), Z30
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7

gsloop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VCVTPS2PD (DX), Z2
	VCVTPS2PD 32(DX), Z3
	VSUBPD Z30, Z2, Z2
	VSUBPD Z30, Z3, Z3
	VADDPD Z0, Z4, Z4
	VADDPD Z1, Z5, Z5
	VFMADD231PD Z0, Z2, Z6
	VFMADD231PD Z1, Z3, Z7
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  gsloop
	VADDPD Z5, Z4, Z4
	VADDPD Z7, Z6, Z6
	HSUM_PD(Z4, Y4, X4, Y5, X5)
	HSUM_PD(Z6, Y6, X6, Y7, X7)
	MOVSD X4, sg+32(FP)
	MOVSD X6, sgx+40(FP)
	VZEROUPPER
	RET

// func scaleShiftAVX512(dst, x *float32, n int, a, b float32)
TEXT ·scaleShiftAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSS a+24(FP), Z30
	VBROADCASTSS b+28(FP), Z31

ssloop:
	VMOVUPS (SI), Z0
	VFMADD213PS Z31, Z30, Z0 // a*x + b
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  ssloop
	VZEROUPPER
	RET

// func axpbycAVX512(dst, gv, x *float32, n int, a, b, c float32)
TEXT ·axpbycAVX512(SB), NOSPLIT, $0-44
	MOVQ dst+0(FP), DI
	MOVQ gv+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	VBROADCASTSS a+32(FP), Z29
	VBROADCASTSS b+36(FP), Z30
	VBROADCASTSS c+40(FP), Z31

axloop:
	VMOVUPS (SI), Z0
	VFMADD213PS Z31, Z29, Z0 // a*g + c
	VFMADD231PS (DX), Z30, Z0 // + b*x
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  axloop
	VZEROUPPER
	RET

// func dotShiftsAVX512(dy, p *float32, offs *int, nt, n int, out *float32)
// For t < nt: out[t] += Σ_{j<n} dy[j]·p[offs[t]+j]; n is a positive
// multiple of 64. Four accumulators per tap hide the FMA latency; dy stays
// in L1 across the taps.
TEXT ·dotShiftsAVX512(SB), NOSPLIT, $0-48
	MOVQ dy+0(FP), SI
	MOVQ p+8(FP), DX
	MOVQ offs+16(FP), R8
	MOVQ nt+24(FP), R9
	MOVQ n+32(FP), R10
	SHRQ $6, R10
	MOVQ out+40(FP), DI

taploop:
	MOVQ (R8), AX
	LEAQ (DX)(AX*4), BX // p + offs[t]
	MOVQ SI, CX
	MOVQ R10, R11
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3

dotloop:
	VMOVUPS (CX), Z4
	VMOVUPS 64(CX), Z5
	VMOVUPS 128(CX), Z6
	VMOVUPS 192(CX), Z7
	VFMADD231PS (BX), Z4, Z0
	VFMADD231PS 64(BX), Z5, Z1
	VFMADD231PS 128(BX), Z6, Z2
	VFMADD231PS 192(BX), Z7, Z3
	ADDQ $256, CX
	ADDQ $256, BX
	DECQ R11
	JNZ  dotloop

	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1 // the upper eight floats
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVHLPS X0, X1, X1
	VADDPS X1, X0, X0
	VMOVSHDUP X0, X1
	VADDSS X1, X0, X0
	VADDSS (DI), X0, X0
	VMOVSS X0, (DI)
	ADDQ $8, R8
	ADDQ $4, DI
	DECQ R9
	JNZ  taploop
	VZEROUPPER
	RET

// func shiftedSumsAVX512(x *float32, n int, k float64) (s1, s2 float64)
TEXT ·shiftedSumsAVX512(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $4, CX
	VBROADCASTSD k+16(FP), Z30
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7

shloop:
	VCVTPS2PD (SI), Z0
	VCVTPS2PD 32(SI), Z1
	VSUBPD Z30, Z0, Z0
	VSUBPD Z30, Z1, Z1
	VADDPD Z0, Z4, Z4
	VADDPD Z1, Z5, Z5
	VFMADD231PD Z0, Z0, Z6
	VFMADD231PD Z1, Z1, Z7
	ADDQ $64, SI
	DECQ CX
	JNZ  shloop
	VADDPD Z5, Z4, Z4
	VADDPD Z7, Z6, Z6
	HSUM_PD(Z4, Y4, X4, Y5, X5)
	HSUM_PD(Z6, Y6, X6, Y7, X7)
	MOVSD X4, s1+24(FP)
	MOVSD X6, s2+32(FP)
	VZEROUPPER
	RET

// func copyRowsAVX512(dst, src *float32, n, rows, ldd, lds int, bias *float32)
// For r < rows and i < n: dst[r*ldd+i] = src[r*lds+i], plus bias[r] when
// bias is not nil. The last n%16 elements of a row use a mask (K1).
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-56
	MOVQ n+16(FP), R10
	MOVQ R10, CX
	ANDQ $15, CX
	MOVL $1, AX
	SHLL CX, AX
	DECL AX
	KMOVW AX, K1
	SHRQ $4, R10
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+24(FP), R9
	MOVQ ldd+32(FP), R11
	SHLQ $2, R11
	MOVQ lds+40(FP), R12
	SHLQ $2, R12
	MOVQ bias+48(FP), R13
	TESTQ R13, R13
	JZ   copyrow

addrow:
	VBROADCASTSS (R13), Z1
	MOVQ DI, R8
	MOVQ SI, DX
	MOVQ R10, BX
	TESTQ BX, BX
	JZ   addtail

addchunk:
	VADDPS (DX), Z1, Z0
	VMOVUPS Z0, (R8)
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ BX
	JNZ  addchunk

addtail:
	VMOVUPS.Z (DX), K1, Z0
	VADDPS Z0, Z1, Z0
	VMOVUPS Z0, K1, (R8)
	ADDQ $4, R13
	ADDQ R11, DI
	ADDQ R12, SI
	DECQ R9
	JNZ  addrow
	VZEROUPPER
	RET

copyrow:
	MOVQ DI, R8
	MOVQ SI, DX
	MOVQ R10, BX
	TESTQ BX, BX
	JZ   copytail

copychunk:
	VMOVUPS (DX), Z0
	VMOVUPS Z0, (R8)
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ BX
	JNZ  copychunk

copytail:
	VMOVUPS.Z (DX), K1, Z0
	VMOVUPS Z0, K1, (R8)
	ADDQ R11, DI
	ADDQ R12, SI
	DECQ R9
	JNZ  copyrow
	VZEROUPPER
	RET

// func sigmoidAVX512(dst, x *float32, n int)
// dst[i] = 1/(1+e^t), t = −x[i], for n a positive multiple of 16: t is
// clamped to [−100, 100] (VMINPS/VMAXPS with t as second source keep NaNs),
// k = round(t·log2 e), r = t − k·ln 2 in two parts, e^r by a degree-7
// polynomial, times 2^k by VSCALEFPS (which saturates to 0 and +Inf
// instead of wrapping the exponent). sigmoidOne is the Go twin.
TEXT ·sigmoidAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	MOVL $0x42c80000, AX // 100
	VPBROADCASTD AX, Z18
	MOVL $0xc2c80000, AX // -100
	VPBROADCASTD AX, Z19
	MOVL $0x3fb8aa3b, AX // log2 e
	VPBROADCASTD AX, Z20
	MOVL $0x3f317200, AX // ln 2, high part
	VPBROADCASTD AX, Z21
	MOVL $0x35bfbe8e, AX // ln 2, low part
	VPBROADCASTD AX, Z22
	MOVL $0x39500d01, AX // 1/5040
	VPBROADCASTD AX, Z23
	MOVL $0x3ab60b61, AX // 1/720
	VPBROADCASTD AX, Z24
	MOVL $0x3c088889, AX // 1/120
	VPBROADCASTD AX, Z25
	MOVL $0x3d2aaaab, AX // 1/24
	VPBROADCASTD AX, Z26
	MOVL $0x3e2aaaab, AX // 1/6
	VPBROADCASTD AX, Z27
	MOVL $0x3f000000, AX // 1/2
	VPBROADCASTD AX, Z28
	MOVL $0x3f800000, AX // 1
	VPBROADCASTD AX, Z29
	VPXORD Z31, Z31, Z31

sgloop:
	VMOVUPS (SI), Z0
	VSUBPS  Z0, Z31, Z1          // t = 0 − x
	VMINPS  Z1, Z18, Z1          // min(100, t), t if NaN
	VMAXPS  Z1, Z19, Z1          // max(−100, t)
	VMULPS  Z20, Z1, Z2
	VRNDSCALEPS $0, Z2, Z2       // k, to nearest
	VMOVAPS Z1, Z3
	VFNMADD231PS Z21, Z2, Z3     // t − k·ln2Hi
	VFNMADD231PS Z22, Z2, Z3     // r
	VMOVAPS Z23, Z4
	VFMADD213PS Z24, Z3, Z4
	VFMADD213PS Z25, Z3, Z4
	VFMADD213PS Z26, Z3, Z4
	VFMADD213PS Z27, Z3, Z4
	VFMADD213PS Z28, Z3, Z4
	VFMADD213PS Z29, Z3, Z4
	VFMADD213PS Z29, Z3, Z4      // e^r
	VSCALEFPS Z2, Z4, Z4         // e^t
	VADDPS  Z29, Z4, Z4
	VDIVPS  Z4, Z29, Z5          // 1/(1+e^t)
	VMOVUPS Z5, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  sgloop
	VZEROUPPER
	RET

// func gatherGradSumsAVX512(gv, keep, x *float32, idx *int32, n, nx int, mu float64) (sg, sgx float64, bad bool)
// A lane counts where keep's bits, read as a signed integer, are positive
// (as in maskPositiveAVX512). Lanes whose index is not below nx are neither
// loaded nor added; bad reports whether any counting lane had one.
TEXT ·gatherGradSumsAVX512(SB), NOSPLIT, $0-73
	MOVQ gv+0(FP), SI
	MOVQ keep+8(FP), DI
	MOVQ x+16(FP), DX
	MOVQ idx+24(FP), BX
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	MOVQ nx+40(FP), AX
	VPBROADCASTD AX, Z29
	VBROADCASTSD mu+48(FP), Z30
	VPXORD Z31, Z31, Z31
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7
	KXORW K3, K3, K3

ggloop:
	VMOVDQU32 (DI), Z8
	VPCMPGTD Z31, Z8, K4     // counting lanes
	VMOVDQU32 (BX), Z8
	VPCMPUD $5, Z29, Z8, K2  // idx >= nx (unsigned)
	KANDW K4, K2, K2
	KORW K2, K3, K3
	VPCMPUD $1, Z29, Z8, K1  // idx < nx
	KANDW K4, K1, K1
	KMOVW K1, K5
	VPXORD Z9, Z9, Z9
	VGATHERDPS (DX)(Z8*4), K1, Z9
	VMOVUPS.Z (SI), K5, Z10
	VEXTRACTF32X8 $1, Z10, Y11
	VCVTPS2PD Y10, Z0
	VCVTPS2PD Y11, Z1
	VEXTRACTF32X8 $1, Z9, Y12
	VCVTPS2PD Y9, Z2
	VCVTPS2PD Y12, Z3
	VSUBPD Z30, Z2, Z2
	VSUBPD Z30, Z3, Z3
	VADDPD Z0, Z4, Z4
	VADDPD Z1, Z5, Z5
	VFMADD231PD Z0, Z2, Z6
	VFMADD231PD Z1, Z3, Z7
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, BX
	DECQ CX
	JNZ  ggloop
	VADDPD Z5, Z4, Z4
	VADDPD Z7, Z6, Z6
	HSUM_PD(Z4, Y4, X4, Y5, X5)
	HSUM_PD(Z6, Y6, X6, Y7, X7)
	MOVSD X4, sg+56(FP)
	MOVSD X6, sgx+64(FP)
	KORTESTW K3, K3
	SETNE bad+72(FP)
	VZEROUPPER
	RET

// func addAxpbycAVX512(dst, gv, x *float32, n int, a, b, c float32)
TEXT ·addAxpbycAVX512(SB), NOSPLIT, $0-44
	MOVQ dst+0(FP), DI
	MOVQ gv+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	VBROADCASTSS a+32(FP), Z29
	VBROADCASTSS b+36(FP), Z30
	VBROADCASTSS c+40(FP), Z31

aaxloop:
	VMOVUPS (SI), Z0
	VFMADD213PS Z31, Z29, Z0  // a*g + c
	VFMADD231PS (DX), Z30, Z0 // + b*x
	VADDPS (DI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  aaxloop
	VZEROUPPER
	RET

// func gatherAxpbycAVX512(dst, gv, x *float32, idx *int32, n, ng int, a, b, c float32) (bad bool)
// dst[j] = a*gv[idx[j]] + b*x[idx[j]] + c; gv and x both hold ng elements.
// Lanes whose index is not below ng are not loaded (they get c); bad
// reports whether there were any.
TEXT ·gatherAxpbycAVX512(SB), NOSPLIT, $0-65
	MOVQ dst+0(FP), DI
	MOVQ gv+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ idx+24(FP), BX
	MOVQ n+32(FP), CX
	SHRQ $4, CX
	MOVQ ng+40(FP), AX
	VPBROADCASTD AX, Z28
	VBROADCASTSS a+48(FP), Z29
	VBROADCASTSS b+52(FP), Z30
	VBROADCASTSS c+56(FP), Z31
	KXORW K3, K3, K3

gaxloop:
	VMOVDQU32 (BX), Z8
	VPCMPUD $5, Z28, Z8, K2 // idx >= ng (unsigned)
	KORW K2, K3, K3
	VPCMPUD $1, Z28, Z8, K1 // idx < ng
	KMOVW K1, K4
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VGATHERDPS (SI)(Z8*4), K1, Z0
	VGATHERDPS (DX)(Z8*4), K4, Z1
	VFMADD213PS Z31, Z29, Z0 // a*g + c
	VFMADD231PS Z1, Z30, Z0  // + b*x
	VMOVUPS Z0, (DI)
	ADDQ $64, BX
	ADDQ $64, DI
	DECQ CX
	JNZ  gaxloop
	KORTESTW K3, K3
	SETNE bad+64(FP)
	VZEROUPPER
	RET

// func keptSumsAVX512(gv, keep *float32, n int) (sg, sgk float64)
// Σ g and Σ g·keep over the lanes where keep's bits, read as a signed
// integer, are positive.
TEXT ·keptSumsAVX512(SB), NOSPLIT, $0-40
	MOVQ gv+0(FP), SI
	MOVQ keep+8(FP), DX
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VPXORD Z31, Z31, Z31
	VPXORQ Z4, Z4, Z4
	VPXORQ Z5, Z5, Z5
	VPXORQ Z6, Z6, Z6
	VPXORQ Z7, Z7, Z7

ksloop:
	VMOVDQU32 (DX), Z9
	VPCMPGTD Z31, Z9, K1
	VMOVUPS.Z (SI), K1, Z8
	VMOVAPS.Z Z9, K1, Z9
	VEXTRACTF32X8 $1, Z8, Y10
	VCVTPS2PD Y8, Z0
	VCVTPS2PD Y10, Z1
	VEXTRACTF32X8 $1, Z9, Y11
	VCVTPS2PD Y9, Z2
	VCVTPS2PD Y11, Z3
	VADDPD Z0, Z4, Z4
	VADDPD Z1, Z5, Z5
	VFMADD231PD Z0, Z2, Z6
	VFMADD231PD Z1, Z3, Z7
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  ksloop
	VADDPD Z5, Z4, Z4
	VADDPD Z7, Z6, Z6
	HSUM_PD(Z4, Y4, X4, Y5, X5)
	HSUM_PD(Z6, Y6, X6, Y7, X7)
	MOVSD X4, sg+24(FP)
	MOVSD X6, sgk+32(FP)
	VZEROUPPER
	RET

// erfk<> holds the constants of erfAVX512, each in all 16 lanes (64 bytes):
// absmask at 0
DATA erfk<>+0(SB)/4, $0x7fffffff
DATA erfk<>+4(SB)/4, $0x7fffffff
DATA erfk<>+8(SB)/4, $0x7fffffff
DATA erfk<>+12(SB)/4, $0x7fffffff
DATA erfk<>+16(SB)/4, $0x7fffffff
DATA erfk<>+20(SB)/4, $0x7fffffff
DATA erfk<>+24(SB)/4, $0x7fffffff
DATA erfk<>+28(SB)/4, $0x7fffffff
DATA erfk<>+32(SB)/4, $0x7fffffff
DATA erfk<>+36(SB)/4, $0x7fffffff
DATA erfk<>+40(SB)/4, $0x7fffffff
DATA erfk<>+44(SB)/4, $0x7fffffff
DATA erfk<>+48(SB)/4, $0x7fffffff
DATA erfk<>+52(SB)/4, $0x7fffffff
DATA erfk<>+56(SB)/4, $0x7fffffff
DATA erfk<>+60(SB)/4, $0x7fffffff
// signmask at 64
DATA erfk<>+64(SB)/4, $0x80000000
DATA erfk<>+68(SB)/4, $0x80000000
DATA erfk<>+72(SB)/4, $0x80000000
DATA erfk<>+76(SB)/4, $0x80000000
DATA erfk<>+80(SB)/4, $0x80000000
DATA erfk<>+84(SB)/4, $0x80000000
DATA erfk<>+88(SB)/4, $0x80000000
DATA erfk<>+92(SB)/4, $0x80000000
DATA erfk<>+96(SB)/4, $0x80000000
DATA erfk<>+100(SB)/4, $0x80000000
DATA erfk<>+104(SB)/4, $0x80000000
DATA erfk<>+108(SB)/4, $0x80000000
DATA erfk<>+112(SB)/4, $0x80000000
DATA erfk<>+116(SB)/4, $0x80000000
DATA erfk<>+120(SB)/4, $0x80000000
DATA erfk<>+124(SB)/4, $0x80000000
// one at 128
DATA erfk<>+128(SB)/4, $0x3f800000
DATA erfk<>+132(SB)/4, $0x3f800000
DATA erfk<>+136(SB)/4, $0x3f800000
DATA erfk<>+140(SB)/4, $0x3f800000
DATA erfk<>+144(SB)/4, $0x3f800000
DATA erfk<>+148(SB)/4, $0x3f800000
DATA erfk<>+152(SB)/4, $0x3f800000
DATA erfk<>+156(SB)/4, $0x3f800000
DATA erfk<>+160(SB)/4, $0x3f800000
DATA erfk<>+164(SB)/4, $0x3f800000
DATA erfk<>+168(SB)/4, $0x3f800000
DATA erfk<>+172(SB)/4, $0x3f800000
DATA erfk<>+176(SB)/4, $0x3f800000
DATA erfk<>+180(SB)/4, $0x3f800000
DATA erfk<>+184(SB)/4, $0x3f800000
DATA erfk<>+188(SB)/4, $0x3f800000
// half at 192
DATA erfk<>+192(SB)/4, $0x3f000000
DATA erfk<>+196(SB)/4, $0x3f000000
DATA erfk<>+200(SB)/4, $0x3f000000
DATA erfk<>+204(SB)/4, $0x3f000000
DATA erfk<>+208(SB)/4, $0x3f000000
DATA erfk<>+212(SB)/4, $0x3f000000
DATA erfk<>+216(SB)/4, $0x3f000000
DATA erfk<>+220(SB)/4, $0x3f000000
DATA erfk<>+224(SB)/4, $0x3f000000
DATA erfk<>+228(SB)/4, $0x3f000000
DATA erfk<>+232(SB)/4, $0x3f000000
DATA erfk<>+236(SB)/4, $0x3f000000
DATA erfk<>+240(SB)/4, $0x3f000000
DATA erfk<>+244(SB)/4, $0x3f000000
DATA erfk<>+248(SB)/4, $0x3f000000
DATA erfk<>+252(SB)/4, $0x3f000000
// hundred at 256
DATA erfk<>+256(SB)/4, $0x42c80000
DATA erfk<>+260(SB)/4, $0x42c80000
DATA erfk<>+264(SB)/4, $0x42c80000
DATA erfk<>+268(SB)/4, $0x42c80000
DATA erfk<>+272(SB)/4, $0x42c80000
DATA erfk<>+276(SB)/4, $0x42c80000
DATA erfk<>+280(SB)/4, $0x42c80000
DATA erfk<>+284(SB)/4, $0x42c80000
DATA erfk<>+288(SB)/4, $0x42c80000
DATA erfk<>+292(SB)/4, $0x42c80000
DATA erfk<>+296(SB)/4, $0x42c80000
DATA erfk<>+300(SB)/4, $0x42c80000
DATA erfk<>+304(SB)/4, $0x42c80000
DATA erfk<>+308(SB)/4, $0x42c80000
DATA erfk<>+312(SB)/4, $0x42c80000
DATA erfk<>+316(SB)/4, $0x42c80000
// p at 320
DATA erfk<>+320(SB)/4, $0x3ea7ba05
DATA erfk<>+324(SB)/4, $0x3ea7ba05
DATA erfk<>+328(SB)/4, $0x3ea7ba05
DATA erfk<>+332(SB)/4, $0x3ea7ba05
DATA erfk<>+336(SB)/4, $0x3ea7ba05
DATA erfk<>+340(SB)/4, $0x3ea7ba05
DATA erfk<>+344(SB)/4, $0x3ea7ba05
DATA erfk<>+348(SB)/4, $0x3ea7ba05
DATA erfk<>+352(SB)/4, $0x3ea7ba05
DATA erfk<>+356(SB)/4, $0x3ea7ba05
DATA erfk<>+360(SB)/4, $0x3ea7ba05
DATA erfk<>+364(SB)/4, $0x3ea7ba05
DATA erfk<>+368(SB)/4, $0x3ea7ba05
DATA erfk<>+372(SB)/4, $0x3ea7ba05
DATA erfk<>+376(SB)/4, $0x3ea7ba05
DATA erfk<>+380(SB)/4, $0x3ea7ba05
// a1 at 384
DATA erfk<>+384(SB)/4, $0x3e827906
DATA erfk<>+388(SB)/4, $0x3e827906
DATA erfk<>+392(SB)/4, $0x3e827906
DATA erfk<>+396(SB)/4, $0x3e827906
DATA erfk<>+400(SB)/4, $0x3e827906
DATA erfk<>+404(SB)/4, $0x3e827906
DATA erfk<>+408(SB)/4, $0x3e827906
DATA erfk<>+412(SB)/4, $0x3e827906
DATA erfk<>+416(SB)/4, $0x3e827906
DATA erfk<>+420(SB)/4, $0x3e827906
DATA erfk<>+424(SB)/4, $0x3e827906
DATA erfk<>+428(SB)/4, $0x3e827906
DATA erfk<>+432(SB)/4, $0x3e827906
DATA erfk<>+436(SB)/4, $0x3e827906
DATA erfk<>+440(SB)/4, $0x3e827906
DATA erfk<>+444(SB)/4, $0x3e827906
// a2 at 448
DATA erfk<>+448(SB)/4, $0xbe91a98e
DATA erfk<>+452(SB)/4, $0xbe91a98e
DATA erfk<>+456(SB)/4, $0xbe91a98e
DATA erfk<>+460(SB)/4, $0xbe91a98e
DATA erfk<>+464(SB)/4, $0xbe91a98e
DATA erfk<>+468(SB)/4, $0xbe91a98e
DATA erfk<>+472(SB)/4, $0xbe91a98e
DATA erfk<>+476(SB)/4, $0xbe91a98e
DATA erfk<>+480(SB)/4, $0xbe91a98e
DATA erfk<>+484(SB)/4, $0xbe91a98e
DATA erfk<>+488(SB)/4, $0xbe91a98e
DATA erfk<>+492(SB)/4, $0xbe91a98e
DATA erfk<>+496(SB)/4, $0xbe91a98e
DATA erfk<>+500(SB)/4, $0xbe91a98e
DATA erfk<>+504(SB)/4, $0xbe91a98e
DATA erfk<>+508(SB)/4, $0xbe91a98e
// a3 at 512
DATA erfk<>+512(SB)/4, $0x3fb5f0e3
DATA erfk<>+516(SB)/4, $0x3fb5f0e3
DATA erfk<>+520(SB)/4, $0x3fb5f0e3
DATA erfk<>+524(SB)/4, $0x3fb5f0e3
DATA erfk<>+528(SB)/4, $0x3fb5f0e3
DATA erfk<>+532(SB)/4, $0x3fb5f0e3
DATA erfk<>+536(SB)/4, $0x3fb5f0e3
DATA erfk<>+540(SB)/4, $0x3fb5f0e3
DATA erfk<>+544(SB)/4, $0x3fb5f0e3
DATA erfk<>+548(SB)/4, $0x3fb5f0e3
DATA erfk<>+552(SB)/4, $0x3fb5f0e3
DATA erfk<>+556(SB)/4, $0x3fb5f0e3
DATA erfk<>+560(SB)/4, $0x3fb5f0e3
DATA erfk<>+564(SB)/4, $0x3fb5f0e3
DATA erfk<>+568(SB)/4, $0x3fb5f0e3
DATA erfk<>+572(SB)/4, $0x3fb5f0e3
// a4 at 576
DATA erfk<>+576(SB)/4, $0xbfba00e3
DATA erfk<>+580(SB)/4, $0xbfba00e3
DATA erfk<>+584(SB)/4, $0xbfba00e3
DATA erfk<>+588(SB)/4, $0xbfba00e3
DATA erfk<>+592(SB)/4, $0xbfba00e3
DATA erfk<>+596(SB)/4, $0xbfba00e3
DATA erfk<>+600(SB)/4, $0xbfba00e3
DATA erfk<>+604(SB)/4, $0xbfba00e3
DATA erfk<>+608(SB)/4, $0xbfba00e3
DATA erfk<>+612(SB)/4, $0xbfba00e3
DATA erfk<>+616(SB)/4, $0xbfba00e3
DATA erfk<>+620(SB)/4, $0xbfba00e3
DATA erfk<>+624(SB)/4, $0xbfba00e3
DATA erfk<>+628(SB)/4, $0xbfba00e3
DATA erfk<>+632(SB)/4, $0xbfba00e3
DATA erfk<>+636(SB)/4, $0xbfba00e3
// a5 at 640
DATA erfk<>+640(SB)/4, $0x3f87dc22
DATA erfk<>+644(SB)/4, $0x3f87dc22
DATA erfk<>+648(SB)/4, $0x3f87dc22
DATA erfk<>+652(SB)/4, $0x3f87dc22
DATA erfk<>+656(SB)/4, $0x3f87dc22
DATA erfk<>+660(SB)/4, $0x3f87dc22
DATA erfk<>+664(SB)/4, $0x3f87dc22
DATA erfk<>+668(SB)/4, $0x3f87dc22
DATA erfk<>+672(SB)/4, $0x3f87dc22
DATA erfk<>+676(SB)/4, $0x3f87dc22
DATA erfk<>+680(SB)/4, $0x3f87dc22
DATA erfk<>+684(SB)/4, $0x3f87dc22
DATA erfk<>+688(SB)/4, $0x3f87dc22
DATA erfk<>+692(SB)/4, $0x3f87dc22
DATA erfk<>+696(SB)/4, $0x3f87dc22
DATA erfk<>+700(SB)/4, $0x3f87dc22
// c at 704
DATA erfk<>+704(SB)/4, $0x3f906ebb
DATA erfk<>+708(SB)/4, $0x3f906ebb
DATA erfk<>+712(SB)/4, $0x3f906ebb
DATA erfk<>+716(SB)/4, $0x3f906ebb
DATA erfk<>+720(SB)/4, $0x3f906ebb
DATA erfk<>+724(SB)/4, $0x3f906ebb
DATA erfk<>+728(SB)/4, $0x3f906ebb
DATA erfk<>+732(SB)/4, $0x3f906ebb
DATA erfk<>+736(SB)/4, $0x3f906ebb
DATA erfk<>+740(SB)/4, $0x3f906ebb
DATA erfk<>+744(SB)/4, $0x3f906ebb
DATA erfk<>+748(SB)/4, $0x3f906ebb
DATA erfk<>+752(SB)/4, $0x3f906ebb
DATA erfk<>+756(SB)/4, $0x3f906ebb
DATA erfk<>+760(SB)/4, $0x3f906ebb
DATA erfk<>+764(SB)/4, $0x3f906ebb
// s1 at 768
DATA erfk<>+768(SB)/4, $0xbeaaaaab
DATA erfk<>+772(SB)/4, $0xbeaaaaab
DATA erfk<>+776(SB)/4, $0xbeaaaaab
DATA erfk<>+780(SB)/4, $0xbeaaaaab
DATA erfk<>+784(SB)/4, $0xbeaaaaab
DATA erfk<>+788(SB)/4, $0xbeaaaaab
DATA erfk<>+792(SB)/4, $0xbeaaaaab
DATA erfk<>+796(SB)/4, $0xbeaaaaab
DATA erfk<>+800(SB)/4, $0xbeaaaaab
DATA erfk<>+804(SB)/4, $0xbeaaaaab
DATA erfk<>+808(SB)/4, $0xbeaaaaab
DATA erfk<>+812(SB)/4, $0xbeaaaaab
DATA erfk<>+816(SB)/4, $0xbeaaaaab
DATA erfk<>+820(SB)/4, $0xbeaaaaab
DATA erfk<>+824(SB)/4, $0xbeaaaaab
DATA erfk<>+828(SB)/4, $0xbeaaaaab
// s2 at 832
DATA erfk<>+832(SB)/4, $0x3dcccccd
DATA erfk<>+836(SB)/4, $0x3dcccccd
DATA erfk<>+840(SB)/4, $0x3dcccccd
DATA erfk<>+844(SB)/4, $0x3dcccccd
DATA erfk<>+848(SB)/4, $0x3dcccccd
DATA erfk<>+852(SB)/4, $0x3dcccccd
DATA erfk<>+856(SB)/4, $0x3dcccccd
DATA erfk<>+860(SB)/4, $0x3dcccccd
DATA erfk<>+864(SB)/4, $0x3dcccccd
DATA erfk<>+868(SB)/4, $0x3dcccccd
DATA erfk<>+872(SB)/4, $0x3dcccccd
DATA erfk<>+876(SB)/4, $0x3dcccccd
DATA erfk<>+880(SB)/4, $0x3dcccccd
DATA erfk<>+884(SB)/4, $0x3dcccccd
DATA erfk<>+888(SB)/4, $0x3dcccccd
DATA erfk<>+892(SB)/4, $0x3dcccccd
// s3 at 896
DATA erfk<>+896(SB)/4, $0xbcc30c31
DATA erfk<>+900(SB)/4, $0xbcc30c31
DATA erfk<>+904(SB)/4, $0xbcc30c31
DATA erfk<>+908(SB)/4, $0xbcc30c31
DATA erfk<>+912(SB)/4, $0xbcc30c31
DATA erfk<>+916(SB)/4, $0xbcc30c31
DATA erfk<>+920(SB)/4, $0xbcc30c31
DATA erfk<>+924(SB)/4, $0xbcc30c31
DATA erfk<>+928(SB)/4, $0xbcc30c31
DATA erfk<>+932(SB)/4, $0xbcc30c31
DATA erfk<>+936(SB)/4, $0xbcc30c31
DATA erfk<>+940(SB)/4, $0xbcc30c31
DATA erfk<>+944(SB)/4, $0xbcc30c31
DATA erfk<>+948(SB)/4, $0xbcc30c31
DATA erfk<>+952(SB)/4, $0xbcc30c31
DATA erfk<>+956(SB)/4, $0xbcc30c31
// s4 at 960
DATA erfk<>+960(SB)/4, $0x3b97b426
DATA erfk<>+964(SB)/4, $0x3b97b426
DATA erfk<>+968(SB)/4, $0x3b97b426
DATA erfk<>+972(SB)/4, $0x3b97b426
DATA erfk<>+976(SB)/4, $0x3b97b426
DATA erfk<>+980(SB)/4, $0x3b97b426
DATA erfk<>+984(SB)/4, $0x3b97b426
DATA erfk<>+988(SB)/4, $0x3b97b426
DATA erfk<>+992(SB)/4, $0x3b97b426
DATA erfk<>+996(SB)/4, $0x3b97b426
DATA erfk<>+1000(SB)/4, $0x3b97b426
DATA erfk<>+1004(SB)/4, $0x3b97b426
DATA erfk<>+1008(SB)/4, $0x3b97b426
DATA erfk<>+1012(SB)/4, $0x3b97b426
DATA erfk<>+1016(SB)/4, $0x3b97b426
DATA erfk<>+1020(SB)/4, $0x3b97b426
// s5 at 1024
DATA erfk<>+1024(SB)/4, $0xba46980c
DATA erfk<>+1028(SB)/4, $0xba46980c
DATA erfk<>+1032(SB)/4, $0xba46980c
DATA erfk<>+1036(SB)/4, $0xba46980c
DATA erfk<>+1040(SB)/4, $0xba46980c
DATA erfk<>+1044(SB)/4, $0xba46980c
DATA erfk<>+1048(SB)/4, $0xba46980c
DATA erfk<>+1052(SB)/4, $0xba46980c
DATA erfk<>+1056(SB)/4, $0xba46980c
DATA erfk<>+1060(SB)/4, $0xba46980c
DATA erfk<>+1064(SB)/4, $0xba46980c
DATA erfk<>+1068(SB)/4, $0xba46980c
DATA erfk<>+1072(SB)/4, $0xba46980c
DATA erfk<>+1076(SB)/4, $0xba46980c
DATA erfk<>+1080(SB)/4, $0xba46980c
DATA erfk<>+1084(SB)/4, $0xba46980c
// s6 at 1088
DATA erfk<>+1088(SB)/4, $0x38e00e01
DATA erfk<>+1092(SB)/4, $0x38e00e01
DATA erfk<>+1096(SB)/4, $0x38e00e01
DATA erfk<>+1100(SB)/4, $0x38e00e01
DATA erfk<>+1104(SB)/4, $0x38e00e01
DATA erfk<>+1108(SB)/4, $0x38e00e01
DATA erfk<>+1112(SB)/4, $0x38e00e01
DATA erfk<>+1116(SB)/4, $0x38e00e01
DATA erfk<>+1120(SB)/4, $0x38e00e01
DATA erfk<>+1124(SB)/4, $0x38e00e01
DATA erfk<>+1128(SB)/4, $0x38e00e01
DATA erfk<>+1132(SB)/4, $0x38e00e01
DATA erfk<>+1136(SB)/4, $0x38e00e01
DATA erfk<>+1140(SB)/4, $0x38e00e01
DATA erfk<>+1144(SB)/4, $0x38e00e01
DATA erfk<>+1148(SB)/4, $0x38e00e01
// log2e at 1152
DATA erfk<>+1152(SB)/4, $0x3fb8aa3b
DATA erfk<>+1156(SB)/4, $0x3fb8aa3b
DATA erfk<>+1160(SB)/4, $0x3fb8aa3b
DATA erfk<>+1164(SB)/4, $0x3fb8aa3b
DATA erfk<>+1168(SB)/4, $0x3fb8aa3b
DATA erfk<>+1172(SB)/4, $0x3fb8aa3b
DATA erfk<>+1176(SB)/4, $0x3fb8aa3b
DATA erfk<>+1180(SB)/4, $0x3fb8aa3b
DATA erfk<>+1184(SB)/4, $0x3fb8aa3b
DATA erfk<>+1188(SB)/4, $0x3fb8aa3b
DATA erfk<>+1192(SB)/4, $0x3fb8aa3b
DATA erfk<>+1196(SB)/4, $0x3fb8aa3b
DATA erfk<>+1200(SB)/4, $0x3fb8aa3b
DATA erfk<>+1204(SB)/4, $0x3fb8aa3b
DATA erfk<>+1208(SB)/4, $0x3fb8aa3b
DATA erfk<>+1212(SB)/4, $0x3fb8aa3b
// ln2hi at 1216
DATA erfk<>+1216(SB)/4, $0x3f317200
DATA erfk<>+1220(SB)/4, $0x3f317200
DATA erfk<>+1224(SB)/4, $0x3f317200
DATA erfk<>+1228(SB)/4, $0x3f317200
DATA erfk<>+1232(SB)/4, $0x3f317200
DATA erfk<>+1236(SB)/4, $0x3f317200
DATA erfk<>+1240(SB)/4, $0x3f317200
DATA erfk<>+1244(SB)/4, $0x3f317200
DATA erfk<>+1248(SB)/4, $0x3f317200
DATA erfk<>+1252(SB)/4, $0x3f317200
DATA erfk<>+1256(SB)/4, $0x3f317200
DATA erfk<>+1260(SB)/4, $0x3f317200
DATA erfk<>+1264(SB)/4, $0x3f317200
DATA erfk<>+1268(SB)/4, $0x3f317200
DATA erfk<>+1272(SB)/4, $0x3f317200
DATA erfk<>+1276(SB)/4, $0x3f317200
// ln2lo at 1280
DATA erfk<>+1280(SB)/4, $0x35bfbe8e
DATA erfk<>+1284(SB)/4, $0x35bfbe8e
DATA erfk<>+1288(SB)/4, $0x35bfbe8e
DATA erfk<>+1292(SB)/4, $0x35bfbe8e
DATA erfk<>+1296(SB)/4, $0x35bfbe8e
DATA erfk<>+1300(SB)/4, $0x35bfbe8e
DATA erfk<>+1304(SB)/4, $0x35bfbe8e
DATA erfk<>+1308(SB)/4, $0x35bfbe8e
DATA erfk<>+1312(SB)/4, $0x35bfbe8e
DATA erfk<>+1316(SB)/4, $0x35bfbe8e
DATA erfk<>+1320(SB)/4, $0x35bfbe8e
DATA erfk<>+1324(SB)/4, $0x35bfbe8e
DATA erfk<>+1328(SB)/4, $0x35bfbe8e
DATA erfk<>+1332(SB)/4, $0x35bfbe8e
DATA erfk<>+1336(SB)/4, $0x35bfbe8e
DATA erfk<>+1340(SB)/4, $0x35bfbe8e
// e2 at 1344
DATA erfk<>+1344(SB)/4, $0x3f000000
DATA erfk<>+1348(SB)/4, $0x3f000000
DATA erfk<>+1352(SB)/4, $0x3f000000
DATA erfk<>+1356(SB)/4, $0x3f000000
DATA erfk<>+1360(SB)/4, $0x3f000000
DATA erfk<>+1364(SB)/4, $0x3f000000
DATA erfk<>+1368(SB)/4, $0x3f000000
DATA erfk<>+1372(SB)/4, $0x3f000000
DATA erfk<>+1376(SB)/4, $0x3f000000
DATA erfk<>+1380(SB)/4, $0x3f000000
DATA erfk<>+1384(SB)/4, $0x3f000000
DATA erfk<>+1388(SB)/4, $0x3f000000
DATA erfk<>+1392(SB)/4, $0x3f000000
DATA erfk<>+1396(SB)/4, $0x3f000000
DATA erfk<>+1400(SB)/4, $0x3f000000
DATA erfk<>+1404(SB)/4, $0x3f000000
// e3 at 1408
DATA erfk<>+1408(SB)/4, $0x3e2aaaab
DATA erfk<>+1412(SB)/4, $0x3e2aaaab
DATA erfk<>+1416(SB)/4, $0x3e2aaaab
DATA erfk<>+1420(SB)/4, $0x3e2aaaab
DATA erfk<>+1424(SB)/4, $0x3e2aaaab
DATA erfk<>+1428(SB)/4, $0x3e2aaaab
DATA erfk<>+1432(SB)/4, $0x3e2aaaab
DATA erfk<>+1436(SB)/4, $0x3e2aaaab
DATA erfk<>+1440(SB)/4, $0x3e2aaaab
DATA erfk<>+1444(SB)/4, $0x3e2aaaab
DATA erfk<>+1448(SB)/4, $0x3e2aaaab
DATA erfk<>+1452(SB)/4, $0x3e2aaaab
DATA erfk<>+1456(SB)/4, $0x3e2aaaab
DATA erfk<>+1460(SB)/4, $0x3e2aaaab
DATA erfk<>+1464(SB)/4, $0x3e2aaaab
DATA erfk<>+1468(SB)/4, $0x3e2aaaab
// e4 at 1472
DATA erfk<>+1472(SB)/4, $0x3d2aaaab
DATA erfk<>+1476(SB)/4, $0x3d2aaaab
DATA erfk<>+1480(SB)/4, $0x3d2aaaab
DATA erfk<>+1484(SB)/4, $0x3d2aaaab
DATA erfk<>+1488(SB)/4, $0x3d2aaaab
DATA erfk<>+1492(SB)/4, $0x3d2aaaab
DATA erfk<>+1496(SB)/4, $0x3d2aaaab
DATA erfk<>+1500(SB)/4, $0x3d2aaaab
DATA erfk<>+1504(SB)/4, $0x3d2aaaab
DATA erfk<>+1508(SB)/4, $0x3d2aaaab
DATA erfk<>+1512(SB)/4, $0x3d2aaaab
DATA erfk<>+1516(SB)/4, $0x3d2aaaab
DATA erfk<>+1520(SB)/4, $0x3d2aaaab
DATA erfk<>+1524(SB)/4, $0x3d2aaaab
DATA erfk<>+1528(SB)/4, $0x3d2aaaab
DATA erfk<>+1532(SB)/4, $0x3d2aaaab
// e5 at 1536
DATA erfk<>+1536(SB)/4, $0x3c088889
DATA erfk<>+1540(SB)/4, $0x3c088889
DATA erfk<>+1544(SB)/4, $0x3c088889
DATA erfk<>+1548(SB)/4, $0x3c088889
DATA erfk<>+1552(SB)/4, $0x3c088889
DATA erfk<>+1556(SB)/4, $0x3c088889
DATA erfk<>+1560(SB)/4, $0x3c088889
DATA erfk<>+1564(SB)/4, $0x3c088889
DATA erfk<>+1568(SB)/4, $0x3c088889
DATA erfk<>+1572(SB)/4, $0x3c088889
DATA erfk<>+1576(SB)/4, $0x3c088889
DATA erfk<>+1580(SB)/4, $0x3c088889
DATA erfk<>+1584(SB)/4, $0x3c088889
DATA erfk<>+1588(SB)/4, $0x3c088889
DATA erfk<>+1592(SB)/4, $0x3c088889
DATA erfk<>+1596(SB)/4, $0x3c088889
// e6 at 1600
DATA erfk<>+1600(SB)/4, $0x3ab60b61
DATA erfk<>+1604(SB)/4, $0x3ab60b61
DATA erfk<>+1608(SB)/4, $0x3ab60b61
DATA erfk<>+1612(SB)/4, $0x3ab60b61
DATA erfk<>+1616(SB)/4, $0x3ab60b61
DATA erfk<>+1620(SB)/4, $0x3ab60b61
DATA erfk<>+1624(SB)/4, $0x3ab60b61
DATA erfk<>+1628(SB)/4, $0x3ab60b61
DATA erfk<>+1632(SB)/4, $0x3ab60b61
DATA erfk<>+1636(SB)/4, $0x3ab60b61
DATA erfk<>+1640(SB)/4, $0x3ab60b61
DATA erfk<>+1644(SB)/4, $0x3ab60b61
DATA erfk<>+1648(SB)/4, $0x3ab60b61
DATA erfk<>+1652(SB)/4, $0x3ab60b61
DATA erfk<>+1656(SB)/4, $0x3ab60b61
DATA erfk<>+1660(SB)/4, $0x3ab60b61
// e7 at 1664
DATA erfk<>+1664(SB)/4, $0x39500d01
DATA erfk<>+1668(SB)/4, $0x39500d01
DATA erfk<>+1672(SB)/4, $0x39500d01
DATA erfk<>+1676(SB)/4, $0x39500d01
DATA erfk<>+1680(SB)/4, $0x39500d01
DATA erfk<>+1684(SB)/4, $0x39500d01
DATA erfk<>+1688(SB)/4, $0x39500d01
DATA erfk<>+1692(SB)/4, $0x39500d01
DATA erfk<>+1696(SB)/4, $0x39500d01
DATA erfk<>+1700(SB)/4, $0x39500d01
DATA erfk<>+1704(SB)/4, $0x39500d01
DATA erfk<>+1708(SB)/4, $0x39500d01
DATA erfk<>+1712(SB)/4, $0x39500d01
DATA erfk<>+1716(SB)/4, $0x39500d01
DATA erfk<>+1720(SB)/4, $0x39500d01
DATA erfk<>+1724(SB)/4, $0x39500d01
GLOBL erfk<>(SB), RODATA|NOPTR, $1728

// func erfAVX512(dst, x *float32, n int)
// dst[i] = erf(x[i]) for n a positive multiple of 16, as erfOne: below
// |x| = 1/2 the series c·x·(1 + z·(s1 + z·(… s6))) with z = x², above it
// 1 − t·(a1 + t·(… a5))·e^−a² with t = 1/(1 + p·a), a = |x|, the sign of x
// put back; e^−a² as in sigmoidAVX512 (a² clamped to 100, VSCALEFPS).
TEXT ·erfAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VMOVUPS erfk<>+128(SB), Z31
	VMOVUPS erfk<>+0(SB), Z30

erfloop:
	VMOVUPS (SI), Z0
	VANDPS  Z30, Z0, Z1          // a = |x|
	VXORPS  Z1, Z0, Z12          // the sign of x
	// Series, for a < 1/2.
	VMULPS  Z0, Z0, Z8           // z = x²
	VMOVUPS erfk<>+1088(SB), Z9
	VFMADD213PS erfk<>+1024(SB), Z8, Z9
	VFMADD213PS erfk<>+960(SB), Z8, Z9
	VFMADD213PS erfk<>+896(SB), Z8, Z9
	VFMADD213PS erfk<>+832(SB), Z8, Z9
	VFMADD213PS erfk<>+768(SB), Z8, Z9
	VFMADD213PS Z31, Z8, Z9      // 1 + z·(…)
	VMULPS  erfk<>+704(SB), Z0, Z10
	VMULPS  Z9, Z10, Z10         // c·x·s
	// Abramowitz & Stegun 7.1.26.
	VMOVAPS Z31, Z2
	VFMADD231PS erfk<>+320(SB), Z1, Z2 // 1 + p·a
	VDIVPS  Z2, Z31, Z2          // t
	VMOVUPS erfk<>+640(SB), Z3
	VFMADD213PS erfk<>+576(SB), Z2, Z3
	VFMADD213PS erfk<>+512(SB), Z2, Z3
	VFMADD213PS erfk<>+448(SB), Z2, Z3
	VFMADD213PS erfk<>+384(SB), Z2, Z3
	VMULPS  Z2, Z3, Z3           // t·(a1 + …)
	VMULPS  Z1, Z1, Z4           // a²
	VMINPS  erfk<>+256(SB), Z4, Z4
	VXORPS  erfk<>+64(SB), Z4, Z4 // u = −a²
	VMULPS  erfk<>+1152(SB), Z4, Z5
	VRNDSCALEPS $0, Z5, Z5       // k, to nearest
	VMOVAPS Z4, Z6
	VFNMADD231PS erfk<>+1216(SB), Z5, Z6
	VFNMADD231PS erfk<>+1280(SB), Z5, Z6 // r
	VMOVUPS erfk<>+1664(SB), Z7
	VFMADD213PS erfk<>+1600(SB), Z6, Z7
	VFMADD213PS erfk<>+1536(SB), Z6, Z7
	VFMADD213PS erfk<>+1472(SB), Z6, Z7
	VFMADD213PS erfk<>+1408(SB), Z6, Z7
	VFMADD213PS erfk<>+1344(SB), Z6, Z7
	VFMADD213PS Z31, Z6, Z7
	VFMADD213PS Z31, Z6, Z7      // e^r
	VSCALEFPS Z5, Z7, Z7         // e^−a²
	VMULPS  Z7, Z3, Z3
	VSUBPS  Z3, Z31, Z11         // 1 − t·(…)·e^−a²
	VORPS   Z12, Z11, Z11        // the sign of x
	VCMPPS  $1, erfk<>+192(SB), Z1, K1 // a < 1/2 (false for NaN)
	VMOVAPS Z10, K1, Z11
	VMOVUPS Z11, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  erfloop
	VZEROUPPER
	RET
