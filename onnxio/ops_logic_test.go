package onnxio

import (
	"testing"
)

func TestCast(t *testing.T) {
	f := tv("x", []int64{2, 3}, []float32{-1.7, 2.9, 0, float32(nan), 1e3, -0.2})
	cast := func(to DataType) *Node {
		return NewNode("Cast", "cast", []string{"x"}, []string{"y"}, AttrInt("to", int64(to)))
	}
	// Float to integer truncates toward zero.
	out := mustRun(t, 13, cast(Int64), tv("x", []int64{4}, []float32{-1.7, 2.9, 0, -0.2}))
	wantValue(t, out[0], []int{4}, []int64{-1, 2, 0, 0})
	out = mustRun(t, 6, cast(Int32), tv("x", []int64{2}, []float64{7.99, -7.99}))
	wantValue(t, out[0], []int{2}, []int32{7, -7})
	// Non-zero (NaN included) is true.
	out = mustRun(t, 13, cast(Bool), f)
	wantValue(t, out[0], []int{2, 3}, []bool{true, true, false, true, true, true})
	out = mustRun(t, 13, cast(Float), tv("x", []int64{3}, []bool{true, false, true}))
	wantValue(t, out[0], []int{3}, []float32{1, 0, 1})
	out = mustRun(t, 13, cast(Double), tv("x", []int64{2}, []int64{-3, 1 << 40}))
	wantValue(t, out[0], []int{2}, []float64{-3, 1 << 40})
	out = mustRun(t, 13, cast(Uint8), tv("x", []int64{2}, []int32{3, 200}))
	wantValue(t, out[0], []int{2}, []uint8{3, 200})
	out = mustRun(t, 13, cast(Float), f) // same type: unchanged
	wantClose(t, out[0], []int{2, 3}, []float64{float64(float32(-1.7)), float64(float32(2.9)), 0, nan, 1e3, float64(float32(-0.2))}, 0)
	// Cast-1 names the type as a string.
	out = mustRun(t, 1, NewNode("Cast", "cast1", []string{"x"}, []string{"y"}, AttrString("to", "INT32")), tv("x", []int64{1}, []float32{5.5}))
	wantValue(t, out[0], []int{1}, []int32{5})

	wantErr(t, 13, cast(Float16), []string{"float16", "not supported"}, f)
	wantErr(t, 13, cast(String), []string{"string", "not supported"}, f)
	wantErr(t, 13, cast(DataType(99)), []string{"not supported"}, f)
	wantErr(t, 13, NewNode("Cast", "noto", []string{"x"}, []string{"y"}), []string{"missing attribute to"}, f)
	wantErr(t, 1, NewNode("Cast", "name", []string{"x"}, []string{"y"}, AttrString("to", "COMPLEX")), []string{"COMPLEX"}, f)
	wantErr(t, 13, NewNode("Cast", "ftype", []string{"x"}, []string{"y"}, AttrFloat("to", 1)), []string{"want an int"}, f)
}

func TestComparisons(t *testing.T) {
	a := tv("a", []int64{2, 3}, []float32{1, 2, 3, 4, 5, float32(nan)})
	b := tv("b", []int64{3}, []float32{2, 2, 4})
	want := map[string][]bool{
		"Equal":          {false, true, false, false, false, false},
		"Less":           {true, false, true, false, false, false},
		"Greater":        {false, false, false, true, true, false},
		"LessOrEqual":    {true, true, true, false, false, false},
		"GreaterOrEqual": {false, true, false, true, true, false},
	}
	for op, w := range want {
		n := NewNode(op, "cmp", []string{"a", "b"}, []string{"y"})
		out := mustRun(t, 16, n, a, b)
		wantValue(t, out[0], []int{2, 3}, w)
		// Integers, with the scalar on the left.
		out = mustRun(t, 16, n, tv("a", nil, []int64{2}), tv("b", []int64{3}, []int64{1, 2, 3}))
		ref := map[string][]bool{"Equal": {false, true, false}, "Less": {false, false, true}, "Greater": {true, false, false},
			"LessOrEqual": {false, true, true}, "GreaterOrEqual": {true, true, false}}[op]
		wantValue(t, out[0], []int{3}, ref)
	}
	out := mustRun(t, 13, NewNode("Equal", "eqb", []string{"a", "b"}, []string{"y"}),
		tv("a", []int64{2}, []bool{true, false}), tv("b", []int64{1}, []bool{false}))
	wantValue(t, out[0], []int{2}, []bool{false, true})
	// Opset 1-6: broadcast=1 aligns B at axis.
	out = mustRun(t, 6, NewNode("Less", "old", []string{"a", "b"}, []string{"y"}, AttrInt("broadcast", 1), AttrInt("axis", 0)),
		tv("a", []int64{2, 2}, []int32{1, 5, 1, 5}), tv("b", []int64{2}, []int32{2, 0}))
	wantValue(t, out[0], []int{2, 2}, []bool{true, false, false, false})

	wantErr(t, 13, NewNode("Less", "lb", []string{"a", "b"}, []string{"y"}), []string{"bool"},
		tv("a", []int64{1}, []bool{true}), tv("b", []int64{1}, []bool{true}))
	wantErr(t, 13, NewNode("Equal", "ty", []string{"a", "b"}, []string{"y"}), []string{"differ"}, a, tv("b", []int64{1}, []int64{1}))
	wantErr(t, 13, NewNode("Greater", "sh", []string{"a", "b"}, []string{"y"}), []string{"broadcast"}, a, tv("b", []int64{2}, []float32{1, 2}))
}

func TestLogic(t *testing.T) {
	a := tv("a", []int64{2, 2}, []bool{true, true, false, false})
	b := tv("b", []int64{2}, []bool{true, false})
	for op, w := range map[string][]bool{
		"And": {true, false, false, false},
		"Or":  {true, true, true, false},
		"Xor": {false, true, true, false},
	} {
		out := mustRun(t, 7, NewNode(op, "l", []string{"a", "b"}, []string{"y"}), a, b)
		wantValue(t, out[0], []int{2, 2}, w)
		wantErr(t, 7, NewNode(op, "l", []string{"a", "b"}, []string{"y"}), []string{"want bool"},
			tv("a", []int64{1}, []int64{1}), tv("b", []int64{1}, []int64{1}))
	}
	out := mustRun(t, 1, NewNode("Not", "not", []string{"a"}, []string{"y"}), a)
	wantValue(t, out[0], []int{2, 2}, []bool{false, false, true, true})
	wantErr(t, 1, NewNode("Not", "not", []string{"a"}, []string{"y"}), []string{"want bool"}, tv("a", []int64{1}, []float32{1}))
}

func TestWhere(t *testing.T) {
	cond := tv("c", []int64{2, 1}, []bool{true, false})
	n := NewNode("Where", "where", []string{"c", "x", "y"}, []string{"z"})
	// Three-way broadcast: [2,1], [1,3] and a scalar give [2,3].
	out := mustRun(t, 16, n, cond, tv("x", []int64{1, 3}, []float32{1, 2, 3}), tv("y", nil, []float32{-1}))
	wantValue(t, out[0], []int{2, 3}, []float32{1, 2, 3, -1, -1, -1})
	out = mustRun(t, 9, n, tv("c", []int64{3}, []bool{false, true, false}),
		tv("x", []int64{2, 3}, []int64{1, 2, 3, 4, 5, 6}), tv("y", []int64{2, 1}, []int64{-7, -8}))
	wantValue(t, out[0], []int{2, 3}, []int64{-7, 2, -7, -8, 5, -8})
	out = mustRun(t, 16, n, cond, tv("x", []int64{1}, []bool{true}), tv("y", []int64{1}, []bool{false}))
	wantValue(t, out[0], []int{2, 1}, []bool{true, false})
	out = mustRun(t, 16, n, tv("c", []int64{0}, []bool{}), tv("x", []int64{1}, []int16{1}), tv("y", []int64{1}, []int16{2}))
	wantValue(t, out[0], []int{0}, []int16{})

	wantErr(t, 16, n, []string{"want bool"}, tv("c", []int64{1}, []int64{1}), tv("x", []int64{1}, []float32{1}), tv("y", []int64{1}, []float32{1}))
	wantErr(t, 16, n, []string{"differ"}, cond, tv("x", []int64{1}, []float32{1}), tv("y", []int64{1}, []float64{1}))
	wantErr(t, 16, n, []string{"do not broadcast"}, cond, tv("x", []int64{3}, []float32{1, 2, 3}), tv("y", []int64{2}, []float32{1, 2}))
}
