package fewshot_test

import (
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/onnxio"
)

// netBuilder writes small classification networks by hand: a 3×3 conv
// trunk on [N, 3, H, W] images, then whatever head a test adds.
type netBuilder struct {
	g   *onnxio.Graph
	rng *rand.Rand
}

func newNet(h, w int64) *netBuilder {
	b := &netBuilder{g: &onnxio.Graph{Name: "net"}, rng: rand.New(rand.NewPCG(3, 4))}
	b.g.Inputs = []*onnxio.ValueInfo{onnxio.NewValueInfo("image", onnxio.Float, []int64{-1, 3, h, w}, "batch")}
	b.weight("conv.w", 4, 3, 3, 3)
	b.weight("conv.b", 4)
	b.node("Conv", []string{"image", "conv.w", "conv.b"}, "maps0", onnxio.AttrInts("pads", 1, 1, 1, 1))
	b.node("Relu", []string{"maps0"}, "maps")
	return b
}

func (b *netBuilder) weight(name string, dims ...int64) {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(b.rng.NormFloat64() * 0.5)
	}
	b.g.Initializer = append(b.g.Initializer, onnxio.NewFloatTensor(name, dims, v))
}

func (b *netBuilder) node(op string, in []string, out string, attrs ...*onnxio.Attribute) {
	b.g.Nodes = append(b.g.Nodes, onnxio.NewNode(op, "/"+out+"/"+op, in, []string{out}, attrs...))
}

// pooledFeatures adds GlobalAveragePool → Flatten, giving "feat" [N, 4].
func (b *netBuilder) pooledFeatures() *netBuilder {
	b.node("GlobalAveragePool", []string{"maps"}, "gap")
	b.node("Flatten", []string{"gap"}, "feat", onnxio.AttrInt("axis", 1))
	return b
}

func (b *netBuilder) model(outputs ...string) *onnxio.Model {
	for _, o := range outputs {
		b.g.Outputs = append(b.g.Outputs, &onnxio.ValueInfo{Name: o})
	}
	return &onnxio.Model{IRVersion: 8, OpsetImport: []onnxio.OperatorSetID{{Version: 13}},
		ProducerName: "handmade", ProducerVersion: "1", Graph: b.g,
		MetadataProps: []onnxio.StringStringEntry{{Key: "author", Value: "test"}, {Key: fewshot.KeyMetric, Value: "relation"}}}
}

func gemmNet() *onnxio.Model {
	b := newNet(-1, -1).pooledFeatures()
	b.weight("fc.w", 5, 4)
	b.weight("fc.b", 5)
	b.node("Gemm", []string{"feat", "fc.w", "fc.b"}, "logits", onnxio.AttrInt("transB", 1))
	b.node("Softmax", []string{"logits"}, "probs", onnxio.AttrInt("axis", 1))
	return b.model("probs")
}

func matMulAddNet() *onnxio.Model {
	b := newNet(-1, -1).pooledFeatures()
	b.weight("fc.w", 4, 5)
	b.weight("fc.b", 5)
	b.node("MatMul", []string{"feat", "fc.w"}, "mm")
	b.node("Add", []string{"fc.b", "mm"}, "logits") // bias first: either order is recognised
	b.node("Identity", []string{"logits"}, "out")
	return b.model("out")
}

func matMulNet() *onnxio.Model {
	b := newNet(-1, -1).pooledFeatures()
	b.weight("fc.w", 4, 5)
	b.node("MatMul", []string{"feat", "fc.w"}, "logits")
	b.node("LogSoftmax", []string{"logits"}, "out", onnxio.AttrInt("axis", 1))
	return b.model("out")
}

func convHeadNet() *onnxio.Model {
	b := newNet(-1, -1)
	b.weight("cls.w", 5, 4, 1, 1)
	b.weight("cls.b", 5)
	b.node("Conv", []string{"maps", "cls.w", "cls.b"}, "cls")
	b.node("Relu", []string{"cls"}, "cls_relu")
	b.node("GlobalAveragePool", []string{"cls_relu"}, "cls_gap")
	b.node("Flatten", []string{"cls_gap"}, "out", onnxio.AttrInt("axis", 1))
	return b.model("out")
}

func reduceMeanHeadNet() *onnxio.Model {
	b := newNet(-1, -1)
	b.node("ReduceMean", []string{"maps"}, "mean", onnxio.AttrInts("axes", 2, 3), onnxio.AttrInt("keepdims", 0))
	b.weight("fc.w", 5, 4)
	b.node("Gemm", []string{"mean", "fc.w"}, "out", onnxio.AttrInt("transB", 1))
	return b.model("out")
}

func featureNet() *onnxio.Model { return newNet(-1, -1).pooledFeatures().model("feat") }

// smallImageNet is the ImageNet transform at a size that keeps the tests
// fast.
func smallImageNet() episode.Preprocess {
	p := episode.ImageNetPreprocess()
	p.Width, p.Height, p.ResizeShorter = 12, 12, 14
	return p
}

func TestImportBackboneDefaultRule(t *testing.T) {
	for _, c := range []struct {
		name    string
		m       *onnxio.Model
		tensor  string
		pooled  bool
		head    string
		removed int
	}{
		{"gemm", gemmNet(), "feat", false, `Gemm node "/logits/Gemm"`, 2},
		{"matmul+add", matMulAddNet(), "feat", false, `MatMul node "/mm/MatMul"`, 3},
		{"matmul", matMulNet(), "feat", false, `MatMul node "/logits/MatMul"`, 2},
		{"conv head", convHeadNet(), "maps", true, `Conv node "/cls/Conv", a 1×1 convolution`, 4},
		{"reducemean then gemm", reduceMeanHeadNet(), "mean", false, `Gemm node "/out/Gemm"`, 1},
		{"no classifier", featureNet(), "feat", false, "none: the output is GlobalAveragePool", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			choice, err := fewshot.DefaultEmbedding(c.m)
			if err != nil || choice.Tensor != c.tensor || choice.Pool != c.pooled || !strings.Contains(choice.Head, c.head) {
				t.Errorf("DefaultEmbedding = %+v, %v; want %q pooled=%v head %q", choice, err, c.tensor, c.pooled, c.head)
			}
			imp, err := fewshot.ImportBackbone(c.m, fewshot.BackboneOptions{Preprocess: smallImageNet()})
			if err != nil {
				t.Fatal(err)
			}
			if imp.Embedding != c.tensor || imp.Pooled != c.pooled || imp.RemovedNodes != c.removed {
				t.Errorf("imported at %q pooled=%v, %d nodes removed; want %q, %v, %d", imp.Embedding, imp.Pooled, imp.RemovedNodes, c.tensor, c.pooled, c.removed)
			}
			if !slices.Equal(imp.Info.EmbeddingShape, []int{4}) {
				t.Errorf("embedding shape %v, want [4]", imp.Info.EmbeddingShape)
			}
			checkImported(t, c.m, imp, 4)
		})
	}
}

// checkImported loads the imported model, classifies a 3-way episode with
// it and checks that its embeddings are the source network's tensor (its
// mean over height and width when pooled), run with onnxio directly on the
// same preprocessed images.
func checkImported(t *testing.T, src *onnxio.Model, imp *fewshot.ImportedBackbone, dim int) {
	t.Helper()
	m, err := fewshot.ParseModel(imp.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	clf, err := fewshot.New(m)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var sup []fewshot.Example
	var queries []image.Image
	for c := range 3 {
		sup = append(sup, fewshot.Example{Label: fmt.Sprint("class", c), Image: noise(rng, 20+7*c, 31-5*c)})
		queries = append(queries, noise(rng, 40, 25+3*c))
	}
	preds, err := clf.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 3 || len(preds[0].Probs) != 3 {
		t.Fatalf("%d predictions with %d probabilities, want 3 and 3", len(preds), len(preds[0].Probs))
	}
	got, err := clf.Embed(queries)
	if err != nil {
		t.Fatal(err)
	}
	want := referenceEmbeddings(t, src, imp.Embedding, imp.Pooled, m.Info().Preprocess, queries)
	for i := range got {
		if len(got[i]) != dim || len(want[i]) != dim {
			t.Fatalf("query %d: embedding of %d values, reference %d, want %d", i, len(got[i]), len(want[i]), dim)
		}
		for k := range got[i] {
			if d := math.Abs(float64(got[i][k] - want[i][k])); d > 1e-4*(1+math.Abs(float64(want[i][k]))) {
				t.Fatalf("query %d value %d: imported model %v, source network %v", i, k, got[i][k], want[i][k])
			}
		}
	}
}

// referenceEmbeddings runs the whole source network with tensor added to
// its outputs and returns that tensor per image, averaged over its last
// two axes when pooled.
func referenceEmbeddings(t *testing.T, src *onnxio.Model, tensor string, pooled bool, pre episode.Preprocess, imgs []image.Image) [][]float32 {
	t.Helper()
	full := *src
	g := *src.Graph
	g.Outputs = append(slices.Clone(g.Outputs), &onnxio.ValueInfo{Name: tensor})
	full.Graph = &g
	plan, err := onnxio.Compile(&full)
	if err != nil {
		t.Fatal(err)
	}
	var x []float32
	for _, img := range imgs {
		v, err := pre.Image(img)
		if err != nil {
			t.Fatal(err)
		}
		x = append(x, v...)
	}
	in := onnxio.NewFloatTensor(plan.Inputs()[0].Name, []int64{int64(len(imgs)), int64(pre.Channels), int64(pre.Height), int64(pre.Width)}, x)
	res, err := plan.RunPositional(in)
	if err != nil {
		t.Fatal(err)
	}
	out := res[len(res)-1]
	v, err := out.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	shape := out.Shape()
	per := len(v) / len(imgs)
	var embs [][]float32
	for i := range imgs {
		e := v[i*per : (i+1)*per]
		if pooled {
			c, hw := shape[1], shape[2]*shape[3]
			p := make([]float32, c)
			for ch := range c {
				var s float64
				for _, x := range e[ch*hw : (ch+1)*hw] {
					s += float64(x)
				}
				p[ch] = float32(s / float64(hw))
			}
			e = p
		}
		embs = append(embs, e)
	}
	return embs
}

func TestImportBackboneNamedTensor(t *testing.T) {
	src := gemmNet()
	imp, err := fewshot.ImportBackbone(src, fewshot.BackboneOptions{Embedding: "maps", Preprocess: smallImageNet(), Metric: fewshot.Cosine})
	if err != nil {
		t.Fatal(err)
	}
	if imp.Head != "" || imp.Pooled || !slices.Equal(imp.Info.EmbeddingShape, []int{4, 12, 12}) || imp.Info.Metric != fewshot.Cosine {
		t.Errorf("named feature maps: head %q pooled %v shape %v metric %s", imp.Head, imp.Pooled, imp.Info.EmbeddingShape, imp.Info.Metric)
	}
	if n := len(imp.Model.Graph.Nodes); n != 2 || imp.RemovedNodes != 4 {
		t.Errorf("%d nodes kept, %d removed; want 2 and 4", n, imp.RemovedNodes)
	}
	if len(imp.Model.Graph.Initializer) != 2 {
		t.Errorf("%d initializers kept, want the conv's 2", len(imp.Model.Graph.Initializer))
	}
	checkImported(t, src, imp, 4*12*12)

	imp, err = fewshot.ImportBackbone(src, fewshot.BackboneOptions{Embedding: "maps", Pool: true, Preprocess: smallImageNet()})
	if err != nil {
		t.Fatal(err)
	}
	if !imp.Pooled || !slices.Equal(imp.Info.EmbeddingShape, []int{4}) {
		t.Errorf("pooled: %v %v", imp.Pooled, imp.Info.EmbeddingShape)
	}
	checkImported(t, src, imp, 4)
	if len(src.Graph.Nodes) != 6 || len(src.Graph.Outputs) != 1 || src.Graph.Outputs[0].Name != "probs" {
		t.Error("ImportBackbone changed its source network")
	}
}

// The metadata that ImportBackbone writes reads back through LoadModel;
// foreign metadata is kept, stale fewshot keys are not.
func TestImportBackboneMetadata(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "net.onnx"), filepath.Join(dir, "net-fewshot.onnx")
	b, err := gemmNet().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	pre := smallImageNet()
	imp, err := fewshot.ImportBackboneFile(in, out, fewshot.BackboneOptions{Preprocess: pre, TrainingData: "nothing, random weights"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := fewshot.LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Preprocess.String() != pre.String() || info.Preprocess.ResizeShorter != 14 || info.Metric != fewshot.Euclidean ||
		info.Algorithm != fewshot.AlgorithmImported || info.TrainingData != "nothing, random weights" ||
		info.Producer != fewshot.Producer || !slices.Equal(info.EmbeddingShape, []int{4}) {
		t.Errorf("loaded info %+v", info)
	}
	if imp.Info.Preprocess.String() != info.Preprocess.String() {
		t.Errorf("ImportedBackbone.Info %s, file %s", imp.Info.Preprocess, info.Preprocess)
	}
	raw, err := onnxio.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]string{}
	for _, e := range raw.MetadataProps {
		if _, dup := meta[e.Key]; dup {
			t.Errorf("metadata key %s twice", e.Key)
		}
		meta[e.Key] = e.Value
	}
	if meta["author"] != "test" || meta[fewshot.KeyMetric] != "euclidean" || meta[fewshot.KeyFormat] != "2" ||
		meta[fewshot.KeyEmbeddingShape] != "[4]" || meta[fewshot.KeyInputShape] != "[3,12,12]" {
		t.Errorf("metadata %v", meta)
	}
	if !strings.Contains(raw.DocString, "net.onnx (handmade 1)") || !strings.Contains(raw.DocString, `"feat"`) {
		t.Errorf("doc string %q", raw.DocString)
	}
	if o := raw.Graph.Outputs[0]; o.Name != "feat" || o.ElemType != onnxio.Float || len(o.Shape) != 2 || o.Shape[0].Param != "batch" || o.Shape[1].Value != 4 {
		t.Errorf("graph output %+v", o)
	}

	// A stretching transform still writes format 1, which older releases read.
	info.Preprocess.ResizeShorter = 0
	entries, err := info.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Key == fewshot.KeyFormat && e.Value != "1" || e.Key == fewshot.KeyPreprocess && strings.Contains(e.Value, "resize_shorter") {
			t.Errorf("stretching transform: %s = %s", e.Key, e.Value)
		}
	}
}

// With no Preprocess the ImageNet preset is used, sized to a fixed input.
func TestImportBackboneDefaultPreprocess(t *testing.T) {
	imp, err := fewshot.ImportBackbone(gemmNet(), fewshot.BackboneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := imp.Info.Preprocess.String(), episode.ImageNetPreprocess().String(); got != want {
		t.Errorf("dynamic input: preprocess %s, want %s", got, want)
	}
	b := newNet(32, 40).pooledFeatures()
	b.weight("fc.w", 5, 4)
	b.node("Gemm", []string{"feat", "fc.w"}, "out", onnxio.AttrInt("transB", 1))
	imp, err = fewshot.ImportBackbone(b.model("out"), fewshot.BackboneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := imp.Info.Preprocess; p.Width != 40 || p.Height != 32 || p.ResizeShorter != 46 || len(p.Mean) != 3 {
		t.Errorf("fixed 32×40 input: preprocess %s, want a 40x32 crop after resizing to 46", p)
	}
}

func TestImportBackboneErrors(t *testing.T) {
	sigmoidHead := newNet(-1, -1)
	sigmoidHead.node("Sigmoid", []string{"maps"}, "out")
	rank2 := &onnxio.Model{OpsetImport: []onnxio.OperatorSetID{{Version: 13}}, Graph: &onnxio.Graph{
		Inputs:      []*onnxio.ValueInfo{onnxio.NewValueInfo("x", onnxio.Float, []int64{-1, 784}, "N")},
		Initializer: []*onnxio.Tensor{onnxio.NewFloatTensor("w", []int64{10, 784}, make([]float32, 7840))},
		Nodes:       []*onnxio.Node{onnxio.NewNode("Gemm", "fc", []string{"x", "w"}, []string{"y"}, onnxio.AttrInt("transB", 1))},
		Outputs:     []*onnxio.ValueInfo{{Name: "y"}},
	}}
	fiveChannels := gemmNet()
	fiveChannels.Graph.Inputs[0] = onnxio.NewValueInfo("image", onnxio.Float, []int64{-1, 5, 8, 8}, "batch")
	fixed := newNet(8, 8).pooledFeatures()
	fixed.weight("fc.w", 5, 4)
	fixed.node("Gemm", []string{"feat", "fc.w"}, "out", onnxio.AttrInt("transB", 1))
	transA := gemmNet()
	transA.Graph.Nodes[4].Attributes = append(transA.Graph.Nodes[4].Attributes, onnxio.AttrInt("transA", 1))
	noBatch := gemmNet()
	noBatch.Graph.Nodes = append(noBatch.Graph.Nodes, onnxio.NewNode("ReduceMean", "all", []string{"feat"}, []string{"scalar"},
		onnxio.AttrInts("axes", 0, 1), onnxio.AttrInt("keepdims", 0)))
	gray := smallImageNet()
	gray.Channels, gray.Mean, gray.Std = 1, nil, nil

	for _, c := range []struct {
		name string
		m    *onnxio.Model
		o    fewshot.BackboneOptions
		want []string
		is   error
	}{
		{"no classifier", sigmoidHead.model("out"), fewshot.BackboneOptions{}, []string{`Relu node "/maps/Relu"`, "name the embedding tensor"}, fewshot.ErrNoClassifier},
		{"gemm transA", transA, fewshot.BackboneOptions{}, []string{"transA"}, fewshot.ErrNoClassifier},
		{"unknown tensor", gemmNet(), fewshot.BackboneOptions{Embedding: "features"}, []string{`"features" is not in the graph`}, nil},
		{"input of rank 2", rank2, fewshot.BackboneOptions{}, []string{`input "x"`, "rank 2", "rank 4"}, nil},
		{"five channels", fiveChannels, fewshot.BackboneOptions{}, []string{"5 channels"}, nil},
		{"channels mismatch", gemmNet(), fewshot.BackboneOptions{Preprocess: gray}, []string{"1-channel"}, nil},
		{"size mismatch", fixed.model("out"), fewshot.BackboneOptions{Preprocess: smallImageNet()}, []string{"12x12 images", "make them 8x8"}, nil},
		{"bad preprocess", gemmNet(), fewshot.BackboneOptions{Preprocess: episode.Preprocess{Width: 224, Height: 224, Channels: 3, ResizeShorter: 200}}, []string{"resize_shorter 200"}, nil},
		{"relation metric", gemmNet(), fewshot.BackboneOptions{Metric: fewshot.Relation}, []string{"relation module"}, nil},
		{"unknown metric", gemmNet(), fewshot.BackboneOptions{Metric: "manhattan"}, []string{`"manhattan"`}, nil},
		{"pool without tensor", gemmNet(), fewshot.BackboneOptions{Pool: true}, []string{"named embedding"}, nil},
		{"pool a flat tensor", gemmNet(), fewshot.BackboneOptions{Embedding: "feat", Pool: true, Preprocess: smallImageNet()}, []string{`cannot pool the embedding tensor "feat"`, "feature maps"}, nil},
		{"independent of the input", gemmNet(), fewshot.BackboneOptions{Embedding: "fc.w"}, []string{"does not depend on the network's input"}, nil},
		{"no batch axis", noBatch, fewshot.BackboneOptions{Embedding: "scalar", Preprocess: smallImageNet()}, []string{"one row per image"}, nil},
		{"no graph", &onnxio.Model{}, fewshot.BackboneOptions{}, []string{"no graph"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := fewshot.ImportBackbone(c.m, c.o)
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %q does not wrap %v", err, c.is)
			}
		})
	}
}

func TestImportBackboneFileErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "net.onnx")
	b, err := gemmNet().MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := newNet(-1, -1)
	bad.node("Sigmoid", []string{"maps"}, "out")
	badPath := filepath.Join(dir, "sigmoid.onnx")
	bb, _ := bad.model("out").MarshalBinary()
	if err := os.WriteFile(badPath, bb, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	for _, c := range []struct {
		name, in, out, want string
	}{
		{"missing network", filepath.Join(dir, "missing.onnx"), out, "missing.onnx"},
		{"same file", in, in, "the network file itself"},
		{"no classifier names the file", badPath, out, "sigmoid.onnx"},
		{"output folder missing", in, filepath.Join(dir, "no-such-dir", "m.onnx"), "no-such-dir"},
	} {
		_, err := fewshot.ImportBackboneFile(c.in, c.out, fewshot.BackboneOptions{Preprocess: smallImageNet()})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		}
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "net.onnx" && e.Name() != "sigmoid.onnx" {
			t.Errorf("failed imports left %s behind", e.Name())
		}
	}
}
