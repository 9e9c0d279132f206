package onnxio

import (
	"slices"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// Activations after a convolution that the Conv step applies to its own
// output in place, instead of as steps of their own that each read the
// full-size output and write a new one: PyTorch exports HardSwish as
// HardSigmoid and Mul (MobileNetV3), SiLU as Sigmoid and Mul
// (EfficientNet), ReLU6 as Clip (MobileNetV2), and the gates of
// squeeze-and-excitation blocks as a lone HardSigmoid or Sigmoid. The
// in-place pass uses the same kernels as the unfused operators, so the
// results are the same to the bit.

// activationFusion looks for one of those patterns reading slot s, the
// float32 output of a Conv with constant weights. It returns the nodes it
// absorbs, the in-place pass, and the slot of the pattern's output; act is
// nil when there is none.
func (pb *planner) activationFusion(s int) (nodes []*Node, act func(y []float32), out int) {
	cons := pb.consumers[s]
	malformed := func(n *Node) bool { return !pb.wellFormed(n) }
	if pb.isOutput[s] || slices.ContainsFunc(cons, malformed) {
		return nil, nil, s
	}
	unary := func(n *Node) bool {
		return len(n.Inputs) == 1 && len(n.Outputs) == 1 && n.Outputs[0] != "" && pb.slot(n.Inputs[0]) == s
	}
	switch {
	case len(cons) == 1 && cons[0].OpType == "Clip":
		if f := pb.clipInPlace(cons[0], s); f != nil {
			return cons[:1], f, pb.slot(cons[0].Outputs[0])
		}
	case len(cons) == 1 && unary(cons[0]):
		n := cons[0]
		var f func(y []float32)
		switch n.OpType {
		case "HardSigmoid":
			f = hardSigmoidInPlace(n)
		case "Sigmoid":
			f = func(y []float32) { kernel.Sigmoid32(y, y) }
		case "HardSwish":
			f = func(y []float32) { hardSwish32(y, y) }
		}
		if f != nil {
			return []*Node{n}, f, pb.slot(n.Outputs[0])
		}
	case len(cons) == 2:
		// x·g(x): the gate g (HardSigmoid or Sigmoid of x) and a Mul of x
		// and the gate's output, which nothing else reads.
		g, m := cons[0], cons[1]
		if g.OpType == "Mul" {
			g, m = m, g
		}
		if m.OpType != "Mul" || !unary(g) || len(m.Inputs) != 2 || len(m.Outputs) != 1 || m.Outputs[0] == "" {
			return nil, nil, s
		}
		gs := pb.slot(g.Outputs[0])
		a, b := pb.slot(m.Inputs[0]), pb.slot(m.Inputs[1])
		if !(a == s && b == gs || a == gs && b == s) || pb.singleConsumer(gs) != m {
			return nil, nil, s
		}
		var gate func(t, y []float32)
		switch g.OpType {
		case "HardSigmoid":
			alpha, beta, ok := hardSigmoidAttrs(g)
			if !ok {
				return nil, nil, s
			}
			gate = func(t, y []float32) {
				kernel.ScaleShift32(t, y, alpha, beta)
				kernel.Clamp32(t, t, 0, 1)
			}
		case "Sigmoid":
			gate = func(t, y []float32) { kernel.Sigmoid32(t, y) }
		default:
			return nil, nil, s
		}
		return []*Node{g, m}, func(y []float32) {
			// The gate of a block at a time, then the product into y.
			var buf [1024]float32
			for lo := 0; lo < len(y); lo += len(buf) {
				v := y[lo:min(len(y), lo+len(buf))]
				t := buf[:len(v)]
				gate(t, v)
				kernel.Mul32(v, v, t)
			}
		}, pb.slot(m.Outputs[0])
	}
	return nil, nil, s
}

// wellFormed reports whether node n passes the checks its own compile
// would make first (arity, known attributes), so that absorbing it never
// hides an error the unfused plan would report.
func (pb *planner) wellFormed(n *Node) bool {
	def, ok := opTable[n.OpType]
	if !ok || (n.Domain != "" && n.Domain != "ai.onnx") || checkArity(n) != nil {
		return false
	}
	c := &nodeCtx{node: n, opset: pb.opset, pb: pb}
	return c.checkAttrs(def.attrs) == nil
}

// hardSigmoidAttrs reads HardSigmoid's alpha and beta (defaults 0.2 and
// 0.5); ok is false if they are malformed, which the unfused compile then
// reports.
func hardSigmoidAttrs(n *Node) (alpha, beta float32, ok bool) {
	c := &nodeCtx{node: n}
	alpha, err1 := c.float("alpha", 0.2)
	beta, err2 := c.float("beta", 0.5)
	return alpha, beta, err1 == nil && err2 == nil
}

func hardSigmoidInPlace(n *Node) func(y []float32) {
	alpha, beta, ok := hardSigmoidAttrs(n)
	if !ok {
		return nil
	}
	return func(y []float32) {
		kernel.ScaleShift32(y, y, alpha, beta)
		kernel.Clamp32(y, y, 0, 1)
	}
}

// clipInPlace returns Clip node n of input slot s as an in-place pass when
// both bounds are given and constant (attributes before opset 11, scalar
// float32 inputs from it), or nil.
func (pb *planner) clipInPlace(n *Node, s int) func(y []float32) {
	if len(n.Outputs) != 1 || n.Outputs[0] == "" || len(n.Inputs) == 0 || pb.slot(n.Inputs[0]) != s {
		return nil
	}
	var lo, hi float32
	if pb.opset < 11 {
		c := &nodeCtx{node: n}
		if len(n.Inputs) != 1 || n.Attr("min") == nil || n.Attr("max") == nil {
			return nil
		}
		var err1, err2 error
		lo, err1 = c.float("min", 0)
		hi, err2 = c.float("max", 0)
		if err1 != nil || err2 != nil {
			return nil
		}
	} else {
		if len(n.Inputs) != 3 || n.Attr("min") != nil || n.Attr("max") != nil {
			return nil
		}
		bounds := [2]*float32{&lo, &hi}
		for i, name := range n.Inputs[1:] {
			v := pb.constOf(name)
			if v == nil {
				return nil
			}
			f, ok := v.data.([]float32)
			if !ok || len(f) != 1 {
				return nil
			}
			*bounds[i] = f[0]
		}
	}
	return func(y []float32) { kernel.Clamp32(y, y, lo, hi) }
}
