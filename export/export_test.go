package export_test

import (
	"bytes"
	"encoding/base64"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/nn"
	"github.com/fewshot-go/fewshot/onnxio"
)

func randSlice(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

// block returns Conv(3×3, pad 1) → BatchNorm → ReLU → MaxPool 2×2 with
// random weights and non-trivial running statistics.
func block(rng *rand.Rand, in, out int) []export.Layer {
	varr := make([]float32, out)
	for i := range varr {
		varr[i] = 0.5 + rng.Float32()
	}
	return []export.Layer{
		&export.Conv{Weight: randSlice(rng, out*in*9, math.Sqrt(2/float64(in*9))), Bias: randSlice(rng, out, 0.1),
			In: in, Out: out, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		&export.BatchNorm{Gamma: randSlice(rng, out, 0.3), Beta: randSlice(rng, out, 0.2),
			Mean: randSlice(rng, out, 0.2), Var: varr},
		export.ReLU{},
		&export.MaxPool{KH: 2, KW: 2},
	}
}

func conv4(rng *rand.Rand, in, hidden int, flatten bool) []export.Layer {
	var ls []export.Layer
	for i := range 4 {
		ls = append(ls, block(rng, map[bool]int{true: in, false: hidden}[i == 0], hidden)...)
	}
	if flatten {
		ls = append(ls, export.Flatten{})
	}
	return ls
}

// forward is a direct float64 reference implementation of the layers on
// one example of shape shape.
func forward(t *testing.T, layers []export.Layer, x []float64, shape []int) ([]float64, []int) {
	for _, l := range layers {
		switch l := l.(type) {
		case *export.Conv:
			c, h, w := shape[0], shape[1], shape[2]
			sh, sw := max(l.StrideH, 1), max(l.StrideW, 1)
			oh := (h+l.PadTop+l.PadBottom-l.KH)/sh + 1
			ow := (w+l.PadLeft+l.PadRight-l.KW)/sw + 1
			y := make([]float64, l.Out*oh*ow)
			for o := range l.Out {
				for i := range oh {
					for j := range ow {
						var s float64
						if l.Bias != nil {
							s = float64(l.Bias[o])
						}
						for ci := range c {
							for ki := range l.KH {
								for kj := range l.KW {
									yy, xx := i*sh+ki-l.PadTop, j*sw+kj-l.PadLeft
									if yy < 0 || yy >= h || xx < 0 || xx >= w {
										continue
									}
									s += float64(l.Weight[((o*c+ci)*l.KH+ki)*l.KW+kj]) * x[(ci*h+yy)*w+xx]
								}
							}
						}
						y[(o*oh+i)*ow+j] = s
					}
				}
			}
			x, shape = y, []int{l.Out, oh, ow}
		case *export.BatchNorm:
			hw := len(x) / shape[0]
			eps := l.Eps
			if eps == 0 {
				eps = 1e-5
			}
			for c := range shape[0] {
				for k := range hw {
					v := &x[c*hw+k]
					*v = float64(l.Gamma[c])*(*v-float64(l.Mean[c]))/math.Sqrt(float64(l.Var[c])+eps) + float64(l.Beta[c])
				}
			}
		case export.ReLU:
			for i := range x {
				x[i] = max(x[i], 0)
			}
		case export.Sigmoid:
			for i := range x {
				x[i] = 1 / (1 + math.Exp(-x[i]))
			}
		case *export.MaxPool:
			c, h, w := shape[0], shape[1], shape[2]
			oh, ow := (h-l.KH)/l.KH+1, (w-l.KW)/l.KW+1
			y := make([]float64, c*oh*ow)
			for ci := range c {
				for i := range oh {
					for j := range ow {
						m := math.Inf(-1)
						for ki := range l.KH {
							for kj := range l.KW {
								m = max(m, x[(ci*h+i*l.KH+ki)*w+j*l.KW+kj])
							}
						}
						y[(ci*oh+i)*ow+j] = m
					}
				}
			}
			x, shape = y, []int{c, oh, ow}
		case export.Flatten:
			shape = []int{len(x)}
		case *export.Linear:
			y := make([]float64, l.Out)
			for o := range l.Out {
				s := float64(l.Bias[o])
				for i := range l.In {
					s += float64(l.Weight[o*l.In+i]) * x[i]
				}
				y[o] = s
			}
			x, shape = y, []int{l.Out}
		default:
			t.Fatalf("reference: unknown layer %T", l)
		}
	}
	return x, shape
}

// run decodes the serialized model and runs its graph on the batch x.
func run(t *testing.T, m *onnxio.Model, x []float32, dims []int64) ([]float32, []int) {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	dm, err := onnxio.DecodeBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := onnxio.Compile(dm)
	if err != nil {
		t.Fatal(err)
	}
	out, err := plan.RunPositional(onnxio.NewFloatTensor("x", dims, x))
	if err != nil {
		t.Fatal(err)
	}
	v, err := out[0].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v, out[0].Shape()
}

func checkClose(t *testing.T, got []float32, want []float64, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var worst float64
	for i := range got {
		d := math.Abs(float64(got[i])-want[i]) / max(1, math.Abs(want[i]))
		worst = max(worst, d)
	}
	if worst > 1e-5 {
		t.Errorf("%s: max relative difference %.3g > 1e-5", what, worst)
	}
}

func TestRoundTripConv4(t *testing.T) {
	for _, keep := range []bool{false, true} {
		rng := rand.New(rand.NewPCG(1, 2))
		layers := conv4(rng, 3, 16, true)
		pre := episode.Preprocess{Width: 32, Height: 32, Channels: 3}
		m, err := export.Model(export.Spec{Embedding: layers, Preprocess: pre, Metric: fewshot.Euclidean,
			Algorithm: "protonet", TrainingData: "random", KeepBatchNorm: keep})
		if err != nil {
			t.Fatal(err)
		}
		ops := map[string]int{}
		for _, n := range m.Graph.Nodes {
			ops[n.OpType]++
		}
		if wantBN := map[bool]int{true: 4, false: 0}[keep]; ops["BatchNormalization"] != wantBN || ops["Conv"] != 4 || ops["Flatten"] != 1 {
			t.Errorf("keep=%v: ops %v", keep, ops)
		}
		const n = 3
		x := make([]float32, n*pre.Len())
		for i := range x {
			x[i] = rng.Float32()
		}
		got, shape := run(t, m, x, []int64{n, 3, 32, 32})
		if !slices.Equal(shape, []int{n, 16 * 2 * 2}) {
			t.Fatalf("output shape %v", shape)
		}
		for i := range n {
			in := make([]float64, pre.Len())
			for k := range in {
				in[k] = float64(x[i*pre.Len()+k])
			}
			want, _ := forward(t, layers, in, []int{3, 32, 32})
			checkClose(t, got[i*64:(i+1)*64], want, "embedding")
		}
	}
}

func TestMetadata(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pre := episode.OmniglotPreprocess()
	m, err := export.Model(export.Spec{Embedding: conv4(rng, 1, 8, true), Preprocess: pre, Metric: fewshot.Euclidean,
		Algorithm: "l2g-protonet", TrainingData: "omniglot background", Description: "test model"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range m.MetadataProps {
		got[e.Key] = e.Value
	}
	want := map[string]string{
		fewshot.KeyFormat:         "1",
		fewshot.KeyPreprocess:     pre.String(),
		fewshot.KeyInputShape:     "[1,28,28]",
		fewshot.KeyEmbeddingShape: "[8]",
		fewshot.KeyMetric:         "euclidean",
		fewshot.KeyAlgorithm:      "l2g-protonet",
		fewshot.KeyTrainingData:   "omniglot background",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("metadata has %d keys, want %d: %v", len(got), len(want), got)
	}
	if m.ProducerName != "fewshot-go" || m.ProducerVersion != fewshot.Version || m.Opset() != export.Opset || m.DocString != "test model" {
		t.Errorf("header: producer %q %q opset %d doc %q", m.ProducerName, m.ProducerVersion, m.Opset(), m.DocString)
	}
	// fewshot reads back what export wrote.
	b, _ := m.MarshalBinary()
	fm, err := fewshot.ParseModel(b)
	if err != nil {
		t.Fatal(err)
	}
	info := fm.Info()
	if info.Algorithm != "l2g-protonet" || info.Metric != fewshot.Euclidean || !slices.Equal(info.EmbeddingShape, []int{8}) ||
		info.Preprocess.String() != pre.String() || info.Producer != "fewshot-go" {
		t.Errorf("fewshot read back %+v", info)
	}
}

func TestRelationModule(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	// Embedding keeps feature maps: 2 blocks on 16×16 give [8, 4, 4].
	emb := append(block(rng, 1, 8), block(rng, 8, 8)...)
	rel := append(block(rng, 16, 8), export.Flatten{},
		&export.Linear{Weight: randSlice(rng, 4*32, 0.2), Bias: randSlice(rng, 4, 0.1), In: 32, Out: 4}, export.ReLU{},
		&export.Linear{Weight: randSlice(rng, 4, 0.5), Bias: randSlice(rng, 1, 0.1), In: 4, Out: 1}, export.Sigmoid{})
	pre := episode.Preprocess{Width: 16, Height: 16, Channels: 1, Invert: true}
	m, err := export.Model(export.Spec{Embedding: emb, Relation: rel, Preprocess: pre, Metric: fewshot.Relation})
	if err != nil {
		t.Fatal(err)
	}
	var enc string
	for _, e := range m.MetadataProps {
		if e.Key == fewshot.KeyRelationModule {
			enc = e.Value
		}
	}
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	rm, err := onnxio.DecodeBytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2
	x := randSlice(rng, n*16*4*4, 1)
	got, shape := run(t, rm, x, []int64{n, 16, 4, 4})
	if !slices.Equal(shape, []int{n, 1}) {
		t.Fatalf("relation output shape %v", shape)
	}
	for i := range n {
		in := make([]float64, 256)
		for k := range in {
			in[k] = float64(x[i*256+k])
		}
		want, _ := forward(t, rel, in, []int{16, 4, 4})
		checkClose(t, got[i:i+1], want, "relation score")
	}
	if _, err := export.Model(export.Spec{Embedding: emb, Preprocess: pre, Metric: fewshot.Relation}); err == nil {
		t.Error("relation metric without a relation module: no error")
	}
}

func TestModelErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pre := episode.Preprocess{Width: 8, Height: 8, Channels: 3}
	good := func() []export.Layer { return append(block(rng, 3, 4), export.Flatten{}) }
	nan := good()
	nan[0].(*export.Conv).Weight[5] = float32(math.NaN())
	short := good()
	short[0].(*export.Conv).Weight = short[0].(*export.Conv).Weight[:10]
	cases := []struct {
		name string
		spec export.Spec
		want string
	}{
		{"no layers", export.Spec{Preprocess: pre, Metric: fewshot.Euclidean}, "no embedding layers"},
		{"bad preprocess", export.Spec{Embedding: good(), Metric: fewshot.Euclidean}, "size"},
		{"bad metric", export.Spec{Embedding: good(), Preprocess: pre, Metric: "manhattan"}, "unknown metric"},
		{"channels", export.Spec{Embedding: good(), Preprocess: episode.Preprocess{Width: 8, Height: 8, Channels: 1}, Metric: fewshot.Euclidean}, "conv takes [3, H, W]"},
		{"nan", export.Spec{Embedding: nan, Preprocess: pre, Metric: fewshot.Euclidean}, "conv0.weight[5] = NaN"},
		{"short weight", export.Spec{Embedding: short, Preprocess: pre, Metric: fewshot.Euclidean}, "weight has 10 values"},
		{"linear unflattened", export.Spec{Embedding: []export.Layer{&export.Linear{In: 3, Out: 1, Weight: make([]float32, 3)}}, Preprocess: pre, Metric: fewshot.Euclidean}, "add a Flatten"},
	}
	for _, c := range cases {
		_, err := export.Model(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m, err := export.Model(export.Spec{Embedding: append(block(rng, 1, 4), export.Flatten{}),
		Preprocess: episode.Preprocess{Width: 8, Height: 8, Channels: 1}, Metric: fewshot.Cosine})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := export.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.MarshalBinary()
	if !bytes.Equal(got, want) {
		t.Error("file contents differ from the encoded model")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("folder holds %d entries after the write, want only the model", len(entries))
	}
	if err := export.WriteFile(filepath.Join(dir, "missing", "m.onnx"), m); err == nil {
		t.Error("writing into a missing folder: no error")
	}
}

// An nn Conv-4 exported with FromNetwork computes the same embeddings in
// onnxio as the nn forward pass in Eval mode.
func TestFromNetworkMatchesNN(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	net, err := nn.NewConv4[float32](nn.Conv4Config{InChannels: 3, Height: 24, Width: 24, Hidden: 8}, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial weights and running statistics, so folding matters.
	for _, p := range net.Params() {
		for i, d := range p.Value().Data() {
			p.Value().Data()[i] = d + float32(rng.NormFloat64()*0.1)
		}
	}
	st := net.State()
	for k := 0; k < len(st); k += 2 {
		for i := range st[k].Data() {
			st[k].Data()[i] = float32(rng.NormFloat64() * 0.2)
			st[k+1].Data()[i] = 0.5 + rng.Float32()
		}
	}
	layers, err := export.FromNetwork(net)
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []bool{false, true} {
		m, err := export.Model(export.Spec{Embedding: layers, Preprocess: episode.Preprocess{Width: 24, Height: 24, Channels: 3},
			Metric: fewshot.Euclidean, KeepBatchNorm: keep})
		if err != nil {
			t.Fatal(err)
		}
		const n = 2
		x := randSlice(rng, n*3*24*24, 1)
		got, _ := run(t, m, x, []int64{n, 3, 24, 24})
		y := net.Forward(engine.Const(engine.FromSlice(x, n, 3, 24, 24)), net.Params(), nn.Eval)
		want := make([]float64, len(got))
		for i, v := range y.Value().Data() {
			want[i] = float64(v)
		}
		checkClose(t, got, want, "embedding vs nn")
	}
}
