package engine

import (
	"fmt"
	"math"
	"slices"
)

// normAxis resolves a possibly negative axis against rank and panics, naming
// op, if it is out of range.
func normAxis(op string, axis, rank int) int {
	if axis < -rank || axis >= rank {
		panic(fmt.Sprintf("engine.%s: axis %d out of range for rank %d", op, axis, rank))
	}
	if axis < 0 {
		axis += rank
	}
	return axis
}

// normAxes resolves axes (negative ones count from the end) into a sorted
// list without repeats; an empty list means every axis.
func normAxes(op string, axes []int, rank int) []int {
	if len(axes) == 0 {
		out := make([]int, rank)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, len(axes))
	for i, a := range axes {
		out[i] = normAxis(op, a, rank)
	}
	slices.Sort(out)
	for i := 1; i < len(out); i++ {
		if out[i] == out[i-1] {
			panic(fmt.Sprintf("engine.%s: axis %d repeated in %v", op, out[i], axes))
		}
	}
	return out
}

// reducedShapes returns the shape of x reduced over axes with the reduced
// dimensions kept as 1, and the shape with them dropped.
func reducedShapes(shape, axes []int) (keep, drop []int) {
	keep = cloneInts(shape)
	drop = make([]int, 0, len(shape))
	for i, d := range shape {
		if slices.Contains(axes, i) {
			keep[i] = 1
		} else {
			drop = append(drop, d)
		}
	}
	return keep, drop
}

// SumAxes sums x over the given axes (negative ones count from the end; none
// means all). With keepDims the reduced dimensions stay as size 1.
func SumAxes[T Float](x *Var[T], axes []int, keepDims bool) *Var[T] {
	ax := normAxes("SumAxes", axes, x.value.Rank())
	keep, drop := reducedShapes(x.value.shape, ax)
	res := sumToTensor(x.value, keep)
	if !keepDims {
		res = &Tensor[T]{shape: drop, data: res.data}
	}
	return record("SumAxes", res, func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{BroadcastTo(Reshape(g, keep...), in[0].Shape())}
	}, x)
}

// MeanAxes averages x over the given axes, like [SumAxes].
func MeanAxes[T Float](x *Var[T], axes []int, keepDims bool) *Var[T] {
	ax := normAxes("MeanAxes", axes, x.value.Rank())
	n := 1
	for _, a := range ax {
		n *= x.value.shape[a]
	}
	return Scale(SumAxes(x, ax, keepDims), 1/T(n))
}

// axisSplit views shape as [outer, d, inner] around axis.
func axisSplit(shape []int, axis int) (outer, d, inner int) {
	outer, inner = 1, 1
	for _, s := range shape[:axis] {
		outer *= s
	}
	for _, s := range shape[axis+1:] {
		inner *= s
	}
	return outer, shape[axis], inner
}

// forLines calls fn for every line of x along axis: the elements
// base, base+stride, …, base+(d−1)·stride, with k numbering the lines.
func forLines(shape []int, axis int, fn func(k, base, stride, d int)) {
	outer, d, inner := axisSplit(shape, axis)
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			fn(o*inner+i, o*d*inner+i, inner, d)
		}
	}
}

// lineMax returns the largest element of a line.
func lineMax[T Float](x []T, base, stride, d int) T {
	m := T(math.Inf(-1))
	for j := 0; j < d; j++ {
		m = max(m, x[base+j*stride])
	}
	return m
}

// lineLogSumExp returns m and log Σ e^(x−m) for a line, where m is its
// maximum, so that large inputs do not overflow; their sum is log Σ e^x. An
// all −∞ line, or one holding +∞, gives m = ±∞ and 0.
func lineLogSumExp[T Float](x []T, base, stride, d int) (m, logSum float64) {
	m = float64(lineMax(x, base, stride, d))
	if math.IsInf(m, 0) {
		return m, 0
	}
	var s float64
	for j := 0; j < d; j++ {
		s += math.Exp(float64(x[base+j*stride]) - m)
	}
	return m, math.Log(s)
}

// LogSumExp returns log Σ exp(x) along axis, computed stably.
func LogSumExp[T Float](x *Var[T], axis int, keepDims bool) *Var[T] {
	axis = normAxis("LogSumExp", axis, x.value.Rank())
	keep, drop := reducedShapes(x.value.shape, []int{axis})
	shape := drop
	if keepDims {
		shape = keep
	}
	out := New[T](shape...)
	xs := x.value.data
	forLines(x.value.shape, axis, func(k, base, stride, d int) {
		m, ls := lineLogSumExp(xs, base, stride, d)
		out.data[k] = T(m + ls)
	})
	return record("LogSumExp", out, func(g, out *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		// ∂/∂x = softmax(x) = exp(x − lse)
		p := Exp(Sub(in[0], Reshape(out, keep...)))
		return []*Var[T]{Mul(Reshape(g, keep...), p)}
	}, x)
}

// LogSoftmax returns x − log Σ exp(x) along axis, computed stably.
func LogSoftmax[T Float](x *Var[T], axis int) *Var[T] {
	axis = normAxis("LogSoftmax", axis, x.value.Rank())
	out := New[T](x.value.shape...)
	xs, z := x.value.data, out.data
	forLines(x.value.shape, axis, func(_, base, stride, d int) {
		// (x − m) is exact for nearby values, so subtracting the small
		// log-sum afterwards keeps full precision for large inputs.
		m, ls := lineLogSumExp(xs, base, stride, d)
		for j := 0; j < d; j++ {
			z[base+j*stride] = T(float64(xs[base+j*stride]) - m - ls)
		}
	})
	return record("LogSoftmax", out, func(g, out *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		// ∂/∂x_i Σ_j g_j (x_j − lse) = g_i − softmax_i Σ_j g_j
		return []*Var[T]{Sub(g, Mul(Exp(out), SumAxes(g, []int{axis}, true)))}
	}, x)
}

// Softmax returns exp(x) / Σ exp(x) along axis, computed stably.
func Softmax[T Float](x *Var[T], axis int) *Var[T] {
	axis = normAxis("Softmax", axis, x.value.Rank())
	out := New[T](x.value.shape...)
	xs, z := x.value.data, out.data
	forLines(x.value.shape, axis, func(_, base, stride, d int) {
		m := float64(lineMax(xs, base, stride, d))
		var s float64
		for j := 0; j < d; j++ {
			e := math.Exp(float64(xs[base+j*stride]) - m)
			z[base+j*stride] = T(e)
			s += e
		}
		inv := 1 / s
		for j := 0; j < d; j++ {
			z[base+j*stride] = T(float64(z[base+j*stride]) * inv)
		}
	})
	return record("Softmax", out, func(g, out *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		// ∂/∂x_i Σ_j g_j s_j = s_i (g_i − Σ_j g_j s_j)
		return []*Var[T]{Mul(out, Sub(g, SumAxes(Mul(g, out), []int{axis}, true)))}
	}, x)
}
