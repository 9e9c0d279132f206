//go:build !purego

package kernel

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// square returns x*x; a function so the compiler cannot fold it.
//
//go:noinline
func square(x float32) float32 { return x * x }

// TestMicroKernelFlushesDenormals checks that the assembly micro-kernels
// treat subnormal inputs as zero and give the caller back its MXCSR:
// ordinary Go float arithmetic still produces subnormals afterwards.
func TestMicroKernelFlushesDenormals(t *testing.T) {
	sub := math.Float32frombits(0x00000100) // ≈ 3.6e-43, subnormal
	for _, uk := range sgemmKernels() {
		if uk == goKernel32 {
			continue
		}
		t.Run(uk.name, func(t *testing.T) {
			const kc = 5
			a := make([]float32, kc*uk.mr)
			b := make([]float32, kc*uk.nr)
			for i := range a {
				a[i] = sub
			}
			for i := range b {
				b[i] = 1
			}
			c := make([]float32, uk.mr*uk.nr)
			uk.fn(kc, a, b, c, uk.nr, 1, 0)
			for i, v := range c {
				if v != 0 {
					t.Fatalf("c[%d] = %g, want 0 (subnormal inputs flushed)", i, v)
				}
			}
			// A product of normal numbers that underflows is flushed too.
			for i := range a {
				a[i] = 1e-20
				if i < len(b) {
					b[i] = 1e-20
				}
			}
			for i := range b {
				b[i] = 1e-20
			}
			uk.fn(kc, a, b, c, uk.nr, 1, 0)
			if c[0] != 0 {
				t.Fatalf("c[0] = %g, want 0 (subnormal products flushed)", c[0])
			}
			if got := square(1e-20); got == 0 {
				t.Fatal("after the kernel returned, Go arithmetic flushes subnormals: MXCSR was not restored")
			}
			// Normal values are unaffected.
			for i := range a {
				a[i] = 2
			}
			for i := range b {
				b[i] = 3
			}
			uk.fn(kc, a, b, c, uk.nr, 1, 0)
			if c[0] != 2*3*kc {
				t.Fatalf("c[0] = %g, want %d", c[0], 2*3*kc)
			}
		})
	}
}

// The 8-row A packing (transposed blocks of eight columns, gathers for the
// rest) puts element (i, p) at dst[p*8+i] for every width and row stride.
func TestGatherAAsm(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, kc := range []int{1, 2, 7, 8, 9, 15, 16, 17, 31, 64, 255, 256} {
		for _, extra := range []int{0, 1, 5, 64} {
			lda := kc + extra
			src := randSlice[float32](rng, 7*lda+kc)
			dst := make([]float32, 8*kc+3)
			gatherAAsm(dst, src, lda, kc)
			for p := 0; p < kc; p++ {
				for i := 0; i < 8; i++ {
					if got, want := dst[p*8+i], src[i*lda+p]; got != want {
						t.Fatalf("kc=%d lda=%d: dst[%d] = %v, want A[%d][%d] = %v", kc, lda, p*8+i, got, i, p, want)
					}
				}
			}
			for _, v := range dst[8*kc:] {
				if v != 0 {
					t.Fatalf("kc=%d lda=%d: wrote past the panel", kc, lda)
				}
			}
		}
	}
}

// TestNarrowMicroKernels checks the AVX-512 kernel's 16- and 32-column
// forms against the full 8×48 kernel bit for bit, for beta 0 and 1, odd
// depths (the full kernel's unrolled loop and its tail), and that they
// leave the columns past cols alone.
func TestNarrowMicroKernels(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	uk := avx512Kernel
	rng := rand.New(rand.NewPCG(11, 12))
	const ldc = 53
	for _, kc := range []int{1, 3, 4, 7, 64, 257} {
		a := randSlice[float32](rng, kc*uk.mr)
		b := randSlice[float32](rng, kc*uk.nr)
		c0 := randSlice[float32](rng, uk.mr*ldc)
		for _, cols := range []int{16, 32} {
			for _, beta := range []float32{0, 1} {
				want := slices.Clone(c0)
				uk.fn(kc, a, b, want, ldc, 1.5, beta)
				got := slices.Clone(c0)
				uk.narrow(cols, kc, a, b, got, ldc, 1.5, beta)
				for i := 0; i < uk.mr; i++ {
					for j := 0; j < ldc; j++ {
						w := want[i*ldc+j]
						if j >= cols {
							w = c0[i*ldc+j]
						}
						if g := got[i*ldc+j]; math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("kc %d, cols %d, beta %g: c[%d][%d] = %g, want %g", kc, cols, beta, i, j, g, w)
						}
					}
				}
			}
		}
	}
}

// TestStridedMicroKernel checks that the AVX-512 kernels reading B in place
// or computing one column give the packed kernel's bits, for k-step counts around the unrolling,
// with beta 0 and 1, and that products with few rows (which take it) match
// the reference loops.
func TestStridedMicroKernel(t *testing.T) {
	uk := avx512Kernel
	if !haveAVX512 || uk.strided == nil {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(91, 92))
	for _, kc := range []int{1, 3, 4, 5, 8, 31, 256} {
		const ldb, ldc = 70, 50
		a := randSlice[float32](rng, 8*kc)
		b := randSlice[float32](rng, (kc-1)*ldb+48)
		packed := make([]float32, kc*48)
		for p := range kc {
			copy(packed[p*48:(p+1)*48], b[p*ldb:])
		}
		col := make([]float32, 8)
		uk.column(kc, a, packed[5:], col)
		full := make([]float32, 8*48)
		uk.fn(kc, a, packed, full, 48, 1, 0)
		for i := range col {
			if math.Float32bits(col[i]) != math.Float32bits(full[i*48+5]) {
				t.Fatalf("kc %d: column kernel row %d = %v, want %v", kc, i, col[i], full[i*48+5])
			}
		}
		for _, beta := range []float32{0, 1} {
			c0 := randSlice[float32](rng, 7*ldc+48)
			got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
			uk.strided(kc, a, b, ldb, got, ldc, 1.5, beta)
			uk.fn(kc, a, packed, want, ldc, 1.5, beta)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("kc %d beta %v: c[%d] = %v, want %v", kc, beta, i, got[i], want[i])
				}
			}
		}
	}
	for _, d := range [][3]int{{1, 100, 7}, {8, 96, 32}, {13, 200, 300}, {16, 49, 64}, {5, 47, 3}} {
		m, n, k := d[0], d[1], d[2]
		a, b := randSlice[float32](rng, m*k), randSlice[float32](rng, k*n)
		got := make([]float32, m*n)
		Gemm(false, false, m, n, k, 1, a, k, b, n, 0, got, n)
		want := make([]float64, m*n)
		for i := range m {
			for j := range n {
				for p := range k {
					want[i*n+j] += float64(a[i*k+p]) * float64(b[p*n+j])
				}
			}
		}
		assertClose(t, "few-row Gemm", got, want, 1e-5)
	}
}
