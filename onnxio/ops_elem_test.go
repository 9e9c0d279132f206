package onnxio

import (
	"math"
	"testing"
)

var nan = math.NaN()

func TestErf(t *testing.T) {
	xs := []float64{-3, -1, -0.5, 0, 0.25, 1, 2.5, nan}
	// Reference: erf by its Maclaurin series, independent of math.Erf.
	series := func(x float64) float64 {
		if math.IsNaN(x) {
			return x
		}
		sum, term := 0.0, x
		for n := 0; n < 200; n++ {
			sum += term / float64(2*n+1)
			term *= -x * x / float64(n+1)
		}
		return 2 / math.Sqrt(math.Pi) * sum
	}
	want := make([]float64, len(xs))
	f32 := make([]float32, len(xs))
	for i, x := range xs {
		want[i], f32[i] = series(x), float32(x)
	}
	n := NewNode("Erf", "erf", []string{"x"}, []string{"y"})
	for _, opset := range []int64{9, 13} {
		out := mustRun(t, opset, n, tv("x", []int64{2, 4}, f32))
		wantClose(t, out[0], []int{2, 4}, want, 1e-6)
		out = mustRun(t, opset, n, tv("x", []int64{8}, xs))
		wantClose(t, out[0], []int{8}, want, 1e-12)
	}
	wantErr(t, 13, n, []string{"int64", "not supported"}, tv("x", []int64{1}, []int64{1}))
}

func TestHardSigmoid(t *testing.T) {
	x := []float32{-4, -2.5, -1, 0, 1, 2.5, 4}
	n := NewNode("HardSigmoid", "hs", []string{"x"}, []string{"y"})
	// Defaults alpha 0.2, beta 0.5: max(0, min(1, 0.2x + 0.5)).
	out := mustRun(t, 6, n, tv("x", []int64{7}, x))
	wantClose(t, out[0], []int{7}, []float64{0, 0, 0.3, 0.5, 0.7, 1, 1}, 1e-7)
	// PyTorch's hardsigmoid is alpha 1/6.
	n = NewNode("HardSigmoid", "hs", []string{"x"}, []string{"y"}, AttrFloat("alpha", 1.0/6), AttrFloat("beta", 0.25))
	out = mustRun(t, 13, n, tv("x", []int64{7}, x))
	wantClose(t, out[0], []int{7}, []float64{0, 0, 0.25 - 1.0/6, 0.25, 0.25 + 1.0/6, 0.25 + 2.5/6, 0.25 + 4.0/6}, 1e-7)
	bad := NewNode("HardSigmoid", "hs", []string{"x"}, []string{"y"}, AttrInt("alpha", 1))
	wantErr(t, 13, bad, []string{"alpha"}, tv("x", []int64{1}, []float32{1}))
}

func TestHardSwish(t *testing.T) {
	xs := []float32{-5, -3, -1.5, 0, 1, 3, 7, -0.25}
	want := make([]float64, len(xs))
	for i, x := range xs {
		// PyTorch's definition: x·relu6(x+3)/6.
		r := math.Min(math.Max(float64(x)+3, 0), 6)
		want[i] = float64(x) * r / 6
	}
	n := NewNode("HardSwish", "hw", []string{"x"}, []string{"y"})
	out := mustRun(t, 14, n, tv("x", []int64{2, 2, 2}, xs))
	wantClose(t, out[0], []int{2, 2, 2}, want, 1e-6)
	wantErr(t, 14, n, []string{"int32"}, tv("x", []int64{1}, []int32{1}))
}

func TestClip(t *testing.T) {
	x := []float32{-3, -1, 0, 0.5, 2, 5, float32(nan)}
	in := tv("x", []int64{7}, x)
	// Opset 6: bounds as attributes; an absent one does not bound.
	cases := []struct {
		attrs []*Attribute
		want  []float64
	}{
		{[]*Attribute{AttrFloat("min", -1), AttrFloat("max", 2)}, []float64{-1, -1, 0, 0.5, 2, 2, nan}},
		{[]*Attribute{AttrFloat("min", 0)}, []float64{0, 0, 0, 0.5, 2, 5, nan}},
		{[]*Attribute{AttrFloat("max", 0)}, []float64{-3, -1, 0, 0, 0, 0, nan}},
		{nil, []float64{-3, -1, 0, 0.5, 2, 5, nan}},
		// min > max gives max everywhere.
		{[]*Attribute{AttrFloat("min", 3), AttrFloat("max", 1)}, []float64{1, 1, 1, 1, 1, 1, nan}},
	}
	for _, c := range cases {
		out := mustRun(t, 6, NewNode("Clip", "clip", []string{"x"}, []string{"y"}, c.attrs...), in)
		wantClose(t, out[0], []int{7}, c.want, 0)
	}
	// Opset 11+: optional scalar inputs, either may be absent.
	lo, hi := tv("lo", nil, []float32{0}), tv("hi", nil, []float32{6})
	out := mustRun(t, 13, NewNode("Clip", "relu6", []string{"x", "lo", "hi"}, []string{"y"}), in, lo, hi)
	wantClose(t, out[0], []int{7}, []float64{0, 0, 0, 0.5, 2, 5, nan}, 0)
	out = mustRun(t, 11, NewNode("Clip", "max", []string{"x", "", "lo"}, []string{"y"}), in, lo)
	wantClose(t, out[0], []int{7}, []float64{-3, -1, 0, 0, 0, 0, nan}, 0)
	out = mustRun(t, 11, NewNode("Clip", "min", []string{"x", "lo"}, []string{"y"}), in, lo)
	wantClose(t, out[0], []int{7}, []float64{0, 0, 0, 0.5, 2, 5, nan}, 0)
	// Opset 12: integers, and float64.
	out = mustRun(t, 12, NewNode("Clip", "int", []string{"x", "lo", "hi"}, []string{"y"}),
		tv("x", []int64{4}, []int64{-9, 1, 4, 99}), tv("lo", nil, []int64{0}), tv("hi", nil, []int64{5}))
	wantValue(t, out[0], []int{4}, []int64{0, 1, 4, 5})
	out = mustRun(t, 13, NewNode("Clip", "f64", []string{"x", "lo"}, []string{"y"}),
		tv("x", []int64{2}, []float64{-1, 1}), tv("lo", []int64{1}, []float64{0}))
	wantValue(t, out[0], []int{2}, []float64{0, 1})

	wantErr(t, 11, NewNode("Clip", "int11", []string{"x"}, []string{"y"}), []string{"opset 12"}, tv("x", []int64{1}, []int64{1}))
	wantErr(t, 13, NewNode("Clip", "type", []string{"x", "lo"}, []string{"y"}), []string{"min", "scalar"}, in, tv("lo", nil, []float64{0}))
	wantErr(t, 13, NewNode("Clip", "vec", []string{"x", "", "hi"}, []string{"y"}), []string{"max", "scalar"}, in, tv("hi", []int64{2}, []float32{0, 1}))
	wantErr(t, 13, NewNode("Clip", "attr", []string{"x"}, []string{"y"}, AttrFloat("min", 0)), []string{"inputs from opset 11"}, in)
	wantErr(t, 6, NewNode("Clip", "inputs6", []string{"x", "lo"}, []string{"y"}), []string{"want 1"}, in, lo)
	wantErr(t, 13, NewNode("Clip", "bool", []string{"x"}, []string{"y"}), []string{"bool", "not supported"}, tv("x", []int64{1}, []bool{true}))
}

func TestMod(t *testing.T) {
	a := tv("a", []int64{6}, []int64{7, -7, 7, -7, 0, 6})
	b := tv("b", []int64{6}, []int64{3, 3, -3, -3, 5, 4})
	// fmod=0: the remainder has the divisor's sign (Python's %).
	out := mustRun(t, 13, NewNode("Mod", "mod", []string{"a", "b"}, []string{"y"}), a, b)
	wantValue(t, out[0], []int{6}, []int64{1, 2, -2, -1, 0, 2})
	// fmod=1: the dividend's sign (C's fmod).
	out = mustRun(t, 10, NewNode("Mod", "fmod", []string{"a", "b"}, []string{"y"}, AttrInt("fmod", 1)), a, b)
	wantValue(t, out[0], []int{6}, []int64{1, -1, 1, -1, 0, 2})
	// Floats need fmod=1; broadcasting a scalar divisor.
	out = mustRun(t, 13, NewNode("Mod", "float", []string{"a", "b"}, []string{"y"}, AttrInt("fmod", 1)),
		tv("a", []int64{2, 2}, []float32{5.5, -5.5, 1, 0}), tv("b", nil, []float32{2}))
	wantClose(t, out[0], []int{2, 2}, []float64{1.5, -1.5, 1, 0}, 1e-7)
	out = mustRun(t, 13, NewNode("Mod", "u8", []string{"a", "b"}, []string{"y"}),
		tv("a", []int64{2}, []uint8{200, 9}), tv("b", []int64{1}, []uint8{7}))
	wantValue(t, out[0], []int{2}, []uint8{4, 2})

	wantErr(t, 13, NewNode("Mod", "ffloat", []string{"a", "b"}, []string{"y"}), []string{"fmod=1"},
		tv("a", []int64{1}, []float32{1}), tv("b", []int64{1}, []float32{1}))
	wantErr(t, 13, NewNode("Mod", "zero", []string{"a", "b"}, []string{"y"}), []string{"by zero"},
		a, tv("b", []int64{1}, []int64{0}))
	wantErr(t, 13, NewNode("Mod", "types", []string{"a", "b"}, []string{"y"}), []string{"differ"},
		a, tv("b", []int64{1}, []int32{1}))
	wantErr(t, 13, NewNode("Mod", "shape", []string{"a", "b"}, []string{"y"}), []string{"broadcast"},
		a, tv("b", []int64{4}, []int64{1, 1, 1, 1}))
	wantErr(t, 13, NewNode("Mod", "attr", []string{"a", "b"}, []string{"y"}, AttrInt("fmod", 2)), []string{"fmod"}, a, b)
}

// TestDropoutTrainingRatioZero checks the one training-mode Dropout that
// runs: ratio 0 drops nothing (Swin's attention exports it).
func TestDropoutTrainingRatioZero(t *testing.T) {
	x := tv("x", []int64{3}, []float32{1, -2, 3})
	train := tv("t", nil, []bool{true})
	n := NewNode("Dropout", "d", []string{"x", "r", "t"}, []string{"y", "mask"})
	out := mustRun(t, 13, n, x, tv("r", nil, []float32{0}), train)
	wantValue(t, out[0], []int{3}, []float32{1, -2, 3})
	wantValue(t, out[1], []int{3}, []bool{true, true, true})
	wantErr(t, 13, n, []string{"non-zero ratio"}, x, tv("r", nil, []float32{0.1}), train)
	wantErr(t, 13, NewNode("Dropout", "d", []string{"x", "", "t"}, []string{"y"}), []string{"non-zero ratio"}, x, train)
	out = mustRun(t, 13, n, x, tv("r", nil, []float32{0.5}), tv("t", nil, []bool{false}))
	wantValue(t, out[0], []int{3}, []float32{1, -2, 3})
}

// TestSoftmaxScalar checks that a rank-0 input fails from opset 13 (the
// axis must exist) instead of indexing past its shape.
func TestSoftmaxScalar(t *testing.T) {
	x := tv("x", nil, []float32{3})
	wantErr(t, 13, NewNode("Softmax", "sm", []string{"x"}, []string{"y"}), []string{"axis"}, x)
	out := mustRun(t, 11, NewNode("Softmax", "sm", []string{"x"}, []string{"y"}, AttrInt("axis", 0)), x)
	wantValue(t, out[0], []int{}, []float32{1})
}

// TestSigmoid runs the operator on float32 (kernel.Sigmoid32, long enough
// for its vector code) and float64 against the float64 formula.
func TestSigmoid(t *testing.T) {
	x32 := make([]float32, 37)
	x64 := make([]float64, len(x32))
	want := make([]float64, len(x32))
	for i := range x32 {
		x64[i] = float64(i-18) * 1.7
		x32[i] = float32(x64[i])
		want[i] = 1 / (1 + math.Exp(-x64[i]))
	}
	n := NewNode("Sigmoid", "s", []string{"x"}, []string{"y"})
	out := mustRun(t, 13, n, tv("x", []int64{37}, x32))
	wantClose(t, out[0], []int{37}, want, 3e-7)
	out = mustRun(t, 13, n, tv("x", []int64{37}, x64))
	wantClose(t, out[0], []int{37}, want, 1e-15)
}

// Pow with a scalar exponent of 2 on float32 squares directly; it must give
// exactly float32(math.Pow(x, 2)), overflow, NaN, infinities, signed zeros
// and subnormals included, for a float32 and a float64 exponent.
func TestPowSquareFastPath(t *testing.T) {
	x := []float32{0, float32(math.Copysign(0, -1)), 1.5, -3.25, 1e-40, -1e-30, 3e19, -3e19,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0.1, -7.3e-3, 123.456}
	n := NewNode("Pow", "pow", []string{"x", "y"}, []string{"z"})
	for _, y := range []*Tensor{tv("y", nil, []float32{2}), tv("y", []int64{1}, []float64{2})} {
		out := mustRun(t, 13, n, tv("x", []int64{2, 7}, x), y)
		got := out[0].data.([]float32)
		for i, v := range x {
			want := float32(math.Pow(float64(v), 2))
			if math.Float32bits(got[i]) != math.Float32bits(want) && !(math.IsNaN(float64(want)) && math.IsNaN(float64(got[i]))) {
				t.Errorf("exponent %v: %v² = %v, want %v", y.DataType, v, got[i], want)
			}
		}
	}
	// Exponents other than a single 2 keep the general path.
	out := mustRun(t, 13, n, tv("x", []int64{2}, []float32{4, 9}), tv("y", []int64{2}, []float32{2, 0.5}))
	wantClose(t, out[0], []int{2}, []float64{16, 3}, 1e-7)
}
