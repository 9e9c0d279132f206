package main

import (
	"bytes"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
)

// omniglotDir holds the repository's Omniglot fixtures.
const omniglotDir = "../../testdata/omniglot"

func randWeights(rng *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * std)
	}
	return v
}

// testModelBytes exports a random Conv-4-style embedding (3 blocks of 16
// filters) for Omniglot-sized inputs. scale multiplies the output of the
// last block: a tiny scale squeezes all embeddings together, so every
// prediction is close to uniform.
func testModelBytes(t testing.TB, seed uint64, scale float32) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	var layers []export.Layer
	in := 1
	for b := range 3 {
		out := 16
		vars, gamma, beta := make([]float32, out), make([]float32, out), randWeights(rng, out, 0.1)
		for i := range vars {
			vars[i], gamma[i] = 0.5+rng.Float32(), 0.5+rng.Float32()
		}
		if b == 2 {
			// BatchNorm → ReLU → MaxPool is positively homogeneous in
			// (gamma, beta), so this scales the embedding.
			for i := range gamma {
				gamma[i] *= scale
				beta[i] *= scale
			}
		}
		layers = append(layers,
			&export.Conv{Weight: randWeights(rng, out*in*9, math.Sqrt(2/float64(in*9))), Bias: randWeights(rng, out, 0.05),
				In: in, Out: out, KH: 3, KW: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
			&export.BatchNorm{Gamma: gamma, Beta: beta, Mean: randWeights(rng, out, 0.1), Var: vars},
			export.ReLU{},
			&export.MaxPool{KH: 2, KW: 2})
		in = out
	}
	layers = append(layers, export.Flatten{})
	m, err := export.Model(export.Spec{Embedding: layers, Preprocess: episode.OmniglotPreprocess(),
		Metric: fewshot.Euclidean, Algorithm: "random", TrainingData: "none"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testModel(t testing.TB, scale float32) *fewshot.Model {
	t.Helper()
	m, err := fewshot.ParseModel(testModelBytes(t, 1, scale))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixture is a sorting task on disk whose answers are certain: each class
// has one example, and each unsorted image is a byte-identical copy of one
// example, so its embedding is exactly its class prototype.
type fixture struct {
	examples, in, out string
	want              map[string]string // unsorted file name -> class label
}

// fixtureClasses are the classes of the fixture, as in testdata/omniglot.
var fixtureClasses = []string{"Greek/character01", "Greek/character02", "Greek/character03", "Latin/character01", "Latin/character02", "Latin/character03"}

// newFixture writes a fixture in a new temporary folder. Each class gets
// its drawer-01 image as the example and copies of it as "<alphabet>-<char>
// -<k>.png" for k < copies.
func newFixture(t *testing.T, copies int) fixture {
	t.Helper()
	root := t.TempDir()
	f := fixture{
		examples: filepath.Join(root, "examples"),
		in:       filepath.Join(root, "unsorted"),
		out:      filepath.Join(root, "sorted"),
		want:     map[string]string{},
	}
	mustMkdir(t, f.in)
	for _, label := range fixtureClasses {
		src := firstPNG(t, filepath.Join(omniglotDir, filepath.FromSlash(label)))
		data := readFile(t, src)
		writeFile(t, filepath.Join(f.examples, filepath.FromSlash(label), filepath.Base(src)), data)
		for k := range copies {
			name := strings.ReplaceAll(label, "/", "-") + "-" + string(rune('a'+k)) + ".png"
			writeFile(t, filepath.Join(f.in, name), data)
			f.want[name] = label
		}
	}
	return f
}

func (f fixture) config(model *fewshot.Model) Config {
	return Config{Examples: f.examples, In: f.in, Out: f.out, Model: model, Quiet: true}
}

func firstPNG(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*_01.png"))
	if err != nil || len(m) != 1 {
		t.Fatalf("fixture image in %s: %v %v", dir, m, err)
	}
	return m[0]
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, data []byte) {
	t.Helper()
	mustMkdir(t, filepath.Dir(p))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tree returns every file under root (slash-separated relative path ->
// content); a missing root is an empty tree.
func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && os.IsNotExist(err) {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out[filepath.ToSlash(rel)] = readFile(t, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// noTempFiles fails if any temporary copy is left under root.
func noTempFiles(t *testing.T, root string) {
	t.Helper()
	for p := range tree(t, root) {
		if strings.HasPrefix(filepath.Base(p), ".imagesort-") {
			t.Errorf("temporary file left behind: %s", p)
		}
	}
}

func equalTrees(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}
