package onnxio

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

// tv builds a test tensor of any executable type from a typed slice.
func tv(name string, dims []int64, data any) *Tensor {
	return &Tensor{Name: name, DataType: dataTypeOf(data), Dims: dims, RawData: encodeRaw(data)}
}

// runOp runs node n of the given opset twice: with ins as graph inputs
// (the node runs when the plan runs) and with ins as initializers (Compile
// folds it). Both must agree, in their results or in failing; the results
// come back as values, the error is the run-time one.
func runOp(t *testing.T, opset int64, n *Node, ins ...*Tensor) ([]*value, error) {
	t.Helper()
	var outs []*ValueInfo
	for _, o := range n.Outputs {
		if o != "" {
			outs = append(outs, &ValueInfo{Name: o})
		}
	}
	g := &Graph{Name: "op", Nodes: []*Node{n}, Outputs: outs}
	for _, in := range ins {
		g.Inputs = append(g.Inputs, &ValueInfo{Name: in.Name, ElemType: in.DataType})
	}
	m := &Model{IRVersion: RecommendedIRVersion, OpsetImport: []OperatorSetID{{Version: opset}}, Graph: g}
	got, err := runOneNode(m, ins)

	folded := *g
	folded.Inputs, folded.Initializer = nil, ins
	fm := *m
	fm.Graph = &folded
	gotF, errF := runOneNode(&fm, nil)
	if (err == nil) != (errF == nil) {
		t.Fatalf("run-time and folded evaluation disagree: %v / %v", err, errF)
	}
	if err == nil && !sameValues(got, gotF) {
		t.Fatalf("run-time result %v differs from the folded one %v", valueData(got), valueData(gotF))
	}
	return got, err
}

func runOneNode(m *Model, ins []*Tensor) ([]*value, error) {
	p, err := Compile(m)
	if err != nil {
		return nil, err
	}
	res, err := p.RunPositional(ins...)
	if err != nil {
		return nil, err
	}
	vals := make([]*value, len(res))
	for i, r := range res {
		if vals[i], err = r.toValue(DefaultLimits()); err != nil {
			return nil, err
		}
	}
	return vals, nil
}

// sameValues compares results by type, shape and value, NaN equal to NaN.
func sameValues(a, b []*value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].dt != b[i].dt || !shapeEq(a[i].shape, b[i].shape) || !sameFloats(a[i].float64s(), b[i].float64s()) {
			return false
		}
	}
	return true
}

// valueData lists the shapes and data of vs for comparisons and messages.
func valueData(vs []*value) []any {
	var out []any
	for _, v := range vs {
		out = append(out, v.shape, v.data)
	}
	return out
}

// mustRun is runOp that fails the test on an error.
func mustRun(t *testing.T, opset int64, n *Node, ins ...*Tensor) []*value {
	t.Helper()
	out, err := runOp(t, opset, n, ins...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantErr checks that running n fails with an error that names the node
// and contains every fragment.
func wantErr(t *testing.T, opset int64, n *Node, frags []string, ins ...*Tensor) {
	t.Helper()
	_, err := runOp(t, opset, n, ins...)
	if err == nil {
		t.Fatalf("%s: no error, want one containing %q", n, frags)
	}
	for _, f := range append([]string{fmt.Sprintf("%q", n.Name)}, frags...) {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("%s: error %q does not contain %q", n, err, f)
		}
	}
}

// wantValue checks one result's shape and data exactly.
func wantValue(t *testing.T, v *value, shape []int, data any) {
	t.Helper()
	if !shapeEq(v.shape, shape) {
		t.Errorf("shape %v, want %v", v.shape, shape)
	}
	if lenOf(data) == 0 && v.len() == 0 {
		if reflect.TypeOf(data) != reflect.TypeOf(v.data) {
			t.Errorf("type %T, want %T", v.data, data)
		}
		return
	}
	if !reflect.DeepEqual(v.data, data) {
		t.Errorf("data %v, want %v", v.data, data)
	}
}

// wantClose checks a float result within an absolute tolerance.
func wantClose(t *testing.T, v *value, shape []int, want []float64, tol float64) {
	t.Helper()
	if !shapeEq(v.shape, shape) {
		t.Errorf("shape %v, want %v", v.shape, shape)
	}
	got := v.float64s()
	if len(got) != len(want) {
		t.Fatalf("%d elements, want %d", len(got), len(want))
	}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || math.Abs(got[i]-want[i]) > tol {
			t.Errorf("[%d] = %g, want %g", i, got[i], want[i])
		}
	}
}
