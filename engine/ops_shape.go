package engine

import "fmt"

// Reshape returns x with a new shape holding the same number of elements; the
// data is shared, not copied. One dimension may be -1, meaning "whatever is
// left".
func Reshape[T Float](x *Var[T], shape ...int) *Var[T] {
	t := x.value.Reshape(shape...)
	if sameShape(t.shape, x.value.shape) {
		return x
	}
	return record("Reshape", t, func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Reshape(g, in[0].Shape()...)}
	}, x)
}

// Flatten reshapes x to two dimensions like ONNX Flatten: the dimensions
// before axis multiply into the first, the rest into the second. axis may be
// negative (counting from the end) or equal to the rank.
func Flatten[T Float](x *Var[T], axis int) *Var[T] {
	r := x.value.Rank()
	if axis < -r || axis > r {
		panic(fmt.Sprintf("engine.Flatten: axis %d out of range for shape %v", axis, x.value.shape))
	}
	if axis < 0 {
		axis += r
	}
	rows := numElements(x.value.shape[:axis])
	return Reshape(x, rows, numElements(x.value.shape[axis:]))
}

// Transpose permutes the dimensions of x: dimension i of the result is
// dimension perm[i] of x. With no perm the dimensions are reversed.
func Transpose[T Float](x *Var[T], perm ...int) *Var[T] {
	r := x.value.Rank()
	if len(perm) == 0 {
		perm = make([]int, r)
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	if len(perm) != r {
		panic(fmt.Sprintf("engine.Transpose: permutation %v for shape %v", perm, x.value.shape))
	}
	p := make([]int, r)
	inv := make([]int, r)
	seen := make([]bool, r)
	identity := true
	for i, a := range perm {
		a = normAxis("Transpose", a, r)
		if seen[a] {
			panic(fmt.Sprintf("engine.Transpose: %v is not a permutation", perm))
		}
		seen[a] = true
		p[i], inv[a] = a, i
		identity = identity && a == i
	}
	if identity {
		return x
	}
	return record("Transpose", transposeTensor(x.value, p), func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Transpose(g, inv...)}
	}, x)
}

// transposeTensor copies x with its dimensions permuted by perm.
func transposeTensor[T Float](x *Tensor[T], perm []int) *Tensor[T] {
	r := len(perm)
	inStride := make([]int, r)
	s := 1
	for i := r - 1; i >= 0; i-- {
		inStride[i] = s
		s *= x.shape[i]
	}
	shape := make([]int, r)
	st := make([]int, r) // input stride of each output dimension
	for i, a := range perm {
		shape[i], st[i] = x.shape[a], inStride[a]
	}
	out := New[T](shape...)
	z, xs := out.data, x.data
	walk2(shape, st, st, func(o, ia, _, n, sa, _ int) {
		zz := z[o : o+n]
		for k := range zz {
			zz[k] = xs[ia+k*sa]
		}
	})
	return out
}

// copyBlocks copies, for each of outer blocks, n contiguous elements from
// src (blocks srcStride apart, starting at srcOff) to dst (dstStride apart,
// starting at dstOff), adding instead of copying when add is set.
func copyBlocks[T Float](dst []T, dstOff, dstStride int, src []T, srcOff, srcStride, outer, n int, add bool) {
	for o := 0; o < outer; o++ {
		d := dst[dstOff+o*dstStride : dstOff+o*dstStride+n]
		s := src[srcOff+o*srcStride : srcOff+o*srcStride+n]
		if add {
			for i, v := range s {
				d[i] += v
			}
		} else if n < 16 {
			// A copy call per block costs more than a short block.
			for i, v := range s {
				d[i] = v
			}
		} else {
			copy(d, s)
		}
	}
}

// Concat joins xs along axis (negative counts from the end). All inputs must
// have the same shape except along axis.
func Concat[T Float](axis int, xs ...*Var[T]) *Var[T] {
	if len(xs) == 0 {
		panic("engine.Concat: no inputs")
	}
	first := xs[0].value.shape
	axis = normAxis("Concat", axis, len(first))
	shape := cloneInts(first)
	shape[axis] = 0
	sizes := make([]int, len(xs))
	for i, x := range xs {
		s := x.value.shape
		ok := len(s) == len(first)
		for j := 0; ok && j < len(s); j++ {
			ok = j == axis || s[j] == first[j]
		}
		if !ok {
			panic(fmt.Sprintf("engine.Concat: input %d has shape %v, input 0 has %v (axis %d)", i, s, first, axis))
		}
		sizes[i] = s[axis]
		shape[axis] += s[axis]
	}
	if len(xs) == 1 {
		return xs[0]
	}
	out := New[T](shape...)
	outer, total, inner := axisSplit(shape, axis)
	off := 0
	for i, x := range xs {
		copyBlocks(out.data, off*inner, total*inner, x.value.data, 0, sizes[i]*inner, outer, sizes[i]*inner, false)
		off += sizes[i]
	}
	return record("Concat", out, func(g, _ *Var[T], _ []*Var[T], need []bool) []*Var[T] {
		res := make([]*Var[T], len(sizes))
		off := 0
		for i, n := range sizes {
			if need[i] {
				res[i] = Slice(g, axis, off, off+n)
			}
			off += n
		}
		return res
	}, xs...)
}

// Slice returns the elements of x with index in [start, end) along axis.
// Negative axis, start and end count from the end; after that the range must
// satisfy 0 ≤ start ≤ end ≤ size of the axis.
func Slice[T Float](x *Var[T], axis, start, end int) *Var[T] {
	shape := x.value.shape
	axis = normAxis("Slice", axis, len(shape))
	d := shape[axis]
	if start < 0 {
		start += d
	}
	if end < 0 {
		end += d
	}
	if start < 0 || start > end || end > d {
		panic(fmt.Sprintf("engine.Slice: range [%d, %d) out of bounds for axis %d of shape %v", start, end, axis, shape))
	}
	if start == 0 && end == d {
		return x
	}
	outShape := cloneInts(shape)
	outShape[axis] = end - start
	out := New[T](outShape...)
	outer, _, inner := axisSplit(shape, axis)
	n := (end - start) * inner
	copyBlocks(out.data, 0, n, x.value.data, start*inner, d*inner, outer, n, false)
	return record("Slice", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{padAxis(g, axis, start, d)}
	}, x)
}

// padAxis embeds x in zeros of size total along axis, at offset start: the
// adjoint of Slice.
func padAxis[T Float](x *Var[T], axis, start, total int) *Var[T] {
	shape := cloneInts(x.value.shape)
	n := shape[axis]
	shape[axis] = total
	out := New[T](shape...)
	outer, _, inner := axisSplit(shape, axis)
	copyBlocks(out.data, start*inner, total*inner, x.value.data, 0, n*inner, outer, n*inner, false)
	return record("Pad", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Slice(g, axis, start, start+n)}
	}, x)
}

// IndexSelect gathers the slices of x at positions idx along axis (negative
// counts from the end); indices may repeat. The result has len(idx) in place
// of that dimension. Its gradient adds back into the gathered positions.
func IndexSelect[T Float](x *Var[T], axis int, idx []int) *Var[T] {
	shape := x.value.shape
	axis = normAxis("IndexSelect", axis, len(shape))
	d := shape[axis]
	idx = append([]int(nil), idx...)
	for _, i := range idx {
		if i < 0 || i >= d {
			panic(fmt.Sprintf("engine.IndexSelect: index %d out of range for axis %d of shape %v", i, axis, shape))
		}
	}
	outShape := cloneInts(shape)
	outShape[axis] = len(idx)
	out := New[T](outShape...)
	outer, _, inner := axisSplit(shape, axis)
	for k, i := range idx {
		copyBlocks(out.data, k*inner, len(idx)*inner, x.value.data, i*inner, d*inner, outer, inner, false)
	}
	return record("IndexSelect", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{indexAdd(g, axis, idx, d)}
	}, x)
}

// indexAdd returns zeros of size d along axis into which slice k of x is
// added at position idx[k]: the adjoint of IndexSelect.
func indexAdd[T Float](x *Var[T], axis int, idx []int, d int) *Var[T] {
	shape := cloneInts(x.value.shape)
	shape[axis] = d
	out := New[T](shape...)
	outer, _, inner := axisSplit(shape, axis)
	for k, i := range idx {
		copyBlocks(out.data, i*inner, d*inner, x.value.data, k*inner, len(idx)*inner, outer, inner, true)
	}
	return record("IndexAdd", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{IndexSelect(g, axis, idx)}
	}, x)
}
