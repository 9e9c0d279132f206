package fewshot

import (
	"errors"
	"fmt"
	"image"
	"runtime"
	"sync"

	"github.com/fewshot-go/fewshot/episode"
)

// Errors reported for unusable inputs; the returned errors wrap them with
// details, so test with errors.Is.
var (
	// ErrNoSupports is returned when a support set is empty.
	ErrNoSupports = errors.New("fewshot: no support examples")
	// ErrNoQueries is returned when a query batch is empty.
	ErrNoQueries = errors.New("fewshot: no query images")
	// ErrNoClasses is returned when predicting with prototypes that hold no
	// class.
	ErrNoClasses = errors.New("fewshot: the prototypes hold no class")
)

// Example is one labelled image.
type Example struct {
	Label string
	Image image.Image
}

// Prediction is the classification of one query.
type Prediction struct {
	// Label is the most probable class (the first in Classes order on a
	// tie) and Prob its probability.
	Label string
	Prob  float64
	// Classes lists every class label in sorted (byte-wise) order. It is
	// shared between predictions and must not be modified.
	Classes []string
	// Scores and Probs hold, in Classes order, the metric's score for each
	// class and the probability derived from it; Probs sums to 1. With the
	// model's temperature T ([Model.Temperature], 1 unless the model was
	// calibrated), Probs = softmax(Metric.Logits(Scores) / T): the logits
	// are Scores for [Euclidean] and [Cosine] and log Scores for
	// [Relation], so T = 1 is exactly the rule on each [Metric]. T changes
	// how confident the probabilities are, never which class is most
	// probable.
	Scores []float64
	Probs  []float64
}

// Classifier classifies images with a [Model]. All its methods are safe for
// concurrent use by multiple goroutines.
type Classifier struct {
	model *Model
	batch int
}

// Option adjusts a Classifier.
type Option func(*Classifier)

// DefaultBatchSize is how many images go through the embedding graph at a
// time unless [WithBatchSize] says otherwise.
const DefaultBatchSize = 32

// WithBatchSize sets how many images go through the embedding graph at a
// time (n < 1 means [DefaultBatchSize]). Larger batches use more memory; a
// model whose input fixes the batch size overrides it.
func WithBatchSize(n int) Option {
	return func(c *Classifier) {
		if n < 1 {
			n = DefaultBatchSize
		}
		c.batch = n
	}
}

// New returns a Classifier that uses model.
func New(model *Model, opts ...Option) (*Classifier, error) {
	if model == nil {
		return nil, errors.New("fewshot: New: nil model")
	}
	if model.err != nil {
		return nil, model.err
	}
	c := &Classifier{model: model, batch: DefaultBatchSize}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Model returns the classifier's model.
func (c *Classifier) Model() *Model { return c.model }

// Classify labels each query with one of the classes of supports: it fits
// prototypes to supports and predicts the queries, in one call. Use
// [Classifier.Fit] and [Prototypes.Predict] to reuse the supports.
func (c *Classifier) Classify(supports []Example, queries []image.Image) ([]Prediction, error) {
	if len(queries) == 0 {
		return nil, ErrNoQueries
	}
	p, err := c.Fit(supports)
	if err != nil {
		return nil, err
	}
	return p.Predict(queries)
}

// Embed returns the embedding of each image, flattened (see
// [ModelInfo.EmbeddingShape]).
func (c *Classifier) Embed(images []image.Image) ([][]float32, error) {
	if len(images) == 0 {
		return nil, ErrNoQueries
	}
	flat, err := c.embed(images, func(i int) string { return fmt.Sprintf("image %d", i) })
	if err != nil {
		return nil, err
	}
	d := c.model.info.EmbeddingSize()
	out := make([][]float32, len(images))
	for i := range out {
		out[i] = flat[i*d : (i+1)*d : (i+1)*d]
	}
	return out, nil
}

// embed preprocesses and embeds images, one batch at a time so that memory
// stays bounded, and returns the embeddings back to back. name(i) names
// image i in errors.
func (c *Classifier) embed(images []image.Image, name func(int) string) ([]float32, error) {
	pre := c.model.info.Preprocess
	inLen, d := pre.Len(), c.model.info.EmbeddingSize()
	batch := c.batch
	if c.model.embed.batch > 0 {
		batch = c.model.embed.batch
	}
	out := make([]float32, 0, len(images)*d)
	x := make([]float32, min(batch, len(images))*inLen)
	for start := 0; start < len(images); start += batch {
		chunk := images[start:min(start+batch, len(images))]
		if err := preprocess(pre, chunk, x, inLen, func(i int) string { return name(start + i) }); err != nil {
			return nil, err
		}
		emb, err := c.embedTensor(x[:len(chunk)*inLen], len(chunk), func(i int) string { return name(start + i) })
		if err != nil {
			return nil, err
		}
		out = append(out, emb...)
	}
	return out, nil
}

// embedTensor runs the embedding graph on n preprocessed images held back
// to back in x and checks that every embedding is finite. name(i) names
// image i in errors.
func (c *Classifier) embedTensor(x []float32, n int, name func(int) string) ([]float32, error) {
	emb, _, err := c.model.embed.run(x, n, c.batch)
	if err != nil {
		return nil, err
	}
	d := c.model.info.EmbeddingSize()
	for i := range n {
		if err := checkFinite(emb[i*d:(i+1)*d], "the embedding of "+name(i)); err != nil {
			return nil, err
		}
	}
	return emb, nil
}

// preprocess fills x with the preprocessed images, in parallel, and
// reports the failure of the lowest-numbered image, if any.
func preprocess(pre episode.Preprocess, images []image.Image, x []float32, inLen int, name func(int) string) error {
	errs := make([]error, len(images))
	workers := min(runtime.GOMAXPROCS(0), len(images))
	var wg sync.WaitGroup
	next := make(chan int, len(images))
	for i := range images {
		next <- i
	}
	close(next)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if images[i] == nil {
					errs[i] = fmt.Errorf("fewshot: %s is nil", name(i))
					continue
				}
				v, err := pre.Image(images[i])
				if err != nil {
					errs[i] = fmt.Errorf("fewshot: %s: %w", name(i), err)
					continue
				}
				copy(x[i*inLen:(i+1)*inLen], v)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err // the first failing image by index
		}
	}
	return nil
}
