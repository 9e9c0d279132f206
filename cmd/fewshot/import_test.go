package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
	"github.com/fewshot-go/fewshot/onnxio"
)

// writeClassifierNet writes a small ONNX classification network: a 3×3
// conv on [N, 3, H, W] images, global average pooling, then head (which
// reads "feat" and writes "out").
func writeClassifierNet(t *testing.T, dir, name string, h, w int64, head ...*onnxio.Node) string {
	t.Helper()
	vals := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((i*37)%11-5) / 10
		}
		return v
	}
	g := &onnxio.Graph{
		Inputs: []*onnxio.ValueInfo{onnxio.NewValueInfo("image", onnxio.Float, []int64{-1, 3, h, w}, "batch")},
		Initializer: []*onnxio.Tensor{
			onnxio.NewFloatTensor("conv.w", []int64{4, 3, 3, 3}, vals(108)),
			onnxio.NewFloatTensor("fc.w", []int64{5, 4}, vals(20)),
		},
		Nodes: append([]*onnxio.Node{
			onnxio.NewNode("Conv", "conv", []string{"image", "conv.w"}, []string{"maps"}, onnxio.AttrInts("pads", 1, 1, 1, 1)),
			onnxio.NewNode("Relu", "relu", []string{"maps"}, []string{"relu"}),
			onnxio.NewNode("GlobalAveragePool", "gap", []string{"relu"}, []string{"gap"}),
			onnxio.NewNode("Flatten", "flatten", []string{"gap"}, []string{"feat"}),
		}, head...),
		Outputs: []*onnxio.ValueInfo{{Name: "out"}},
	}
	m := &onnxio.Model{IRVersion: 8, OpsetImport: []onnxio.OperatorSetID{{Version: 13}}, Graph: g}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	writeTestFile(t, path, b)
	return path
}

func gemmHead() *onnxio.Node {
	return onnxio.NewNode("Gemm", "fc", []string{"feat", "fc.w"}, []string{"out"}, onnxio.AttrInt("transB", 1))
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	net := writeClassifierNet(t, dir, "net.onnx", 12, 12, gemmHead())
	out := filepath.Join(dir, "net-fewshot.onnx")
	code, stdout, stderr := invoke(t, "import", "--model", net, "--out", out, "--crop", "12", "--metric", "cosine", "--training-data", "nothing")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{`tensor "feat"`, "[4] = 4 values", `Gemm node "fc"`, "shorter side to 14, centre 12x12 crop", "cosine", "removed:       1"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not say %q:\n%s", want, stdout)
		}
	}
	m, err := fewshot.LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	info := m.Info()
	if info.Metric != fewshot.Cosine || info.TrainingData != "nothing" || info.Preprocess.ResizeShorter != 14 || info.Preprocess.Width != 12 {
		t.Errorf("loaded info %+v", info)
	}
	// eval reads the imported model directly.
	r := evalJSON(t, "--model", out, "--data", omniglotFixture, "--split", "", "--way", "3", "--shot", "1", "--query", "1",
		"--episodes", "2", "--cache-dir", t.TempDir())
	if r.Metric != "cosine" || !strings.Contains(string(r.Preprocess), `"resize_shorter":14`) {
		t.Errorf("eval report: metric %s, preprocess %s", r.Metric, r.Preprocess)
	}

	// With nothing given, the ImageNet preset is sized to the fixed input.
	code, stdout, stderr = invoke(t, "import", "--model", net, "--out", out)
	if code != 0 || !strings.Contains(stdout, "shorter side to 14, centre 12x12 crop") {
		t.Errorf("default preprocessing: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestImportHelpAndList(t *testing.T) {
	code, stdout, _ := invoke(t, "import", "-h")
	if code != 0 || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "fewshot import --model resnet18.onnx --out resnet18-fewshot.onnx") ||
		!strings.Contains(stdout, "-embedding") {
		t.Errorf("import -h: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = invoke(t, "help")
	if code != 0 || !strings.Contains(stdout, "import") {
		t.Errorf("help does not list import:\n%s", stdout)
	}
	net := writeClassifierNet(t, t.TempDir(), "net.onnx", -1, -1, gemmHead())
	code, stdout, stderr := invoke(t, "import", "--model", net, "--list")
	if code != 0 || !strings.Contains(stdout, "GlobalAveragePool    gap") || !strings.Contains(stdout, `default embedding: "feat"`) {
		t.Errorf("--list: exit %d\n%s%s", code, stdout, stderr)
	}
	bad := writeClassifierNet(t, t.TempDir(), "bad.onnx", -1, -1, onnxio.NewNode("Relu", "r", []string{"maps"}, []string{"out"}))
	code, stdout, _ = invoke(t, "import", "--model", bad, "--list")
	if code != 0 || !strings.Contains(stdout, "default embedding: none") {
		t.Errorf("--list without a classifier: exit %d\n%s", code, stdout)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	net := writeClassifierNet(t, dir, "net.onnx", -1, -1, gemmHead())
	noHead := writeClassifierNet(t, dir, "nohead.onnx", -1, -1, onnxio.NewNode("Relu", "r", []string{"maps"}, []string{"out"}))
	fixed := writeClassifierNet(t, dir, "fixed.onnx", 12, 12, gemmHead())
	out := filepath.Join(dir, "out.onnx")
	missing := filepath.Join(dir, "missing.onnx")
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--out", out}, 2, []string{"--model is required"}},
		{[]string{"--model", net}, 2, []string{"--out is required"}},
		{[]string{"--model", net, "--out", out, "--list"}, 2, []string{"--list writes nothing"}},
		{[]string{"--model", net, "--out", out, "--pool"}, 2, []string{"--pool needs --embedding"}},
		{[]string{"--model", net, "--out", out, "--metric", "relation"}, 2, []string{`--metric "relation"`}},
		{[]string{"--model", net, "--out", out, "--preprocess", "sepia"}, 2, []string{`"sepia"`, `"imagenet"`}},
		{[]string{"--model", net, "--out", out, "--resize", "100", "--crop", "224"}, 2, []string{"resize_shorter 100 is smaller than the 224x224 crop"}},
		{[]string{"--model", net, "--out", out, "--crop", "0"}, 2, []string{"--crop 0"}},
		{[]string{"--model", net, "--out", out, "extra"}, 2, []string{"unexpected arguments"}},
		{[]string{"--model", missing, "--out", out}, 1, []string{missing}},
		{[]string{"--model", noHead, "--out", out}, 1, []string{noHead, "no final classifier found", "--embedding"}},
		{[]string{"--model", net, "--out", out, "--embedding", "features"}, 1, []string{net, `"features" is not in the graph`}},
		{[]string{"--model", fixed, "--out", out, "--preprocess", "imagenet"}, 1, []string{fixed, "224x224 images", "make them 12x12"}},
		{[]string{"--model", net, "--out", filepath.Join(dir, "no-such-dir", "m.onnx")}, 1, []string{"no-such-dir"}},
		{[]string{"--model", net, "--out", net}, 1, []string{"the network file itself"}},
	} {
		code, _, stderr := invoke(t, append([]string{"import"}, c.args...)...)
		if code != c.code {
			t.Errorf("import %q: exit %d, want %d; stderr %s", c.args, code, c.code, stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("import %q: stderr %q does not say %q", c.args, stderr, w)
			}
		}
		for _, bad := range []string{"panic", "goroutine ", ".go:"} {
			if strings.Contains(stderr, bad) {
				t.Errorf("import %q: stderr contains %q", c.args, bad)
			}
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed import wrote %s", out)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Errorf("failed imports left files behind: %v", ents)
	}
}

// A real torchvision export (random weights) goes through import and eval.
func TestImportTorchvisionCommand(t *testing.T) {
	net := filepath.Join(testshared.Path(t, "torchvision/squeezenet1_1-op13"), "model.onnx")
	out := filepath.Join(t.TempDir(), "squeezenet-fewshot.onnx")
	code, stdout, stderr := invoke(t, "import", "--model", net, "--out", out)
	if code != 0 || !strings.Contains(stdout, "averaged over height and width, [512]") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	r := evalJSON(t, "--model", out, "--data", omniglotFixture, "--split", "", "--way", "3", "--shot", "1", "--query", "1",
		"--episodes", "2", "--cache-dir", t.TempDir())
	if r.Episodes != 2 || !strings.Contains(string(r.Preprocess), `"resize_shorter":256`) {
		t.Errorf("eval report %+v", r)
	}
}
