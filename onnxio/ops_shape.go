package onnxio

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

func init() {
	opTable["Reshape"] = opDef{compile: compileReshape, attrs: []string{"shape", "allowzero", "consumed_inputs"}}
	opTable["Flatten"] = opDef{compile: compileFlatten, attrs: []string{"axis"}}
	opTable["Squeeze"] = opDef{compile: compileSqueeze, attrs: []string{"axes"}}
	opTable["Unsqueeze"] = opDef{compile: compileUnsqueeze, attrs: []string{"axes"}}
	opTable["Transpose"] = opDef{compile: compileTranspose, attrs: []string{"perm"}}
	opTable["Concat"] = opDef{compile: compileConcat, attrs: []string{"axis"}}
	opTable["Shape"] = opDef{compile: compileShape, attrs: []string{"start", "end"}}
	opTable["Gather"] = opDef{compile: compileGather, attrs: []string{"axis"}}
	opTable["Constant"] = opDef{compile: compileConstant, attrs: []string{"value", "value_float", "value_floats", "value_int", "value_ints"}}
	opTable["ConstantOfShape"] = opDef{compile: compileConstantOfShape, attrs: []string{"value"}}
	opTable["Range"] = opDef{compile: compileRange}
}

// resolveReshape applies Reshape's rules for 0 (copy the input dim unless
// allowzero) and -1 (infer) to the requested shape.
func resolveReshape(in, req []int, allowZero bool, total int) ([]int, error) {
	out := make([]int, len(req))
	infer := -1
	known := 1
	for i, d := range req {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", req)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dim %d of a rank-%d input", req, i, len(in))
			}
			d = in[i]
		case d < 0:
			return nil, fmt.Errorf("shape %v has a negative dim", req)
		}
		out[i] = d
		known *= d
	}
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, req)
		}
		out[infer] = total / known
		known *= out[infer]
	}
	if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, req)
	}
	return out, nil
}

func compileReshape(c *nodeCtx) (opFunc, error) {
	allowZero, err := c.int("allowzero", 0)
	if err != nil {
		return nil, err
	}
	var attrShape []int
	if c.opset < 5 {
		var ok bool
		if attrShape, ok, err = c.ints("shape"); err != nil || !ok {
			return nil, errors.Join(err, errors.New("missing shape attribute"))
		}
	} else if err := c.nIn(2, 2); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		req := attrShape
		if req == nil {
			var err error
			if req, err = in[1].ints(); err != nil {
				return nil, fmt.Errorf("shape input: %w", err)
			}
		}
		shape, err := resolveReshape(in[0].shape, req, allowZero != 0, in[0].len())
		if err != nil {
			return nil, err
		}
		return []*value{rc.alias(in[0], shape)}, nil
	}, nil
}

func compileFlatten(c *nodeCtx) (opFunc, error) {
	axis, err := c.int("axis", 1)
	if err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		ax := int(axis)
		if ax < 0 {
			ax += len(x.shape)
		}
		if ax < 0 || ax > len(x.shape) {
			return nil, fmt.Errorf("axis %d out of range for rank %d", axis, len(x.shape))
		}
		outer := shapeSize(x.shape[:ax])
		return []*value{rc.alias(x, []int{outer, shapeSize(x.shape[ax:])})}, nil
	}, nil
}

// axesArg returns the axes from the attribute (old opsets) or from input 1.
func axesArg(c *nodeCtx, attrOpsetBelow int) (func(in []*value) ([]int, error), error) {
	if c.opset < attrOpsetBelow {
		axes, ok, err := c.ints("axes")
		if err != nil {
			return nil, err
		}
		return func([]*value) ([]int, error) {
			if !ok {
				return nil, nil
			}
			return axes, nil
		}, nil
	}
	return func(in []*value) ([]int, error) {
		if len(in) < 2 || in[1] == nil {
			return nil, nil
		}
		return in[1].ints()
	}, nil
}

func compileSqueeze(c *nodeCtx) (opFunc, error) {
	getAxes, err := axesArg(c, 13)
	if err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		axes, err := getAxes(in)
		if err != nil {
			return nil, err
		}
		drop := make([]bool, len(x.shape))
		if axes == nil {
			for i, d := range x.shape {
				drop[i] = d == 1
			}
		}
		for _, a := range axes {
			ax, err := normAxis(a, len(x.shape))
			if err != nil {
				return nil, err
			}
			if x.shape[ax] != 1 {
				return nil, fmt.Errorf("cannot squeeze axis %d of size %d", a, x.shape[ax])
			}
			drop[ax] = true
		}
		shape := []int{}
		for i, d := range x.shape {
			if !drop[i] {
				shape = append(shape, d)
			}
		}
		return []*value{rc.alias(x, shape)}, nil
	}, nil
}

func compileUnsqueeze(c *nodeCtx) (opFunc, error) {
	getAxes, err := axesArg(c, 13)
	if err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		axes, err := getAxes(in)
		if err != nil {
			return nil, err
		}
		if axes == nil {
			return nil, errors.New("axes are required")
		}
		rank := len(x.shape) + len(axes)
		ins := make([]bool, rank)
		for _, a := range axes {
			ax, err := normAxis(a, rank)
			if err != nil {
				return nil, err
			}
			if ins[ax] {
				return nil, fmt.Errorf("axis %d repeated", a)
			}
			ins[ax] = true
		}
		shape := make([]int, rank)
		k := 0
		for i := range shape {
			if ins[i] {
				shape[i] = 1
			} else {
				shape[i] = x.shape[k]
				k++
			}
		}
		return []*value{rc.alias(x, shape)}, nil
	}, nil
}

// transposeT permutes src of shape into dst.
// transposeT writes src (of shape) transposed by perm to dst. Size-1 axes
// are dropped and input axes that stay neighbours merged first; then
// contiguous runs are copied whole (ShuffleNet's channel shuffle moves
// whole planes), a swap of the last two axes (NCHW ↔ NHWC, as ConvNeXt
// does around its layer norms) goes tile by tile (kernel.Transpose32 for
// 32-bit elements), and anything else element by element.
func transposeT[T any](dst, src []T, shape, perm []int) {
	if len(src) == 0 {
		return
	}
	s, p := coalescePerm(shape, perm)
	r := len(s)
	switch {
	case r <= 1:
		copy(dst, src)
	case p[r-1] == r-1 && s[r-1] >= 16:
		transposeRuns(dst, src, s, p)
	case p[r-1] == r-2 && p[r-2] == r-1 && slices.Equal(p[:r-2], identityPerm(r-2)):
		rows, cols := s[r-2], s[r-1]
		d32, is32 := any(dst).([]uint32) // float32 moves as its bits
		s32, _ := any(src).([]uint32)
		for b := 0; b < len(src); b += rows * cols {
			if is32 {
				kernel.Transpose32(d32[b:b+rows*cols], s32[b:b+rows*cols], rows, cols)
			} else {
				transpose2D(dst[b:b+rows*cols], src[b:b+rows*cols], rows, cols)
			}
		}
	default:
		transposeElems(dst, src, s, p)
	}
}

// coalescePerm returns shape and perm with the size-1 axes dropped and
// each run of input axes that perm keeps together and in order merged
// into one: the same transposition on fewer, longer axes.
func coalescePerm(shape, perm []int) (s, p []int) {
	var q []int // perm over the axes longer than 1
	newIdx := make([]int, len(shape))
	kept := 0
	for a, d := range shape {
		if d != 1 {
			newIdx[a] = kept
			kept++
		}
	}
	var sizes []int
	for _, d := range shape {
		if d != 1 {
			sizes = append(sizes, d)
		}
	}
	for _, a := range perm {
		if shape[a] != 1 {
			q = append(q, newIdx[a])
		}
	}
	// Groups of q, in output order: consecutive input axes.
	var first, size []int
	for k, a := range q {
		if k > 0 && a == q[k-1]+1 {
			size[len(size)-1] *= sizes[a]
			continue
		}
		first = append(first, a)
		size = append(size, sizes[a])
	}
	// A group's input position is the rank of its first axis.
	order := make([]int, len(first))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return first[x] - first[y] })
	s = make([]int, len(first))
	p = make([]int, len(first))
	for pos, g := range order {
		s[pos] = size[g]
		p[g] = pos
	}
	return s, p
}

func identityPerm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// transpose2D sets dst[j*rows+i] = src[i*cols+j] for a rows×cols src, in
// tiles small enough that the rows read and written stay in cache.
func transpose2D[T any](dst, src []T, rows, cols int) {
	const tile = 16
	for i0 := 0; i0 < rows; i0 += tile {
		i1 := min(rows, i0+tile)
		for j0 := 0; j0 < cols; j0 += tile {
			for j := j0; j < min(cols, j0+tile); j++ {
				d := dst[j*rows+i0 : j*rows+i1]
				for i := range d {
					d[i] = src[(i0+i)*cols+j]
				}
			}
		}
	}
}

// transposeRuns is transposeElems for a perm that keeps the last axis in
// place: each output run of shape[last] (at least 16) elements is one
// copy.
func transposeRuns[T any](dst, src []T, shape, perm []int) {
	r := len(shape)
	inner := shape[r-1]
	// The source run of every output run, by the element loop on the
	// outer axes.
	runs := make([]int, len(src)/inner)
	transposeElems(runs, iotaInts(len(runs)), shape[:r-1], perm[:r-1])
	for k, o := range runs {
		copy(dst[k*inner:(k+1)*inner], src[o*inner:(o+1)*inner])
	}
}

func iotaInts(n int) []int {
	v := make([]int, n)
	for i := range v {
		v[i] = i
	}
	return v
}

// transposeElems is transposeT one element at a time.
func transposeElems[T any](dst, src []T, shape, perm []int) {
	rank := len(shape)
	if len(src) == 0 {
		return
	}
	if rank == 0 {
		dst[0] = src[0]
		return
	}
	inStride := make([]int, rank)
	acc := 1
	for i := rank - 1; i >= 0; i-- {
		inStride[i] = acc
		acc *= shape[i]
	}
	oshape := make([]int, rank)
	st := make([]int, rank) // input stride of each output dim
	for i, p := range perm {
		oshape[i] = shape[p]
		st[i] = inStride[p]
	}
	inner, innerStride := oshape[rank-1], st[rank-1]
	idx := make([]int, rank)
	off := 0
	for o := 0; o < len(dst); o += inner {
		p := off
		for j := range inner {
			dst[o+j] = src[p]
			p += innerStride
		}
		for d := rank - 2; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < oshape[d] {
				break
			}
			off -= st[d] * oshape[d]
			idx[d] = 0
		}
	}
}

func compileTranspose(c *nodeCtx) (opFunc, error) {
	perm, hasPerm, err := c.ints("perm")
	if err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		rank := len(x.shape)
		p := perm
		if !hasPerm {
			p = make([]int, rank)
			for i := range p {
				p[i] = rank - 1 - i
			}
		}
		if len(p) != rank {
			return nil, fmt.Errorf("perm %v does not match rank %d", p, rank)
		}
		seen := make([]bool, rank)
		oshape := make([]int, rank)
		for i, a := range p {
			if a < 0 || a >= rank || seen[a] {
				return nil, fmt.Errorf("perm %v is not a permutation", p)
			}
			seen[a] = true
			oshape[i] = x.shape[a]
		}
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		moveElems(x.data, out.data,
			func(s, d []uint8) { transposeT(d, s, x.shape, p) },
			func(s, d []uint16) { transposeT(d, s, x.shape, p) },
			func(s, d []uint32) { transposeT(d, s, x.shape, p) },
			func(s, d []uint64) { transposeT(d, s, x.shape, p) })
		return []*value{out}, nil
	}, nil
}

// concatT copies each input's chunk of every outer block into dst.
func concatT[T any](dst []T, srcs [][]T, chunks []int, outer int) {
	o := 0
	for b := range outer {
		for i, s := range srcs {
			n := chunks[i]
			copy(dst[o:o+n], s[b*n:(b+1)*n])
			o += n
		}
	}
}

func compileConcat(c *nodeCtx) (opFunc, error) {
	axis, err := c.int("axis", 1)
	if err != nil {
		return nil, err
	}
	if c.opset >= 4 && c.node.Attr("axis") == nil {
		return nil, errors.New("missing axis attribute")
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		if len(in) == 0 || in[0] == nil {
			return nil, errors.New("no inputs")
		}
		first := in[0]
		rank := len(first.shape)
		ax, err := normAxis(int(axis), rank)
		if err != nil {
			return nil, err
		}
		oshape := slices.Clone(first.shape)
		oshape[ax] = 0
		chunks := make([]int, len(in))
		for i, v := range in {
			if v == nil || v.dt != first.dt || len(v.shape) != rank {
				return nil, fmt.Errorf("input %d is missing or does not match input 0's type and rank", i)
			}
			for d := range rank {
				if d != ax && v.shape[d] != first.shape[d] {
					return nil, fmt.Errorf("input %d shape %v does not match %v outside axis %d", i, v.shape, first.shape, ax)
				}
			}
			oshape[ax] += v.shape[ax]
			chunks[i] = shapeSize(v.shape[ax:])
		}
		out, err := rc.alloc(first.dt, oshape)
		if err != nil {
			return nil, err
		}
		outer := shapeSize(oshape[:ax])
		gather := make([]any, len(in))
		for i, v := range in {
			gather[i] = v.data
		}
		moveElems(first.data, out.data,
			func(_, d []uint8) { concatT(d, viewsOf[uint8](gather), chunks, outer) },
			func(_, d []uint16) { concatT(d, viewsOf[uint16](gather), chunks, outer) },
			func(_, d []uint32) { concatT(d, viewsOf[uint32](gather), chunks, outer) },
			func(_, d []uint64) { concatT(d, viewsOf[uint64](gather), chunks, outer) })
		return []*value{out}, nil
	}, nil
}

func compileShape(c *nodeCtx) (opFunc, error) {
	start, err := c.int("start", 0)
	if err != nil {
		return nil, err
	}
	endAttr := c.node.Attr("end")
	return func(rc *runCtx, in []*value) ([]*value, error) {
		rank := len(in[0].shape)
		clamp := func(v int) int {
			if v < 0 {
				v += rank
			}
			return min(max(v, 0), rank)
		}
		s, e := clamp(int(start)), rank
		if endAttr != nil {
			e = clamp(int(endAttr.I))
		}
		dims := []int64{}
		for i := s; i < e; i++ {
			dims = append(dims, int64(in[0].shape[i]))
		}
		return []*value{{dt: Int64, shape: []int{len(dims)}, data: dims}}, nil
	}, nil
}

// gatherT copies rows of data selected by idx along one axis.
func gatherT[T any](dst, src []T, idx []int, outer, axisLen, inner int) {
	o := 0
	for b := range outer {
		base := b * axisLen * inner
		for _, k := range idx {
			copy(dst[o:o+inner], src[base+k*inner:base+(k+1)*inner])
			o += inner
		}
	}
}

func compileGather(c *nodeCtx) (opFunc, error) {
	axis, err := c.int("axis", 0)
	if err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x, ind := in[0], in[1]
		ax, err := normAxis(int(axis), len(x.shape))
		if err != nil {
			return nil, err
		}
		idx, err := ind.ints()
		if err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		n := x.shape[ax]
		for i, k := range idx {
			if k < -n || k >= n {
				return nil, fmt.Errorf("index %d out of range for axis of size %d", k, n)
			}
			if k < 0 {
				idx[i] = k + n
			}
		}
		oshape := append(append(slices.Clone(x.shape[:ax]), ind.shape...), x.shape[ax+1:]...)
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		outer, inner := shapeSize(x.shape[:ax]), shapeSize(x.shape[ax+1:])
		moveElems(x.data, out.data,
			func(s, d []uint8) { gatherT(d, s, idx, outer, n, inner) },
			func(s, d []uint16) { gatherT(d, s, idx, outer, n, inner) },
			func(s, d []uint32) { gatherT(d, s, idx, outer, n, inner) },
			func(s, d []uint64) { gatherT(d, s, idx, outer, n, inner) })
		return []*value{out}, nil
	}, nil
}

func compileConstant(c *nodeCtx) (opFunc, error) {
	if len(c.node.Attributes) != 1 {
		return nil, errors.New("Constant needs exactly one value attribute")
	}
	a := c.node.Attributes[0]
	var v *value
	switch a.Name {
	case "value":
		if a.T == nil {
			return nil, errors.New("attribute value has no tensor")
		}
		var err error
		if v, err = a.T.toValue(c.pb.lim); err != nil {
			return nil, err
		}
	case "value_float":
		v = &value{dt: Float, shape: []int{}, data: []float32{a.F}}
	case "value_floats":
		v = &value{dt: Float, shape: []int{len(a.Floats)}, data: slices.Clone(a.Floats)}
	case "value_int":
		v = &value{dt: Int64, shape: []int{}, data: []int64{a.I}}
	case "value_ints":
		v = &value{dt: Int64, shape: []int{len(a.Ints)}, data: slices.Clone(a.Ints)}
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		return []*value{v}, nil
	}, nil
}

func compileConstantOfShape(c *nodeCtx) (opFunc, error) {
	fill := &value{dt: Float, shape: []int{1}, data: []float32{0}}
	if a := c.node.Attr("value"); a != nil {
		if a.T == nil {
			return nil, errors.New("attribute value has no tensor")
		}
		v, err := a.T.toValue(c.pb.lim)
		if err != nil {
			return nil, err
		}
		if v.len() != 1 {
			return nil, fmt.Errorf("value has %d elements, want 1", v.len())
		}
		fill = v
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		dims, err := in[0].ints()
		if err != nil {
			return nil, fmt.Errorf("shape input: %w", err)
		}
		out, err := rc.alloc(fill.dt, dims)
		if err != nil {
			return nil, err
		}
		moveElems(fill.data, out.data,
			func(s, d []uint8) { fillT(d, s[0]) }, func(s, d []uint16) { fillT(d, s[0]) },
			func(s, d []uint32) { fillT(d, s[0]) }, func(s, d []uint64) { fillT(d, s[0]) })
		return []*value{out}, nil
	}, nil
}

func fillT[T any](d []T, v T) {
	for i := range d {
		d[i] = v
	}
}

// rangeScalar returns the one element of a Range input, which must have T.
func rangeScalar[T number](v *value, what string) (T, error) {
	s, ok := v.data.([]T)
	if !ok || len(s) != 1 {
		var z T
		return z, fmt.Errorf("%s must be a scalar of the start's type, got %v %v", what, v.dt, v.shape)
	}
	return s[0], nil
}

// rangeCount is Range's element count max(ceil((limit-start)/delta), 0),
// or an error when it is not finite or exceeds maxElems. Integer counts are
// computed in uint64 so that extreme bounds cannot overflow.
func rangeCount[T number](start, limit, delta T, maxElems int64) (int, error) {
	if delta == 0 {
		return 0, errors.New("delta is 0")
	}
	if isFloatType[T]() {
		n := math.Ceil((float64(limit) - float64(start)) / float64(delta))
		if n != n {
			return 0, fmt.Errorf("range %v to %v by %v has no length", start, limit, delta)
		}
		if n > float64(maxElems) {
			return 0, fmt.Errorf("range %v to %v by %v exceeds the %d-element limit", start, limit, delta, maxElems)
		}
		return int(max(n, 0)), nil
	}
	s, l, d := int64(start), int64(limit), int64(delta)
	var span, step uint64
	switch {
	case d > 0 && l > s:
		span, step = uint64(l)-uint64(s), uint64(d)
	case d < 0 && l < s:
		span, step = uint64(s)-uint64(l), -uint64(d)
	default:
		return 0, nil
	}
	n := span / step
	if span%step != 0 {
		n++
	}
	if n > uint64(maxElems) {
		return 0, fmt.Errorf("range %v to %v by %v exceeds the %d-element limit", start, limit, delta, maxElems)
	}
	return int(n), nil
}

func rangeT[T number](rc *runCtx, in []*value, first []T) (*value, error) {
	limit, err1 := rangeScalar[T](in[1], "limit")
	delta, err2 := rangeScalar[T](in[2], "delta")
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	n, err := rangeCount(first[0], limit, delta, rc.lim.MaxTensorElements)
	if err != nil {
		return nil, err
	}
	out, err := rc.alloc(in[0].dt, []int{n})
	if err != nil {
		return nil, err
	}
	o := out.data.([]T)
	for i := range o {
		if isFloatType[T]() {
			// start + i·delta rather than repeated addition, whose
			// rounding error would grow along the range.
			o[i] = T(float64(first[0]) + float64(i)*float64(delta))
		} else {
			o[i] = first[0] + T(i)*delta
		}
	}
	return out, nil
}

// compileRange builds Range-11: start, limit and delta are scalars of one
// numeric type.
func compileRange(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(3, 3); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		if in[0].len() != 1 {
			return nil, fmt.Errorf("start must be a scalar, got shape %v", in[0].shape)
		}
		var out *value
		var err error
		switch s := in[0].data.(type) {
		case []float32:
			out, err = rangeT(rc, in, s)
		case []float64:
			out, err = rangeT(rc, in, s)
		case []int64:
			out, err = rangeT(rc, in, s)
		case []int32:
			out, err = rangeT(rc, in, s)
		case []int16:
			out, err = rangeT(rc, in, s)
		default:
			err = fmt.Errorf("data type %v is not supported", in[0].dt)
		}
		if err != nil {
			return nil, err
		}
		return []*value{out}, nil
	}, nil
}
