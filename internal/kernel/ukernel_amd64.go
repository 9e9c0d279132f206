//go:build !purego

package kernel

import "golang.org/x/sys/cpu"

// Assembly micro-kernels (ukernel_amd64.s). Each computes the full mr×nr
// tile at c: C = alpha*A·B + beta*C over kc packed steps.

//go:noescape
func sgemmAVX512(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemmAVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func panelCopy48(dst, src *float32, n, stride int)

//go:noescape
func panelCopy16(dst, src *float32, n, stride int)

// packRowAsm is packRow for the assembly kernels' panel widths.
func packRowAsm(dst []float32, nr, p, kc int, src []float32) {
	nc := len(src)
	full := nc / nr
	if full > 0 {
		_ = dst[p*nr+(full-1)*kc*nr+nr-1]
		if nr == 48 {
			panelCopy48(&dst[p*nr], &src[0], full, kc*nr*4)
		} else {
			panelCopy16(&dst[p*nr], &src[0], full, kc*nr*4)
		}
	}
	if full*nr < nc {
		t := dst[p*nr+full*nr*kc : p*nr+full*nr*kc+nr]
		copy(t, src[full*nr:])
		clear(t[nc-full*nr:])
	}
}

var avx512Kernel = &microKernel[float32]{
	name: "avx512-8x48", mr: 8, nr: 48, kc: 128, mc: 512, nc: 4096, packRow: packRowAsm,
	fn: func(kc int, a, b []float32, c []float32, ldc int, alpha, beta float32) {
		_ = a[kc*8-1]
		_ = b[kc*48-1]
		_ = c[7*ldc+47]
		sgemmAVX512(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
}

var avx2Kernel = &microKernel[float32]{
	name: "avx2-6x16", mr: 6, nr: 16, kc: 256, mc: 144, nc: 4096, packRow: packRowAsm,
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
