package fewshot_test

import (
	"errors"
	"image"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/onnxio"
)

// tensors preprocesses images with the model's transform and returns them
// back to back, as package episode lays out a Set.
func tensors(t *testing.T, c *fewshot.Classifier, images []image.Image) []float32 {
	t.Helper()
	pre := c.Model().Info().Preprocess
	var x []float32
	for _, img := range images {
		v, err := pre.Image(img)
		if err != nil {
			t.Fatal(err)
		}
		x = append(x, v...)
	}
	return x
}

// The tensor fast path (EmbedTensor, FitEmbeddings, PredictEmbeddings)
// gives bit for bit the predictions of Classify on the images, for every
// metric.
func TestTensorPathEqualsClassify(t *testing.T) {
	gray := episode.Preprocess{Width: 16, Height: 16, Channels: 1, Invert: true}
	for _, metric := range []fewshot.Metric{fewshot.Euclidean, fewshot.Cosine, fewshot.Relation} {
		t.Run(string(metric), func(t *testing.T) {
			pre := smallRGB
			if metric == fewshot.Relation {
				pre = gray
			}
			c := newClassifier(t, modelBytes(t, 11, pre, metric, 2, 8), fewshot.WithBatchSize(5))
			sup, byClass := task(12, 4, 3, 20, 18)
			var queries []image.Image
			for _, imgs := range byClass {
				queries = append(queries, imgs[1], imgs[2])
			}
			want, err := c.Classify(sup, queries)
			if err != nil {
				t.Fatal(err)
			}

			supImages := make([]image.Image, len(sup))
			labels := make([]string, len(sup))
			for i, s := range sup {
				supImages[i], labels[i] = s.Image, s.Label
			}
			embs, err := c.EmbedTensor(tensors(t, c, supImages), len(sup))
			if err != nil {
				t.Fatal(err)
			}
			d := c.Model().Info().EmbeddingSize()
			if len(embs) != len(sup)*d {
				t.Fatalf("EmbedTensor returned %d values, want %d", len(embs), len(sup)*d)
			}
			// EmbedTensor is Embed without the image decoding.
			viaImages, err := c.Embed(supImages)
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range viaImages {
				if !slices.Equal(e, embs[i*d:(i+1)*d]) {
					t.Fatalf("embedding %d differs between Embed and EmbedTensor", i)
				}
			}
			protos, err := c.FitEmbeddings(labels, embs)
			if err != nil {
				t.Fatal(err)
			}
			embq, err := c.EmbedTensor(tensors(t, c, queries), len(queries))
			if err != nil {
				t.Fatal(err)
			}
			got, err := protos.PredictEmbeddings(embq)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d predictions, want %d", len(got), len(want))
			}
			for q := range want {
				checkPrediction(t, got[q], []string{"c0", "c1", "c2", "c3"})
				if got[q].Label != want[q].Label || !slices.Equal(got[q].Scores, want[q].Scores) || !slices.Equal(got[q].Probs, want[q].Probs) {
					t.Errorf("query %d: tensor path %+v, Classify %+v", q, got[q], want[q])
				}
			}
		})
	}
}

func TestTensorPathErrors(t *testing.T) {
	c := newClassifier(t, modelBytes(t, 13, smallRGB, fewshot.Euclidean, 2, 8))
	d := c.Model().Info().EmbeddingSize()
	inLen := smallRGB.Len()
	if _, err := c.EmbedTensor(make([]float32, 2*inLen-1), 2); err == nil || !strings.Contains(err.Error(), "want 1536") {
		t.Errorf("short tensor: error %v", err)
	}
	if _, err := c.EmbedTensor(nil, 0); !errors.Is(err, fewshot.ErrNoQueries) {
		t.Errorf("no images: error %v, want ErrNoQueries", err)
	}
	if _, err := c.FitEmbeddings(nil, nil); !errors.Is(err, fewshot.ErrNoSupports) {
		t.Errorf("no supports: error %v, want ErrNoSupports", err)
	}
	if _, err := c.FitEmbeddings([]string{"a", "b"}, make([]float32, d)); err == nil || !strings.Contains(err.Error(), "2 embeddings") {
		t.Errorf("short embeddings: error %v", err)
	}
	if _, err := c.FitEmbeddings([]string{"a", ""}, make([]float32, 2*d)); err == nil || !strings.Contains(err.Error(), "empty label") {
		t.Errorf("empty label: error %v", err)
	}
	nan := make([]float32, d)
	nan[d-1] = float32(math.NaN())
	if _, err := c.FitEmbeddings([]string{"a"}, nan); !errors.Is(err, fewshot.ErrNotFinite) {
		t.Errorf("NaN support embedding: error %v, want ErrNotFinite", err)
	}
	p, err := c.FitEmbeddings([]string{"a", "b"}, make([]float32, 2*d))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.PredictEmbeddings(make([]float32, d+1)); err == nil || !strings.Contains(err.Error(), "whole number") {
		t.Errorf("ragged queries: error %v", err)
	}
	if _, err := p.PredictEmbeddings(nil); !errors.Is(err, fewshot.ErrNoQueries) {
		t.Errorf("no queries: error %v, want ErrNoQueries", err)
	}
	if _, err := p.PredictEmbeddings(nan); !errors.Is(err, fewshot.ErrNotFinite) {
		t.Errorf("NaN query embedding: error %v, want ErrNotFinite", err)
	}
	if _, err := c.NewPrototypes().PredictEmbeddings(make([]float32, d)); !errors.Is(err, fewshot.ErrNoClasses) {
		t.Errorf("empty prototypes: error %v, want ErrNoClasses", err)
	}
}

// A model without preprocessing metadata is refused with an error that
// wraps ErrNoPreprocess, so tools can tell the user how to supply it.
func TestErrNoPreprocess(t *testing.T) {
	m, err := onnxio.DecodeBytes(modelBytes(t, 14, smallRGB, fewshot.Euclidean, 1, 4))
	if err != nil {
		t.Fatal(err)
	}
	m.MetadataProps = nil
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	_, err = fewshot.ParseModel(b)
	if !errors.Is(err, fewshot.ErrNoPreprocess) || !strings.Contains(err.Error(), fewshot.KeyPreprocess) {
		t.Errorf("error %v, want one wrapping ErrNoPreprocess and naming %s", err, fewshot.KeyPreprocess)
	}
	if _, err := fewshot.ParseModel(b, fewshot.WithPreprocess(smallRGB)); err != nil {
		t.Errorf("with WithPreprocess: %v", err)
	}
}
