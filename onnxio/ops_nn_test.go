package onnxio

import (
	"math"
	"testing"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// TestGlobalAveragePoolShared checks GlobalAveragePool on float32 planes
// large enough to be shared over the threads, with odd plane sizes,
// against float64 means, at one to three threads.
func TestGlobalAveragePoolShared(t *testing.T) {
	const n, c, h, w = 2, 41, 33, 35
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)*2 + float64(i%7))
	}
	want := make([]float64, n*c)
	for p := range want {
		s := 0.0
		for _, v := range x[p*h*w : (p+1)*h*w] {
			s += float64(v)
		}
		want[p] = s / (h * w)
	}
	for _, threads := range []int{1, 2, 3} {
		prev := kernel.SetThreads(threads)
		node := NewNode("GlobalAveragePool", "gap", []string{"x"}, []string{"y"})
		out := mustRun(t, 13, node, tv("x", []int64{n, c, h, w}, x))
		wantClose(t, out[0], []int{n, c, 1, 1}, want, 1e-6)
		kernel.SetThreads(prev)
	}
}

func TestTrailingAxes(t *testing.T) {
	for _, c := range []struct {
		red  []bool
		want bool
	}{
		{[]bool{false, false, true, true}, true},
		{[]bool{true, true, true}, true},
		{[]bool{false, false}, true},
		{[]bool{false, true, false}, false},
		{[]bool{true, false, true}, false},
	} {
		if got := trailingAxes(c.red); got != c.want {
			t.Errorf("trailingAxes(%v) = %v, want %v", c.red, got, c.want)
		}
	}
}

// TestReduceSuffixAxes checks ReduceMean and ReduceSum over trailing axes
// (the contiguous fast path, shared over threads) and over a leading axis
// (the general path) against float64 references.
func TestReduceSuffixAxes(t *testing.T) {
	const a, b, c, d = 3, 40, 31, 29
	x := make([]float32, a*b*c*d)
	for i := range x {
		x[i] = float32(math.Cos(float64(i)*0.11)*3 + float64(i%5))
	}
	ref := func(outer, inner int, mean bool) []float64 {
		y := make([]float64, outer)
		for p := range y {
			for _, v := range x[p*inner : (p+1)*inner] {
				y[p] += float64(v)
			}
			if mean {
				y[p] /= float64(inner)
			}
		}
		return y
	}
	defer kernel.SetThreads(kernel.SetThreads(2))
	in := tv("x", []int64{a, b, c, d}, x)
	out := mustRun(t, 13, NewNode("ReduceMean", "rm", []string{"x"}, []string{"y"}, AttrInts("axes", 2, 3)), in)
	wantClose(t, out[0], []int{a, b, 1, 1}, ref(a*b, c*d, true), 1e-6)
	out = mustRun(t, 11, NewNode("ReduceSum", "rs", []string{"x"}, []string{"y"}, AttrInts("axes", -3, -2, -1), AttrInt("keepdims", 0)), in)
	wantClose(t, out[0], []int{a}, ref(a, b*c*d, false), 0.01) // sums near 7e4: float32 spacing 0.008
	// Axis 1 alone is not a suffix.
	want := make([]float64, a*c*d)
	for i := range a {
		for j := range b {
			for k := range c * d {
				want[i*c*d+k] += float64(x[(i*b+j)*c*d+k]) / b
			}
		}
	}
	out = mustRun(t, 13, NewNode("ReduceMean", "rm1", []string{"x"}, []string{"y"}, AttrInts("axes", 1)), in)
	wantClose(t, out[0], []int{a, 1, c, d}, want, 1e-6)
}

// TestPool2x2FastPath compares the 2×2 stride-2 routes of MaxPool and
// AveragePool (pool2x2) bit for bit with the kernel
// package's general pooling loops, odd sizes, NaNs and two threads
// included.
func TestPool2x2FastPath(t *testing.T) {
	const n, c, h, w = 2, 9, 31, 38
	defer kernel.SetThreads(kernel.SetThreads(2))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.61) * 5)
	}
	x[40] = float32(math.NaN())
	ps := kernel.PoolShape{N: n, C: c, H: h, W: w, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	for _, op := range []string{"MaxPool", "AveragePool"} {
		g := &Graph{Name: "g", Inputs: []*ValueInfo{{Name: "x", ElemType: Float}}, Outputs: []*ValueInfo{{Name: "y"}},
			Nodes: []*Node{NewNode(op, "pool", []string{"x"}, []string{"y"}, AttrInts("kernel_shape", 2, 2), AttrInts("strides", 2, 2))}}
		plan, err := Compile(&Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: 13}}, Graph: g})
		if err != nil {
			t.Fatal(err)
		}
		res, err := plan.RunPositional(NewFloatTensor("x", []int64{n, c, h, w}, x))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float32, n*c*(h/2)*(w/2))
		if op == "MaxPool" {
			kernel.MaxPool2DValues(ps, x, want)
		} else {
			kernel.AvgPool2D(ps, false, x, want)
		}
		got := res[0].FloatData
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
				t.Fatalf("%s: y[%d] = %v, want %v", op, i, got[i], want[i])
			}
		}
	}
}

// TestMatMulPackedWeights compares MatMul with constant weights (packed
// once at compile time) with the same graph taking them as an input, for
// batched, plain and 1-D left operands: the same bits.
func TestMatMulPackedWeights(t *testing.T) {
	const k, n = 300, 70
	w := make([]float32, k*n)
	for i := range w {
		w[i] = float32(math.Sin(float64(i) * 0.3))
	}
	for _, ashape := range [][]int64{{2, 3, 5, k}, {9, k}, {k}} {
		size := int64(1)
		for _, d := range ashape {
			size *= d
		}
		a := make([]float32, size)
		for i := range a {
			a[i] = float32(math.Cos(float64(i) * 0.7))
		}
		run := func(constW bool) []float32 {
			g := &Graph{Name: "g", Inputs: []*ValueInfo{{Name: "a", ElemType: Float}}, Outputs: []*ValueInfo{{Name: "y"}},
				Nodes: []*Node{NewNode("MatMul", "mm", []string{"a", "w"}, []string{"y"})}}
			wt := NewFloatTensor("w", []int64{k, n}, w)
			ins := []*Tensor{NewFloatTensor("a", ashape, a)}
			if constW {
				g.Initializer = []*Tensor{wt}
			} else {
				g.Inputs = append(g.Inputs, &ValueInfo{Name: "w", ElemType: Float})
				ins = append(ins, wt)
			}
			plan, err := Compile(&Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: 13}}, Graph: g})
			if err != nil {
				t.Fatal(err)
			}
			res, err := plan.RunPositional(ins...)
			if err != nil {
				t.Fatal(err)
			}
			return res[0].FloatData
		}
		got, want := run(true), run(false)
		if len(got) != len(want) {
			t.Fatalf("A %v: %d outputs, want %d", ashape, len(got), len(want))
		}
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("A %v: y[%d] = %v, want %v", ashape, i, got[i], want[i])
			}
		}
	}
}
