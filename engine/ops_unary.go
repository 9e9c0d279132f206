package engine

import (
	"math"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// mapTensor returns f applied to every element of x.
func mapTensor[T Float](x *Tensor[T], f func(T) T) *Tensor[T] {
	out := New[T](x.shape...)
	z := out.data
	for i, v := range x.data {
		z[i] = f(v)
	}
	return out
}

// Exp returns e^x element-wise.
func Exp[T Float](x *Var[T]) *Var[T] {
	out := mapTensor(x.value, func(v T) T { return T(math.Exp(float64(v))) })
	return record("Exp", out, func(g, out *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Mul(g, out)}
	}, x)
}

// Log returns the natural logarithm of x element-wise.
func Log[T Float](x *Var[T]) *Var[T] {
	out := mapTensor(x.value, func(v T) T { return T(math.Log(float64(v))) })
	return record("Log", out, func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Div(g, in[0])}
	}, x)
}

// Sqrt returns the square root of x element-wise.
func Sqrt[T Float](x *Var[T]) *Var[T] {
	out := mapTensor(x.value, func(v T) T { return T(math.Sqrt(float64(v))) })
	return record("Sqrt", out, func(g, out *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		// d√x/dx = 1/(2√x), reusing the output.
		return []*Var[T]{Div(Scale(g, 0.5), out)}
	}, x)
}

// Square returns x² element-wise.
func Square[T Float](x *Var[T]) *Var[T] {
	out := New[T](x.value.shape...)
	for i, v := range x.value.data {
		out.data[i] = v * v
	}
	return record("Square", out, func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{Scale(Mul(g, in[0]), 2)}
	}, x)
}

// Tanh returns the hyperbolic tangent of x element-wise.
func Tanh[T Float](x *Var[T]) *Var[T] {
	out := mapTensor(x.value, func(v T) T { return T(math.Tanh(float64(v))) })
	return record("Tanh", out, func(g, out *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		// 1 − tanh² = (1 − t)(1 + t)
		return []*Var[T]{Mul(g, Mul(AddScalar(Neg(out), 1), AddScalar(out, 1)))}
	}, x)
}

// Sigmoid returns the logistic function 1/(1+e^−x) element-wise.
func Sigmoid[T Float](x *Var[T]) *Var[T] {
	out := mapTensor(x.value, func(v T) T { return T(sigmoid64(float64(v))) })
	return record("Sigmoid", out, func(g, out *Var[T], _ []*Var[T], _ []bool) []*Var[T] {
		// σ' = σ(1 − σ), expressed through the output.
		return []*Var[T]{Mul(g, Mul(out, AddScalar(Neg(out), 1)))}
	}, x)
}

// ReLU returns max(x, 0) element-wise.
func ReLU[T Float](x *Var[T]) *Var[T] { return leaky("ReLU", x, 0) }

// LeakyReLU returns x where x > 0 and slope·x elsewhere.
func LeakyReLU[T Float](x *Var[T], slope T) *Var[T] { return leaky("LeakyReLU", x, slope) }

func leaky[T Float](op string, x *Var[T], slope T) *Var[T] {
	out := New[T](x.value.shape...)
	leakyKernel(out.data, x.value.data, x.value.data, slope)
	return record(op, out, func(g, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{leakyGrad(g, in[0], slope)}
	}, x)
}

// leakyGrad returns g where x > 0 and slope·g elsewhere: the backward pass of
// LeakyReLU in one fused loop, with no mask tensor. It is linear in g, and its
// derivative with respect to x is zero almost everywhere, so x is treated as
// a constant.
func leakyGrad[T Float](g, x *Var[T], slope T) *Var[T] {
	out := New[T](g.value.shape...)
	leakyKernel(out.data, g.value.data, x.value.data, slope)
	return record("ReLUGrad", out, func(gg, _ *Var[T], in []*Var[T], _ []bool) []*Var[T] {
		return []*Var[T]{leakyGrad(gg, in[1], slope), nil}
	}, g, Detach(x))
}

// leakyKernel sets z[i] = v[i] where x[i] > 0 and slope·v[i] elsewhere
// (v = x gives LeakyReLU itself). The signs of activations are random, so a
// branch per element would be mispredicted half the time; the float32 and
// float64 loops select with bit masks instead.
func leakyKernel[T Float](z, v, x []T, slope T) {
	switch zz := any(z).(type) {
	case []float32:
		if slope == 0 {
			kernel.MaskPositive32(zz, any(v).([]float32), any(x).([]float32))
			return
		}
		leaky32(zz, any(v).([]float32), any(x).([]float32), float32(slope))
	case []float64:
		leaky64(zz, any(v).([]float64), any(x).([]float64), float64(slope))
	default: // a named float type
		x = x[:len(z)]
		for i, e := range v[:len(z)] {
			if x[i] <= 0 {
				e *= slope
			}
			z[i] = e
		}
	}
}

// leaky32 is leakyKernel for float32. With b the bits of x[i] read as a
// signed integer, the mask (−b & ^b) >> 31 is all ones exactly when b > 0,
// that is when x[i] > 0 (or is a NaN with the sign bit clear); −0 gives zero.
func leaky32(z, v, x []float32, slope float32) {
	v, x = v[:len(z)], x[:len(z)]
	if slope == 0 {
		// Masking rather than multiplying by 0 keeps ±Inf·0 from giving NaN.
		for i, e := range v {
			b := int32(math.Float32bits(x[i]))
			z[i] = math.Float32frombits(math.Float32bits(e) & uint32((-b & ^b)>>31))
		}
		return
	}
	one, sl := math.Float32bits(1), math.Float32bits(slope)
	for i, e := range v {
		b := int32(math.Float32bits(x[i]))
		m := uint32((-b & ^b) >> 31)
		z[i] = e * math.Float32frombits(one&m|sl&^m)
	}
}

// leaky64 is leakyKernel for float64, with the same mask on 64 bits.
func leaky64(z, v, x []float64, slope float64) {
	v, x = v[:len(z)], x[:len(z)]
	if slope == 0 {
		for i, e := range v {
			b := int64(math.Float64bits(x[i]))
			z[i] = math.Float64frombits(math.Float64bits(e) & uint64((-b & ^b)>>63))
		}
		return
	}
	one, sl := math.Float64bits(1), math.Float64bits(slope)
	for i, e := range v {
		b := int64(math.Float64bits(x[i]))
		m := uint64((-b & ^b) >> 63)
		z[i] = e * math.Float64frombits(one&m|sl&^m)
	}
}
