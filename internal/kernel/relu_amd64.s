//go:build !purego

#include "textflag.h"

// func reluAVX512(x *float32, n int)
// x[i] = max(x[i], 0) in place for i < n, a positive multiple of 16.
// VMAXPS returns its second source when either is a NaN, so with x there
// NaNs are kept, as the builtin max keeps them.
TEXT ·reluAVX512(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), DI
	MOVQ n+8(FP), CX
	SHRQ $4, CX
	VPXORD Z31, Z31, Z31

reluloop:
	VMOVUPS (DI), Z0
	VMAXPS  Z0, Z31, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	DECQ CX
	JNZ  reluloop
	VZEROUPPER
	RET
