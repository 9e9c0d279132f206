package nn_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/nn"
)

// layerByLayer runs net's layers one at a time, without the fusion that
// Network.Forward applies.
func layerByLayer(net *nn.Network[float64], x *V, params []*V, mode nn.Mode) *V {
	k := 0
	for _, l := range net.Layers() {
		n := len(l.Specs())
		x = l.Forward(x, params[k:k+n], mode)
		k += n
	}
	return x
}

// TestForwardFusionMatchesLayers compares Network.Forward, which fuses each
// batch norm with the ReLU and max-pool after it, with the layers run one
// by one: outputs, gradients and running statistics, in every mode, on a
// Conv-4 (every block pooled) and a relation network's embedding (the last
// two blocks without pooling).
func TestForwardFusionMatchesLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	conv4 := mustConv4[float64](t, nn.Conv4Config{InChannels: 2, Height: 12, Width: 12, Hidden: 4, Blocks: 2}, 5)
	relation, _, err := nn.NewRelationNet[float64](nn.RelationConfig{InChannels: 2, Height: 16, Width: 16, Hidden: 4, EmbedPad: 1, RelationPad: 1}, rand.New(rand.NewPCG(6, 1)))
	if err != nil {
		t.Fatal(err)
	}
	for name, net := range map[string]*nn.Network[float64]{"conv4": conv4, "relation-embedding": relation} {
		x := engine.Const(engine.RandNormal[float64](rng, 1, append([]int{3}, net.InShape()...)...))
		for _, mode := range []nn.Mode{nn.Train, nn.TrainFrozenStats, nn.Eval} {
			state := net.State()
			saved := make([]*engine.Tensor[float64], len(state))
			for i, s := range state {
				saved[i] = s.Clone()
			}
			run := func(fused bool) (out []float64, grads [][]float64, stats [][]float64) {
				for i, s := range state { // the same statistics for both runs
					copy(s.Data(), saved[i].Data())
				}
				params := net.Params()
				var y *V
				if fused {
					y = net.Forward(x, params, mode)
				} else {
					y = layerByLayer(net, x, params, mode)
				}
				r := engine.Const(engine.RandNormal[float64](rand.New(rand.NewPCG(9, 9)), 1, y.Shape()...))
				for _, g := range engine.Grad(engine.Sum(engine.Mul(engine.Mul(y, y), r)), params, false) {
					grads = append(grads, g.Value().Data())
				}
				for _, s := range state {
					stats = append(stats, append([]float64(nil), s.Data()...))
				}
				return y.Value().Data(), grads, stats
			}
			y1, g1, s1 := run(true)
			y2, g2, s2 := run(false)
			check := func(what string, a, b []float64) {
				t.Helper()
				for i := range a {
					if math.Abs(a[i]-b[i]) > 1e-10*(1+math.Abs(b[i])) {
						t.Fatalf("%s mode %v: %s[%d] fused %v, layer by layer %v", name, mode, what, i, a[i], b[i])
					}
				}
			}
			check("output", y1, y2)
			for i := range g1 {
				check("gradient", g1[i], g2[i])
			}
			for i := range s1 {
				check("running statistic", s1[i], s2[i])
			}
		}
	}
}

// TestEvalConvFusionMatchesLayers compares the float32 evaluation-mode
// forward pass on constants, where each convolution, batch norm, ReLU and
// max-pool run as one Winograd pass with the normalisation folded into the
// filters, with the layers run one by one. The running statistics and γ are
// random, some γ negative, so the folded scale changes sign.
func TestEvalConvFusionMatchesLayers(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 7))
	for _, cfg := range []nn.Conv4Config{
		{InChannels: 3, Height: 20, Width: 20, Hidden: 16},
		{InChannels: 1, Height: 28, Width: 28, Hidden: 8}, // first layer too thin for Winograd: unfused
	} {
		net := mustConv4[float32](t, cfg, 11)
		for i, st := range net.State() { // running means, then variances
			for j := range st.Data() {
				if i%2 == 0 {
					st.Data()[j] = float32(rng.NormFloat64())
				} else {
					st.Data()[j] = 0.5 + float32(rng.Float64())
				}
			}
		}
		consts := engine.DetachAll(net.Params())
		for i, spec := range net.Specs() {
			if strings.HasSuffix(spec.Name, ".gamma") || strings.HasSuffix(spec.Name, ".beta") {
				for j := range consts[i].Value().Data() {
					consts[i].Value().Data()[j] = float32(rng.NormFloat64())
				}
			}
		}
		x := engine.Const(engine.RandNormal[float32](rng, 1, append([]int{5}, net.InShape()...)...))
		fused := net.Forward(x, consts, nn.Eval).Value().Data()
		var y *engine.Var[float32] = x
		k := 0
		for _, l := range net.Layers() {
			n := len(l.Specs())
			y = l.Forward(y, consts[k:k+n], nn.Eval)
			k += n
		}
		want := y.Value().Data()
		if len(fused) != len(want) {
			t.Fatalf("%+v: fused output has %d values, layers %d", cfg, len(fused), len(want))
		}
		var maxAbs, maxDiff float64
		for i := range want {
			maxAbs = math.Max(maxAbs, math.Abs(float64(want[i])))
			maxDiff = math.Max(maxDiff, math.Abs(float64(fused[i]-want[i])))
		}
		if maxAbs == 0 || maxDiff > 1e-4*maxAbs {
			t.Errorf("%+v: fused and layer-by-layer outputs differ by %g (largest value %g)", cfg, maxDiff, maxAbs)
		}
	}
}
