package onnxio

import (
	"fmt"
	"slices"
)

// opDef registers an operator: its compiler and the attributes it knows.
// Any other attribute on a node is an error, so that a model relying on an
// unimplemented feature fails instead of computing something else.
type opDef struct {
	compile func(c *nodeCtx) (opFunc, error)
	attrs   []string
}

// opTable is filled by init functions in the ops_*.go files.
var opTable = map[string]opDef{}

// opArity gives each operator's least and greatest input count (-1: no
// bound). The first `least` inputs are required: the ONNX operators put
// optional inputs last. Variadic operators need every input present.
// Checking here, once, keeps every compiler from having to guard against
// missing inputs in hostile files.
var opArity = map[string][2]int{
	"Add": {2, 2}, "Sub": {2, 2}, "Mul": {2, 2}, "Div": {2, 2}, "Pow": {2, 2},
	"Sum": {1, -1}, "Concat": {1, -1},
	"Relu": {1, 1}, "LeakyRelu": {1, 1}, "Sigmoid": {1, 1}, "Sqrt": {1, 1}, "Identity": {1, 1},
	"Dropout": {1, 3}, "Conv": {2, 3}, "BatchNormalization": {5, 5},
	"MaxPool": {1, 1}, "AveragePool": {1, 1}, "GlobalAveragePool": {1, 1}, "LRN": {1, 1},
	"Gemm": {2, 3}, "MatMul": {2, 2}, "Softmax": {1, 1}, "LogSoftmax": {1, 1},
	"ReduceSum": {1, 2}, "ReduceMean": {1, 2},
	"Reshape": {1, 2}, "Flatten": {1, 1}, "Squeeze": {1, 2}, "Unsqueeze": {1, 2},
	"Transpose": {1, 1}, "Shape": {1, 1}, "Gather": {2, 2},
	"Constant": {0, 0}, "ConstantOfShape": {1, 1},
	"Erf": {1, 1}, "Clip": {1, 3}, "HardSigmoid": {1, 1}, "HardSwish": {1, 1},
	"Cast": {1, 1}, "Equal": {2, 2}, "Less": {2, 2}, "Greater": {2, 2}, "LessOrEqual": {2, 2},
	"GreaterOrEqual": {2, 2}, "And": {2, 2}, "Or": {2, 2}, "Xor": {2, 2}, "Not": {1, 1}, "Where": {3, 3},
	"Slice": {1, 5}, "Split": {1, 2}, "Expand": {2, 2}, "Pad": {1, 4}, "Range": {3, 3},
	"LayerNormalization": {2, 3}, "Mod": {2, 2}, "ScatterND": {3, 3},
}

// checkArity checks the node's inputs against opArity.
func checkArity(n *Node) error {
	ar, ok := opArity[n.OpType]
	if !ok {
		return fmt.Errorf("%s: operator %q has no declared arity", n, n.OpType)
	}
	lo, hi := ar[0], ar[1]
	if len(n.Inputs) < lo || (hi >= 0 && len(n.Inputs) > hi) {
		if lo == hi {
			return fmt.Errorf("%s: has %d inputs, want %d", n, len(n.Inputs), lo)
		}
		return fmt.Errorf("%s: has %d inputs, want %d to %d", n, len(n.Inputs), lo, hi)
	}
	required := lo
	if hi < 0 {
		required = len(n.Inputs)
	}
	for i := range required {
		if n.Inputs[i] == "" {
			return fmt.Errorf("%s: required input %d is empty", n, i)
		}
	}
	return nil
}

// nodeCtx is what an operator compiler sees: the node, the opset and the
// planner's constants.
type nodeCtx struct {
	node  *Node
	opset int
	pb    *planner
	fuse  *convFusion
}

func (c *nodeCtx) checkAttrs(known []string) error {
	for _, a := range c.node.Attributes {
		if !slices.Contains(known, a.Name) {
			return fmt.Errorf("%s: attribute %q is not supported", c.node, a.Name)
		}
	}
	return nil
}

func (c *nodeCtx) attr(name string, want AttributeType) (*Attribute, error) {
	a := c.node.Attr(name)
	if a == nil {
		return nil, nil
	}
	// Very old files leave type unset; trust the populated field then.
	if a.Type != want && a.Type != AttrTypeUndefined {
		return nil, fmt.Errorf("attribute %q has type %d, want %d", name, a.Type, want)
	}
	return a, nil
}

func (c *nodeCtx) int(name string, def int64) (int64, error) {
	a, err := c.attr(name, AttrTypeInt)
	if a == nil || err != nil {
		return def, err
	}
	return a.I, nil
}

func (c *nodeCtx) float(name string, def float32) (float32, error) {
	a, err := c.attr(name, AttrTypeFloat)
	if a == nil || err != nil {
		return def, err
	}
	return a.F, nil
}

func (c *nodeCtx) str(name, def string) (string, error) {
	a, err := c.attr(name, AttrTypeString)
	if a == nil || err != nil {
		return def, err
	}
	return string(a.S), nil
}

// ints returns a list attribute as ints; ok is false when it is absent.
func (c *nodeCtx) ints(name string) (v []int, ok bool, err error) {
	a, err := c.attr(name, AttrTypeInts)
	if a == nil || err != nil {
		return nil, false, err
	}
	v = make([]int, len(a.Ints))
	for i, x := range a.Ints {
		v[i] = int(x)
	}
	return v, true, nil
}

// input returns the constant value of input i, or nil when it is absent or
// computed at run time.
func (c *nodeCtx) constInput(i int) *value {
	if i >= len(c.node.Inputs) {
		return nil
	}
	return c.pb.constOf(c.node.Inputs[i])
}

// nIn checks the number of inputs.
func (c *nodeCtx) nIn(lo, hi int) error {
	n := len(c.node.Inputs)
	for n > 0 && c.node.Inputs[n-1] == "" {
		n--
	}
	if n < lo || n > hi {
		if lo == hi {
			return fmt.Errorf("has %d inputs, want %d", n, lo)
		}
		return fmt.Errorf("has %d inputs, want %d to %d", n, lo, hi)
	}
	return nil
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis, rank int) (int, error) {
	if axis < -rank || axis >= rank {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += rank
	}
	return axis, nil
}

// need returns input i or an error naming what is missing.
func need(in []*value, i int, what string) (*value, error) {
	if i >= len(in) || in[i] == nil {
		return nil, fmt.Errorf("missing input %d (%s)", i, what)
	}
	return in[i], nil
}
