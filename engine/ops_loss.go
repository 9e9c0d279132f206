package engine

import (
	"fmt"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// rowSqNorms returns ‖row‖² for each row of an r×d matrix.
func rowSqNorms[T Float](x []T, r, d int) []T {
	out := make([]T, r)
	for i := range out {
		var s T
		for _, v := range x[i*d : (i+1)*d] {
			s += v * v
		}
		out[i] = s
	}
	return out
}

// PairwiseSqDist returns the squared Euclidean distances between the rows of
// a [n, d] and b [m, d] as an [n, m] matrix: ‖a_i − b_j‖². It is computed as
// ‖a_i‖² + ‖b_j‖² − 2a_i·b_j with one matrix product, clamped at zero against
// rounding.
func PairwiseSqDist[T Float](a, b *Var[T]) *Var[T] {
	as, bs := a.value.shape, b.value.shape
	if len(as) != 2 || len(bs) != 2 || as[1] != bs[1] {
		panic(fmt.Sprintf("engine.PairwiseSqDist: shapes %v and %v are not [n,d] and [m,d]", as, bs))
	}
	n, m, d := as[0], bs[0], as[1]
	out := New[T](n, m)
	kernel.Gemm(false, true, n, m, d, -2, a.value.data, d, b.value.data, d, 0, out.data, m)
	na, nb := rowSqNorms(a.value.data, n, d), rowSqNorms(b.value.data, m, d)
	for i := 0; i < n; i++ {
		row := out.data[i*m : (i+1)*m]
		for j := range row {
			row[j] = max(row[j]+na[i]+nb[j], 0)
		}
	}
	return record("PairwiseSqDist", out, func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		// ∂/∂a_i = 2(a_i Σ_j g_ij − Σ_j g_ij b_j), and symmetrically for b.
		res := make([]*Var[T], 2)
		if need[0] {
			res[0] = Scale(Sub(Mul(in[0], SumAxes(g, []int{1}, true)), MatMul(g, in[1], false, false)), 2)
		}
		if need[1] {
			colSums := Reshape(SumAxes(g, []int{0}, false), m, 1)
			res[1] = Scale(Sub(Mul(in[1], colSums), MatMul(g, in[0], true, false)), 2)
		}
		return res
	}, a, b)
}

// CosineSimilarity returns the cosine similarities between the rows of a
// [n, d] and b [m, d] as an [n, m] matrix. Each row's norm ‖x‖ is taken as
// √(‖x‖² + eps²), which keeps zero rows finite and the result smooth.
func CosineSimilarity[T Float](a, b *Var[T], eps T) *Var[T] {
	as, bs := a.value.shape, b.value.shape
	if len(as) != 2 || len(bs) != 2 || as[1] != bs[1] {
		panic(fmt.Sprintf("engine.CosineSimilarity: shapes %v and %v are not [n,d] and [m,d]", as, bs))
	}
	unit := func(x *Var[T]) *Var[T] {
		return Div(x, Sqrt(AddScalar(SumAxes(Square(x), []int{1}, true), eps*eps)))
	}
	return MatMul(unit(a), unit(b), false, true)
}

// checkLabels panics unless labels holds one class in [0, classes) per row.
func checkLabels(op string, labels []int, rows, classes int) {
	if len(labels) != rows {
		panic(fmt.Sprintf("engine.%s: %d labels for %d rows", op, len(labels), rows))
	}
	for i, l := range labels {
		if l < 0 || l >= classes {
			panic(fmt.Sprintf("engine.%s: label %d of row %d out of range [0, %d)", op, l, i, classes))
		}
	}
}

// CrossEntropy returns the mean over rows of −log softmax(logits)[label]:
// the classification loss for logits [N, C] and N labels in [0, C).
func CrossEntropy[T Float](logits *Var[T], labels []int) *Var[T] {
	s := logits.value.shape
	if len(s) != 2 {
		panic(fmt.Sprintf("engine.CrossEntropy: logits of shape %v are not [N,C]", s))
	}
	rows, classes := s[0], s[1]
	checkLabels("CrossEntropy", labels, rows, classes)
	if rows == 0 {
		panic("engine.CrossEntropy: no rows")
	}
	var loss float64
	xs := logits.value.data
	for i, l := range labels {
		m, ls := lineLogSumExp(xs, i*classes, 1, classes)
		loss += (m - float64(xs[i*classes+l])) + ls
	}
	onehot := Const(OneHot[T](labels, classes))
	return record("CrossEntropy", Scalar(T(loss/float64(rows))), func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		// ∂/∂logits = (softmax − onehot)/N
		d := Sub(Softmax(in[0], 1), onehot)
		return []*Var[T]{Mul(d, Scale(g, 1/T(rows)))}
	}, logits)
}

// MSE returns the mean of (a − b)² over all elements; a and b must have the
// same shape.
func MSE[T Float](a, b *Var[T]) *Var[T] {
	if !sameShape(a.value.shape, b.value.shape) {
		panic(fmt.Sprintf("engine.MSE: shapes %v and %v differ", a.value.shape, b.value.shape))
	}
	n := len(a.value.data)
	if n == 0 {
		panic("engine.MSE: empty input")
	}
	var s T
	bd := b.value.data[:n]
	for i, v := range a.value.data {
		d := v - bd[i]
		s += d * d
	}
	return record("MSE", Scalar(s/T(n)), func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		d := Mul(Sub(in[0], in[1]), Scale(g, 2/T(n)))
		res := []*Var[T]{d, nil}
		if need[1] {
			res[1] = Neg(d)
		}
		return res
	}, a, b)
}

// OneHot returns a [len(labels), classes] tensor with a 1 at each row's label
// and 0 elsewhere. It panics if a label is outside [0, classes).
func OneHot[T Float](labels []int, classes int) *Tensor[T] {
	checkLabels("OneHot", labels, len(labels), classes)
	t := New[T](len(labels), classes)
	for i, l := range labels {
		t.data[i*classes+l] = 1
	}
	return t
}

// Accuracy returns the fraction of rows of logits [N, C] whose largest entry
// (the first one, on ties) is at the row's label. It returns 0 for N = 0.
func Accuracy[T Float](logits *Tensor[T], labels []int) float64 {
	if logits.Rank() != 2 {
		panic(fmt.Sprintf("engine.Accuracy: logits of shape %v are not [N,C]", logits.shape))
	}
	rows, classes := logits.shape[0], logits.shape[1]
	checkLabels("Accuracy", labels, rows, classes)
	if rows == 0 {
		return 0
	}
	correct := 0
	for i, l := range labels {
		row := logits.data[i*classes : (i+1)*classes]
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if best == l {
			correct++
		}
	}
	return float64(correct) / float64(rows)
}

// Dropout zeroes each element of x with probability p and scales the rest by
// 1/(1−p) (inverted dropout), so the expected value is unchanged and no
// rescaling is needed at inference. The same mask applies in the backward
// pass. p must be in [0, 1); p = 0 returns x. rng draws the mask and must
// not be shared with other goroutines during the call.
func Dropout[T Float](x *Var[T], p float64, rng *rand.Rand) *Var[T] {
	if !(p >= 0 && p < 1) {
		panic(fmt.Sprintf("engine.Dropout: probability %v not in [0, 1)", p))
	}
	if p == 0 {
		return x
	}
	mask := New[T](x.value.shape...)
	keep := T(1 / (1 - p))
	for i := range mask.data {
		if rng.Float64() >= p {
			mask.data[i] = keep
		}
	}
	return Mul(x, Const(mask))
}
