package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

// naiveConv2D is the textbook definition of a grouped, strided, dilated,
// padded cross-correlation, for checking the op's values.
func naiveConv2D(x, w, b *engine.Tensor[float64], p engine.ConvParams) *engine.Tensor[float64] {
	one := func(v int) int { return max(v, 1) }
	sh, sw, dh, dw, groups := one(p.StrideH), one(p.StrideW), one(p.DilH), one(p.DilW), one(p.Groups)
	n, c, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	k, cg, r, s := w.Dim(0), w.Dim(1), w.Dim(2), w.Dim(3)
	oh := (h+p.PadTop+p.PadBottom-dh*(r-1)-1)/sh + 1
	ow := (wd+p.PadLeft+p.PadRight-dw*(s-1)-1)/sw + 1
	kg := k / groups
	out := engine.New[float64](n, k, oh, ow)
	xd, wdt, od := x.Data(), w.Data(), out.Data()
	for i := 0; i < n; i++ {
		for o := 0; o < k; o++ {
			grp := o / kg
			for y := 0; y < oh; y++ {
				for z := 0; z < ow; z++ {
					var sum float64
					if b != nil {
						sum = b.Data()[o]
					}
					for ci := 0; ci < cg; ci++ {
						ch := grp*cg + ci
						for u := 0; u < r; u++ {
							for v := 0; v < s; v++ {
								hh, ww := y*sh-p.PadTop+u*dh, z*sw-p.PadLeft+v*dw
								if hh < 0 || hh >= h || ww < 0 || ww >= wd {
									continue
								}
								sum += xd[((i*c+ch)*h+hh)*wd+ww] * wdt[((o*cg+ci)*r+u)*s+v]
							}
						}
					}
					od[((i*k+o)*oh+y)*ow+z] = sum
				}
			}
		}
	}
	return out
}

func assertTensorsClose(t *testing.T, what string, got, want *engine.Tensor[float64], tol float64) {
	t.Helper()
	if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape()) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), want.Shape())
	}
	for i, w := range want.Data() {
		if g := got.Data()[i]; math.Abs(g-w) > tol*(1+math.Abs(w)) {
			t.Fatalf("%s: element %d = %.10g, want %.10g", what, i, g, w)
		}
	}
}

type convCase struct {
	name    string
	x, w    []int
	bias    bool
	p       engine.ConvParams
	outDims []int
}

var convCases = []convCase{
	{"plain", []int{2, 3, 5, 5}, []int{4, 3, 3, 3}, true, engine.ConvParams{}, []int{2, 4, 3, 3}},
	{"same", []int{2, 2, 5, 4}, []int{3, 2, 3, 3}, true, engine.ConvSame(1, 1), []int{2, 3, 5, 4}},
	{"stride2", []int{1, 2, 7, 6}, []int{2, 2, 3, 2}, false, engine.ConvSame(2, 1), []int{1, 2, 4, 4}},
	{"asymmetric", []int{2, 2, 5, 5}, []int{3, 2, 2, 3}, true,
		engine.ConvParams{PadTop: 1, PadLeft: 0, PadBottom: 0, PadRight: 2, StrideW: 2}, []int{2, 3, 5, 3}},
	{"dilated", []int{1, 2, 7, 7}, []int{2, 2, 3, 3}, true, engine.ConvParams{DilH: 2, DilW: 3, PadTop: 1, PadBottom: 1}, []int{1, 2, 5, 1}},
	{"groups", []int{2, 4, 5, 5}, []int{6, 2, 3, 3}, true, engine.ConvParams{Groups: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, []int{2, 6, 5, 5}},
}

func TestConv2DValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 1))
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			x, w, b := randT(rng, tc.x...), randT(rng, tc.w...), randT(rng, tc.w[0])
			var bv *V
			if !tc.bias {
				b = nil
			} else {
				bv = engine.Const(b)
			}
			got := engine.Conv2D(engine.Const(x), engine.Const(w), bv, tc.p)
			if got.Tracked() {
				t.Fatal("convolution of constants is tracked")
			}
			want := naiveConv2D(x, w, b, tc.p)
			if fmt.Sprint(got.Shape()) != fmt.Sprint(tc.outDims) {
				t.Fatalf("shape %v, want %v", got.Shape(), tc.outDims)
			}
			assertTensorsClose(t, "Conv2D", got.Value(), want, 1e-12)
		})
	}
}

// TestConv2DGradOpsAreAdjoint checks <g, conv(x, w)> = <GradInput(g, w), x>
// = <GradWeight(x, g), w>, the identities the backward rules rest on.
func TestConv2DGradOpsAreAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 2))
	dot := func(a, b *engine.Tensor[float64]) float64 {
		var s float64
		for i, v := range a.Data() {
			s += v * b.Data()[i]
		}
		return s
	}
	for _, tc := range convCases {
		x, w := randT(rng, tc.x...), randT(rng, tc.w...)
		g := randT(rng, tc.outDims...)
		y := engine.Conv2D(engine.Const(x), engine.Const(w), nil, tc.p).Value()
		gx := engine.Conv2DGradInput(engine.Const(g), engine.Const(w), tc.x, tc.p).Value()
		gw := engine.Conv2DGradWeight(engine.Const(x), engine.Const(g), tc.w, tc.p).Value()
		a, bx, bw := dot(g, y), dot(gx, x), dot(gw, w)
		if math.Abs(a-bx) > 1e-9*(1+math.Abs(a)) || math.Abs(a-bw) > 1e-9*(1+math.Abs(a)) {
			t.Errorf("%s: <g,y> = %v, <gx,x> = %v, <gw,w> = %v", tc.name, a, bx, bw)
		}
	}
}

// convLoss makes a convolution's output enter a nonlinear scalar so that the
// second-order check sees the cross terms between x, w and b.
func convLoss(tc convCase) gradcheck.Func {
	return func(p []*V) *V {
		var b *V
		if len(p) > 2 {
			b = p[2]
		}
		y := engine.Conv2D(p[0], p[1], b, tc.p)
		return engine.Sum(engine.Mul(y, y))
	}
}

func TestGradCheckConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 3))
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			params := []*engine.Tensor[float64]{randT(rng, tc.x...), randT(rng, tc.w...)}
			if tc.bias {
				params = append(params, randT(rng, tc.w[0]))
			}
			if err := gradcheck.First(convLoss(tc), params, gradcheck.Options{}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSecondOrderConv2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 4))
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			params := []*engine.Tensor[float64]{randT(rng, tc.x...), randT(rng, tc.w...)}
			if tc.bias {
				params = append(params, randT(rng, tc.w[0]))
			}
			if err := gradcheck.Second(convLoss(tc), params, gradcheck.Options{}); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestSecondOrderConv2DGradOps differentiates the backward ops directly, so
// that their own backward rules (and theirs in turn, through the
// second-order check) are exercised on every geometry.
func TestSecondOrderConv2DGradOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 5))
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			gIn := func(p []*V) *V {
				dx := engine.Conv2DGradInput(p[0], p[1], tc.x, tc.p)
				return engine.Sum(engine.Mul(dx, dx))
			}
			gW := func(p []*V) *V {
				dw := engine.Conv2DGradWeight(p[0], p[1], tc.w, tc.p)
				return engine.Sum(engine.Mul(dw, dw))
			}
			checkBoth(t, gIn, randT(rng, tc.outDims...), randT(rng, tc.w...))
			checkBoth(t, gW, randT(rng, tc.x...), randT(rng, tc.outDims...))
		})
	}
}

func TestConv2DFloat32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 6))
	tc := convCases[5]
	x, w, b := randT(rng, tc.x...), randT(rng, tc.w...), randT(rng, tc.w[0])
	x32, w32, b32 := engine.Param(engine.Convert[float32](x)), engine.Param(engine.Convert[float32](w)), engine.Param(engine.Convert[float32](b))
	x64, w64, b64 := engine.Param(x), engine.Param(w), engine.Param(b)
	y32 := engine.Conv2D(x32, w32, b32, tc.p)
	y64 := engine.Conv2D(x64, w64, b64, tc.p)
	assertTensorsClose(t, "float32 Conv2D", engine.Convert[float64](y32.Value()), y64.Value(), 1e-5)
	g32 := engine.Grad(engine.Sum(engine.Mul(y32, y32)), []*engine.Var[float32]{x32, w32, b32}, false)
	g64 := engine.Grad(engine.Sum(engine.Mul(y64, y64)), []*V{x64, w64, b64}, false)
	for i := range g64 {
		assertTensorsClose(t, fmt.Sprintf("float32 gradient %d", i), engine.Convert[float64](g32[i].Value()), g64[i].Value(), 1e-4)
	}
}

func TestConv2DPanicsOnBadShapes(t *testing.T) {
	cases := []struct {
		name string
		fn   func()
	}{
		{"rank", func() {
			engine.Conv2D(engine.Const(engine.New[float64](3, 4, 4)), engine.Const(engine.New[float64](2, 3, 3, 3)), nil, engine.ConvParams{})
		}},
		{"channels", func() {
			engine.Conv2D(engine.Const(engine.New[float64](1, 3, 4, 4)), engine.Const(engine.New[float64](2, 2, 3, 3)), nil, engine.ConvParams{})
		}},
		{"too small", func() {
			engine.Conv2D(engine.Const(engine.New[float64](1, 2, 2, 2)), engine.Const(engine.New[float64](2, 2, 3, 3)), nil, engine.ConvParams{})
		}},
		{"bias", func() {
			engine.Conv2D(engine.Const(engine.New[float64](1, 2, 4, 4)), engine.Const(engine.New[float64](2, 2, 3, 3)), engine.Const(engine.New[float64](3)), engine.ConvParams{})
		}},
	}
	for _, c := range cases {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", c.name)
				} else if s := fmt.Sprint(r); len(s) < 14 || s[:14] != "engine.Conv2D:" {
					t.Errorf("%s: panic %q does not name the op", c.name, s)
				}
			}()
			c.fn()
		}()
	}
}

// TestConv2DWinogradMatchesFloat64 covers float32 convolutions that take the
// Winograd route (3×3, unit stride, at least 3 input and 8 output channels)
// in the forward pass, the input gradient and a second-order gradient, on
// ragged image sizes and asymmetric paddings, against float64's direct route.
// Winograd's transforms cost float32 a little accuracy, hence the bounds.
func TestConv2DWinogradMatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 7))
	cases := []struct {
		name string
		x, w []int
		p    engine.ConvParams
	}{
		{"same", []int{3, 8, 13, 11}, []int{16, 8, 3, 3}, engine.ConvSame(1, 1)},
		{"valid", []int{2, 9, 10, 9}, []int{8, 9, 3, 3}, engine.ConvParams{}},
		{"asymmetric", []int{2, 8, 7, 12}, []int{12, 8, 3, 3}, engine.ConvParams{PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 2}},
	}
	to32 := func(v *engine.Tensor[float64]) *engine.Var[float32] { return engine.Param(engine.Convert[float32](v)) }
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			x, w, b := randT(rng, tc.x...), randT(rng, tc.w...), randT(rng, tc.w[0])
			x32, w32, b32 := to32(x), to32(w), to32(b)
			x64, w64, b64 := engine.Param(x), engine.Param(w), engine.Param(b)
			y32, y64 := engine.Conv2D(x32, w32, b32, tc.p), engine.Conv2D(x64, w64, b64, tc.p)
			assertTensorsClose(t, "Conv2D", engine.Convert[float64](y32.Value()), y64.Value(), 1e-4)

			g := randT(rng, y64.Shape()...)
			gx32 := engine.Conv2DGradInput(engine.Const(engine.Convert[float32](g)), w32, tc.x, tc.p)
			gx64 := engine.Conv2DGradInput(engine.Const(g), w64, tc.x, tc.p)
			assertTensorsClose(t, "Conv2DGradInput", engine.Convert[float64](gx32.Value()), gx64.Value(), 1e-4)

			// The gradient of ‖∂L/∂x‖² with respect to w runs Conv2D and
			// Conv2DGradInput inside backward passes.
			second := func(x, w, b *engine.Var[float32]) *engine.Tensor[float32] {
				y := engine.Conv2D(x, w, b, tc.p)
				gx := engine.Grad(engine.Sum(engine.Mul(y, y)), []*engine.Var[float32]{x}, true)[0]
				return engine.Grad(engine.Sum(engine.Mul(gx, gx)), []*engine.Var[float32]{w}, false)[0].Value()
			}
			y := engine.Conv2D(x64, w64, b64, tc.p)
			gx := engine.Grad(engine.Sum(engine.Mul(y, y)), []*V{x64}, true)[0]
			want := engine.Grad(engine.Sum(engine.Mul(gx, gx)), []*V{w64}, false)[0].Value()
			assertTensorsClose(t, "second-order gradient", engine.Convert[float64](second(x32, w32, b32)), want, 1e-3)
		})
	}
}

// The bias gradient of a convolution followed by batch normalisation comes
// from the plane sums the normalisation's backward pass knows; it must
// equal the sums of the gradient with respect to the convolution's output
// (which batch normalisation makes zero up to rounding), and when the
// output also feeds another op, the plane sums of the total, taken by a
// pass over it.
func TestConvBiasGradFromPlaneSums(t *testing.T) {
	t.Run("float32", func(t *testing.T) { checkConvBiasPlaneSums[float32](t, 1e-5) })
	t.Run("float64", func(t *testing.T) { checkConvBiasPlaneSums[float64](t, 1e-12) })
}

func checkConvBiasPlaneSums[T engine.Float](t *testing.T, tol float64) {
	rng := rand.New(rand.NewPCG(12, 13))
	x := engine.Const(engine.Convert[T](randT(rng, 4, 3, 16, 16)))
	w := engine.Param(engine.Convert[T](randT(rng, 8, 3, 3, 3)))
	b := engine.Param(engine.Convert[T](randT(rng, 8)))
	gamma, beta := engine.Param(engine.Convert[T](positive(rng, 8))), engine.Param(engine.Convert[T](randT(rng, 8)))
	for _, tc := range []struct{ alsoLinear, secondOrder bool }{{false, false}, {true, false}, {false, true}} {
		alsoLinear := tc.alsoLinear
		h := engine.Conv2D(x, w, b, engine.ConvSame(1, 1))
		y := engine.BatchNormReLUMaxPool2D(h, gamma, beta, engine.NewBNState[T](8), true, engine.PoolSquare(2, 2))
		loss := engine.Sum(engine.Mul(y, engine.Const(engine.Convert[T](opRand(3, y.Shape()...)))))
		if alsoLinear {
			loss = engine.Add(loss, engine.Sum(engine.Mul(h, engine.Const(engine.Convert[T](opRand(4, h.Shape()...))))))
		}
		if tc.secondOrder {
			// The L2G shape: the squared gradient with respect to the
			// weights and γ, whose gradient runs through the fused op's
			// second-order passes.
			first := engine.Grad(loss, []*engine.Var[T]{w, gamma}, true)
			loss = engine.Add(engine.Sum(engine.Mul(first[0], first[0])), engine.Sum(engine.Mul(first[1], first[1])))
		}
		g := engine.Grad(loss, []*engine.Var[T]{b, h}, false)
		gh := g[1].Value()
		hw := gh.Dim(2) * gh.Dim(3)
		for c := 0; c < 8; c++ {
			var want, scale float64
			for n := 0; n < gh.Dim(0); n++ {
				for _, v := range gh.Data()[(n*8+c)*hw : (n*8+c+1)*hw] {
					want += float64(v)
					scale += math.Abs(float64(v))
				}
			}
			if got := float64(g[0].Value().Data()[c]); math.Abs(got-want) > tol*(1+scale) {
				t.Errorf("%+v: bias gradient [%d] = %v, sum of the output gradient %v (scale %v)", tc, c, got, want, scale)
			}
			if !alsoLinear && math.Abs(want) > tol*(1+scale) {
				t.Errorf("channel %d: the output gradient sums to %v after batch normalisation, want about 0", c, want)
			}
		}
	}
}
