package kernel

// maxTile bounds mr*nr over all micro-kernels (sizes the edge scratch tile).
const maxTile = 16 * 48

// maxNR bounds nr over all micro-kernels.
const maxNR = 48

// maxKC bounds kc over all micro-kernels (sizes offset tables on the stack).
const maxKC = 512

// dgemmKernel is the float64 micro-kernel; float64 products serve gradient
// checks, so the portable kernel is fast enough.
var dgemmKernel = &microKernel[float64]{name: "go4x4", mr: 4, nr: 4, kc: 256, mc: 128, nc: 2048, fn: kernelGo4x4[float64]}

// goKernel32 is the portable float32 micro-kernel.
var goKernel32 = &microKernel[float32]{name: "go4x4", mr: 4, nr: 4, kc: 256, mc: 128, nc: 2048, fn: kernelGo4x4[float32]}

// kernelGo4x4 is the portable 4×4 micro-kernel. Sixteen scalar accumulators
// fit the register files of common 64-bit targets.
func kernelGo4x4[E float32 | float64](kc int, a, b []E, c []E, ldc int, alpha, beta E) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 E
	a = a[:kc*4]
	b = b[:kc*4]
	for p := 0; p < kc; p++ {
		av := a[p*4 : p*4+4 : p*4+4]
		bv := b[p*4 : p*4+4 : p*4+4]
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	store4(c[0*ldc:0*ldc+4], alpha, beta, c00, c01, c02, c03)
	store4(c[1*ldc:1*ldc+4], alpha, beta, c10, c11, c12, c13)
	store4(c[2*ldc:2*ldc+4], alpha, beta, c20, c21, c22, c23)
	store4(c[3*ldc:3*ldc+4], alpha, beta, c30, c31, c32, c33)
}

func store4[E float32 | float64](c []E, alpha, beta, v0, v1, v2, v3 E) {
	if beta == 0 {
		c[0], c[1], c[2], c[3] = alpha*v0, alpha*v1, alpha*v2, alpha*v3
		return
	}
	c[0] = alpha*v0 + beta*c[0]
	c[1] = alpha*v1 + beta*c[1]
	c[2] = alpha*v2 + beta*c[2]
	c[3] = alpha*v3 + beta*c[3]
}
