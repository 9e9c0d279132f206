package engine_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

// naivePool computes max or average pooling straight from the definition.
// Windows are clipped to the padded input, as ONNX and PyTorch do.
func naivePool(x *engine.Tensor[float64], p engine.PoolParams, avg, includePad bool) *engine.Tensor[float64] {
	one := func(v int) int { return max(v, 1) }
	sh, sw, dh, dw := one(p.StrideH), one(p.StrideW), one(p.DilH), one(p.DilW)
	n, c, h, w := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	size := func(in, k, s, d, a, b int) int {
		span := in + a + b - d*(k-1) - 1
		if !p.CeilMode {
			return span/s + 1
		}
		o := (span+s-1)/s + 1
		if (o-1)*s >= in+a {
			o--
		}
		return o
	}
	oh, ow := size(h, p.KH, sh, dh, p.PadTop, p.PadBottom), size(w, p.KW, sw, dw, p.PadLeft, p.PadRight)
	out := engine.New[float64](n, c, oh, ow)
	xd := x.Data()
	for pl := 0; pl < n*c; pl++ {
		for y := 0; y < oh; y++ {
			for z := 0; z < ow; z++ {
				best, sum, cnt := math.Inf(-1), 0.0, 0
				for u := 0; u < p.KH; u++ {
					for v := 0; v < p.KW; v++ {
						hh, ww := y*sh-p.PadTop+u*dh, z*sw-p.PadLeft+v*dw
						if hh >= -p.PadTop && hh < h+p.PadBottom && ww >= -p.PadLeft && ww < w+p.PadRight && includePad {
							cnt++
						}
						if hh < 0 || hh >= h || ww < 0 || ww >= w {
							continue
						}
						val := xd[(pl*h+hh)*w+ww]
						best = max(best, val)
						sum += val
						if !includePad {
							cnt++
						}
					}
				}
				r := best
				if avg {
					r = sum / float64(cnt)
				}
				out.Data()[(pl*oh+y)*ow+z] = r
			}
		}
	}
	return out
}

var poolCases = []struct {
	name string
	x    []int
	p    engine.PoolParams
}{
	{"2x2", []int{2, 3, 6, 6}, engine.PoolSquare(2, 2)},
	{"odd floor", []int{1, 2, 7, 5}, engine.PoolSquare(2, 2)},
	{"3x3 s2 pad", []int{2, 2, 7, 7}, engine.PoolParams{KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	{"asymmetric ceil", []int{1, 2, 6, 7}, engine.PoolParams{KH: 2, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadRight: 1, CeilMode: true}},
	{"dilated overlap", []int{1, 3, 7, 7}, engine.PoolParams{KH: 2, KW: 2, DilH: 2, DilW: 2}},
}

func TestPoolValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 1))
	for _, tc := range poolCases {
		x := randT(rng, tc.x...)
		assertTensorsClose(t, tc.name+" max", engine.MaxPool2D(engine.Const(x), tc.p).Value(), naivePool(x, tc.p, false, false), 0)
		for _, inc := range []bool{false, true} {
			assertTensorsClose(t, fmt.Sprintf("%s avg include=%v", tc.name, inc),
				engine.AvgPool2D(engine.Const(x), tc.p, inc).Value(), naivePool(x, tc.p, true, inc), 1e-12)
		}
	}
}

// poolLoss squares the pooled values, so the Hessian is built from the
// pooling map and its adjoint: the second-order check goes through the
// backward op's own backward rule.
func poolLoss(pool func(*V) *V) gradcheck.Func {
	return func(p []*V) *V {
		y := pool(p[0])
		return engine.Sum(engine.Mul(y, y))
	}
}

func TestGradCheckMaxPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 2))
	for _, tc := range poolCases {
		f := poolLoss(func(x *V) *V { return engine.MaxPool2D(x, tc.p) })
		if err := gradcheck.First(f, []*engine.Tensor[float64]{randT(rng, tc.x...)}, gradcheck.Options{}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestSecondOrderMaxPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 3))
	for _, tc := range poolCases {
		// Pooling a product makes x appear in the gradient's scatter and in
		// the scattered values, so both adjoint ops are needed.
		f := func(p []*V) *V {
			y := engine.MaxPool2D(engine.Mul(p[0], p[1]), tc.p)
			return engine.Sum(engine.Mul(y, y))
		}
		x, s := randT(rng, tc.x...), positive(rng, tc.x...)
		if err := gradcheck.Second(f, []*engine.Tensor[float64]{x, s}, gradcheck.Options{}); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		// Third order: differentiate a function of the create-graph gradient
		// twice, so MaxPoolScatter's backward (a gather) is itself
		// differentiated.
		g := func(p []*V) *V {
			y := engine.MaxPool2D(p[0], tc.p)
			gx := engine.Grad(engine.Sum(engine.Mul(engine.Mul(y, y), y)), []*V{p[0]}, true)[0]
			return engine.Sum(engine.Mul(gx, gx))
		}
		checkBoth(t, g, randT(rng, tc.x...))
	}
}

func TestGradCheckAvgPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 4))
	for _, tc := range poolCases {
		for _, inc := range []bool{false, true} {
			f := func(p []*V) *V {
				y := engine.AvgPool2D(engine.Mul(p[0], p[1]), tc.p, inc)
				return engine.Sum(engine.Mul(y, y))
			}
			t.Run(fmt.Sprintf("%s/include=%v", tc.name, inc), func(t *testing.T) {
				checkBoth(t, f, randT(rng, tc.x...), randT(rng, tc.x...))
			})
		}
	}
}

func TestSecondOrderAvgPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	tc := poolCases[2]
	// As for max pooling, a third-order use makes the backward op's backward
	// (average pooling again) part of a differentiated graph.
	g := func(p []*V) *V {
		y := engine.AvgPool2D(p[0], tc.p, true)
		gx := engine.Grad(engine.Sum(engine.Mul(engine.Mul(y, y), y)), []*V{p[0]}, true)[0]
		return engine.Sum(engine.Mul(gx, gx))
	}
	checkBoth(t, g, randT(rng, tc.x...))
}

func TestGlobalAvgPool2D(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 6))
	x := randT(rng, 2, 3, 4, 5)
	y := engine.GlobalAvgPool2D(engine.Const(x)).Value()
	if fmt.Sprint(y.Shape()) != "[2 3 1 1]" {
		t.Fatalf("shape %v", y.Shape())
	}
	for pl := 0; pl < 6; pl++ {
		var s float64
		for _, v := range x.Data()[pl*20 : (pl+1)*20] {
			s += v
		}
		if math.Abs(y.Data()[pl]-s/20) > 1e-12 {
			t.Fatalf("plane %d: %v, want %v", pl, y.Data()[pl], s/20)
		}
	}
	f := func(p []*V) *V {
		y := engine.GlobalAvgPool2D(engine.Mul(p[0], p[0]))
		return engine.Sum(engine.Mul(y, y))
	}
	checkBoth(t, f, randT(rng, 2, 3, 3, 2))
}

func TestPoolFloat32MatchesFloat64(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 7))
	tc := poolCases[2]
	x := randT(rng, tc.x...)
	x32 := engine.Param(engine.Convert[float32](x))
	x64 := engine.Param(x)
	l32 := engine.Add(engine.Sum(engine.MaxPool2D(engine.Mul(x32, x32), tc.p)), engine.Sum(engine.AvgPool2D(engine.Mul(x32, x32), tc.p, false)))
	l64 := engine.Add(engine.Sum(engine.MaxPool2D(engine.Mul(x64, x64), tc.p)), engine.Sum(engine.AvgPool2D(engine.Mul(x64, x64), tc.p, false)))
	if math.Abs(float64(l32.Item())-l64.Item()) > 1e-5*math.Abs(l64.Item()) {
		t.Fatalf("float32 %v, float64 %v", l32.Item(), l64.Item())
	}
	g32 := engine.Grad(l32, []*engine.Var[float32]{x32}, false)[0]
	g64 := engine.Grad(l64, []*V{x64}, false)[0]
	assertTensorsClose(t, "float32 gradient", engine.Convert[float64](g32.Value()), g64.Value(), 1e-5)
}
