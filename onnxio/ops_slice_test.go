package onnxio

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func iota32(n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)
	}
	return s
}

// specIndices lists the positions x[start:stop:step] visits along an axis
// of size n under the Slice spec's clamping, written as a loop over
// candidate positions. It differs from Python's slicing only for a negative
// step whose start lies before the axis: Python visits nothing, the spec
// (and onnxruntime) clamps the start to 0 and visits position 0.
func specIndices(n, start, stop, step int) []int {
	if start < 0 {
		start += n
	}
	if stop < 0 {
		stop += n
	}
	var idx []int
	if step > 0 {
		start, stop = min(max(start, 0), n), min(max(stop, 0), n)
		for i := start; i < stop; i += step {
			idx = append(idx, i)
		}
		return idx
	}
	start, stop = min(max(start, 0), n-1), min(max(stop, -1), n-1)
	for i := start; i > stop; i += step {
		idx = append(idx, i)
	}
	return idx
}

// TestSliceRandom compares Slice-13 with per-axis index lists on random
// 3-D tensors, bounds, steps and axis orders.
func TestSliceRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := NewNode("Slice", "slice", []string{"x", "s", "e", "a", "p"}, []string{"y"})
	for range 200 {
		shape := []int{r.IntN(5), 1 + r.IntN(5), 1 + r.IntN(6)}
		x := iota32(shapeSize(shape))
		perm := r.Perm(3)[:1+r.IntN(3)]
		var starts, ends, axes, steps []int64
		sel := [][]int{}
		for d := range 3 {
			all := make([]int, shape[d])
			for i := range all {
				all[i] = i
			}
			sel = append(sel, all)
		}
		for _, d := range perm {
			st, en, sp := r.IntN(15)-7, r.IntN(15)-7, r.IntN(7)-3
			if sp == 0 {
				sp = 1
			}
			if r.IntN(5) == 0 {
				en = math.MaxInt64 // what PyTorch writes for x[a:]
				if sp < 0 {
					en = math.MinInt64
				}
			}
			ax := d
			if r.IntN(2) == 0 {
				ax -= 3 // negative axes count from the end
			}
			starts, ends, axes, steps = append(starts, int64(st)), append(ends, int64(en)), append(axes, int64(ax)), append(steps, int64(sp))
			sel[d] = specIndices(shape[d], st, en, sp)
		}
		var want []float32
		for _, i := range sel[0] {
			for _, j := range sel[1] {
				for _, k := range sel[2] {
					want = append(want, x[(i*shape[1]+j)*shape[2]+k])
				}
			}
		}
		k := int64(len(perm))
		out := mustRun(t, 13, n, tv("x", []int64{int64(shape[0]), int64(shape[1]), int64(shape[2])}, x),
			tv("s", []int64{k}, starts), tv("e", []int64{k}, ends), tv("a", []int64{k}, axes), tv("p", []int64{k}, steps))
		if want == nil {
			want = []float32{}
		}
		wantValue(t, out[0], []int{len(sel[0]), len(sel[1]), len(sel[2])}, want)
		if t.Failed() {
			t.Fatalf("shape %v starts %v ends %v axes %v steps %v", shape, starts, ends, axes, steps)
		}
	}
}

func TestSlice(t *testing.T) {
	x := tv("x", []int64{3, 4}, []int64{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23})
	// Slice-1: attributes, no steps.
	out := mustRun(t, 9, NewNode("Slice", "s1", []string{"x"}, []string{"y"},
		AttrInts("starts", 1, -3), AttrInts("ends", 1000, -1)), x)
	wantValue(t, out[0], []int{2, 2}, []int64{11, 12, 21, 22})
	out = mustRun(t, 1, NewNode("Slice", "s1", []string{"x"}, []string{"y"},
		AttrInts("starts", 2), AttrInts("ends", 4), AttrInts("axes", 1)), x)
	wantValue(t, out[0], []int{3, 2}, []int64{2, 3, 12, 13, 22, 23})
	// Slice-10: inputs, axes and steps optional; int32 bounds.
	out = mustRun(t, 10, NewNode("Slice", "s10", []string{"x", "s", "e"}, []string{"y"}), x,
		tv("s", []int64{1}, []int32{2}), tv("e", []int64{1}, []int32{3}))
	wantValue(t, out[0], []int{1, 4}, []int64{20, 21, 22, 23})
	out = mustRun(t, 13, NewNode("Slice", "rev", []string{"x", "s", "e", "", "p"}, []string{"y"}), x,
		tv("s", []int64{2}, []int64{-1, -1}), tv("e", []int64{2}, []int64{math.MinInt64, math.MinInt64}), tv("p", []int64{2}, []int64{-2, -3}))
	wantValue(t, out[0], []int{2, 2}, []int64{23, 20, 3, 0})
	// The whole tensor is passed through.
	out = mustRun(t, 13, NewNode("Slice", "all", []string{"x", "s", "e"}, []string{"y"}), x,
		tv("s", []int64{1}, []int64{0}), tv("e", []int64{1}, []int64{math.MaxInt64}))
	wantValue(t, out[0], []int{3, 4}, []int64{0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23})

	s, e := tv("s", []int64{1}, []int64{0}), tv("e", []int64{1}, []int64{1})
	n := NewNode("Slice", "bad", []string{"x", "s", "e", "a", "p"}, []string{"y"})
	wantErr(t, 13, n, []string{"step 0"}, x, s, e, tv("a", []int64{1}, []int64{0}), tv("p", []int64{1}, []int64{0}))
	wantErr(t, 13, n, []string{"axis 2 out of range"}, x, s, e, tv("a", []int64{1}, []int64{2}), tv("p", []int64{1}, []int64{1}))
	wantErr(t, 13, n, []string{"repeated"}, x, tv("s", []int64{2}, []int64{0, 0}), tv("e", []int64{2}, []int64{1, 1}),
		tv("a", []int64{2}, []int64{1, -1}), tv("p", []int64{2}, []int64{1, 1}))
	wantErr(t, 13, n, []string{"1 starts but 2 ends"}, x, s, tv("e", []int64{2}, []int64{1, 1}), tv("a", []int64{1}, []int64{0}), tv("p", []int64{1}, []int64{1}))
	wantErr(t, 13, n, []string{"int32 or int64"}, x, tv("s", []int64{1}, []float32{0}), e, tv("a", []int64{1}, []int64{0}), tv("p", []int64{1}, []int64{1}))
	wantErr(t, 13, NewNode("Slice", "few", []string{"x", "s"}, []string{"y"}), []string{"want 3 to 5"}, x, s)
	wantErr(t, 13, NewNode("Slice", "attr", []string{"x", "s", "e"}, []string{"y"}, AttrInts("starts", 0)), []string{"inputs from opset 10"}, x, s, e)
	wantErr(t, 9, NewNode("Slice", "noends", []string{"x"}, []string{"y"}, AttrInts("starts", 0)), []string{"missing starts or ends"}, x)
	wantErr(t, 9, NewNode("Slice", "rank", []string{"x"}, []string{"y"}, AttrInts("starts", 0, 0, 0), AttrInts("ends", 1, 1, 1)), []string{"rank-2"}, x)
}

func TestSplit(t *testing.T) {
	x := tv("x", []int64{2, 6}, iota32(12))
	three := []string{"a", "b", "c"}
	// Split-2/11: sizes as an attribute.
	out := mustRun(t, 11, NewNode("Split", "sp", []string{"x"}, three, AttrInt("axis", 1), AttrInts("split", 1, 2, 3)), x)
	wantValue(t, out[0], []int{2, 1}, []float32{0, 6})
	wantValue(t, out[1], []int{2, 2}, []float32{1, 2, 7, 8})
	wantValue(t, out[2], []int{2, 3}, []float32{3, 4, 5, 9, 10, 11})
	// Split-13: sizes as an input, or equal parts.
	out = mustRun(t, 13, NewNode("Split", "sp", []string{"x", "s"}, []string{"a", "b"}, AttrInt("axis", -1)), x, tv("s", []int64{2}, []int64{4, 2}))
	wantValue(t, out[0], []int{2, 4}, []float32{0, 1, 2, 3, 6, 7, 8, 9})
	wantValue(t, out[1], []int{2, 2}, []float32{4, 5, 10, 11})
	out = mustRun(t, 13, NewNode("Split", "eq", []string{"x"}, three, AttrInt("axis", 1)), x)
	wantValue(t, out[2], []int{2, 2}, []float32{4, 5, 10, 11})
	out = mustRun(t, 13, NewNode("Split", "rows", []string{"x"}, []string{"a", "b"}), x)
	wantValue(t, out[1], []int{1, 6}, []float32{6, 7, 8, 9, 10, 11})
	// An unused output is not computed.
	out = mustRun(t, 13, NewNode("Split", "skip", []string{"x"}, []string{"", "b"}), x)
	wantValue(t, out[0], []int{1, 6}, []float32{6, 7, 8, 9, 10, 11})
	// Split-18: num_outputs, the last part smaller.
	out = mustRun(t, 18, NewNode("Split", "n18", []string{"x"}, []string{"a", "b", "c", "d"}, AttrInt("axis", 1), AttrInt("num_outputs", 4)), x)
	wantValue(t, out[0], []int{2, 2}, []float32{0, 1, 6, 7})
	wantValue(t, out[2], []int{2, 2}, []float32{4, 5, 10, 11})
	wantValue(t, out[3], []int{2, 0}, []float32{})

	wantErr(t, 13, NewNode("Split", "uneven", []string{"x"}, []string{"a", "b", "c", "d"}, AttrInt("axis", 1)), []string{"equal parts"}, x)
	wantErr(t, 13, NewNode("Split", "sum", []string{"x", "s"}, []string{"a", "b"}, AttrInt("axis", 1)), []string{"add up"}, x, tv("s", []int64{2}, []int64{4, 3}))
	wantErr(t, 13, NewNode("Split", "neg", []string{"x", "s"}, []string{"a", "b"}, AttrInt("axis", 1)), []string{"add up"}, x, tv("s", []int64{2}, []int64{8, -2}))
	wantErr(t, 13, NewNode("Split", "count", []string{"x", "s"}, []string{"a", "b"}, AttrInt("axis", 1)), []string{"3 split sizes for 2 outputs"}, x, tv("s", []int64{3}, []int64{2, 2, 2}))
	wantErr(t, 13, NewNode("Split", "attr13", []string{"x"}, []string{"a"}, AttrInts("split", 6)), []string{"input from opset 13"}, x)
	wantErr(t, 18, NewNode("Split", "nout", []string{"x"}, []string{"a", "b"}, AttrInt("num_outputs", 3)), []string{"num_outputs is 3"}, x)
	wantErr(t, 13, NewNode("Split", "n13", []string{"x"}, []string{"a", "b"}, AttrInt("num_outputs", 2)), []string{"opset 18"}, x)
	wantErr(t, 13, NewNode("Split", "axis", []string{"x"}, []string{"a"}, AttrInt("axis", 2)), []string{"axis 2 out of range"}, x)
	wantErr(t, 13, NewNode("Split", "none", []string{"x"}, nil), []string{"at least one output"}, x)
}

func TestExpand(t *testing.T) {
	n := NewNode("Expand", "ex", []string{"x", "s"}, []string{"y"})
	// [3,1] to [2,3,4]: a new leading axis and the size-1 axis repeated.
	out := mustRun(t, 13, n, tv("x", []int64{3, 1}, []int64{1, 2, 3}), tv("s", []int64{3}, []int64{2, 1, 4}))
	want := []int64{}
	for range 2 {
		for _, v := range []int64{1, 2, 3} {
			want = append(want, v, v, v, v)
		}
	}
	wantValue(t, out[0], []int{2, 3, 4}, want)
	// The shape may be shorter or hold 1 where the input is larger.
	out = mustRun(t, 8, n, tv("x", []int64{2, 2}, []float32{1, 2, 3, 4}), tv("s", []int64{1}, []int64{1}))
	wantValue(t, out[0], []int{2, 2}, []float32{1, 2, 3, 4})
	out = mustRun(t, 13, n, tv("x", nil, []bool{true}), tv("s", []int64{2}, []int64{1, 3}))
	wantValue(t, out[0], []int{1, 3}, []bool{true, true, true})
	out = mustRun(t, 13, n, tv("x", []int64{1}, []float64{5}), tv("s", []int64{2}, []int64{2, 0}))
	wantValue(t, out[0], []int{2, 0}, []float64{})

	wantErr(t, 13, n, []string{"cannot be broadcast"}, tv("x", []int64{3}, []int64{1, 2, 3}), tv("s", []int64{1}, []int64{2}))
	wantErr(t, 13, n, []string{"int32 or int64"}, tv("x", []int64{1}, []int64{1}), tv("s", []int64{1}, []float32{2}))
	wantErr(t, 13, n, []string{"negative dim"}, tv("x", []int64{1}, []int64{1}), tv("s", []int64{1}, []int64{-2}))
	wantErr(t, 13, n, []string{"element limit"}, tv("x", []int64{1}, []int64{1}), tv("s", []int64{2}, []int64{1 << 20, 1 << 20}))
	wantErr(t, 13, n, []string{"rank 40"}, tv("x", []int64{1}, []int64{1}), tv("s", []int64{40}, make([]int64, 40)))
}

// refPad is numpy.pad on a 2-D array, one element at a time.
func refPad(x []float32, h, w int, pads [4]int, mode string, fill float32) ([]float32, int, int) {
	oh, ow := h+pads[0]+pads[2], w+pads[1]+pads[3]
	src := func(i, n int) int {
		switch mode {
		case "edge":
			return min(max(i, 0), n-1)
		case "reflect":
			for i < 0 || i >= n {
				if i < 0 {
					i = -i
				}
				if i >= n {
					i = 2*(n-1) - i
				}
			}
			return i
		}
		if i < 0 || i >= n {
			return -1
		}
		return i
	}
	out := make([]float32, 0, oh*ow)
	for r := range oh {
		for c := range ow {
			i, j := src(r-pads[0], h), src(c-pads[1], w)
			if i < 0 || j < 0 {
				out = append(out, fill)
			} else {
				out = append(out, x[i*w+j])
			}
		}
	}
	return out, oh, ow
}

func TestPad(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // 3×4
	in := tv("x", []int64{3, 4}, x)
	for _, mode := range []string{"constant", "reflect", "edge"} {
		for _, p := range [][4]int{{1, 2, 0, 1}, {0, 0, 2, 3}, {-1, 1, 1, -2}, {2, 3, 2, 3}, {0, 0, 0, 0}} {
			want, oh, ow := refPad(x, 3, 4, p, mode, 0.5)
			pads := []int64{int64(p[0]), int64(p[1]), int64(p[2]), int64(p[3])}
			// Pad-2: pads and value attributes.
			out := mustRun(t, 2, NewNode("Pad", "pad2", []string{"x"}, []string{"y"},
				AttrString("mode", mode), AttrInts("pads", pads...), AttrFloat("value", 0.5)), in)
			wantValue(t, out[0], []int{oh, ow}, want)
			// Pad-11+: pads and constant_value as inputs.
			out = mustRun(t, 13, NewNode("Pad", "pad13", []string{"x", "p", "v"}, []string{"y"}, AttrString("mode", mode)),
				in, tv("p", []int64{4}, pads), tv("v", nil, []float32{0.5}))
			wantValue(t, out[0], []int{oh, ow}, want)
		}
	}
	// Pad-1 names the attribute paddings; reflection wider than the axis
	// repeats, as in numpy.
	out := mustRun(t, 1, NewNode("Pad", "pad1", []string{"x"}, []string{"y"}, AttrString("mode", "reflect"), AttrInts("paddings", 0, 5, 0, 0)),
		tv("x", []int64{1, 3}, []float32{1, 2, 3}))
	wantValue(t, out[0], []int{1, 8}, []float32{2, 1, 2, 3, 2, 1, 2, 3})
	// Without a constant_value the fill is 0; integer data.
	out = mustRun(t, 11, NewNode("Pad", "int", []string{"x", "p"}, []string{"y"}), tv("x", []int64{2}, []int64{7, 8}), tv("p", []int64{2}, []int64{1, 2}))
	wantValue(t, out[0], []int{5}, []int64{0, 7, 8, 0, 0})
	// Pad-18: only the listed axes.
	out = mustRun(t, 18, NewNode("Pad", "axes", []string{"x", "p", "v", "a"}, []string{"y"}),
		tv("x", []int64{2, 2}, []float32{1, 2, 3, 4}), tv("p", []int64{2}, []int64{1, 0}), tv("v", nil, []float32{9}), tv("a", []int64{1}, []int64{-1}))
	wantValue(t, out[0], []int{2, 3}, []float32{9, 1, 2, 9, 3, 4})
	// PyTorch's constant pads before AveragePool are often all zero.
	out = mustRun(t, 13, NewNode("Pad", "zero", []string{"x", "p"}, []string{"y"}), in, tv("p", []int64{4}, []int64{0, 0, 0, 0}))
	wantValue(t, out[0], []int{3, 4}, x)

	p := tv("p", []int64{4}, []int64{1, 1, 1, 1})
	wantErr(t, 13, NewNode("Pad", "wrap", []string{"x", "p"}, []string{"y"}, AttrString("mode", "wrap")), []string{"wrap", "not supported"}, in, p)
	wantErr(t, 13, NewNode("Pad", "len", []string{"x", "p"}, []string{"y"}), []string{"2 pads for 2 axes"}, in, tv("p", []int64{2}, []int64{1, 1}))
	wantErr(t, 13, NewNode("Pad", "crop", []string{"x", "p"}, []string{"y"}), []string{"crop more"}, in, tv("p", []int64{4}, []int64{-2, 0, -2, 0}))
	wantErr(t, 13, NewNode("Pad", "edge", []string{"x", "p"}, []string{"y"}, AttrString("mode", "edge")), []string{"size 0"},
		tv("x", []int64{0, 2}, []float32{}), p)
	wantErr(t, 13, NewNode("Pad", "val", []string{"x", "p", "v"}, []string{"y"}), []string{"constant_value"}, in, p, tv("v", nil, []float64{1}))
	wantErr(t, 13, NewNode("Pad", "attr", []string{"x", "p"}, []string{"y"}, AttrInts("pads", 0, 0, 0, 0)), []string{"inputs from opset 11"}, in, p)
	wantErr(t, 13, NewNode("Pad", "axes13", []string{"x", "p", "", "a"}, []string{"y"}), []string{"opset 18"}, in, p, tv("a", []int64{1}, []int64{0}))
	wantErr(t, 2, NewNode("Pad", "noattr", []string{"x"}, []string{"y"}), []string{"missing pads"}, in)
	wantErr(t, 13, NewNode("Pad", "huge", []string{"x", "p"}, []string{"y"}), []string{"element limit"}, in, tv("p", []int64{4}, []int64{1 << 20, 1 << 20, 0, 0}))
	wantErr(t, 13, NewNode("Pad", "range", []string{"x", "p"}, []string{"y"}), []string{"out of range"}, in, tv("p", []int64{4}, []int64{math.MaxInt64, 0, 0, 0}))
	wantErr(t, 18, NewNode("Pad", "rep", []string{"x", "p", "", "a"}, []string{"y"}), []string{"repeated"}, in, p, tv("a", []int64{2}, []int64{0, -2}))
}

func TestScatterND(t *testing.T) {
	// The spec's two examples.
	n := NewNode("ScatterND", "sc", []string{"d", "i", "u"}, []string{"y"})
	out := mustRun(t, 11, n, tv("d", []int64{8}, []float32{1, 2, 3, 4, 5, 6, 7, 8}),
		tv("i", []int64{4, 1}, []int64{4, 3, 1, 7}), tv("u", []int64{4}, []float32{9, 10, 11, 12}))
	wantValue(t, out[0], []int{8}, []float32{1, 11, 3, 10, 9, 6, 7, 12})
	data := make([]int64, 64)
	for i := range data {
		data[i] = int64(i)
	}
	upd := make([]int64, 32)
	for i := range upd {
		upd[i] = -int64(i)
	}
	out = mustRun(t, 13, n, tv("d", []int64{4, 4, 4}, data), tv("i", []int64{2, 1}, []int64{0, -2}), tv("u", []int64{2, 4, 4}, upd))
	want := append(append(append([]int64{}, upd[:16]...), data[16:32]...), upd[16:]...)
	want = append(want, data[48:]...)
	wantValue(t, out[0], []int{4, 4, 4}, want)
	// Full-index updates of a 2-D tensor, and the opset-16 reductions.
	d := tv("d", []int64{2, 2}, []float32{1, 2, 3, 4})
	i := tv("i", []int64{2, 2}, []int64{0, 1, 1, 0})
	u := tv("u", []int64{2}, []float32{10, 20})
	out = mustRun(t, 16, NewNode("ScatterND", "add", []string{"d", "i", "u"}, []string{"y"}, AttrString("reduction", "add")), d, i, u)
	wantValue(t, out[0], []int{2, 2}, []float32{1, 12, 23, 4})
	out = mustRun(t, 16, NewNode("ScatterND", "mul", []string{"d", "i", "u"}, []string{"y"}, AttrString("reduction", "mul")), d, i, u)
	wantValue(t, out[0], []int{2, 2}, []float32{1, 20, 60, 4})
	out = mustRun(t, 13, n, tv("d", []int64{2}, []bool{false, false}), tv("i", []int64{1, 1}, []int64{1}), tv("u", []int64{1}, []bool{true}))
	wantValue(t, out[0], []int{2}, []bool{false, true})

	wantErr(t, 13, NewNode("ScatterND", "r13", []string{"d", "i", "u"}, []string{"y"}, AttrString("reduction", "add")), []string{"opset 16"}, d, i, u)
	wantErr(t, 18, NewNode("ScatterND", "rmax", []string{"d", "i", "u"}, []string{"y"}, AttrString("reduction", "max")), []string{"not supported"}, d, i, u)
	wantErr(t, 13, n, []string{"out of range"}, d, tv("i", []int64{1, 2}, []int64{0, 2}), tv("u", []int64{1}, []float32{1}))
	wantErr(t, 13, n, []string{"updates shape"}, d, i, tv("u", []int64{3}, []float32{1, 2, 3}))
	wantErr(t, 13, n, []string{"address 3 axes"}, d, tv("i", []int64{1, 3}, []int64{0, 0, 0}), tv("u", []int64{1}, []float32{1}))
	wantErr(t, 13, n, []string{"updates have type"}, d, i, tv("u", []int64{2}, []float64{1, 2}))
	wantErr(t, 13, n, []string{"at least one dim"}, d, tv("i", nil, []int64{0}), u)
	wantErr(t, 16, NewNode("ScatterND", "addb", []string{"d", "i", "u"}, []string{"y"}, AttrString("reduction", "add")), []string{"bool"},
		tv("d", []int64{2}, []bool{false, false}), tv("i", []int64{1, 1}, []int64{1}), tv("u", []int64{1}, []bool{true}))
}

// TestTransposeRoutes compares transposeT, which merges axes and copies
// runs or tiles where it can, with the element-by-element loop on random
// shapes (size-1 axes included) and every permutation of up to 5 axes.
func TestTransposeRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	var perms func(n int) [][]int
	perms = func(n int) [][]int {
		if n == 0 {
			return [][]int{{}}
		}
		var out [][]int
		for _, p := range perms(n - 1) {
			for pos := 0; pos <= len(p); pos++ {
				q := append(append(append([]int{}, p[:pos]...), n-1), p[pos:]...)
				out = append(out, q)
			}
		}
		return out
	}
	dims := []int{1, 2, 3, 17, 20, 33}
	for rank := 1; rank <= 5; rank++ {
		for _, perm := range perms(rank) {
			for range 3 {
				shape := make([]int, rank)
				for i := range shape {
					shape[i] = dims[rng.IntN(len(dims))]
				}
				src := make([]int32, shapeSize(shape))
				for i := range src {
					src[i] = int32(i)
				}
				got, want := make([]int32, len(src)), make([]int32, len(src))
				transposeT(got, src, shape, perm)
				transposeElems(want, src, shape, perm)
				if !slices.Equal(got, want) {
					t.Fatalf("shape %v perm %v: transposeT differs from the element loop", shape, perm)
				}
			}
		}
	}
}

// TestSliceViews checks that contiguous Slices, which view their input's
// buffer instead of copying it, are not overwritten by in-place steps: two
// halves of one tensor each go through an in-place Relu while the whole is
// still read afterwards.
func TestSliceViews(t *testing.T) {
	const c, hw = 6, 20
	x := make([]float32, c*hw)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	i64 := func(name string, v ...int64) *Tensor {
		return &Tensor{Name: name, Dims: []int64{int64(len(v))}, DataType: Int64, Int64Data: v}
	}
	g := &Graph{Name: "g", Inputs: []*ValueInfo{{Name: "x", ElemType: Float}},
		Outputs:     []*ValueInfo{{Name: "cat"}, {Name: "sq"}},
		Initializer: []*Tensor{i64("s0", 0), i64("e0", 3), i64("s1", 3), i64("e1", 6), i64("ax", 1)},
		Nodes: []*Node{
			NewNode("Add", "add", []string{"x", "x"}, []string{"s"}),
			NewNode("Slice", "lo", []string{"s", "s0", "e0", "ax"}, []string{"a"}),
			NewNode("Slice", "hi", []string{"s", "s1", "e1", "ax"}, []string{"b"}),
			NewNode("Relu", "ra", []string{"a"}, []string{"ra"}),
			NewNode("Relu", "rb", []string{"b"}, []string{"rb"}),
			NewNode("Concat", "cat", []string{"rb", "ra"}, []string{"cat"}, AttrInt("axis", 1)),
			NewNode("Mul", "sq", []string{"s", "s"}, []string{"sq"}),
		}}
	plan, err := Compile(&Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: 13}}, Graph: g})
	if err != nil {
		t.Fatal(err)
	}
	res, err := plan.RunPositional(NewFloatTensor("x", []int64{1, c, hw}, x))
	if err != nil {
		t.Fatal(err)
	}
	cat, sq := res[0].FloatData, res[1].FloatData
	for i, v := range x {
		s := v + v
		if sq[i] != s*s {
			t.Fatalf("sq[%d] = %v, want %v", i, sq[i], s*s)
		}
		j := (i + 3*hw) % (c * hw) // the halves swap places in cat
		if cat[j] != max(s, 0) {
			t.Fatalf("cat[%d] = %v, want %v", j, cat[j], max(s, 0))
		}
	}
}
