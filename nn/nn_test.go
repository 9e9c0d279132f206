package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/engine/gradcheck"
	"github.com/fewshot-go/fewshot/nn"
)

type V = engine.Var[float64]

func mustConv4[T engine.Float](t testing.TB, cfg nn.Conv4Config, seed uint64) *nn.Network[T] {
	t.Helper()
	net, err := nn.NewConv4[T](cfg, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func TestConv4Shapes(t *testing.T) {
	cases := []struct {
		cfg    nn.Conv4Config
		embed  int
		params int
	}{
		{nn.Conv4Config{InChannels: 3, Height: 84, Width: 84}, 1600, (64*3*9 + 64) + 3*(64*64*9+64) + 4*128},
		{nn.Conv4Config{InChannels: 1, Height: 28, Width: 28}, 64, (64*9 + 64) + 3*(64*64*9+64) + 4*128},
		{nn.Conv4Config{InChannels: 1, Height: 8, Width: 8, Hidden: 4, Blocks: 2}, 16, (4*9 + 4) + (4*4*9 + 4) + 2*8},
	}
	for _, c := range cases {
		net := mustConv4[float32](t, c.cfg, 1)
		if net.OutSize() != c.embed || net.NumParams() != c.params {
			t.Errorf("%+v: embedding %d with %d parameters, want %d with %d", c.cfg, net.OutSize(), net.NumParams(), c.embed, c.params)
		}
	}
	net := mustConv4[float32](t, cases[2].cfg, 1)
	x := engine.Const(engine.New[float32](5, 1, 8, 8))
	if y := net.Forward(x, net.Params(), nn.Eval); fmt.Sprint(y.Shape()) != "[5 16]" {
		t.Fatalf("forward shape %v, want [5 16]", y.Shape())
	}
	if _, err := nn.NewConv4[float32](nn.Conv4Config{InChannels: 1, Height: 8, Width: 8}, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Fatal("four 2×2 pools accepted on an 8×8 input")
	}
}

func TestConv4Init(t *testing.T) {
	net := mustConv4[float64](t, nn.Conv4Config{InChannels: 3, Height: 84, Width: 84}, 2)
	specs, params := net.Specs(), net.Params()
	// block2.conv.weight: He normal with fan-in 64·9.
	w := params[4].Value().Data()
	if specs[4].Name != "block2.conv.weight" {
		t.Fatalf("spec 4 is %q", specs[4].Name)
	}
	var ss float64
	for _, v := range w {
		ss += v * v
	}
	std, want := math.Sqrt(ss/float64(len(w))), math.Sqrt(2.0/(64*9))
	if math.Abs(std-want) > 0.03*want {
		t.Fatalf("weight std %v, want about %v", std, want)
	}
	for i, name := range []string{"block2.conv.bias", "block2.bn.gamma", "block2.bn.beta"} {
		if specs[5+i].Name != name {
			t.Fatalf("spec %d is %q, want %q", 5+i, specs[5+i].Name, name)
		}
		wantV := 0.0
		if name == "block2.bn.gamma" {
			wantV = 1
		}
		for _, v := range params[5+i].Value().Data() {
			if v != wantV {
				t.Fatalf("%s holds %v, want %v", name, v, wantV)
			}
		}
	}
}

func TestRelationNetShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 1))
	for _, c := range []struct {
		cfg     nn.RelationConfig
		feature string
		fcIn    int
	}{
		{nn.RelationMiniImageNet(), "[64 19 19]", 64 * 3 * 3},
		{nn.RelationOmniglot(), "[64 5 5]", 64},
	} {
		embed, rel, err := nn.NewRelationNet[float32](c.cfg, rng)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(embed.OutShape()); got != c.feature {
			t.Errorf("%+v: feature map %s, want %s", c.cfg, got, c.feature)
		}
		specs := rel.Specs()
		if fc := specs[len(specs)-4]; fc.Name != "fc1.weight" || fc.Shape[1] != c.fcIn || fc.Shape[0] != 8 {
			t.Errorf("%+v: first FC spec %+v, want [8 %d]", c.cfg, fc, c.fcIn)
		}
		if fmt.Sprint(rel.OutShape()) != "[1]" {
			t.Errorf("relation output %v", rel.OutShape())
		}
	}
	cfg := nn.RelationOmniglot()
	cfg.RelationPad = 0
	if _, _, err := nn.NewRelationNet[float32](cfg, rng); err == nil {
		t.Error("unpadded relation module accepted on 5×5 Omniglot features")
	}
}

// weightedSum makes a scalar of a network output that depends on every
// element in a different way.
func weightedSum(y *V, r *engine.Tensor[float64]) *V {
	return engine.Sum(engine.Mul(engine.Mul(y, y), engine.Const(r)))
}

func TestGradCheckConv4Forward(t *testing.T) {
	net := mustConv4[float64](t, nn.Conv4Config{InChannels: 2, Height: 8, Width: 8, Hidden: 3, Blocks: 2}, 4)
	rng := rand.New(rand.NewPCG(4, 2))
	x := engine.RandNormal[float64](rng, 1, 3, 2, 8, 8)
	r := engine.RandNormal[float64](rng, 1, 3, net.OutSize())
	for _, mode := range []nn.Mode{nn.TrainFrozenStats, nn.Eval} {
		f := func(p []*V) *V { return weightedSum(net.Forward(p[0], p[1:], mode), r) }
		params := []*engine.Tensor[float64]{x}
		for _, p := range net.Params() {
			params = append(params, p.Value())
		}
		if err := gradcheck.First(f, params, gradcheck.Options{MaxCoords: 12}); err != nil {
			t.Errorf("%v: %v", mode, err)
		}
		if err := gradcheck.Second(f, params, gradcheck.Options{MaxCoords: 6}); err != nil {
			t.Errorf("%v second order: %v", mode, err)
		}
	}
}

func TestGradCheckRelationModule(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 1))
	cfg := nn.RelationConfig{InChannels: 1, Height: 16, Width: 16, Hidden: 3, FCHidden: 4, EmbedPad: 1, RelationPad: 1}
	embed, rel, err := nn.NewRelationNet[float64](cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	fm := embed.OutShape()
	x := engine.RandNormal[float64](rng, 1, 4, 2*fm[0], fm[1], fm[2])
	r := engine.RandNormal[float64](rng, 1, 4, 1)
	f := func(p []*V) *V { return weightedSum(rel.Forward(p[0], p[1:], nn.TrainFrozenStats), r) }
	params := []*engine.Tensor[float64]{x}
	for _, p := range rel.Params() {
		params = append(params, p.Value())
	}
	if err := gradcheck.First(f, params, gradcheck.Options{MaxCoords: 12}); err != nil {
		t.Error(err)
	}
	if err := gradcheck.Second(f, params, gradcheck.Options{MaxCoords: 6}); err != nil {
		t.Error(err)
	}
	y := rel.Forward(engine.Const(x), rel.Params(), nn.Eval).Value().Data()
	for _, v := range y {
		if !(v > 0 && v < 1) {
			t.Fatalf("relation score %v outside (0, 1)", v)
		}
	}
}

func TestBatchNormModes(t *testing.T) {
	net := mustConv4[float64](t, nn.Conv4Config{InChannels: 1, Height: 4, Width: 4, Hidden: 2, Blocks: 1}, 6)
	rng := rand.New(rand.NewPCG(6, 2))
	x := engine.RandNormal[float64](rng, 1, 6, 1, 4, 4)
	state := net.State()
	if len(state) != 2 {
		t.Fatalf("State has %d tensors, want running mean and variance", len(state))
	}
	before := state[0].Clone()
	net.Forward(engine.Const(x), net.Params(), nn.TrainFrozenStats)
	if fmt.Sprint(state[0].Data()) != fmt.Sprint(before.Data()) {
		t.Fatal("TrainFrozenStats changed the running mean")
	}
	yTrain := net.Forward(engine.Const(x), net.Params(), nn.Train).Value()
	if fmt.Sprint(state[0].Data()) == fmt.Sprint(before.Data()) {
		t.Fatal("Train left the running mean unchanged")
	}
	// In Eval mode an image's output does not depend on the rest of the
	// batch; in training mode it does.
	one := engine.FromSlice(x.Data()[:16], 1, 1, 4, 4)
	yEvalAll := net.Forward(engine.Const(x), net.Params(), nn.Eval).Value().Data()
	yEvalOne := net.Forward(engine.Const(one), net.Params(), nn.Eval).Value().Data()
	for i, v := range yEvalOne {
		if math.Abs(v-yEvalAll[i]) > 1e-12 {
			t.Fatalf("eval output %d: alone %v, in batch %v", i, v, yEvalAll[i])
		}
	}
	if fmt.Sprint(yTrain.Data()[:len(yEvalOne)]) == fmt.Sprint(yEvalOne) {
		t.Fatal("training and evaluation outputs coincide")
	}
}

func TestSetParams(t *testing.T) {
	a := mustConv4[float64](t, nn.Conv4Config{InChannels: 1, Height: 4, Width: 4, Hidden: 2, Blocks: 1}, 7)
	b := mustConv4[float64](t, nn.Conv4Config{InChannels: 1, Height: 4, Width: 4, Hidden: 2, Blocks: 1}, 8)
	var vals []*engine.Tensor[float64]
	for _, p := range a.Params() {
		vals = append(vals, p.Value())
	}
	if err := b.SetParams(vals); err != nil {
		t.Fatal(err)
	}
	x := engine.Const(engine.RandNormal[float64](rand.New(rand.NewPCG(7, 7)), 1, 3, 1, 4, 4))
	ya, yb := a.Forward(x, a.Params(), nn.Eval).Value(), b.Forward(x, b.Params(), nn.Eval).Value()
	if fmt.Sprint(ya.Data()) != fmt.Sprint(yb.Data()) {
		t.Fatal("networks with the same weights disagree")
	}
	if err := b.SetParams(vals[:1]); err == nil {
		t.Fatal("SetParams accepted a short list")
	}
}

func TestMLP(t *testing.T) {
	net, err := nn.NewMLP[float64](rand.New(rand.NewPCG(9, 1)), 3, 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if net.NumParams() != 3*5+5+5*2+2 {
		t.Fatalf("%d parameters", net.NumParams())
	}
	x := engine.RandNormal[float64](rand.New(rand.NewPCG(9, 2)), 1, 4, 3)
	r := engine.RandNormal[float64](rand.New(rand.NewPCG(9, 3)), 1, 4, 2)
	f := func(p []*V) *V { return weightedSum(net.Forward(p[0], p[1:], nn.Train), r) }
	params := []*engine.Tensor[float64]{x}
	for _, p := range net.Params() {
		params = append(params, p.Value())
	}
	if err := gradcheck.First(f, params, gradcheck.Options{}); err != nil {
		t.Error(err)
	}
}
