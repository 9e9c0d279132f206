package engine_test

import (
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
)

// opCase is one gradient check: a scalar function and the parameter values
// it is checked at.
type opCase struct {
	name   string
	f      gradcheck.Func
	params []*engine.Tensor[float64]
}

// opRand returns reproducible normal values for test case inputs.
func opRand(seed uint64, shape ...int) *engine.Tensor[float64] {
	return engine.RandNormal[float64](rand.New(rand.NewPCG(seed, 11)), 1, shape...)
}

// opPositive returns reproducible values in [0.5, 2).
func opPositive(seed uint64, shape ...int) *engine.Tensor[float64] {
	return engine.RandUniform[float64](rand.New(rand.NewPCG(seed, 13)), 0.5, 2, shape...)
}

// weighted returns Σ w ⊙ v² for a fixed random w of v's shape. The square
// gives linear ops curvature for second-order checks, and the weights break
// the symmetries that a plain sum would hide (e.g. a wrong permutation).
func weighted(v *V) *V {
	w := engine.Const(opRand(uint64(v.Value().Len())+99, v.Shape()...))
	return engine.Sum(engine.Mul(engine.Square(v), w))
}

// linearIn returns Σ w ⊙ v for a fixed random w of v's shape.
func linearIn(v *V) *V {
	w := engine.Const(opRand(uint64(v.Value().Len())+7, v.Shape()...))
	return engine.Sum(engine.Mul(v, w))
}

// opCases lists the gradient checks of each op; TestGradCheck<Op> and
// TestSecondOrder<Op> run the cases under key <Op>.
var opCases = map[string][]opCase{
	"Exp": {
		{"matrix", func(p []*V) *V { return linearIn(engine.Exp(p[0])) }, []*engine.Tensor[float64]{opRand(1, 3, 4)}},
		{"scalar", func(p []*V) *V { return engine.Exp(p[0]) }, []*engine.Tensor[float64]{opRand(2)}},
	},
	"Log": {
		{"matrix", func(p []*V) *V { return linearIn(engine.Log(p[0])) }, []*engine.Tensor[float64]{opPositive(3, 2, 5)}},
	},
	"Sqrt": {
		{"matrix", func(p []*V) *V { return linearIn(engine.Sqrt(p[0])) }, []*engine.Tensor[float64]{opPositive(4, 2, 5)}},
	},
	"Square": {
		{"cross", func(p []*V) *V { return linearIn(engine.Mul(engine.Square(p[0]), p[1])) },
			[]*engine.Tensor[float64]{opRand(5, 3, 2), opRand(6, 3, 2)}},
	},
	"Tanh": {
		{"matrix", func(p []*V) *V { return linearIn(engine.Tanh(p[0])) }, []*engine.Tensor[float64]{opRand(7, 4, 3)}},
	},
	"Sigmoid": {
		{"matrix", func(p []*V) *V { return linearIn(engine.Sigmoid(p[0])) }, []*engine.Tensor[float64]{opRand(8, 4, 3)}},
		{"wide", func(p []*V) *V { return linearIn(engine.Sigmoid(engine.Scale(p[0], 4))) }, []*engine.Tensor[float64]{opRand(9, 6)}},
	},
	"ReLU": {
		{"square", func(p []*V) *V { return weighted(engine.ReLU(p[0])) }, []*engine.Tensor[float64]{opRand(10, 4, 5)}},
		{"cross", func(p []*V) *V { return linearIn(engine.Mul(engine.ReLU(p[0]), p[1])) },
			[]*engine.Tensor[float64]{opRand(11, 6), opRand(12, 6)}},
	},
	"LeakyReLU": {
		{"square", func(p []*V) *V { return weighted(engine.LeakyReLU(p[0], 0.1)) }, []*engine.Tensor[float64]{opRand(13, 4, 5)}},
		{"cross", func(p []*V) *V { return linearIn(engine.Mul(engine.LeakyReLU(p[0], 0.2), p[1])) },
			[]*engine.Tensor[float64]{opRand(14, 6), opRand(15, 6)}},
	},
	"SumAxes": {
		{"axis0", func(p []*V) *V { return weighted(engine.SumAxes(p[0], []int{0}, false)) }, []*engine.Tensor[float64]{opRand(16, 3, 4)}},
		{"last-keep", func(p []*V) *V { return weighted(engine.SumAxes(p[0], []int{-1}, true)) }, []*engine.Tensor[float64]{opRand(17, 2, 3, 4)}},
		{"two-axes", func(p []*V) *V { return weighted(engine.SumAxes(p[0], []int{-1, 1}, false)) }, []*engine.Tensor[float64]{opRand(18, 2, 3, 2, 2)}},
		{"all", func(p []*V) *V { return weighted(engine.SumAxes(p[0], nil, false)) }, []*engine.Tensor[float64]{opRand(19, 2, 3)}},
		{"middle-keep", func(p []*V) *V { return weighted(engine.SumAxes(p[0], []int{1}, true)) }, []*engine.Tensor[float64]{opRand(20, 2, 3, 4)}},
	},
	"MeanAxes": {
		{"spatial", func(p []*V) *V { return weighted(engine.MeanAxes(p[0], []int{2, 3}, false)) }, []*engine.Tensor[float64]{opRand(21, 2, 3, 2, 2)}},
		{"neg-keep", func(p []*V) *V { return weighted(engine.MeanAxes(p[0], []int{-2}, true)) }, []*engine.Tensor[float64]{opRand(22, 3, 4, 2)}},
	},
	"Reshape": {
		{"infer", func(p []*V) *V {
			return weighted(engine.Mul(engine.Reshape(p[0], 4, -1), engine.Const(opRand(23, 4, 3))))
		},
			[]*engine.Tensor[float64]{opRand(24, 2, 6)}},
	},
	"Flatten": {
		{"axis1", func(p []*V) *V { return weighted(engine.Mul(engine.Flatten(p[0], 1), engine.Const(opRand(25, 2, 12)))) },
			[]*engine.Tensor[float64]{opRand(26, 2, 3, 2, 2)}},
		{"axis-1", func(p []*V) *V { return weighted(engine.Mul(engine.Flatten(p[0], -1), engine.Const(opRand(27, 6, 2)))) },
			[]*engine.Tensor[float64]{opRand(28, 2, 3, 2)}},
	},
	"Transpose": {
		{"2d", func(p []*V) *V { return weighted(engine.Mul(engine.Transpose(p[0]), engine.Const(opRand(29, 4, 3)))) },
			[]*engine.Tensor[float64]{opRand(30, 3, 4)}},
		{"4d", func(p []*V) *V {
			return weighted(engine.Mul(engine.Transpose(p[0], 0, 2, -1, 1), engine.Const(opRand(31, 2, 4, 5, 3))))
		}, []*engine.Tensor[float64]{opRand(32, 2, 3, 4, 5)}},
	},
	"MatMul": {
		{"nn", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[1], false, false)) },
			[]*engine.Tensor[float64]{opRand(33, 3, 4), opRand(34, 4, 2)}},
		{"tn", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[1], true, false)) },
			[]*engine.Tensor[float64]{opRand(35, 4, 3), opRand(36, 4, 2)}},
		{"nt", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[1], false, true)) },
			[]*engine.Tensor[float64]{opRand(37, 3, 4), opRand(38, 2, 4)}},
		{"tt", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[1], true, true)) },
			[]*engine.Tensor[float64]{opRand(39, 4, 3), opRand(40, 2, 4)}},
		{"self", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[0], false, true)) },
			[]*engine.Tensor[float64]{opRand(41, 3, 4)}},
		{"batched", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[1], false, false)) },
			[]*engine.Tensor[float64]{opRand(42, 2, 3, 4), opRand(43, 2, 4, 2)}},
		{"batched-tt", func(p []*V) *V { return weighted(engine.MatMul(p[0], p[1], true, true)) },
			[]*engine.Tensor[float64]{opRand(44, 2, 4, 3), opRand(45, 2, 2, 4)}},
	},
	"Linear": {
		{"bias", func(p []*V) *V { return weighted(engine.Linear(p[0], p[1], p[2])) },
			[]*engine.Tensor[float64]{opRand(46, 5, 4), opRand(47, 3, 4), opRand(48, 3)}},
		{"nobias", func(p []*V) *V { return weighted(engine.Linear(p[0], p[1], nil)) },
			[]*engine.Tensor[float64]{opRand(49, 5, 4), opRand(50, 3, 4)}},
	},
	"Concat": {
		{"axis0", func(p []*V) *V { return weighted(engine.Concat(0, p[0], p[1], p[0])) },
			[]*engine.Tensor[float64]{opRand(51, 2, 3), opRand(52, 1, 3)}},
		{"axis-1", func(p []*V) *V { return weighted(engine.Concat(-1, p[0], p[1])) },
			[]*engine.Tensor[float64]{opRand(53, 2, 3, 2), opRand(54, 2, 3, 1)}},
		{"middle", func(p []*V) *V { return weighted(engine.Concat(1, p[0], p[1])) },
			[]*engine.Tensor[float64]{opRand(55, 2, 1, 2), opRand(56, 2, 3, 2)}},
	},
	"Slice": {
		{"rows", func(p []*V) *V { return weighted(engine.Slice(p[0], 0, 1, 3)) }, []*engine.Tensor[float64]{opRand(57, 4, 3)}},
		{"neg", func(p []*V) *V { return weighted(engine.Slice(p[0], -2, -2, 3)) }, []*engine.Tensor[float64]{opRand(58, 2, 4, 2)}},
	},
	"IndexSelect": {
		{"rows-repeat", func(p []*V) *V { return weighted(engine.IndexSelect(p[0], 0, []int{2, 0, 2, 1})) },
			[]*engine.Tensor[float64]{opRand(59, 3, 4)}},
		{"middle", func(p []*V) *V { return weighted(engine.IndexSelect(p[0], -2, []int{1, 1, 0})) },
			[]*engine.Tensor[float64]{opRand(60, 2, 3, 2)}},
	},
	"LogSoftmax": {
		{"rows", func(p []*V) *V { return linearIn(engine.LogSoftmax(p[0], -1)) }, []*engine.Tensor[float64]{opRand(61, 4, 5)}},
		{"axis0-3d", func(p []*V) *V { return linearIn(engine.LogSoftmax(p[0], 0)) }, []*engine.Tensor[float64]{opRand(62, 3, 2, 2)}},
	},
	"Softmax": {
		{"rows", func(p []*V) *V { return linearIn(engine.Softmax(p[0], 1)) }, []*engine.Tensor[float64]{opRand(63, 4, 5)}},
		{"middle", func(p []*V) *V { return linearIn(engine.Softmax(p[0], -2)) }, []*engine.Tensor[float64]{opRand(64, 2, 3, 2)}},
	},
	"LogSumExp": {
		{"rows", func(p []*V) *V { return linearIn(engine.LogSumExp(p[0], -1, false)) }, []*engine.Tensor[float64]{opRand(65, 4, 5)}},
		{"axis0-keep", func(p []*V) *V { return linearIn(engine.LogSumExp(p[0], 0, true)) }, []*engine.Tensor[float64]{opRand(66, 3, 2, 2)}},
	},
	"PairwiseSqDist": {
		{"both", func(p []*V) *V { return weighted(engine.PairwiseSqDist(p[0], p[1])) },
			[]*engine.Tensor[float64]{opRand(67, 4, 3), opRand(68, 2, 3)}},
		{"self", func(p []*V) *V { return linearIn(engine.Sqrt(engine.AddScalar(engine.PairwiseSqDist(p[0], p[0]), 1))) },
			[]*engine.Tensor[float64]{opRand(69, 3, 4)}},
	},
	"CosineSimilarity": {
		{"both", func(p []*V) *V { return linearIn(engine.CosineSimilarity(p[0], p[1], 1e-8)) },
			[]*engine.Tensor[float64]{opRand(70, 4, 3), opRand(71, 2, 3)}},
	},
	"CrossEntropy": {
		{"logits", func(p []*V) *V { return engine.CrossEntropy(p[0], []int{0, 2, 1, 2}) }, []*engine.Tensor[float64]{opRand(72, 4, 3)}},
		{"linear", func(p []*V) *V { return engine.CrossEntropy(engine.MatMul(p[0], p[1], false, false), []int{1, 0, 1}) },
			[]*engine.Tensor[float64]{opRand(73, 3, 4), opRand(74, 4, 2)}},
	},
	"MSE": {
		{"both", func(p []*V) *V { return engine.MSE(engine.Square(p[0]), p[1]) }, []*engine.Tensor[float64]{opRand(75, 3, 2), opRand(76, 3, 2)}},
		{"target", func(p []*V) *V {
			return engine.MSE(engine.Sigmoid(p[0]), engine.Const(engine.OneHot[float64]([]int{1, 0, 2}, 3)))
		}, []*engine.Tensor[float64]{opRand(77, 3, 3)}},
	},
	"Dropout": {
		{"fixed-mask", func(p []*V) *V {
			// A fresh generator with a fixed seed gives the same mask on every evaluation.
			return weighted(engine.Dropout(p[0], 0.3, rand.New(rand.NewPCG(5, 5))))
		}, []*engine.Tensor[float64]{opRand(78, 4, 6)}},
	},
}

func runOpCases(t *testing.T, op string, second bool) {
	t.Helper()
	cases := opCases[op]
	if len(cases) == 0 {
		t.Fatalf("no gradient cases for %s", op)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			check := gradcheck.First
			if second {
				check = gradcheck.Second
			}
			if err := check(c.f, c.params, gradcheck.Options{}); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestGradCheckExp(t *testing.T)              { runOpCases(t, "Exp", false) }
func TestSecondOrderExp(t *testing.T)            { runOpCases(t, "Exp", true) }
func TestGradCheckLog(t *testing.T)              { runOpCases(t, "Log", false) }
func TestSecondOrderLog(t *testing.T)            { runOpCases(t, "Log", true) }
func TestGradCheckSqrt(t *testing.T)             { runOpCases(t, "Sqrt", false) }
func TestSecondOrderSqrt(t *testing.T)           { runOpCases(t, "Sqrt", true) }
func TestGradCheckSquare(t *testing.T)           { runOpCases(t, "Square", false) }
func TestSecondOrderSquare(t *testing.T)         { runOpCases(t, "Square", true) }
func TestGradCheckTanh(t *testing.T)             { runOpCases(t, "Tanh", false) }
func TestSecondOrderTanh(t *testing.T)           { runOpCases(t, "Tanh", true) }
func TestGradCheckSigmoid(t *testing.T)          { runOpCases(t, "Sigmoid", false) }
func TestSecondOrderSigmoid(t *testing.T)        { runOpCases(t, "Sigmoid", true) }
func TestGradCheckReLU(t *testing.T)             { runOpCases(t, "ReLU", false) }
func TestSecondOrderReLU(t *testing.T)           { runOpCases(t, "ReLU", true) }
func TestGradCheckLeakyReLU(t *testing.T)        { runOpCases(t, "LeakyReLU", false) }
func TestSecondOrderLeakyReLU(t *testing.T)      { runOpCases(t, "LeakyReLU", true) }
func TestGradCheckSumAxes(t *testing.T)          { runOpCases(t, "SumAxes", false) }
func TestSecondOrderSumAxes(t *testing.T)        { runOpCases(t, "SumAxes", true) }
func TestGradCheckMeanAxes(t *testing.T)         { runOpCases(t, "MeanAxes", false) }
func TestSecondOrderMeanAxes(t *testing.T)       { runOpCases(t, "MeanAxes", true) }
func TestGradCheckReshape(t *testing.T)          { runOpCases(t, "Reshape", false) }
func TestSecondOrderReshape(t *testing.T)        { runOpCases(t, "Reshape", true) }
func TestGradCheckFlatten(t *testing.T)          { runOpCases(t, "Flatten", false) }
func TestSecondOrderFlatten(t *testing.T)        { runOpCases(t, "Flatten", true) }
func TestGradCheckTranspose(t *testing.T)        { runOpCases(t, "Transpose", false) }
func TestSecondOrderTranspose(t *testing.T)      { runOpCases(t, "Transpose", true) }
func TestGradCheckMatMul(t *testing.T)           { runOpCases(t, "MatMul", false) }
func TestSecondOrderMatMul(t *testing.T)         { runOpCases(t, "MatMul", true) }
func TestGradCheckLinear(t *testing.T)           { runOpCases(t, "Linear", false) }
func TestSecondOrderLinear(t *testing.T)         { runOpCases(t, "Linear", true) }
func TestGradCheckConcat(t *testing.T)           { runOpCases(t, "Concat", false) }
func TestSecondOrderConcat(t *testing.T)         { runOpCases(t, "Concat", true) }
func TestGradCheckSlice(t *testing.T)            { runOpCases(t, "Slice", false) }
func TestSecondOrderSlice(t *testing.T)          { runOpCases(t, "Slice", true) }
func TestGradCheckIndexSelect(t *testing.T)      { runOpCases(t, "IndexSelect", false) }
func TestSecondOrderIndexSelect(t *testing.T)    { runOpCases(t, "IndexSelect", true) }
func TestGradCheckLogSoftmax(t *testing.T)       { runOpCases(t, "LogSoftmax", false) }
func TestSecondOrderLogSoftmax(t *testing.T)     { runOpCases(t, "LogSoftmax", true) }
func TestGradCheckSoftmax(t *testing.T)          { runOpCases(t, "Softmax", false) }
func TestSecondOrderSoftmax(t *testing.T)        { runOpCases(t, "Softmax", true) }
func TestGradCheckLogSumExp(t *testing.T)        { runOpCases(t, "LogSumExp", false) }
func TestSecondOrderLogSumExp(t *testing.T)      { runOpCases(t, "LogSumExp", true) }
func TestGradCheckPairwiseSqDist(t *testing.T)   { runOpCases(t, "PairwiseSqDist", false) }
func TestSecondOrderPairwiseSqDist(t *testing.T) { runOpCases(t, "PairwiseSqDist", true) }
func TestGradCheckCosineSimilarity(t *testing.T) { runOpCases(t, "CosineSimilarity", false) }
func TestSecondOrderCosineSimilarity(t *testing.T) {
	runOpCases(t, "CosineSimilarity", true)
}
func TestGradCheckCrossEntropy(t *testing.T)   { runOpCases(t, "CrossEntropy", false) }
func TestSecondOrderCrossEntropy(t *testing.T) { runOpCases(t, "CrossEntropy", true) }
func TestGradCheckMSE(t *testing.T)            { runOpCases(t, "MSE", false) }
func TestSecondOrderMSE(t *testing.T)          { runOpCases(t, "MSE", true) }
func TestGradCheckDropout(t *testing.T)        { runOpCases(t, "Dropout", false) }
func TestSecondOrderDropout(t *testing.T)      { runOpCases(t, "Dropout", true) }

// TestGradCheckBilevelProtoNet checks the gradient of a tiny prototypical
// network loss taken after one inner gradient step, as L2G and MAML do:
// differentiating it needs the create-graph backward of every op involved.
func TestGradCheckBilevelProtoNet(t *testing.T) {
	support := engine.Const(opRand(80, 6, 3)) // 3 classes × 2 shots
	query := engine.Const(opRand(81, 4, 3))
	supportLabels := []int{0, 0, 1, 1, 2, 2}
	queryLabels := []int{2, 0, 1, 1}
	loss := func(w, b *V, x *V, labels []int) *V {
		embS := engine.ReLU(engine.Linear(support, w, b))
		protos := engine.MeanAxes(engine.Reshape(embS, 3, 2, -1), []int{1}, false)
		emb := engine.LeakyReLU(engine.Linear(x, w, b), 0.1)
		return engine.CrossEntropy(engine.Neg(engine.PairwiseSqDist(emb, protos)), labels)
	}
	f := func(p []*V) *V {
		w, b := p[0], p[1]
		g := engine.Grad(loss(w, b, support, supportLabels), []*V{w, b}, true)
		w2 := engine.Sub(w, engine.Scale(g[0], 0.1))
		b2 := engine.Sub(b, engine.Scale(g[1], 0.1))
		return loss(w2, b2, query, queryLabels)
	}
	params := []*engine.Tensor[float64]{opRand(82, 5, 3), opRand(83, 5)}
	if err := gradcheck.First(f, params, gradcheck.Options{MaxCoords: -1}); err != nil {
		t.Fatal(err)
	}
}
