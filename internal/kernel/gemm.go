package kernel

import "unsafe"

// Gemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices, where
// op(X) is X, or X transposed when the matching trans flag is set. op(A) is
// m×k, op(B) is k×n and C is m×n; lda, ldb and ldc are the row strides of the
// stored A, B and C. When beta is zero the old contents of C are ignored, so
// C may hold NaNs or garbage. C must not overlap A or B.
//
// Gemm panics if a dimension is negative, a leading dimension is smaller than
// the stored row length, or a slice is too short for its shape.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	checkGemm(transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Threads())
}

// GemmBatch computes the len(offC) products C_i = alpha·A_i·B_i + beta·C_i
// of Gemm without transposes, A_i starting at a[offA[i]], B_i at
// b[offB[i]] and C_i at c[offC[i]] (offA and offB may repeat offsets, as
// broadcast batches do). Products too small to be worth splitting over the
// threads, like attention's per-head ones, are shared out whole instead,
// one per thread at a time; each product's result is the same either way.
// The C_i must not overlap each other, A or B.
//
// It panics as Gemm does for any product, or if the offset slices differ
// in length.
func GemmBatch[T Float](m, n, k int, alpha T, a []T, lda int, offA []int, b []T, ldb int, offB []int, beta T, c []T, ldc int, offC []int) {
	if len(offA) != len(offC) || len(offB) != len(offC) {
		panic("kernel: GemmBatch: " + itoa(len(offA)) + ", " + itoa(len(offB)) + " and " + itoa(len(offC)) + " offsets")
	}
	for i, oc := range offC {
		if offA[i] < 0 || offB[i] < 0 || oc < 0 || offA[i] > len(a) || offB[i] > len(b) || oc > len(c) {
			panic("kernel: GemmBatch: offsets of product " + itoa(i) + " outside the slices")
		}
		checkGemm(false, false, m, n, k, len(a)-offA[i], lda, len(b)-offB[i], ldb, len(c)-oc, ldc)
	}
	nt := Threads()
	if nt > 1 && len(offC) > 1 && m*n*k < 4*parallelMinFlops {
		parallelFor(nt, len(offC), func(i, _ int) {
			gemm(false, false, m, n, k, alpha, a[offA[i]:], lda, b[offB[i]:], ldb, beta, c[offC[i]:], ldc, 1)
		})
		return
	}
	for i, oc := range offC {
		gemm(false, false, m, n, k, alpha, a[offA[i]:], lda, b[offB[i]:], ldb, beta, c[oc:], ldc, nt)
	}
}

// checkGemm validates Gemm's arguments and panics naming the first bad one.
func checkGemm(transA, transB bool, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic("kernel: Gemm: negative dimension m=" + itoa(m) + " n=" + itoa(n) + " k=" + itoa(k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("Gemm", "a", "lda", ar, ac, lenA, lda)
	checkMat("Gemm", "b", "ldb", br, bc, lenB, ldb)
	checkMat("Gemm", "c", "ldc", m, n, lenC, ldc)
}

// checkMat panics unless a rows×cols matrix with row stride ld fits in a
// slice of length l. Strides of empty matrices are not checked.
func checkMat(fn, name, ldName string, rows, cols, l, ld int) {
	if rows == 0 || cols == 0 {
		return // an empty matrix is never read, so its stride does not matter
	}
	if ld < cols {
		panic("kernel: " + fn + ": " + ldName + " = " + itoa(ld) + " is less than the " + itoa(cols) + " columns of " + name)
	}
	need(fn, name, l, (rows-1)*ld+cols)
}

// is32 reports whether T is a 4-byte float.
func is32[T Float]() bool {
	var z T
	return unsafe.Sizeof(z) == 4
}

// as reinterprets a slice of T as a slice of E, which must have the same
// size; it lets named float types share the float32/float64 code.
func as[E, T Float](s []T) []E {
	if s == nil {
		return nil
	}
	return unsafe.Slice((*E)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// gemm is Gemm after argument checks, using up to nt goroutines.
func gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, nt int) {
	if is32[T]() && !transA && transB && m <= gemvRowsMaxM && k >= 64 && m*n > 0 {
		gemvRowsT(m, n, k, float32(alpha), as[float32](a), lda, as[float32](b), ldb, float32(beta), as[float32](c), ldc, nt)
		return
	}
	if is32[T]() {
		src := matSource[float32]{b: as[float32](b), ld: ldb, trans: transB}
		gemmDriver(sgemmKernel, transA, m, n, k, float32(alpha), as[float32](a), lda, nil, &src, float32(beta), as[float32](c), ldc, nt, nil)
		return
	}
	src := matSource[float64]{b: as[float64](b), ld: ldb, trans: transB}
	gemmDriver(dgemmKernel, transA, m, n, k, float64(alpha), as[float64](a), lda, nil, &src, float64(beta), as[float64](c), ldc, nt, nil)
}

// gemvRowsMaxM is the largest m for which a float32 product with
// op(B) = Bᵀ (B stored n×k, as fully connected layers keep their weights)
// is taken as dot products of contiguous rows instead of through the packed
// GEMM: with few rows of A, packing B (a transposing copy of the whole
// matrix, every call) costs more than the product itself, as in AlexNet's
// classifier. For its 4096×9216 layer on one thread of an AMD EPYC the dot
// products take 32, 54, 98 and 188 ms at m = 8, 16, 32 and 64, the packed
// GEMM 102, 110, 119 and 144 ms.
const gemvRowsMaxM = 32

// gemvRowsT is Gemm for that case: c[i][j] = alpha·(a_i · b_j) +
// beta·c[i][j], 16 rows of B at a time per goroutine (they stay in cache
// across the m rows of A), the dot products by dotShifts.
func gemvRowsT(m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, nt int) {
	const rows = 16
	parts := (n + rows - 1) / rows
	k64 := k &^ 63 // dotShifts' vector code takes multiples of 64
	parallelFor(min(nt, parts), parts, func(pi, _ int) {
		j0 := pi * rows
		j1 := min(n, j0+rows)
		var offs, tail [rows]int
		for j := j0; j < j1; j++ {
			offs[j-j0], tail[j-j0] = j*ldb, j*ldb+k64
		}
		for i := range m {
			ar := a[i*lda : i*lda+k]
			var acc [rows]float32
			dotShifts(ar[:k64], b, offs[:j1-j0], acc[:])
			if k64 < k {
				dotShiftsGo(ar[k64:], b, tail[:j1-j0], acc[:])
			}
			cr := c[i*ldc+j0 : i*ldc+j1]
			for j, v := range acc[:j1-j0] {
				if beta == 0 {
					cr[j] = alpha * v
				} else {
					cr[j] = alpha*v + beta*cr[j]
				}
			}
		}
	})
}
