// Package kernel holds the numeric compute core of fewshot: single- and
// double-precision matrix multiplication (Gemm), 2-D convolution forward and
// backward passes, and max/average pooling, all on plain row-major slices.
//
// Float32 Gemm follows the BLIS design: operands are packed into contiguous
// cache-sized panels and a register-tiled micro-kernel does the arithmetic.
// On amd64 the micro-kernel is Go assembly (AVX-512 8×48 or AVX2+FMA 6×16,
// chosen at run time with golang.org/x/sys/cpu), helped by assembly packing
// routines; elsewhere, or when built with the purego tag, a pure-Go 4×4
// micro-kernel takes its place. Float64 runs the same blocked path with the
// Go micro-kernel; it serves gradient checks rather than speed.
//
// Convolutions with unit stride are implicit GEMMs: the input is padded once
// per image and the patch matrix is never built, because each of its rows is
// a contiguous run of the padded input (see conv_s1.go); images with small
// planes share one product. The input gradient of a unit-stride convolution
// is itself such a correlation, and the filter gradient packs the
// transposed patch matrix with vector gathers, or, for a layer with very few
// taps, takes dot products with shifted input rows. Other strides use an
// explicit im2col/col2im per image. Depthwise convolutions (one filter per
// channel, as in MobileNets) are too thin for any GEMM and run as direct
// loops over padded input rows, with an AVX-512 row kernel (depthwise.go);
// their gradients take the grouped GEMM routes. A 1×1 convolution without
// stride or padding is a plain product with the input planes, read in
// place. 2×2 stride-2 max pooling, the common
// case, and the float32 element-wise loops of batch normalisation and ReLU
// have AVX-512 paths.
//
// Work is spread over Threads() goroutines when a problem is large enough;
// the extra goroutines are long-lived workers that stay awake briefly
// between calls (crew.go), because waking a sleeping CPU costs more than a
// small layer takes.
// Kernels never nest parallel regions: an operation that is parallel over the
// batch runs each per-image product on one goroutine.
//
// Like gonum's mat package, the functions panic on programmer errors such as
// a slice too short for the stated shape; the panic message names the
// argument. Geometry supplied by users (for example from a model file) should
// be checked with ConvShape.Validate or PoolShape.Validate first.
package kernel

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// Float is the set of element types the kernels accept.
type Float interface{ ~float32 | ~float64 }

var threads atomic.Int64

func init() { threads.Store(int64(runtime.GOMAXPROCS(0))) }

// SetThreads sets the number of goroutines kernels may use for one call and
// returns the previous setting. n <= 0 means runtime.GOMAXPROCS(0). Callers
// that run kernels from several goroutines of their own usually want
// SetThreads(1).
func SetThreads(n int) (prev int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return int(threads.Swap(int64(n)))
}

// Threads reports the number of goroutines kernels may use for one call.
func Threads() int { return int(threads.Load()) }

// parallelFor calls fn(i, worker) for every i in [0, n), using up to workers
// goroutines (the caller's included). Indices are handed out dynamically, so
// uneven items balance; worker is in [0, workers) and identifies per-worker
// scratch space.
func parallelFor(workers, n int, fn func(i, worker int)) {
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i, 0)
		}
		return
	}
	if tryCrew(workers, n, fn) {
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	run := func(worker int) {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			fn(i, worker)
		}
	}
	wg.Add(workers - 1)
	for w := 1; w < workers; w++ {
		go func() {
			defer wg.Done()
			run(w)
		}()
	}
	run(0)
	wg.Wait()
}

// need panics with a message naming arg when a slice is shorter than the
// shape requires.
func need(fn, arg string, have, want int) {
	if have < want {
		panic("kernel: " + fn + ": len(" + arg + ") = " + itoa(have) + ", need at least " + itoa(want))
	}
}

func itoa(v int) string { return strconv.Itoa(v) }

// ParallelRange cuts [0, n) into contiguous parts of at least minPart
// elements, at most one per thread, and calls fn(lo, hi) for each part on
// the worker crew; with one part it calls fn(0, n) on the caller's
// goroutine. For element-wise passes too large for one core to be worth
// the wait.
func ParallelRange(n, minPart int, fn func(lo, hi int)) {
	parts := min(Threads(), n/max(minPart, 1))
	if parts <= 1 {
		fn(0, n)
		return
	}
	parallelFor(parts, parts, func(i, _ int) { fn(i*n/parts, (i+1)*n/parts) })
}
