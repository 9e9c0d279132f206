package onnxio

import (
	"math"
	"reflect"
	"testing"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// TestConvActivationFusion builds Conv followed by each activation pattern
// that activationFusion absorbs, checks that the plan is one Conv step, and
// compares its output bit for bit with the same graph whose weights are a
// graph input, which is not fused. Patterns it must not absorb (a gate
// whose output is also read elsewhere, a Clip with a bound that is not
// constant) keep their steps.
func TestConvActivationFusion(t *testing.T) {
	// 69120 outputs: the in-place pass is shared over two threads.
	const n, c, k, h, w = 2, 3, 4, 96, 90
	defer kernel.SetThreads(kernel.SetThreads(2))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.7) * 4) // both sides of every threshold
	}
	x[3] = float32(math.NaN())
	wt := make([]float32, k*c*3*3)
	for i := range wt {
		wt[i] = float32(math.Cos(float64(i)*1.3)) * 0.6
	}
	bias := []float32{0.5, -0.25, 1, 0}
	conv := NewNode("Conv", "conv", []string{"x", "w", "b"}, []string{"y"}, AttrInts("pads", 1, 1, 1, 1))
	scalar := func(name string, v float32) *Tensor { return NewFloatTensor(name, nil, []float32{v}) }
	type pattern struct {
		name   string
		opset  int64
		nodes  []*Node
		consts []*Tensor
		out    string
		fused  bool
	}
	patterns := []pattern{
		{"hardswish", 13, []*Node{
			NewNode("HardSigmoid", "hs", []string{"y"}, []string{"g"}, AttrFloat("alpha", 1.0/6)),
			NewNode("Mul", "mul", []string{"y", "g"}, []string{"z"})}, nil, "z", true},
		{"hardswish, gate first", 13, []*Node{
			NewNode("HardSigmoid", "hs", []string{"y"}, []string{"g"}, AttrFloat("alpha", 1.0/6)),
			NewNode("Mul", "mul", []string{"g", "y"}, []string{"z"})}, nil, "z", true},
		{"silu", 13, []*Node{
			NewNode("Sigmoid", "sig", []string{"y"}, []string{"g"}),
			NewNode("Mul", "mul", []string{"g", "y"}, []string{"z"})}, nil, "z", true},
		{"relu6", 13, []*Node{NewNode("Clip", "clip", []string{"y", "lo", "hi"}, []string{"z"})},
			[]*Tensor{scalar("lo", 0), scalar("hi", 6)}, "z", true},
		{"clip attributes", 6, []*Node{NewNode("Clip", "clip", []string{"y"}, []string{"z"}, AttrFloat("min", -1), AttrFloat("max", 2))},
			nil, "z", true},
		{"hardsigmoid", 13, []*Node{NewNode("HardSigmoid", "hs", []string{"y"}, []string{"z"})}, nil, "z", true},
		{"sigmoid", 13, []*Node{NewNode("Sigmoid", "sig", []string{"y"}, []string{"z"})}, nil, "z", true},
		{"hardswish op", 14, []*Node{NewNode("HardSwish", "hsw", []string{"y"}, []string{"z"})}, nil, "z", true},
		{"gate read twice", 13, []*Node{
			NewNode("Sigmoid", "sig", []string{"y"}, []string{"g"}),
			NewNode("Mul", "mul", []string{"g", "y"}, []string{"m"}),
			NewNode("Add", "add", []string{"m", "g"}, []string{"z"})}, nil, "z", false},
		{"clip with one bound", 13, []*Node{NewNode("Clip", "clip", []string{"y", "lo"}, []string{"z"})},
			[]*Tensor{scalar("lo", 0)}, "z", false},
	}
	for _, p := range patterns {
		t.Run(p.name, func(t *testing.T) {
			build := func(weightsConst bool) *Plan {
				g := &Graph{Name: "g", Nodes: append([]*Node{conv}, p.nodes...), Outputs: []*ValueInfo{{Name: p.out}},
					Inputs:      []*ValueInfo{{Name: "x", ElemType: Float}},
					Initializer: append([]*Tensor{NewFloatTensor("b", []int64{k}, bias)}, p.consts...)}
				wT := NewFloatTensor("w", []int64{k, c, 3, 3}, wt)
				if weightsConst {
					g.Initializer = append(g.Initializer, wT)
				} else {
					g.Inputs = append(g.Inputs, &ValueInfo{Name: "w", ElemType: Float})
				}
				plan, err := Compile(&Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: p.opset}}, Graph: g})
				if err != nil {
					t.Fatal(err)
				}
				return plan
			}
			fused, plain := build(true), build(false)
			var ops []string
			for _, st := range fused.steps {
				ops = append(ops, st.node.OpType)
			}
			if got := reflect.DeepEqual(ops, []string{"Conv"}); got != p.fused {
				t.Fatalf("steps %v; fused = %v, want %v", ops, got, p.fused)
			}
			xt := NewFloatTensor("x", []int64{n, c, h, w}, x)
			a, err := fused.RunPositional(xt)
			if err != nil {
				t.Fatal(err)
			}
			b, err := plain.RunPositional(xt, NewFloatTensor("w", []int64{k, c, 3, 3}, wt))
			if err != nil {
				t.Fatal(err)
			}
			av, _ := a[0].toValue(DefaultLimits())
			bv, _ := b[0].toValue(DefaultLimits())
			if !sameValues([]*value{av}, []*value{bv}) {
				fa, fb := av.float64s(), bv.float64s()
				for i := range fa {
					if fa[i] != fb[i] && !(math.IsNaN(fa[i]) && math.IsNaN(fb[i])) {
						t.Fatalf("output %d: fused %v, unfused %v", i, fa[i], fb[i])
					}
				}
				t.Fatalf("fused output %v %v, unfused %v %v", av.dt, av.shape, bv.dt, bv.shape)
			}
		})
	}
}

// TestBatchNormReluFusion checks that an inference BatchNormalization with
// no Conv before it absorbs the Relu after it, and that the fused and the
// unfused step (the normalized tensor also a graph output) both match
// float64 arithmetic, NaNs kept, on enough planes for two threads.
func TestBatchNormReluFusion(t *testing.T) {
	const n, c, h, w = 2, 5, 33, 31
	const eps = 1e-5
	defer kernel.SetThreads(kernel.SetThreads(2))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37) * 3)
	}
	x[7] = float32(math.NaN())
	scale, beta := []float32{1, 0.5, -2, 3, 0.25}, []float32{0, -1, 0.5, 2, -0.125}
	mean, vr := []float32{0.1, -0.2, 0.3, 0, 1}, []float32{1, 4, 0.25, 2, 0.5}
	for _, extraOut := range []bool{false, true} {
		outs := []*ValueInfo{{Name: "z"}}
		if extraOut {
			outs = append(outs, &ValueInfo{Name: "bn"})
		}
		g := &Graph{Name: "g", Inputs: []*ValueInfo{{Name: "x", ElemType: Float}}, Outputs: outs,
			Nodes: []*Node{
				NewNode("Add", "add", []string{"x", "x"}, []string{"s"}),
				NewNode("BatchNormalization", "bn", []string{"s", "scale", "beta", "mean", "var"}, []string{"bn"}, AttrFloat("epsilon", eps)),
				NewNode("Relu", "relu", []string{"bn"}, []string{"z"}),
			},
			Initializer: []*Tensor{NewFloatTensor("scale", []int64{c}, scale), NewFloatTensor("beta", []int64{c}, beta),
				NewFloatTensor("mean", []int64{c}, mean), NewFloatTensor("var", []int64{c}, vr)}}
		plan, err := Compile(&Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: 15}}, Graph: g})
		if err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, st := range plan.steps {
			ops = append(ops, st.node.OpType)
		}
		want := []string{"Add", "BatchNormalization"}
		if extraOut {
			want = append(want, "Relu")
		}
		if !reflect.DeepEqual(ops, want) {
			t.Fatalf("extra output %v: steps %v, want %v", extraOut, ops, want)
		}
		res, err := plan.RunPositional(NewFloatTensor("x", []int64{n, c, h, w}, x))
		if err != nil {
			t.Fatal(err)
		}
		got := res[0].FloatData
		inner := h * w
		for i, v := range x {
			ch := i / inner % c
			k := float64(scale[ch]) / math.Sqrt(float64(vr[ch])+eps)
			e := max((2*float64(v)-float64(mean[ch]))*k+float64(beta[ch]), 0)
			if math.IsNaN(e) != math.IsNaN(float64(got[i])) || math.Abs(float64(got[i])-e) > 1e-5*max(1, math.Abs(e)) {
				t.Fatalf("extra output %v: z[%d] = %v, want %v", extraOut, i, got[i], e)
			}
		}
	}
}
