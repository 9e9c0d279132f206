package engine

import "fmt"

// BroadcastShapes returns the shape that a and b broadcast to under NumPy
// rules (dimensions aligned from the right; each pair equal or one of them 1),
// and false if they are incompatible.
func BroadcastShapes(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, false
		}
	}
	return out, true
}

// broadcastStrides returns, for a tensor of shape `shape` broadcast to `out`,
// the element stride of each output dimension (0 where it is broadcast).
func broadcastStrides(shape, out []int) []int {
	st := make([]int, len(out))
	s := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(shape) - len(out) + i
		if j >= 0 && shape[j] != 1 {
			st[i] = s
		}
		if j >= 0 {
			s *= shape[j]
		}
	}
	return st
}

// walk2 calls inner for each innermost run of a broadcast iteration over out:
// inner(o, ia, ib, n, sa, sb) covers out[o:o+n] with a[ia+k*sa], b[ib+k*sb].
func walk2(out, sa, sb []int, inner func(o, ia, ib, n, sa, sb int)) {
	r := len(out)
	if r == 0 {
		inner(0, 0, 0, 1, 0, 0)
		return
	}
	for _, d := range out {
		if d == 0 {
			return
		}
	}
	n := out[r-1]
	idx := make([]int, r-1)
	o, ia, ib := 0, 0, 0
	for {
		inner(o, ia, ib, n, sa[r-1], sb[r-1])
		o += n
		// advance the outer index like an odometer
		d := r - 2
		for ; d >= 0; d-- {
			idx[d]++
			ia += sa[d]
			ib += sb[d]
			if idx[d] < out[d] {
				break
			}
			ia -= sa[d] * out[d]
			ib -= sb[d] * out[d]
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binOpNames = [...]string{"Add", "Sub", "Mul", "Div"}

// binary computes a (op) b with broadcasting.
func binary[T Float](op binOp, a, b *Tensor[T]) *Tensor[T] {
	shape, ok := BroadcastShapes(a.shape, b.shape)
	if !ok {
		panic(fmt.Sprintf("engine.%s: shapes %v and %v do not broadcast", binOpNames[op], a.shape, b.shape))
	}
	out := New[T](shape...)
	x, y, z := a.data, b.data, out.data
	if sameShape(a.shape, b.shape) {
		binaryRun(op, z, x, y, 1, 1)
		return out
	}
	walk2(shape, broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape), func(o, ia, ib, n, sa, sb int) {
		binaryRun(op, z[o:o+n], x[ia:], y[ib:], sa, sb)
	})
	return out
}

// binaryRun is the inner loop: z[k] = x[k*sa] op y[k*sb], strides 0 or 1.
func binaryRun[T Float](op binOp, z, x, y []T, sa, sb int) {
	n := len(z)
	switch {
	case sa == 1 && sb == 1:
		x, y = x[:n], y[:n]
		switch op {
		case opAdd:
			for i := range z {
				z[i] = x[i] + y[i]
			}
		case opSub:
			for i := range z {
				z[i] = x[i] - y[i]
			}
		case opMul:
			for i := range z {
				z[i] = x[i] * y[i]
			}
		case opDiv:
			for i := range z {
				z[i] = x[i] / y[i]
			}
		}
	case sa == 1 && sb == 0:
		x, c := x[:n], y[0]
		switch op {
		case opAdd:
			for i := range z {
				z[i] = x[i] + c
			}
		case opSub:
			for i := range z {
				z[i] = x[i] - c
			}
		case opMul:
			for i := range z {
				z[i] = x[i] * c
			}
		case opDiv:
			for i := range z {
				z[i] = x[i] / c
			}
		}
	default:
		for i := range z {
			u, v := x[i*sa], y[i*sb]
			switch op {
			case opAdd:
				z[i] = u + v
			case opSub:
				z[i] = u - v
			case opMul:
				z[i] = u * v
			case opDiv:
				z[i] = u / v
			}
		}
	}
}

// sumToTensor reduces g (of a broadcast shape) to shape by summing over the
// broadcast dimensions.
func sumToTensor[T Float](g *Tensor[T], shape []int) *Tensor[T] {
	if sameShape(g.shape, shape) {
		return g
	}
	if b, ok := BroadcastShapes(shape, g.shape); !ok || !sameShape(b, g.shape) {
		panic(fmt.Sprintf("engine.SumTo: cannot reduce shape %v to %v", g.shape, shape))
	}
	out := New[T](shape...)
	z, x := out.data, g.data
	walk2(g.shape, broadcastStrides(shape, g.shape), broadcastStrides(g.shape, g.shape), func(o, ia, ib, n, sa, sb int) {
		if sa == 0 {
			var s T
			for _, v := range x[ib : ib+n] {
				s += v
			}
			z[ia] += s
			return
		}
		zz := z[ia : ia+n]
		for i, v := range x[ib : ib+n] {
			zz[i] += v
		}
	})
	return out
}

// broadcastToTensor expands x to shape.
func broadcastToTensor[T Float](x *Tensor[T], shape []int) *Tensor[T] {
	if sameShape(x.shape, shape) {
		return x
	}
	if b, ok := BroadcastShapes(x.shape, shape); !ok || !sameShape(b, shape) {
		panic(fmt.Sprintf("engine.BroadcastTo: cannot broadcast shape %v to %v", x.shape, shape))
	}
	out := New[T](shape...)
	z, v := out.data, x.data
	walk2(shape, broadcastStrides(x.shape, shape), broadcastStrides(shape, shape), func(o, ia, _, n, sa, _ int) {
		if sa == 0 {
			c := v[ia]
			for i := range z[o : o+n] {
				z[o+i] = c
			}
			return
		}
		copy(z[o:o+n], v[ia:ia+n])
	})
	return out
}
