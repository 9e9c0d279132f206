package engine

import (
	"fmt"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// SetThreads sets how many goroutines one kernel call (a matrix product, a
// convolution) may use and returns the previous setting; n <= 0 means
// runtime.GOMAXPROCS(0). Programs that run several graphs concurrently
// usually want SetThreads(1).
func SetThreads(n int) int { return kernel.SetThreads(n) }

// matDims returns the batch count and the rows and columns of op(x) for a
// 2-D matrix or a 3-D batch of matrices.
func matDims(shape []int, trans bool) (batch, rows, cols int) {
	switch len(shape) {
	case 2:
		batch, rows, cols = 0, shape[0], shape[1]
	case 3:
		batch, rows, cols = shape[0], shape[1], shape[2]
	default:
		return -1, 0, 0
	}
	if trans {
		rows, cols = cols, rows
	}
	return batch, rows, cols
}

// MatMul returns op(a)·op(b), where op transposes its matrix when the matching
// flag is set. Either both are matrices, op(a) m×k and op(b) k×n giving m×n,
// or both are batches [B, ·, ·] of such matrices with the same B, multiplied
// pairwise into [B, m, n].
func MatMul[T Float](a, b *Var[T], transA, transB bool) *Var[T] {
	ba, m, k := matDims(a.value.shape, transA)
	bb, k2, n := matDims(b.value.shape, transB)
	if ba < 0 || ba != bb || k != k2 {
		panic(fmt.Sprintf("engine.MatMul: shapes %v (trans %v) and %v (trans %v) do not multiply", a.value.shape, transA, b.value.shape, transB))
	}
	var out *Tensor[T]
	lda, ldb := a.value.shape[len(a.value.shape)-1], b.value.shape[len(b.value.shape)-1]
	if ba == 0 {
		out = New[T](m, n)
		kernel.Gemm(transA, transB, m, n, k, 1, a.value.data, lda, b.value.data, ldb, 0, out.data, n)
	} else {
		out = New[T](ba, m, n)
		for i := 0; i < ba; i++ {
			kernel.Gemm(transA, transB, m, n, k, 1, a.value.data[i*m*k:], lda, b.value.data[i*k*n:], ldb, 0, out.data[i*m*n:], n)
		}
	}
	return record("MatMul", out, func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		// With C = op(A)·op(B): ∂op(A) = G·op(B)ᵀ and ∂op(B) = op(A)ᵀ·G,
		// transposed back when op transposes.
		res := make([]*Var[T], 2)
		if need[0] {
			if transA {
				res[0] = MatMul(in[1], g, transB, true)
			} else {
				res[0] = MatMul(g, in[1], false, !transB)
			}
		}
		if need[1] {
			if transB {
				res[1] = MatMul(g, in[0], true, transA)
			} else {
				res[1] = MatMul(in[0], g, !transA, false)
			}
		}
		return res
	}, a, b)
}

// Linear returns x·wᵀ + b, the fully connected layer: x is [N, in], w is
// [out, in] and b is [out] or nil; the result is [N, out].
func Linear[T Float](x, w, b *Var[T]) *Var[T] {
	xs, ws := x.value.shape, w.value.shape
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] || (b != nil && (b.value.Rank() != 1 || b.value.shape[0] != ws[0])) {
		bs := []int(nil)
		if b != nil {
			bs = b.value.shape
		}
		panic(fmt.Sprintf("engine.Linear: x %v, w %v, b %v do not fit [N,in], [out,in], [out]", xs, ws, bs))
	}
	rows, in, outDim := xs[0], xs[1], ws[0]
	out := New[T](rows, outDim)
	var beta T
	inputs := []*Var[T]{x, w}
	if b != nil {
		fillRows(out.data, b.value.data)
		beta = 1
		inputs = append(inputs, b)
	}
	kernel.Gemm(false, true, rows, outDim, in, 1, x.value.data, in, w.value.data, in, beta, out.data, outDim)
	return record("Linear", out, func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		res := make([]*Var[T], len(in))
		if need[0] {
			res[0] = MatMul(g, in[1], false, false)
		}
		if need[1] {
			res[1] = MatMul(g, in[0], true, false)
		}
		if len(in) > 2 && need[2] {
			res[2] = SumAxes(g, []int{0}, false)
		}
		return res
	}, inputs...)
}

// fillRows sets every row of dst (rows of len(row)) to row. Narrow rows
// are set element by element: a copy call per row of a [n, 1] output costs
// more than the row.
func fillRows[T Float](dst, row []T) {
	k := len(row)
	if k >= 16 {
		for r := 0; r < len(dst); r += k {
			copy(dst[r:r+k], row)
		}
		return
	}
	for r := 0; r < len(dst); r += k {
		for j, v := range row {
			dst[r+j] = v
		}
	}
}
