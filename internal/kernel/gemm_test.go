package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// naiveGemm is the textbook triple loop in float64.
func naiveGemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				var av, bv float64
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float64
	pad            int // extra elements per row beyond the stored width
}

// gemmCases lists shapes, transposes and scalars; big adds large shapes.
func gemmCases(big bool) []gemmCase {
	dims := [][3]int{
		{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 4, 0}, {0, 3, 3}, {2, 0, 5},
		{7, 13, 17}, {8, 48, 64}, {9, 49, 65}, {14, 32, 5}, {15, 33, 1},
		{16, 16, 16}, {31, 47, 129}, {64, 100, 27}, {100, 64, 576}, {33, 97, 300},
		{129, 257, 67}, {200, 150, 513},
		// Last panels of 16 and 32 columns, whole and cut short (narrow
		// micro-kernel forms, straight into C or through the edge tile).
		{16, 80, 40}, {8, 112, 9}, {24, 70, 33},
		// A few rows against a transposed B with k ≥ 64: the row-dot path
		// (gemvRowsT), with and without a tail past a multiple of 64.
		{1, 40, 64}, {3, 17, 100}, {4, 33, 257}, {2, 70, 128}, {5, 20, 64},
	}
	if big {
		dims = append(dims, [3]int{300, 260, 350}, [3]int{517, 33, 600})
	}
	ab := [][2]float64{{1, 0}, {1, 1}, {-0.5, 2}, {0, 0.5}, {2.5, 0}}
	var cs []gemmCase
	i := 0
	for _, d := range dims {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				x := ab[i%len(ab)]
				i++
				cs = append(cs, gemmCase{ta, tb, d[0], d[1], d[2], x[0], x[1], (i % 3) * 2})
			}
		}
	}
	return cs
}

func runGemmCase[T Float](t *testing.T, rng *rand.Rand, gc gemmCase, tol float64) {
	t.Helper()
	ar, ac := gc.m, gc.k
	if gc.transA {
		ar, ac = gc.k, gc.m
	}
	br, bc := gc.k, gc.n
	if gc.transB {
		br, bc = gc.n, gc.k
	}
	lda, ldb, ldc := ac+gc.pad, bc+gc.pad+1, gc.n+gc.pad
	lda, ldb = max(lda, 1), max(ldb, 1)
	a := randSlice[T](rng, ar*lda)
	b := randSlice[T](rng, br*ldb)
	c := randSlice[T](rng, gc.m*ldc)
	want := toF64(c)
	naiveGemm(gc.transA, gc.transB, gc.m, gc.n, gc.k, gc.alpha, toF64(a), lda, toF64(b), ldb, gc.beta, want, ldc)
	if gc.beta == 0 {
		// beta == 0 must not read C: poison it.
		for i := range c {
			c[i] = T(math.NaN())
		}
		for i := 0; i < gc.m; i++ {
			for j := gc.n; j < ldc; j++ {
				c[i*ldc+j] = T(want[i*ldc+j])
			}
		}
	}
	Gemm(gc.transA, gc.transB, gc.m, gc.n, gc.k, T(gc.alpha), a, lda, b, ldb, T(gc.beta), c, ldc)
	assertClose(t, "C", c, want, tol*math.Sqrt(float64(gc.k)+1))
}

// testKernels returns every float32 micro-kernel this CPU supports, each
// also in a copy with tiny, odd block sizes so that small test matrices
// cross every block boundary of the driver.
func testKernels() []*microKernel[float32] {
	var ks []*microKernel[float32]
	for _, uk := range sgemmKernels() {
		tiny := *uk
		tiny.name += "-tinyblocks"
		tiny.kc, tiny.mc, tiny.nc = 7, 2*uk.mr+1, 3*uk.nr-1
		ks = append(ks, uk, &tiny)
	}
	return ks
}

// withKernel runs fn with uk as the float32 micro-kernel.
func withKernel(uk *microKernel[float32], fn func()) {
	prev := sgemmKernel
	sgemmKernel = uk
	defer func() { sgemmKernel = prev }()
	fn()
}

// TestGemm compares every float32 micro-kernel this CPU supports (assembly
// and pure Go) and the float64 path against the naive triple loop.
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tiny64 := *dgemmKernel
	tiny64.kc, tiny64.mc, tiny64.nc = 5, 9, 11
	for ki, uk := range testKernels() {
		// Thread splitting and the largest shapes are exercised with the
		// kernel in production use; the others (slower, or with tiny blocks
		// for boundary coverage) run the small shapes on one thread.
		threads, big := []int{1}, false
		if ki == 0 {
			threads, big = []int{1, 2, 3}, !testing.Short() && !raceEnabled
		}
		for _, nt := range threads {
			prev := SetThreads(nt)
			withKernel(uk, func() {
				for _, gc := range gemmCases(big) {
					runGemmCase[float32](t, rng, gc, 1e-5)
					if t.Failed() {
						t.Fatalf("kernel %s, threads %d, case %+v", uk.name, nt, gc)
					}
				}
			})
			SetThreads(prev)
		}
	}
	for _, dk := range []*microKernel[float64]{dgemmKernel, &tiny64} {
		prev := dgemmKernel
		dgemmKernel = dk
		for _, gc := range gemmCases(dk == prev && !testing.Short() && !raceEnabled) {
			runGemmCase[float64](t, rng, gc, 1e-13)
			if t.Failed() {
				t.Fatalf("float64 blocks %d/%d/%d, case %+v", dk.kc, dk.mc, dk.nc, gc)
			}
		}
		dgemmKernel = prev
	}
}

// myFloat checks that named float types take the same paths.
type myFloat float32

func TestGemmNamedType(t *testing.T) {
	a := []myFloat{1, 2, 3, 4}
	b := []myFloat{5, 6, 7, 8}
	c := make([]myFloat, 4)
	Gemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2)
	if want := []myFloat{19, 22, 43, 50}; c[0] != want[0] || c[1] != want[1] || c[2] != want[2] || c[3] != want[3] {
		t.Fatalf("got %v, want %v", c, want)
	}
}

func TestGemmPanics(t *testing.T) {
	a := make([]float32, 6)
	mustPanic(t, "len(a)", func() { Gemm(false, false, 2, 2, 4, 1, a, 4, a, 2, 0, a, 2) })
	mustPanic(t, "ldb", func() { Gemm(false, false, 2, 2, 2, 1, a, 2, a, 1, 0, a, 2) })
	mustPanic(t, "negative", func() { Gemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2) })
	mustPanic(t, "len(c)", func() { Gemm(false, true, 3, 3, 1, 1, a, 1, a, 1, 0, a, 3) })
}

func TestSetThreads(t *testing.T) {
	prev := SetThreads(3)
	defer SetThreads(prev)
	if Threads() != 3 {
		t.Fatalf("Threads() = %d after SetThreads(3)", Threads())
	}
	if p := SetThreads(0); p != 3 || Threads() < 1 {
		t.Fatalf("SetThreads(0) returned %d, Threads() = %d", p, Threads())
	}
}

// TestGemmBatch checks GemmBatch against one Gemm per product, bit for bit,
// with a broadcast B (repeated offsets), for products small enough to be
// shared out whole and large enough to be split, on 1 and 3 threads.
func TestGemmBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, d := range [][4]int{{5, 17, 9, 7}, {64, 197, 64, 12}, {130, 300, 150, 3}} {
		m, n, k, items := d[0], d[1], d[2], d[3]
		a := randSlice[float32](rng, items*m*k)
		b := randSlice[float32](rng, 2*k*n)
		var offA, offB, offC []int
		for i := range items {
			offA, offB, offC = append(offA, i*m*k), append(offB, (i%2)*k*n), append(offC, i*m*n)
		}
		want := randSlice[float32](rng, items*m*n)
		for _, nt := range []int{1, 3} {
			got := append([]float32(nil), want...)
			prev := SetThreads(nt)
			GemmBatch(m, n, k, 1.5, a, k, offA, b, n, offB, 0.5, got, n, offC)
			SetThreads(prev)
			ref := append([]float32(nil), want...)
			for i := range items {
				Gemm(false, false, m, n, k, 1.5, a[offA[i]:], k, b[offB[i]:], n, 0.5, ref[offC[i]:], n)
			}
			for i := range ref {
				if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v, %d threads: c[%d] = %v, one Gemm per product gives %v", d, nt, i, got[i], ref[i])
				}
			}
		}
	}
	c := make([]float32, 8)
	mustPanic(t, "offsets", func() { GemmBatch(2, 2, 2, 1, c, 2, []int{0}, c, 2, []int{0, 4}, 0, c, 2, []int{0}) })
	mustPanic(t, "outside", func() { GemmBatch(2, 2, 2, 1, c, 2, []int{9}, c, 2, []int{0}, 0, c, 2, []int{0}) })
	mustPanic(t, "len(c)", func() { GemmBatch(2, 2, 2, 1, c, 2, []int{0}, c, 2, []int{0}, 0, c, 2, []int{6}) })
}

// TestPackedB compares products with a PackedB against Gemm with the
// plain matrix: several slices of k, partial panels, few and many rows,
// padded strides, one and two threads; the results are the same bits.
func TestPackedB(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		for _, d := range [][3]int{{1, 1, 1}, {7, 50, 33}, {49, 300, 600}, {200, 96, 384}, {3, 1000, 64}, {130, 47, 257}} {
			m, n, k := d[0], d[1], d[2]
			lda, ldb, ldc := k+3, n+5, n+1
			a := randSlice[float32](rng, (m-1)*lda+k)
			b := randSlice[float32](rng, (k-1)*ldb+n)
			got := randSlice[float32](rng, (m-1)*ldc+n)
			want := append([]float32(nil), got...)
			NewPackedB(k, n, b, ldb).Gemm(m, a, lda, got, ldc)
			Gemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, want, ldc)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("threads %d, %d×%d×%d: c[%d] = %v, want %v", nt, m, n, k, i, got[i], want[i])
				}
			}
		}
		SetThreads(prev)
	}
}
