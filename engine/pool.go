package engine

import (
	"fmt"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// PoolParams is the window geometry of 2-D pooling. KH and KW are the window
// size; zero values of StrideH, StrideW, DilH and DilW mean 1. With CeilMode
// the output size rounds up instead of down (a window must still start
// inside the input or its leading padding).
type PoolParams struct {
	KH, KW                               int
	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int
	CeilMode                             bool
}

// PoolSquare returns the parameters of a k×k window moved by stride, with no
// padding: PoolSquare(2, 2) is the usual 2×2 max-pool that halves the size.
func PoolSquare(k, stride int) PoolParams {
	return PoolParams{KH: k, KW: k, StrideH: stride, StrideW: stride}
}

// OutputSize returns the output height and width of pooling an h×w plane,
// or an error when the window does not fit or a size is invalid.
func (p PoolParams) OutputSize(h, w int) (oh, ow int, err error) {
	s := p.shape1(h, w)
	if err := s.Validate(); err != nil {
		return 0, 0, err
	}
	return s.OutH(), s.OutW(), nil
}

func (p PoolParams) shape1(h, w int) kernel.PoolShape {
	return kernel.PoolShape{
		N: 1, C: 1, H: h, W: w, KH: p.KH, KW: p.KW,
		StrideH: p.StrideH, StrideW: p.StrideW,
		PadTop: p.PadTop, PadLeft: p.PadLeft, PadBottom: p.PadBottom, PadRight: p.PadRight,
		DilH: p.DilH, DilW: p.DilW, CeilMode: p.CeilMode,
	}
}

// shape returns the kernel geometry for an input of shape x, panicking
// (naming op) when x is not rank 4 or the window does not fit.
func (p PoolParams) shape(op string, x []int) kernel.PoolShape {
	if len(x) != 4 {
		panic(fmt.Sprintf("engine.%s: input of shape %v, want rank 4 (NCHW)", op, x))
	}
	s := p.shape1(x[2], x[3])
	s.N, s.C = x[0], x[1]
	if err := s.Validate(); err != nil {
		panic(fmt.Sprintf("engine.%s: input %v: %v", op, x, err))
	}
	return s
}

// MaxPool2D returns the maximum of each window of x ([N,C,H,W]), of shape
// [N,C,OH,OW]. Padding never wins a window. The gradient goes to the first
// maximum of each window; the backward pass is a scatter to those positions,
// itself differentiable (its adjoint is the matching gather), so MaxPool2D
// can be differentiated to any order.
func MaxPool2D[T Float](x *Var[T], p PoolParams) *Var[T] {
	s := p.shape("MaxPool2D", x.Shape())
	out := newOverwritten[T](s.N, s.C, s.OutH(), s.OutW())
	argmax := makeIndex(out.Len())
	kernel.MaxPool2D(s, x.value.data, out.data, argmax)
	return record("MaxPool2D", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{maxPoolScatter(g, s, argmax)}
	}, x)
}

// maxPoolScatter adds each element of g ([N,C,OH,OW]) to the input position
// argmax selected, giving a tensor of the pooled input's shape.
func maxPoolScatter[T Float](g *Var[T], s kernel.PoolShape, argmax []int32) *Var[T] {
	out := New[T](s.N, s.C, s.H, s.W)
	kernel.MaxPoolScatterAdd(s, g.value.data, argmax, out.data) // out is new, so zero
	return record("MaxPoolScatter", out, func(gg, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{maxPoolGather(gg, s, argmax)}
	}, g)
}

// maxPoolGather reads x ([N,C,H,W]) at the positions argmax selected: the
// adjoint of maxPoolScatter.
func maxPoolGather[T Float](x *Var[T], s kernel.PoolShape, argmax []int32) *Var[T] {
	out := New[T](s.N, s.C, s.OutH(), s.OutW())
	kernel.MaxPoolGather(s, x.value.data, argmax, out.data)
	return record("MaxPoolGather", out, func(gg, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{maxPoolScatter(gg, s, argmax)}
	}, x)
}

// AvgPool2D returns the mean of each window of x ([N,C,H,W]), of shape
// [N,C,OH,OW]. With countIncludePad the divisor counts padding positions
// (ONNX count_include_pad=1); otherwise only positions inside the input.
func AvgPool2D[T Float](x *Var[T], p PoolParams, countIncludePad bool) *Var[T] {
	return avgPool(x, p.shape("AvgPool2D", x.Shape()), countIncludePad)
}

func avgPool[T Float](x *Var[T], s kernel.PoolShape, countIncludePad bool) *Var[T] {
	out := New[T](s.N, s.C, s.OutH(), s.OutW())
	kernel.AvgPool2D(s, countIncludePad, x.value.data, out.data)
	return record("AvgPool2D", out, func(g, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{avgPoolBackward(g, s, countIncludePad)}
	}, x)
}

// avgPoolBackward spreads g over the windows it was averaged from: the
// adjoint of average pooling, whose own adjoint is average pooling again.
func avgPoolBackward[T Float](g *Var[T], s kernel.PoolShape, countIncludePad bool) *Var[T] {
	out := New[T](s.N, s.C, s.H, s.W)
	kernel.AvgPool2DBackward(s, countIncludePad, g.value.data, out.data)
	return record("AvgPool2DBackward", out, func(gg, _ *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{avgPool(gg, s, countIncludePad)}
	}, g)
}

// GlobalAvgPool2D returns the mean of each channel plane of x ([N,C,H,W]),
// of shape [N,C,1,1] (as ONNX GlobalAveragePool).
func GlobalAvgPool2D[T Float](x *Var[T]) *Var[T] {
	shape := x.Shape()
	if len(shape) != 4 {
		panic(fmt.Sprintf("engine.GlobalAvgPool2D: input of shape %v, want rank 4 (NCHW)", shape))
	}
	return Scale(SumTo(x, []int{shape[0], shape[1], 1, 1}), 1/T(shape[2]*shape[3]))
}
