package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
)

// The sizes are those of a 5-way episode on Conv-4 features (1600 values per
// image): 75 queries, 5 prototypes, 80 images in all.

func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		m, k, n        int
		transA, transB bool
	}{
		{75, 1600, 5, false, true},
		{80, 1600, 64, false, false},
		{1600, 80, 64, true, false},
		{256, 256, 256, false, false},
	} {
		ar, ac := c.m, c.k
		if c.transA {
			ar, ac = ac, ar
		}
		br, bc := c.k, c.n
		if c.transB {
			br, bc = bc, br
		}
		for _, typ := range []string{"f32", "f64"} {
			b.Run(fmt.Sprintf("%s/%dx%dx%d/tA=%v,tB=%v", typ, c.m, c.k, c.n, c.transA, c.transB), func(b *testing.B) {
				defer func() {
					b.ReportMetric(2*float64(c.m*c.n*c.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				}()
				x, y := engine.RandNormal[float64](rng, 1, ar, ac), engine.RandNormal[float64](rng, 1, br, bc)
				if typ == "f32" {
					x32, y32 := engine.Const(engine.Convert[float32](x)), engine.Const(engine.Convert[float32](y))
					for b.Loop() {
						engine.MatMul(x32, y32, c.transA, c.transB)
					}
					return
				}
				xv, yv := engine.Const(x), engine.Const(y)
				for b.Loop() {
					engine.MatMul(xv, yv, c.transA, c.transB)
				}
			})
		}
	}
}

func BenchmarkLogSoftmax(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, sh := range [][2]int{{75, 5}, {1024, 1000}} {
		b.Run(fmt.Sprintf("%dx%d/forward", sh[0], sh[1]), func(b *testing.B) {
			x := engine.Const(engine.RandNormal[float32](rng, 1, sh[0], sh[1]))
			for b.Loop() {
				engine.LogSoftmax(x, 1)
			}
		})
		b.Run(fmt.Sprintf("%dx%d/forward+backward", sh[0], sh[1]), func(b *testing.B) {
			x := engine.Param(engine.RandNormal[float32](rng, 1, sh[0], sh[1]))
			w := engine.Const(engine.RandNormal[float32](rng, 1, sh[0], sh[1]))
			for b.Loop() {
				engine.Grad(engine.Sum(engine.Mul(engine.LogSoftmax(x, 1), w)), []*engine.Var[float32]{x}, false)
			}
		})
	}
}

func BenchmarkPairwiseSqDist(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	q := engine.RandNormal[float32](rng, 1, 75, 1600)
	p := engine.RandNormal[float32](rng, 1, 5, 1600)
	b.Run("forward", func(b *testing.B) {
		qv, pv := engine.Const(q), engine.Const(p)
		for b.Loop() {
			engine.PairwiseSqDist(qv, pv)
		}
	})
	b.Run("forward+backward", func(b *testing.B) {
		qv, pv := engine.Param(q), engine.Param(p)
		for b.Loop() {
			engine.Grad(engine.Sum(engine.PairwiseSqDist(qv, pv)), []*engine.Var[float32]{qv, pv}, false)
		}
	})
}

func BenchmarkReLU(b *testing.B) {
	// One Conv-4 block's activation for an 80-image episode at 42×42.
	x := engine.Param(engine.RandNormal[float32](rand.New(rand.NewPCG(7, 8)), 1, 80, 64, 42, 42))
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(int64(4 * x.Value().Len()))
		xc := engine.Detach(x)
		for b.Loop() {
			engine.ReLU(xc)
		}
	})
	b.Run("forward+backward", func(b *testing.B) {
		b.SetBytes(int64(4 * x.Value().Len()))
		for b.Loop() {
			engine.Grad(engine.Sum(engine.ReLU(x)), []*engine.Var[float32]{x}, false)
		}
	})
}
