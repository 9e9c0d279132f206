package onnxio

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Ops that copy a strided region of one tensor into another: Slice, Split,
// Expand, Pad and ScatterND. Each result is bounded by the input or by an allocation
// that rc.alloc checks and charges, so their work needs no extra charge.

func init() {
	opTable["Slice"] = opDef{compile: compileSlice, attrs: []string{"starts", "ends", "axes"}}
	opTable["Split"] = opDef{compile: compileSplit, attrs: []string{"axis", "split", "num_outputs"}}
	opTable["Expand"] = opDef{compile: compileExpand}
	opTable["Pad"] = opDef{compile: compilePad, attrs: []string{"mode", "pads", "paddings", "value"}}
	opTable["ScatterND"] = opDef{compile: compileScatterND, attrs: []string{"reduction"}}
}

// rowStrides returns the row-major element strides of shape.
func rowStrides(shape []int) []int {
	st := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= shape[i]
	}
	return st
}

// stridedCopy fills dst (of shape oshape) with src[base + Σ idx[d]·strides[d]].
// Strides may be 0 (broadcast) or negative (reversed slices).
func stridedCopy[T any](dst, src []T, oshape []int, base int, strides []int) {
	if len(dst) == 0 {
		return
	}
	rank := len(oshape)
	if rank == 0 {
		dst[0] = src[base]
		return
	}
	inner, is := oshape[rank-1], strides[rank-1]
	idx := make([]int, rank)
	off := base
	for o := 0; o < len(dst); o += inner {
		if is == 1 {
			copy(dst[o:o+inner], src[off:off+inner])
		} else {
			p := off
			for j := range inner {
				dst[o+j] = src[p]
				p += is
			}
		}
		for d := rank - 2; d >= 0; d-- {
			idx[d]++
			off += strides[d]
			if idx[d] < oshape[d] {
				break
			}
			off -= strides[d] * oshape[d]
			idx[d] = 0
		}
	}
}

// copyStrided runs stridedCopy on any element type (dst and src share it).
func copyStrided(dst, src any, oshape []int, base int, strides []int) {
	moveElems(src, dst,
		func(s, d []uint8) { stridedCopy(d, s, oshape, base, strides) },
		func(s, d []uint16) { stridedCopy(d, s, oshape, base, strides) },
		func(s, d []uint32) { stridedCopy(d, s, oshape, base, strides) },
		func(s, d []uint64) { stridedCopy(d, s, oshape, base, strides) })
}

// sliceGeometry applies Slice's clamping rules and returns the output
// shape, the flat offset of its first element and the input stride of each
// output dim. axes and steps may be nil (all leading axes, unit steps).
func sliceGeometry(shape, starts, ends, axes, steps []int) (oshape []int, base int, strides []int, err error) {
	rank := len(shape)
	if len(ends) != len(starts) {
		return nil, 0, nil, fmt.Errorf("%d starts but %d ends", len(starts), len(ends))
	}
	if axes == nil {
		if len(starts) > rank {
			return nil, 0, nil, fmt.Errorf("%d starts for a rank-%d input", len(starts), rank)
		}
		axes = make([]int, len(starts))
		for i := range axes {
			axes[i] = i
		}
	}
	if len(axes) != len(starts) || (steps != nil && len(steps) != len(starts)) {
		return nil, 0, nil, fmt.Errorf("starts, ends, axes and steps have %d, %d, %d and %d elements", len(starts), len(ends), len(axes), len(steps))
	}
	st := rowStrides(shape)
	oshape, strides = slices.Clone(shape), slices.Clone(st)
	seen := make([]bool, rank)
	for i, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, 0, nil, err
		}
		if seen[ax] {
			return nil, 0, nil, fmt.Errorf("axis %d repeated", a)
		}
		seen[ax] = true
		step := 1
		if steps != nil {
			step = steps[i]
		}
		if step == 0 {
			return nil, 0, nil, errors.New("step 0")
		}
		dim := shape[ax]
		s, e := starts[i], ends[i]
		if s < 0 {
			s += dim
		}
		if e < 0 {
			e += dim
		}
		n := 0
		if step > 0 {
			s, e = min(max(s, 0), dim), min(max(e, 0), dim)
			if e > s {
				n = (e-s-1)/step + 1
			}
		} else {
			s, e = min(max(s, 0), dim-1), min(max(e, -1), dim-1)
			if s > e {
				if ns := -step; ns > 0 {
					n = (s-e-1)/ns + 1
				} else {
					n = 1 // step is the most negative int
				}
			}
		}
		oshape[ax] = n
		if n > 0 {
			base += s * st[ax]
		}
		strides[ax] = 0
		if n > 1 {
			strides[ax] = step * st[ax] // |step·(n-1)| < dim, so no overflow
		}
	}
	return oshape, base, strides, nil
}

// optInts reads integer input i, or returns nil when it is absent.
func optInts(in []*value, i int, what string) ([]int, error) {
	if i >= len(in) || in[i] == nil {
		return nil, nil
	}
	v, err := in[i].ints()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// compileSlice handles Slice-1 (starts, ends, axes attributes) and
// Slice-10+ (the same as inputs, plus steps).
func compileSlice(c *nodeCtx) (opFunc, error) {
	var aStarts, aEnds, aAxes []int
	if c.opset < 10 {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
		var ok1, ok2 bool
		var err1, err2, err3 error
		aStarts, ok1, err1 = c.ints("starts")
		aEnds, ok2, err2 = c.ints("ends")
		aAxes, _, err3 = c.ints("axes")
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, err
		}
		if !ok1 || !ok2 {
			return nil, errors.New("missing starts or ends attribute")
		}
	} else {
		if err := c.nIn(3, 5); err != nil {
			return nil, err
		}
		if len(c.node.Attributes) > 0 {
			return nil, fmt.Errorf("starts, ends and axes are inputs from opset 10, not attributes (model opset %d)", c.opset)
		}
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		starts, ends, axes, steps := aStarts, aEnds, aAxes, []int(nil)
		if c.opset >= 10 {
			var err1, err2, err3, err4 error
			starts, err1 = optInts(in, 1, "starts")
			ends, err2 = optInts(in, 2, "ends")
			axes, err3 = optInts(in, 3, "axes")
			steps, err4 = optInts(in, 4, "steps")
			if err := errors.Join(err1, err2, err3, err4); err != nil {
				return nil, err
			}
		}
		oshape, base, strides, err := sliceGeometry(x.shape, starts, ends, axes, steps)
		if err != nil {
			return nil, err
		}
		if shapeEq(oshape, x.shape) && base == 0 && shapeEq(strides, rowStrides(x.shape)) {
			return []*value{rc.alias(x, oshape)}, nil // the whole tensor
		}
		if f, ok := x.data.([]float32); ok && shapeSize(oshape) > 0 && contiguousSlice(oshape, strides) {
			// One run of the input (ShuffleNet's channel split of one
			// image): a view, no copy.
			n := shapeSize(oshape)
			return []*value{rc.aliasData(x, oshape, f[base:base+n:base+n])}, nil
		}
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		copyStrided(out.data, x.data, oshape, base, strides)
		return []*value{out}, nil
	}, nil
}

// contiguousSlice reports whether a slice of shape oshape whose dims step
// through the input by strides is one run of consecutive input elements.
func contiguousSlice(oshape, strides []int) bool {
	want := rowStrides(oshape)
	for d, n := range oshape {
		if n > 1 && strides[d] != want[d] {
			return false
		}
	}
	return true
}

// compileSplit handles the split sizes as an attribute (before opset 13),
// as input 1 (13+), or equal parts (num_outputs from 18, where the last
// part may be smaller).
func compileSplit(c *nodeCtx) (opFunc, error) {
	axis, err := c.int("axis", 0)
	if err != nil {
		return nil, err
	}
	attrSplit, hasAttr, err := c.ints("split")
	if err != nil {
		return nil, err
	}
	nout := len(c.node.Outputs)
	if nout == 0 {
		return nil, errors.New("Split needs at least one output")
	}
	if c.opset < 13 {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
	} else {
		if err := c.nIn(1, 2); err != nil {
			return nil, err
		}
		if hasAttr {
			return nil, fmt.Errorf("split is an input from opset 13, not an attribute (model opset %d)", c.opset)
		}
	}
	if a := c.node.Attr("num_outputs"); a != nil {
		if c.opset < 18 {
			return nil, fmt.Errorf("attribute num_outputs needs opset 18 (model opset %d)", c.opset)
		}
		if a.I != int64(nout) {
			return nil, fmt.Errorf("num_outputs is %d but the node has %d outputs", a.I, nout)
		}
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		ax, err := normAxis(int(axis), len(x.shape))
		if err != nil {
			return nil, err
		}
		dim := x.shape[ax]
		sizes := attrSplit
		if !hasAttr {
			if sizes, err = optInts(in, 1, "split"); err != nil {
				return nil, err
			}
		}
		if sizes == nil {
			if sizes, err = equalSplit(dim, nout, c.opset >= 18); err != nil {
				return nil, err
			}
		}
		if len(sizes) != nout {
			return nil, fmt.Errorf("%d split sizes for %d outputs", len(sizes), nout)
		}
		total := 0
		for _, s := range sizes {
			if s < 0 || s > dim-total {
				return nil, fmt.Errorf("split sizes %v do not add up to axis size %d", sizes, dim)
			}
			total += s
		}
		if total != dim {
			return nil, fmt.Errorf("split sizes %v do not add up to axis size %d", sizes, dim)
		}
		st := rowStrides(x.shape)
		outs := make([]*value, nout)
		off := 0
		for i, s := range sizes {
			if c.node.Outputs[i] != "" {
				oshape := slices.Clone(x.shape)
				oshape[ax] = s
				out, err := rc.alloc(x.dt, oshape)
				if err != nil {
					for _, o := range outs {
						rc.release(o)
					}
					return nil, err
				}
				copyStrided(out.data, x.data, oshape, off*st[ax], st)
				outs[i] = out
			}
			off += s
		}
		return outs, nil
	}, nil
}

// equalSplit divides dim into n parts: exactly (ceil is false) or with a
// smaller last part (Split-18).
func equalSplit(dim, n int, ceil bool) ([]int, error) {
	part := dim / n
	if dim%n != 0 {
		if !ceil {
			return nil, fmt.Errorf("axis size %d does not split into %d equal parts", dim, n)
		}
		part++
	}
	sizes := make([]int, n)
	for i := range sizes {
		sizes[i] = min(part, dim)
		dim -= sizes[i]
	}
	return sizes, nil
}

func compileExpand(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(2, 2); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		dims, err := in[1].ints()
		if err != nil {
			return nil, fmt.Errorf("shape input: %w", err)
		}
		if len(dims) > rc.lim.MaxRank {
			return nil, fmt.Errorf("shape has rank %d, limit is %d", len(dims), rc.lim.MaxRank)
		}
		oshape, err := broadcastShapes(x.shape, dims)
		if err != nil {
			return nil, err
		}
		if shapeEq(oshape, x.shape) {
			return []*value{rc.alias(x, oshape)}, nil
		}
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		copyStrided(out.data, x.data, oshape, 0, bcastStrides(x.shape, oshape))
		return []*value{out}, nil
	}, nil
}

// compilePad handles Pad-1 (paddings attribute), Pad-2 (pads and value
// attributes) and Pad-11+ (pads, constant_value and, from 18, axes as
// inputs), in constant, reflect and edge modes. Negative pads crop.
func compilePad(c *nodeCtx) (opFunc, error) {
	mode, err := c.str("mode", "constant")
	if err != nil {
		return nil, err
	}
	switch mode {
	case "constant", "reflect", "edge":
	default:
		return nil, fmt.Errorf("mode %q is not supported", mode)
	}
	var attrPads []int
	var attrValue float32
	if c.opset < 11 {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
		name := "pads"
		if c.opset < 2 {
			name = "paddings"
		}
		var ok bool
		if attrPads, ok, err = c.ints(name); err != nil || !ok {
			return nil, errors.Join(err, fmt.Errorf("missing %s attribute", name))
		}
		if attrValue, err = c.float("value", 0); err != nil {
			return nil, err
		}
	} else {
		if err := c.nIn(2, 4); err != nil {
			return nil, err
		}
		if c.node.Attr("pads") != nil || c.node.Attr("value") != nil || c.node.Attr("paddings") != nil {
			return nil, fmt.Errorf("pads and value are inputs from opset 11, not attributes (model opset %d)", c.opset)
		}
		if c.opset < 18 && len(c.node.Inputs) > 3 && c.node.Inputs[3] != "" {
			return nil, fmt.Errorf("the axes input needs opset 18 (model opset %d)", c.opset)
		}
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		rank := len(x.shape)
		pads := attrPads
		if c.opset >= 11 {
			var err error
			if pads, err = in[1].ints(); err != nil {
				return nil, fmt.Errorf("pads: %w", err)
			}
		}
		axes, err := optInts(in, 3, "axes")
		if err != nil {
			return nil, err
		}
		if axes == nil {
			axes = make([]int, rank)
			for i := range axes {
				axes[i] = i
			}
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("%d pads for %d axes, want %d", len(pads), len(axes), 2*len(axes))
		}
		begin, end := make([]int, rank), make([]int, rank)
		seen := make([]bool, rank)
		for i, a := range axes {
			ax, err := normAxis(a, rank)
			if err != nil {
				return nil, err
			}
			if seen[ax] {
				return nil, fmt.Errorf("axis %d repeated", a)
			}
			seen[ax] = true
			begin[ax], end[ax] = pads[i], pads[i+len(axes)]
		}
		oshape := make([]int, rank)
		for d, n := range x.shape {
			// Pads are bounded so that the sums below cannot overflow.
			if abs(begin[d]) > math.MaxInt32 || abs(end[d]) > math.MaxInt32 {
				return nil, fmt.Errorf("pads %v are out of range", pads)
			}
			if oshape[d] = n + begin[d] + end[d]; oshape[d] < 0 {
				return nil, fmt.Errorf("pads %v crop more than the input %v holds", pads, x.shape)
			}
			if mode != "constant" && n == 0 && oshape[d] > 0 {
				return nil, fmt.Errorf("cannot %s-pad axis %d of size 0", mode, d)
			}
		}
		if !slices.ContainsFunc(begin, func(p int) bool { return p != 0 }) && !slices.ContainsFunc(end, func(p int) bool { return p != 0 }) {
			return []*value{rc.alias(x, x.shape)}, nil
		}
		fill, err := padValue(in, x.dt, attrValue, c.opset < 11)
		if err != nil {
			return nil, err
		}
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		maps := make([][]int, rank)
		for d := range rank {
			maps[d] = padMap(x.shape[d], oshape[d], begin[d], mode)
		}
		fv := []any{fill.data}
		moveElems(x.data, out.data,
			func(s, d []uint8) { padT(d, s, x.shape, oshape, maps, viewsOf[uint8](fv)[0][0]) },
			func(s, d []uint16) { padT(d, s, x.shape, oshape, maps, viewsOf[uint16](fv)[0][0]) },
			func(s, d []uint32) { padT(d, s, x.shape, oshape, maps, viewsOf[uint32](fv)[0][0]) },
			func(s, d []uint64) { padT(d, s, x.shape, oshape, maps, viewsOf[uint64](fv)[0][0]) })
		return []*value{out}, nil
	}, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// padValue returns the constant-mode fill as a one-element value of type
// dt: the value attribute (Pad before 11) or the optional input 2.
func padValue(in []*value, dt DataType, attrValue float32, fromAttr bool) (*value, error) {
	v := &value{dt: dt, shape: []int{1}, data: newData(dt, 1)}
	if fromAttr {
		return v, castInto(v.data, []float32{attrValue})
	}
	if len(in) < 3 || in[2] == nil {
		return v, nil
	}
	if in[2].dt != dt || in[2].len() != 1 {
		return nil, fmt.Errorf("constant_value must be a %v scalar like the input, got %v %v", dt, in[2].dt, in[2].shape)
	}
	return in[2], nil
}

// padMap gives, for each output index along one axis of size n, the input
// index it copies, or -1 for the constant fill. Reflection repeats with
// period 2(n-1) for pads wider than the axis, as numpy.pad does.
func padMap(n, on, begin int, mode string) []int {
	m := make([]int, on)
	for o := range m {
		i := o - begin
		if i < 0 || i >= n {
			switch mode {
			case "constant":
				i = -1
			case "edge":
				i = min(max(i, 0), n-1)
			case "reflect":
				if n == 1 {
					i = 0
					break
				}
				p := 2 * (n - 1)
				if i = i % p; i < 0 {
					i += p
				}
				if i >= n {
					i = p - i
				}
			}
		}
		m[o] = i
	}
	return m
}

// padT fills dst (oshape) from src (shape) through the per-axis maps,
// writing fill where a map gives -1.
func padT[T any](dst, src []T, shape, oshape []int, maps [][]int, fill T) {
	if len(dst) == 0 {
		return
	}
	rank := len(oshape)
	st := rowStrides(shape)
	inner := oshape[rank-1]
	last := maps[rank-1]
	idx := make([]int, rank)
	for o := 0; o < len(dst); o += inner {
		row := dst[o : o+inner]
		base, inside := 0, true
		for d := range rank - 1 {
			k := maps[d][idx[d]]
			if k < 0 {
				inside = false
				break
			}
			base += k * st[d]
		}
		if !inside {
			for j := range row {
				row[j] = fill
			}
		} else {
			for j, k := range last {
				if k < 0 {
					row[j] = fill
				} else {
					row[j] = src[base+k]
				}
			}
		}
		for d := rank - 2; d >= 0; d-- {
			if idx[d]++; idx[d] < oshape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// scatterT writes (or adds or multiplies) each slice of upd into out at the
// flat offsets offs, in order, so later indices win as in the reference.
func scatterT[T number](out, upd []T, offs []int, slice int, reduction string) {
	for j, off := range offs {
		dst, src := out[off:off+slice], upd[j*slice:(j+1)*slice]
		switch reduction {
		case "add":
			for i, v := range src {
				dst[i] += v
			}
		case "mul":
			for i, v := range src {
				dst[i] *= v
			}
		default:
			copy(dst, src)
		}
	}
}

// compileScatterND builds ScatterND-11/13/16: a copy of data with the
// slices addressed by the last axis of indices replaced by updates, or
// (reduction, opset 16) combined with them by addition or multiplication.
func compileScatterND(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(3, 3); err != nil {
		return nil, err
	}
	reduction, err := c.str("reduction", "none")
	if err != nil {
		return nil, err
	}
	if c.node.Attr("reduction") != nil && c.opset < 16 {
		return nil, fmt.Errorf("attribute reduction needs opset 16 (model opset %d)", c.opset)
	}
	switch reduction {
	case "none", "add", "mul":
	default:
		return nil, fmt.Errorf("reduction %q is not supported", reduction)
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		data, ind, upd := in[0], in[1], in[2]
		if upd.dt != data.dt {
			return nil, fmt.Errorf("updates have type %v, data %v", upd.dt, data.dt)
		}
		if len(ind.shape) == 0 {
			return nil, errors.New("indices must have at least one dim")
		}
		k := ind.shape[len(ind.shape)-1]
		if k > len(data.shape) {
			return nil, fmt.Errorf("indices address %d axes of rank-%d data", k, len(data.shape))
		}
		want := append(slices.Clone(ind.shape[:len(ind.shape)-1]), data.shape[k:]...)
		if !shapeEq(upd.shape, want) {
			return nil, fmt.Errorf("updates shape %v, want %v", upd.shape, want)
		}
		idx, err := ind.ints()
		if err != nil {
			return nil, fmt.Errorf("indices: %w", err)
		}
		st := rowStrides(data.shape)
		nrows := shapeSize(ind.shape[:len(ind.shape)-1])
		offs := make([]int, nrows)
		for j := range offs {
			off := 0
			for a := range k {
				i, n := idx[j*k+a], data.shape[a]
				if i < -n || i >= n {
					return nil, fmt.Errorf("index %d out of range for axis %d of size %d", i, a, n)
				}
				if i < 0 {
					i += n
				}
				off += i * st[a]
			}
			offs[j] = off
		}
		if err := rc.charge(int64(upd.len())); err != nil {
			return nil, err
		}
		out, err := rc.alloc(data.dt, data.shape)
		if err != nil {
			return nil, err
		}
		moveElems(data.data, out.data,
			func(s, d []uint8) { copy(d, s) }, func(s, d []uint16) { copy(d, s) },
			func(s, d []uint32) { copy(d, s) }, func(s, d []uint64) { copy(d, s) })
		slice := shapeSize(data.shape[k:])
		switch o := out.data.(type) {
		case []float32:
			scatterT(o, upd.data.([]float32), offs, slice, reduction)
		case []float64:
			scatterT(o, upd.data.([]float64), offs, slice, reduction)
		case []int64:
			scatterT(o, upd.data.([]int64), offs, slice, reduction)
		case []int32:
			scatterT(o, upd.data.([]int32), offs, slice, reduction)
		default:
			if reduction != "none" {
				rc.release(out)
				return nil, fmt.Errorf("reduction %s on %v is not supported", reduction, data.dt)
			}
			moveElems(upd.data, out.data,
				func(s, d []uint8) { scatterCopy(d, s, offs, slice) }, func(s, d []uint16) { scatterCopy(d, s, offs, slice) },
				func(s, d []uint32) { scatterCopy(d, s, offs, slice) }, func(s, d []uint64) { scatterCopy(d, s, offs, slice) })
		}
		return []*value{out}, nil
	}, nil
}

// scatterCopy is scatterT's "none" reduction for any element type.
func scatterCopy[T any](out, upd []T, offs []int, slice int) {
	for j, off := range offs {
		copy(out[off:off+slice], upd[j*slice:(j+1)*slice])
	}
}
