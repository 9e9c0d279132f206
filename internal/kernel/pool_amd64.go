//go:build !purego

package kernel

import "golang.org/x/sys/cpu"

//go:noescape
func maxPool2x2AVX512(x, y *float32, arg *int32, w, row0, oh, ow int) int

var haveAVX512 = cpu.X86.HasAVX512F

// maxPool2x2Rows32 pools output rows row0.. of a float32 plane (see
// maxPool2x2) as far as the vector code can and returns how many outputs it
// wrote from row row0 on; the caller goes on from there.
func maxPool2x2Rows32(x, y []float32, arg []int32, w, row0, oh, ow int) int {
	if !haveAVX512 || row0 >= oh || ow == 0 {
		return 0
	}
	_ = x[(2*oh-1)*w+2*ow-1]
	_ = y[oh*ow-1]
	_ = arg[oh*ow-1]
	if 2*oh*w > 1<<31-1 {
		return 0 // indices are int32
	}
	return maxPool2x2AVX512(&x[0], &y[0], &arg[0], w, row0, oh, ow)
}

//go:noescape
func unpool2x2AVX512(dst, x, h, grad, keep *float32, arg *int32, w, oh, ow, mode int, a, b, c, d float32)

// unpool2x2Vec runs Unpool2x2's windows in vector code where there is
// some, and reports whether it did.
func unpool2x2Vec(dst, x, h, g, keep []float32, arg []int32, w, oh, ow int, a, b, c, d float32, mode UnpoolMode) bool {
	// Rows of fewer windows cost more in setup than the scalar loop.
	if !haveAVX512 || oh == 0 || ow < 6 || 2*oh*w > 1<<31-1 {
		return false
	}
	var xp, hp *float32
	if mode&unpoolX != 0 {
		xp = &x[0]
	}
	if mode&unpoolH != 0 {
		hp = &h[0]
	}
	unpool2x2AVX512(&dst[0], xp, hp, &g[0], &keep[0], &arg[0], w, oh, ow, int(mode), a, b, c, d)
	return true
}

//go:noescape
func maxRunsAVX512(dst, p *float32, offs *int, nt, nb int, tail uint16)

func haveMaxRunsVec() bool { return haveAVX512 }

// maxRunsVec sets dst[j] = max over t of p[offs[t]+j] (NaN if any is) for
// j < len(dst) with AVX-512, and reports false, doing nothing, without it.
// The caller guarantees the runs are in p.
func maxRunsVec(dst, p []float32, offs []int) bool {
	if !haveAVX512 || len(offs) == 0 || len(dst) == 0 {
		return false
	}
	maxRunsAVX512(&dst[0], &p[0], &offs[0], len(offs), len(dst)/16, uint16(1<<(len(dst)%16)-1))
	return true
}
