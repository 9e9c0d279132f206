package engine

// Add returns a + b with NumPy broadcasting.
func Add[T Float](a, b *Var[T]) *Var[T] {
	return record("Add", binary(opAdd, a.value, b.value), func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		return []*Var[T]{SumTo(g, in[0].Shape()), SumTo(g, in[1].Shape())}
	}, a, b)
}

// Sub returns a − b with NumPy broadcasting.
func Sub[T Float](a, b *Var[T]) *Var[T] {
	return record("Sub", binary(opSub, a.value, b.value), func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		res := []*Var[T]{SumTo(g, in[0].Shape()), nil}
		if need[1] {
			res[1] = Neg(SumTo(g, in[1].Shape()))
		}
		return res
	}, a, b)
}

// Mul returns the element-wise product a ⊙ b with NumPy broadcasting.
func Mul[T Float](a, b *Var[T]) *Var[T] {
	return record("Mul", binary(opMul, a.value, b.value), func(g, _ *Var[T], in []*Var[T], need []bool) []*Var[T] {
		res := make([]*Var[T], 2)
		if need[0] {
			res[0] = SumTo(Mul(g, in[1]), in[0].Shape())
		}
		if need[1] {
			res[1] = SumTo(Mul(g, in[0]), in[1].Shape())
		}
		return res
	}, a, b)
}

// Div returns the element-wise quotient a / b with NumPy broadcasting.
func Div[T Float](a, b *Var[T]) *Var[T] {
	return record("Div", binary(opDiv, a.value, b.value), func(g, out *Var[T], in []*Var[T], need []bool) []*Var[T] {
		res := make([]*Var[T], 2)
		gb := Div(g, in[1])
		if need[0] {
			res[0] = SumTo(gb, in[0].Shape())
		}
		if need[1] {
			// d(a/b)/db = −(a/b)/b
			res[1] = Neg(SumTo(Mul(gb, out), in[1].Shape()))
		}
		return res
	}, a, b)
}

// Neg returns −x.
func Neg[T Float](x *Var[T]) *Var[T] { return Scale(x, -1) }

// Scale returns c·x for a constant c.
func Scale[T Float](x *Var[T], c T) *Var[T] {
	out := New[T](x.value.shape...)
	for i, v := range x.value.data {
		out.data[i] = c * v
	}
	return record("Scale", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Scale(g, c)}
	}, x)
}

// AddScalar returns x + c for a constant c.
func AddScalar[T Float](x *Var[T], c T) *Var[T] {
	out := New[T](x.value.shape...)
	for i, v := range x.value.data {
		out.data[i] = v + c
	}
	return record("AddScalar", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{g}
	}, x)
}

// SumTo sums x over broadcast dimensions so that it has the given shape; it is
// the adjoint of BroadcastTo. x's shape must be shape broadcast to something.
func SumTo[T Float](x *Var[T], shape []int) *Var[T] {
	if sameShape(x.value.shape, shape) {
		return x
	}
	shape = cloneInts(shape)
	return record("SumTo", sumToTensor(x.value, shape), func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{BroadcastTo(g, in[0].Shape())}
	}, x)
}

// BroadcastTo expands x to shape under NumPy broadcasting rules.
func BroadcastTo[T Float](x *Var[T], shape []int) *Var[T] {
	if sameShape(x.value.shape, shape) {
		return x
	}
	shape = cloneInts(shape)
	return record("BroadcastTo", broadcastToTensor(x.value, shape), func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{SumTo(g, in[0].Shape())}
	}, x)
}

// Sum returns the sum of all elements of x as a scalar (shape []).
func Sum[T Float](x *Var[T]) *Var[T] {
	var s T
	for _, v := range x.value.data {
		s += v
	}
	return record("Sum", Scalar(s), func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{BroadcastTo(g, in[0].Shape())}
	}, x)
}

// Mean returns the mean of all elements of x as a scalar.
func Mean[T Float](x *Var[T]) *Var[T] {
	return Scale(Sum(x), 1/T(x.value.Len()))
}
