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

// func scaleShiftReLUAVX512(dst, x *float32, n int, a, b float32)
TEXT ·scaleShiftReLUAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSS a+24(FP), Z30
	VBROADCASTSS b+28(FP), Z31
	VPXORD Z29, Z29, Z29

ssrloop:
	VMOVUPS (SI), Z0
	VFMADD213PS Z31, Z30, Z0 // a*x + b
	VMAXPS Z0, Z29, Z0       // NaNs kept, as in reluAVX512
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  ssrloop
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

// EXPCONSTS loads the constants of EXPT into Z20-Z29.
#define EXPCONSTS \
	MOVL $0x3fb8aa3b, AX \
	VPBROADCASTD AX, Z20 \
	MOVL $0x3f317200, AX \
	VPBROADCASTD AX, Z21 \
	MOVL $0x35bfbe8e, AX \
	VPBROADCASTD AX, Z22 \
	MOVL $0x39500d01, AX \
	VPBROADCASTD AX, Z23 \
	MOVL $0x3ab60b61, AX \
	VPBROADCASTD AX, Z24 \
	MOVL $0x3c088889, AX \
	VPBROADCASTD AX, Z25 \
	MOVL $0x3d2aaaab, AX \
	VPBROADCASTD AX, Z26 \
	MOVL $0x3e2aaaab, AX \
	VPBROADCASTD AX, Z27 \
	MOVL $0x3f000000, AX \
	VPBROADCASTD AX, Z28 \
	MOVL $0x3f800000, AX \
	VPBROADCASTD AX, Z29

// EXPT sets Z4 = e^t for t in Z1 (clamped by the caller): k = round(t·log2
// e) in Z2, r = t − k·ln 2 in two parts in Z3, e^r by the degree-7 Taylor
// polynomial, times 2^k by VSCALEFPS. Constants from EXPCONSTS: Z20 = log2
// e, Z21 and Z22 the high and low parts of ln 2, Z23-Z28 = 1/5040, 1/720,
// 1/120, 1/24, 1/6, 1/2, Z29 = 1.
#define EXPT \
	VMULPS  Z20, Z1, Z2 \
	VRNDSCALEPS $0, Z2, Z2 \
	VMOVAPS Z1, Z3 \
	VFNMADD231PS Z21, Z2, Z3 \
	VFNMADD231PS Z22, Z2, Z3 \
	VMOVAPS Z23, Z4 \
	VFMADD213PS Z24, Z3, Z4 \
	VFMADD213PS Z25, Z3, Z4 \
	VFMADD213PS Z26, Z3, Z4 \
	VFMADD213PS Z27, Z3, Z4 \
	VFMADD213PS Z28, Z3, Z4 \
	VFMADD213PS Z29, Z3, Z4 \
	VFMADD213PS Z29, Z3, Z4 \
	VSCALEFPS Z2, Z4, Z4

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
	EXPCONSTS
	VPXORD Z31, Z31, Z31

sgloop:
	VMOVUPS (SI), Z0
	VSUBPS  Z0, Z31, Z1          // t = 0 − x
	VMINPS  Z1, Z18, Z1          // min(100, t), t if NaN
	VMAXPS  Z1, Z19, Z1          // max(−100, t)
	EXPT
	VADDPS  Z29, Z4, Z4
	VDIVPS  Z4, Z29, Z5          // 1/(1+e^t)
	VMOVUPS Z5, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  sgloop
	VZEROUPPER
	RET

// func expShiftedAVX512(dst, x *float32, n int, shift float32, lanes *[16]float32)
// dst[i] = e^t, t = x[i] − shift, for n a positive multiple of 16, with the
// arithmetic of sigmoidAVX512 (t clamped to [−200, 100] with t as the second
// source, so NaN stays NaN and the clamped ends saturate to 0 and +Inf in
// VSCALEFPS); the lane-wise sums of the results go to lanes. expOne is the
// Go twin.
TEXT ·expShiftedAVX512(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSS shift+24(FP), Z17
	MOVL $0x42c80000, AX // 100
	VPBROADCASTD AX, Z18
	MOVL $0xc3480000, AX // -200
	VPBROADCASTD AX, Z19
	EXPCONSTS
	VPXORD Z30, Z30, Z30         // sums

exploop:
	VMOVUPS (SI), Z0
	VSUBPS  Z17, Z0, Z1          // t = x − shift
	VMINPS  Z1, Z18, Z1          // min(100, t), t if NaN
	VMAXPS  Z1, Z19, Z1          // max(−200, t)
	EXPT
	VMOVUPS Z4, (DI)
	VADDPS  Z4, Z30, Z30
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  exploop
	MOVQ lanes+32(FP), AX
	VMOVUPS Z30, (AX)
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

// erfk<> holds the constants of erfAVX512, one float32 each, read with
// embedded broadcasts.
DATA erfk<>+0(SB)/4, $0x7fffffff // absmask
DATA erfk<>+4(SB)/4, $0x80000000 // signmask
DATA erfk<>+8(SB)/4, $0x3f800000 // one
DATA erfk<>+12(SB)/4, $0x3f000000 // half
DATA erfk<>+16(SB)/4, $0x42c80000 // hundred
DATA erfk<>+20(SB)/4, $0x3ea7ba05 // p
DATA erfk<>+24(SB)/4, $0x3e827906 // a1
DATA erfk<>+28(SB)/4, $0xbe91a98e // a2
DATA erfk<>+32(SB)/4, $0x3fb5f0e3 // a3
DATA erfk<>+36(SB)/4, $0xbfba00e3 // a4
DATA erfk<>+40(SB)/4, $0x3f87dc22 // a5
DATA erfk<>+44(SB)/4, $0x3f906ebb // c
DATA erfk<>+48(SB)/4, $0xbeaaaaab // s1
DATA erfk<>+52(SB)/4, $0x3dcccccd // s2
DATA erfk<>+56(SB)/4, $0xbcc30c31 // s3
DATA erfk<>+60(SB)/4, $0x3b97b426 // s4
DATA erfk<>+64(SB)/4, $0xba46980c // s5
DATA erfk<>+68(SB)/4, $0x38e00e01 // s6
DATA erfk<>+72(SB)/4, $0x3fb8aa3b // log2e
DATA erfk<>+76(SB)/4, $0x3f317200 // ln2hi
DATA erfk<>+80(SB)/4, $0x35bfbe8e // ln2lo
DATA erfk<>+84(SB)/4, $0x3f000000 // e2
DATA erfk<>+88(SB)/4, $0x3e2aaaab // e3
DATA erfk<>+92(SB)/4, $0x3d2aaaab // e4
DATA erfk<>+96(SB)/4, $0x3c088889 // e5
DATA erfk<>+100(SB)/4, $0x3ab60b61 // e6
DATA erfk<>+104(SB)/4, $0x39500d01 // e7
GLOBL erfk<>(SB), RODATA|NOPTR, $108

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
	VBROADCASTSS erfk<>+8(SB), Z31
	VBROADCASTSS erfk<>+0(SB), Z30

erfloop:
	VMOVUPS (SI), Z0
	VANDPS  Z30, Z0, Z1          // a = |x|
	VXORPS  Z1, Z0, Z12          // the sign of x
	// Series, for a < 1/2.
	VMULPS  Z0, Z0, Z8           // z = x²
	VBROADCASTSS erfk<>+68(SB), Z9
	VFMADD213PS.BCST erfk<>+64(SB), Z8, Z9
	VFMADD213PS.BCST erfk<>+60(SB), Z8, Z9
	VFMADD213PS.BCST erfk<>+56(SB), Z8, Z9
	VFMADD213PS.BCST erfk<>+52(SB), Z8, Z9
	VFMADD213PS.BCST erfk<>+48(SB), Z8, Z9
	VFMADD213PS Z31, Z8, Z9      // 1 + z·(…)
	VMULPS.BCST  erfk<>+44(SB), Z0, Z10
	VMULPS  Z9, Z10, Z10         // c·x·s
	// Abramowitz & Stegun 7.1.26.
	VMOVAPS Z31, Z2
	VFMADD231PS.BCST erfk<>+20(SB), Z1, Z2 // 1 + p·a
	VDIVPS  Z2, Z31, Z2          // t
	VBROADCASTSS erfk<>+40(SB), Z3
	VFMADD213PS.BCST erfk<>+36(SB), Z2, Z3
	VFMADD213PS.BCST erfk<>+32(SB), Z2, Z3
	VFMADD213PS.BCST erfk<>+28(SB), Z2, Z3
	VFMADD213PS.BCST erfk<>+24(SB), Z2, Z3
	VMULPS  Z2, Z3, Z3           // t·(a1 + …)
	VMULPS  Z1, Z1, Z4           // a²
	VMINPS.BCST  erfk<>+16(SB), Z4, Z4
	VXORPS.BCST  erfk<>+4(SB), Z4, Z4 // u = −a²
	VMULPS.BCST  erfk<>+72(SB), Z4, Z5
	VRNDSCALEPS $0, Z5, Z5       // k, to nearest
	VMOVAPS Z4, Z6
	VFNMADD231PS.BCST erfk<>+76(SB), Z5, Z6
	VFNMADD231PS.BCST erfk<>+80(SB), Z5, Z6 // r
	VBROADCASTSS erfk<>+104(SB), Z7
	VFMADD213PS.BCST erfk<>+100(SB), Z6, Z7
	VFMADD213PS.BCST erfk<>+96(SB), Z6, Z7
	VFMADD213PS.BCST erfk<>+92(SB), Z6, Z7
	VFMADD213PS.BCST erfk<>+88(SB), Z6, Z7
	VFMADD213PS.BCST erfk<>+84(SB), Z6, Z7
	VFMADD213PS Z31, Z6, Z7
	VFMADD213PS Z31, Z6, Z7      // e^r
	VSCALEFPS Z5, Z7, Z7         // e^−a²
	VMULPS  Z7, Z3, Z3
	VSUBPS  Z3, Z31, Z11         // 1 − t·(…)·e^−a²
	VORPS   Z12, Z11, Z11        // the sign of x
	VCMPPS.BCST  $1, erfk<>+12(SB), Z1, K1 // a < 1/2 (false for NaN)
	VMOVAPS Z10, K1, Z11
	VMOVUPS Z11, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  erfloop
	VZEROUPPER
	RET

// func clampAVX512(dst, x *float32, n int, lo, hi float32)
// dst[i] = min(max(x[i], lo), hi) as clampOne: each bound is the first
// source of VMAXPS/VMINPS, so a NaN in x (the second source) comes through.
TEXT ·clampAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSS lo+24(FP), Z30
	VBROADCASTSS hi+28(FP), Z31

clamploop:
	VMOVUPS (SI), Z0
	VMAXPS  Z0, Z30, Z0 // lo > x ? lo : x
	VMINPS  Z0, Z31, Z0 // hi < x ? hi : x
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  clamploop
	VZEROUPPER
	RET

// func mulAVX512(dst, a, b *float32, n int)
TEXT ·mulAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX

mulloop:
	VMOVUPS (SI), Z0
	VMULPS  (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  mulloop
	VZEROUPPER
	RET

// func divAVX512(dst, a, b *float32, n int)
TEXT ·divAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX

divloop:
	VMOVUPS (SI), Z0
	VDIVPS  (DX), Z0, Z0 // a / b
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  divloop
	VZEROUPPER
	RET

// func divByAVX512(dst, x *float32, n int, c float32)
TEXT ·divByAVX512(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	VBROADCASTSS c+24(FP), Z31

divbyloop:
	VMOVUPS (SI), Z0
	VDIVPS  Z31, Z0, Z0 // x / c
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  divbyloop
	VZEROUPPER
	RET

// Adds the horizontal sum of the sixteen floats of Z (Y, X: its lower
// halves) to the float at DST; Y21 and X22 are scratch.
#define HSUM_ADD_PS(Z, Y, X, DST) \
	VEXTRACTF64X4 $1, Z, Y21; \
	VADDPS Y21, Y, Y; \
	VEXTRACTF32X4 $1, Y, X22; \
	VADDPS X22, X, X; \
	VMOVHLPS X, X22, X22; \
	VADDPS X22, X, X; \
	VMOVSHDUP X, X22; \
	VADDSS X22, X, X; \
	VADDSS DST, X, X; \
	VMOVSS X, DST

// One tap of the 4×4 block: the shifted row of p at PTR against the four
// dy rows in Z16–Z19, into accumulators A0–A3.
#define TAP4(PTR, A0, A1, A2, A3) \
	VMOVUPS (PTR), Z20; \
	VFMADD231PS Z20, Z16, A0; \
	VFMADD231PS Z20, Z17, A1; \
	VFMADD231PS Z20, Z18, A2; \
	VFMADD231PS Z20, Z19, A3; \
	ADDQ $64, PTR

// func dotShifts4x4AVX512(dy *float32, ld int, p *float32, offs *int, n int, out *float32, ldo int)
TEXT ·dotShifts4x4AVX512(SB), NOSPLIT, $0-56
	MOVQ dy+0(FP), SI
	MOVQ ld+8(FP), R12
	SHLQ $2, R12          // row stride in bytes
	LEAQ (R12)(R12*2), R13 // three rows
	MOVQ p+16(FP), AX
	MOVQ offs+24(FP), DI
	MOVQ (DI), BX
	LEAQ (AX)(BX*4), BX
	MOVQ 8(DI), CX
	LEAQ (AX)(CX*4), CX
	MOVQ 16(DI), DX
	LEAQ (AX)(DX*4), DX
	MOVQ 24(DI), R8
	LEAQ (AX)(R8*4), R8
	MOVQ n+32(FP), R9
	SHRQ $4, R9
	MOVQ out+40(FP), DI
	MOVQ ldo+48(FP), R10
	SHLQ $2, R10
	LEAQ (R10)(R10*2), R11
	// Z(4r+t) accumulates row r against tap t.
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

dot4loop:
	VMOVUPS (SI), Z16
	VMOVUPS (SI)(R12*1), Z17
	VMOVUPS (SI)(R12*2), Z18
	VMOVUPS (SI)(R13*1), Z19
	TAP4(BX, Z0, Z4, Z8, Z12)
	TAP4(CX, Z1, Z5, Z9, Z13)
	TAP4(DX, Z2, Z6, Z10, Z14)
	TAP4(R8, Z3, Z7, Z11, Z15)
	ADDQ $64, SI
	DECQ R9
	JNZ  dot4loop

	HSUM_ADD_PS(Z0, Y0, X0, (DI))
	HSUM_ADD_PS(Z1, Y1, X1, 4(DI))
	HSUM_ADD_PS(Z2, Y2, X2, 8(DI))
	HSUM_ADD_PS(Z3, Y3, X3, 12(DI))
	HSUM_ADD_PS(Z4, Y4, X4, (DI)(R10*1))
	HSUM_ADD_PS(Z5, Y5, X5, 4(DI)(R10*1))
	HSUM_ADD_PS(Z6, Y6, X6, 8(DI)(R10*1))
	HSUM_ADD_PS(Z7, Y7, X7, 12(DI)(R10*1))
	HSUM_ADD_PS(Z8, Y8, X8, (DI)(R10*2))
	HSUM_ADD_PS(Z9, Y9, X9, 4(DI)(R10*2))
	HSUM_ADD_PS(Z10, Y10, X10, 8(DI)(R10*2))
	HSUM_ADD_PS(Z11, Y11, X11, 12(DI)(R10*2))
	HSUM_ADD_PS(Z12, Y12, X12, (DI)(R11*1))
	HSUM_ADD_PS(Z13, Y13, X13, 4(DI)(R11*1))
	HSUM_ADD_PS(Z14, Y14, X14, 8(DI)(R11*1))
	HSUM_ADD_PS(Z15, Y15, X15, 12(DI)(R11*1))
	VZEROUPPER
	RET
