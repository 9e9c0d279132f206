package fewshot_test

import (
	"bytes"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/onnxio"
)

var smallRGB = episode.Preprocess{Width: 16, Height: 16, Channels: 3, Filter: "linear"}

func checkPrediction(t *testing.T, p fewshot.Prediction, classes []string) {
	t.Helper()
	if !slices.Equal(p.Classes, classes) || len(p.Probs) != len(classes) || len(p.Scores) != len(classes) {
		t.Fatalf("prediction classes %v (%d probs, %d scores), want %v", p.Classes, len(p.Probs), len(p.Scores), classes)
	}
	var sum float64
	best := 0
	for k, pr := range p.Probs {
		if !(pr >= 0 && pr <= 1) {
			t.Errorf("probability %v out of [0, 1]", pr)
		}
		sum += pr
		if pr > p.Probs[best] {
			best = k
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("probabilities sum to %v", sum)
	}
	if p.Label != classes[best] || p.Prob != p.Probs[best] {
		t.Errorf("label %q prob %v, but the best class is %q with %v", p.Label, p.Prob, classes[best], p.Probs[best])
	}
}

// Queries identical to a support of a 1-shot task must be classified as
// that support's class: its distance is 0 (Euclidean), its cosine 1.
func TestClassifyIdentical(t *testing.T) {
	for _, metric := range []fewshot.Metric{fewshot.Euclidean, fewshot.Cosine} {
		t.Run(string(metric), func(t *testing.T) {
			c := newClassifier(t, modelBytes(t, 1, smallRGB, metric, 2, 8))
			sup, byClass := task(2, 5, 1, 20, 12)
			var queries []image.Image
			for _, imgs := range byClass {
				queries = append(queries, imgs[0])
			}
			preds, err := c.Classify(sup, queries)
			if err != nil {
				t.Fatal(err)
			}
			classes := []string{"c0", "c1", "c2", "c3", "c4"}
			for q, p := range preds {
				checkPrediction(t, p, classes)
				if p.Label != label(q) {
					t.Errorf("query %d: label %q, want %q (probs %v)", q, p.Label, label(q), p.Probs)
				}
				if metric == fewshot.Euclidean && p.Scores[q] != 0 {
					t.Errorf("query %d: score %v for its own class, want -0 distance", q, p.Scores[q])
				}
			}
		})
	}
}

// The Euclidean scores are exactly −‖q − mean‖² of the embeddings.
func TestEuclideanScores(t *testing.T) {
	c := newClassifier(t, modelBytes(t, 3, smallRGB, fewshot.Euclidean, 2, 8))
	sup, _ := task(4, 3, 4, 16, 16)
	q := noise(rand.New(rand.NewPCG(9, 9)), 16, 16)
	preds, err := c.Classify(sup, []image.Image{q})
	if err != nil {
		t.Fatal(err)
	}
	imgs := []image.Image{q}
	for _, s := range sup {
		imgs = append(imgs, s.Image)
	}
	emb, err := c.Embed(imgs)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		var d float64
		for i := range emb[0] {
			var mean float64
			for j := range 4 {
				mean += float64(emb[1+k*4+j][i])
			}
			mean /= 4
			t := float64(emb[0][i]) - mean
			d += t * t
		}
		if got := preds[0].Scores[k]; math.Abs(got+d) > 1e-9*max(1, d) {
			t.Errorf("class %d: score %v, want %v", k, got, -d)
		}
	}
	checkPrediction(t, preds[0], []string{"c0", "c1", "c2"})
}

func TestRelation(t *testing.T) {
	pre := episode.Preprocess{Width: 16, Height: 16, Channels: 1, Invert: true}
	b := modelBytes(t, 5, pre, fewshot.Relation, 2, 8)
	c := newClassifier(t, b)
	if got := c.Model().Info().EmbeddingShape; !slices.Equal(got, []int{8, 4, 4}) {
		t.Fatalf("embedding shape %v, want [8 4 4]", got)
	}
	sup, byClass := task(6, 4, 2, 16, 16)
	queries := []image.Image{byClass[0][0], byClass[3][1]}
	preds, err := c.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range preds {
		checkPrediction(t, p, []string{"c0", "c1", "c2", "c3"})
		var sum float64
		for _, s := range p.Scores {
			if s < 0 || s > 1 {
				t.Errorf("relation score %v out of [0, 1]", s)
			}
			sum += s
		}
		for k := range p.Probs {
			if math.Abs(p.Probs[k]-p.Scores[k]/sum) > 1e-12 {
				t.Errorf("prob %v, want score/sum %v", p.Probs[k], p.Scores[k]/sum)
			}
		}
	}
	// Batching pairs differently gives the same scores.
	c1 := newClassifier(t, b, fewshot.WithBatchSize(1))
	preds1, err := c1.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	for q := range preds {
		for k := range preds[q].Scores {
			if d := math.Abs(preds[q].Scores[k] - preds1[q].Scores[k]); d > 1e-6 {
				t.Errorf("batch size 1 changes score %d/%d by %v", q, k, d)
			}
		}
	}
}

// Adding examples one class at a time, or in two steps, gives the same
// prototypes as one Fit, for every metric.
func TestAddEqualsFit(t *testing.T) {
	for _, metric := range []fewshot.Metric{fewshot.Euclidean, fewshot.Cosine} {
		t.Run(string(metric), func(t *testing.T) {
			c := newClassifier(t, modelBytes(t, 7, smallRGB, metric, 2, 8), fewshot.WithBatchSize(3))
			sup, byClass := task(8, 4, 3, 16, 16)
			queries := []image.Image{byClass[1][0], noise(rand.New(rand.NewPCG(1, 1)), 16, 16)}
			fit, err := c.Fit(sup)
			if err != nil {
				t.Fatal(err)
			}
			want, err := fit.Predict(queries)
			if err != nil {
				t.Fatal(err)
			}
			inc := c.NewPrototypes()
			for k := 3; k >= 0; k-- { // classes in reverse order
				if err := inc.Add(label(k), byClass[k][0]); err != nil {
					t.Fatal(err)
				}
				if err := inc.Add(label(k), byClass[k][1:]...); err != nil {
					t.Fatal(err)
				}
			}
			got, err := inc.Predict(queries)
			if err != nil {
				t.Fatal(err)
			}
			for q := range want {
				if !slices.Equal(got[q].Classes, want[q].Classes) || got[q].Label != want[q].Label {
					t.Fatalf("query %d: incremental %v/%q, fit %v/%q", q, got[q].Classes, got[q].Label, want[q].Classes, want[q].Label)
				}
				for k := range want[q].Scores {
					if d := math.Abs(got[q].Scores[k] - want[q].Scores[k]); d > 1e-12*max(1, math.Abs(want[q].Scores[k])) {
						t.Errorf("query %d class %d: incremental score %v, fit %v", q, k, got[q].Scores[k], want[q].Scores[k])
					}
				}
			}
			if inc.Count("c2") != 3 || inc.Count("zz") != 0 {
				t.Errorf("counts %d, %d", inc.Count("c2"), inc.Count("zz"))
			}
			// A new class shows up in later predictions; Remove takes it away.
			if err := inc.Add("new", byClass[0][0]); err != nil {
				t.Fatal(err)
			}
			p, err := inc.Predict(queries[:1])
			if err != nil {
				t.Fatal(err)
			}
			checkPrediction(t, p[0], []string{"c0", "c1", "c2", "c3", "new"})
			if !inc.Remove("new") || inc.Remove("new") || len(inc.Classes()) != 4 {
				t.Error("Remove did not delete the class exactly once")
			}
		})
	}
}

func TestSaveLoad(t *testing.T) {
	for _, metric := range []fewshot.Metric{fewshot.Euclidean, fewshot.Cosine} {
		t.Run(string(metric), func(t *testing.T) {
			b := modelBytes(t, 11, smallRGB, metric, 2, 8)
			c := newClassifier(t, b)
			sup, byClass := task(12, 3, 2, 16, 16)
			p, err := c.Fit(sup)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "protos.fsp")
			if err := p.SaveFile(path); err != nil {
				t.Fatal(err)
			}
			// A second classifier on the same model bytes accepts them.
			c2 := newClassifier(t, b)
			p2, err := c2.LoadPrototypes(path)
			if err != nil {
				t.Fatal(err)
			}
			queries := []image.Image{byClass[2][1], byClass[0][0]}
			want, _ := p.Predict(queries)
			got, err := p2.Predict(queries)
			if err != nil {
				t.Fatal(err)
			}
			for q := range want {
				if !slices.Equal(got[q].Scores, want[q].Scores) || !slices.Equal(got[q].Classes, want[q].Classes) {
					t.Errorf("query %d: loaded scores %v, saved %v", q, got[q].Scores, want[q].Scores)
				}
			}
			data, _ := os.ReadFile(path)
			// Another model (other weights) is refused.
			other := newClassifier(t, modelBytes(t, 12, smallRGB, metric, 2, 8))
			if _, err := other.ReadPrototypes(bytes.NewReader(data)); !errors.Is(err, fewshot.ErrModelMismatch) {
				t.Errorf("other model: error %v, want ErrModelMismatch", err)
			}
			// Corruption anywhere and truncation are reported.
			for _, i := range []int{0, 20, len(data) / 2, len(data) - 1} {
				bad := slices.Clone(data)
				bad[i] ^= 0x40
				if _, err := c.ReadPrototypes(bytes.NewReader(bad)); err == nil {
					t.Errorf("byte %d flipped: no error", i)
				}
			}
			for _, n := range []int{0, 7, len(data) / 3, len(data) - 1} {
				if _, err := c.ReadPrototypes(bytes.NewReader(data[:n])); err == nil {
					t.Errorf("truncated to %d bytes: no error", n)
				}
			}
			if _, err := c.ReadPrototypes(bytes.NewReader(append(slices.Clone(data), 0))); err == nil {
				t.Error("trailing byte: no error")
			}
		})
	}
}

// Many goroutines classifying at once get the sequential answers, while
// another goroutine keeps adding and removing a class.
func TestConcurrent(t *testing.T) {
	c := newClassifier(t, modelBytes(t, 13, smallRGB, fewshot.Euclidean, 2, 8), fewshot.WithBatchSize(4))
	sup, byClass := task(14, 3, 2, 16, 16)
	p, err := c.Fit(sup)
	if err != nil {
		t.Fatal(err)
	}
	queries := []image.Image{byClass[0][1], byClass[1][0], byClass[2][1], byClass[2][0], byClass[1][1]}
	want, err := c.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	iters := 12
	if testing.Short() {
		iters = 4
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	stop := make(chan struct{})
	writer := sync.WaitGroup{}
	writer.Add(1)
	go func() {
		defer writer.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := p.Add("zz-extra", byClass[0][0]); err != nil {
				errs <- err
				return
			}
			p.Remove("zz-extra")
		}
	}()
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range iters {
				var got []fewshot.Prediction
				var err error
				if g%2 == 0 {
					got, err = c.Classify(sup, queries)
				} else {
					got, err = p.Predict(queries)
				}
				if err != nil {
					errs <- err
					return
				}
				for q := range got {
					// Predict may see the extra class; the first three
					// scores must still match.
					if got[q].Label != want[q].Label && got[q].Label != "zz-extra" || !slices.Equal(got[q].Scores[:3], want[q].Scores) {
						errs <- errors.New("concurrent result differs from the sequential one")
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	writer.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestErrors(t *testing.T) {
	b := modelBytes(t, 15, smallRGB, fewshot.Euclidean, 2, 8)
	c := newClassifier(t, b)
	sup, byClass := task(16, 2, 1, 16, 16)
	q := []image.Image{byClass[0][0]}
	if _, err := c.Classify(nil, q); !errors.Is(err, fewshot.ErrNoSupports) {
		t.Errorf("no supports: %v", err)
	}
	if _, err := c.Classify(sup, nil); !errors.Is(err, fewshot.ErrNoQueries) {
		t.Errorf("no queries: %v", err)
	}
	if _, err := c.NewPrototypes().Predict(q); !errors.Is(err, fewshot.ErrNoClasses) {
		t.Errorf("empty prototypes: %v", err)
	}
	if err := c.NewPrototypes().Add("x"); err == nil || !strings.Contains(err.Error(), `label "x" with no images`) {
		t.Errorf("label with no images: %v", err)
	}
	if _, err := c.Classify([]fewshot.Example{{Label: "", Image: byClass[0][0]}}, q); err == nil {
		t.Error("empty label: no error")
	}
	if _, err := c.Classify(append(slices.Clone(sup), fewshot.Example{Label: "x"}), q); err == nil || !strings.Contains(err.Error(), "support 2") {
		t.Errorf("nil support image: %v", err)
	}
	if _, err := c.Classify(sup, []image.Image{image.NewGray(image.Rect(0, 0, 0, 5))}); err == nil || !strings.Contains(err.Error(), "query 0") {
		t.Errorf("empty query image: %v", err)
	}
	if _, err := fewshot.DecodeImage("junk.png", []byte("not an image")); err == nil {
		t.Error("undecodable image: no error")
	}
	if _, err := fewshot.New(nil); err == nil {
		t.Error("New(nil): no error")
	}
}

func TestModelErrors(t *testing.T) {
	b := modelBytes(t, 17, smallRGB, fewshot.Euclidean, 2, 8)
	reencode := func(edit func(m *onnxio.Model)) []byte {
		m, _ := onnxio.DecodeBytes(slices.Clone(b))
		edit(m)
		out, err := m.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	setMeta := func(key, value string) func(m *onnxio.Model) {
		return func(m *onnxio.Model) {
			for i := range m.MetadataProps {
				if m.MetadataProps[i].Key == key {
					m.MetadataProps[i].Value = value
				}
			}
		}
	}
	cases := []struct {
		name string
		b    []byte
		opts []fewshot.ModelOption
		want string
	}{
		{"garbage", []byte("no onnx here"), nil, "decoding model"},
		{"nan weight", reencode(func(m *onnxio.Model) {
			w, _ := m.Graph.Initializer[0].Float32s()
			w = slices.Clone(w)
			w[3] = float32(math.NaN())
			m.Graph.Initializer[0] = onnxio.NewFloatTensor(m.Graph.Initializer[0].Name, m.Graph.Initializer[0].Dims, w)
		}), nil, "holds NaN"},
		{"preprocess mismatch", b, []fewshot.ModelOption{fewshot.WithPreprocess(episode.Preprocess{Width: 16, Height: 16, Channels: 1})}, "preprocessing gives [1 16 16]"},
		{"input shape metadata", reencode(setMeta(fewshot.KeyInputShape, "[3,32,32]")), nil, "does not match the preprocessing"},
		{"embedding shape metadata", reencode(setMeta(fewshot.KeyEmbeddingShape, "[7]")), nil, "metadata fewshot.embedding_shape says [7]"},
		{"newer format", reencode(setMeta(fewshot.KeyFormat, strconv.Itoa(fewshot.FormatVersion+1))), nil, "newer than this library"},
		{"unknown metric", reencode(setMeta(fewshot.KeyMetric, "manhattan")), nil, "unknown metric"},
		{"no preprocess", reencode(func(m *onnxio.Model) { m.MetadataProps = nil }), nil, "no fewshot.preprocess metadata"},
		{"relation without module", b, []fewshot.ModelOption{fewshot.WithMetric(fewshot.Relation)}, "no fewshot.relation_module"},
		{"limits", b, []fewshot.ModelOption{fewshot.WithLimits(onnxio.Limits{MaxModelBytes: 100})}, "limit"},
	}
	for _, c := range cases {
		_, err := fewshot.ParseModel(c.b, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
	// A plain ONNX model without metadata works once told its preprocessing.
	plain := reencode(func(m *onnxio.Model) { m.MetadataProps = nil })
	m, err := fewshot.ParseModel(plain, fewshot.WithPreprocess(smallRGB), fewshot.WithMetric(fewshot.Cosine))
	if err != nil {
		t.Fatal(err)
	}
	if info := m.Info(); info.Metric != fewshot.Cosine || !slices.Equal(info.EmbeddingShape, []int{128}) {
		t.Errorf("plain model info %+v", info)
	}
}

func TestLoadModelAndExamplesDir(t *testing.T) {
	pre := episode.OmniglotPreprocess()
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, modelBytes(t, 19, pre, fewshot.Euclidean, 3, 8), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := fewshot.LoadModel(path)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	m2, err := fewshot.ReadModel(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Fingerprint() != m2.Fingerprint() || len(m.Fingerprint()) != 64 {
		t.Errorf("fingerprints %s and %s", m.Fingerprint(), m2.Fingerprint())
	}
	if _, err := fewshot.LoadModel(filepath.Join(t.TempDir(), "missing.onnx")); err == nil {
		t.Error("missing file: no error")
	}
	ex, err := fewshot.LoadExamplesDir("../testdata/omniglot")
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]int{}
	for _, e := range ex {
		labels[e.Label]++
	}
	if len(labels) < 2 || labels["Greek/character01"] == 0 {
		t.Fatalf("labels %v", labels)
	}
	c, err := fewshot.New(m)
	if err != nil {
		t.Fatal(err)
	}
	// Every image classified against all of them finds itself (a
	// 1-shot-per-image task where each image is its own class).
	var sup []fewshot.Example
	var queries []image.Image
	for i, e := range ex[:6] {
		sup = append(sup, fewshot.Example{Label: string(rune('a' + i)), Image: e.Image})
		queries = append(queries, e.Image)
	}
	preds, err := c.Classify(sup, queries)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range preds {
		if p.Label != string(rune('a'+i)) {
			t.Errorf("image %d classified as %q", i, p.Label)
		}
	}
}

func TestDefaultModels(t *testing.T) {
	for name, m := range map[string]*fewshot.Model{"DefaultModel": fewshot.DefaultModel(), "DefaultPhotoModel": fewshot.DefaultPhotoModel()} {
		if err := m.Err(); err != nil {
			if !errors.Is(err, fewshot.ErrNoDefaultModel) {
				t.Errorf("%s: %v", name, err)
			}
			if _, err2 := fewshot.New(m); !errors.Is(err2, fewshot.ErrNoDefaultModel) {
				t.Errorf("%s: New gives %v, want the model's error", name, err2)
			}
			t.Logf("%s not built in yet: %v", name, err)
			continue
		}
		if info := m.Info(); info.Producer != fewshot.Producer {
			t.Errorf("%s: producer %q", name, info.Producer)
		}
	}
}

// BenchmarkClassify5Way5Shot classifies 75 queries against 5 classes of 5
// supports at 84×84×3 with a random Conv-4 (64 filters).
func BenchmarkClassify5Way5Shot(b *testing.B) {
	c := newClassifier(b, modelBytes(b, 21, episode.MiniImageNetPreprocess(), fewshot.Euclidean, 4, 64))
	sup, _ := task(22, 5, 5, 84, 84)
	rng := rand.New(rand.NewPCG(23, 23))
	queries := make([]image.Image, 75)
	for i := range queries {
		queries[i] = noise(rng, 84, 84)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Classify(sup, queries); err != nil {
			b.Fatal(err)
		}
	}
}
