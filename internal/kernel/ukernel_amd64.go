//go:build !purego

package kernel

import "golang.org/x/sys/cpu"

// Assembly micro-kernels (ukernel_amd64.s). Each computes the full mr×nr
// tile at c: C = alpha*A·B + beta*C over kc packed steps.

//go:noescape
func sgemmAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

// sgemmAVX512x16 and sgemmAVX512x32 are sgemmAVX512 on the first 16 or 32
// columns of the tile (b keeps its 48-float rows).
//
//go:noescape
func sgemmAVX512x16(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmAVX512x32(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmAVX512S(kc int, a, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmAVX512Col(kc int, a, b, out *float32)

//go:noescape
func sgemmAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func panelRows48(dst, src *float32, offs *int, kc int)

//go:noescape
func panelRows16(dst, src *float32, offs *int, kc int)

// checkRows panics unless every row src[o:o+nr] for o in offs is in range.
func checkRows(src []float32, offs []int, nr int) {
	hi := 0
	for _, o := range offs {
		if o < 0 {
			panic("kernel: negative packing offset")
		}
		hi = max(hi, o)
	}
	_ = src[hi+nr-1]
}

func panelRowsAsm48(dst, src []float32, offs []int) {
	_ = dst[len(offs)*48-1]
	checkRows(src, offs, 48)
	panelRows48(&dst[0], &src[0], &offs[0], len(offs))
}

func panelRowsAsm16(dst, src []float32, offs []int) {
	_ = dst[len(offs)*16-1]
	checkRows(src, offs, 16)
	panelRows16(&dst[0], &src[0], &offs[0], len(offs))
}

//go:noescape
func gatherPanel48(dst, src *float32, idx *int32, kc int)

// gatherPanelAsm is gatherPanel for 48-wide panels.
func gatherPanelAsm(dst, src []float32, idx []int32, kc int) {
	_ = dst[kc*48-1]
	_ = idx[47]
	hi := int32(0)
	for _, v := range idx[:48] {
		hi = max(hi, v)
	}
	_ = src[int(hi)+kc-1]
	gatherPanel48(&dst[0], &src[0], &idx[0], kc)
}

//go:noescape
func gatherA8(dst, src *float32, idx *int32, lda, kc int)

// gatherAAsm is gatherA for 8-row panels.
func gatherAAsm(dst, src []float32, lda, kc int) {
	_ = dst[kc*8-1]
	_ = src[7*lda+kc-1]
	var idx [16]int32
	for l := range idx {
		idx[l] = int32((l%8)*lda + l/8)
	}
	gatherA8(&dst[0], &src[0], &idx[0], lda, kc)
}

var avx512Kernel = &microKernel[float32]{
	name: "avx512-8x48", mr: 8, nr: 48, kc: 256, mc: 1024, nc: 480, panelRows: panelRowsAsm48, gatherPanel: gatherPanelAsm, gatherA: gatherAAsm,
	fn: func(kc int, a, b []float32, c []float32, ldc int, alpha, beta float32) {
		_ = a[kc*8-1]
		_ = b[kc*48-1]
		_ = c[7*ldc+47]
		sgemmAVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
	column: func(kc int, a, b, out []float32) {
		_ = a[kc*8-1]
		_ = b[(kc-1)*48]
		_ = out[7]
		sgemmAVX512Col(kc, &a[0], &b[0], &out[0])
	},
	strided: func(kc int, a, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
		_ = a[kc*8-1]
		_ = b[(kc-1)*ldb+47]
		_ = c[7*ldc+47]
		sgemmAVX512S(kc, &a[0], &b[0], ldb, &c[0], ldc, alpha, beta)
	},
	narrow: func(cols, kc int, a, b []float32, c []float32, ldc int, alpha, beta float32) {
		_ = a[kc*8-1]
		_ = b[kc*48-1]
		switch cols {
		case 16:
			_ = c[7*ldc+15]
			sgemmAVX512x16(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		case 32:
			_ = c[7*ldc+31]
			sgemmAVX512x32(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
		default:
			panic("kernel: avx512-8x48: narrow tile of " + itoa(cols) + " columns, want 16 or 32")
		}
	},
}

var avx2Kernel = &microKernel[float32]{
	name: "avx2-6x16", mr: 6, nr: 16, kc: 256, mc: 480, nc: 480, panelRows: panelRowsAsm16,
	fn: func(kc int, a, b []float32, c []float32, ldc int, alpha, beta float32) {
		_ = a[kc*6-1]
		_ = b[kc*16-1]
		_ = c[5*ldc+15]
		sgemmAVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
}

// sgemmKernels lists the float32 micro-kernels this CPU can run, fastest
// first.
func sgemmKernels() []*microKernel[float32] {
	var ks []*microKernel[float32]
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, goKernel32)
}

// sgemmKernel is the float32 micro-kernel in use.
var sgemmKernel = sgemmKernels()[0]
