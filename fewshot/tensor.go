package fewshot

import "fmt"

// The methods in this file are the fast path for evaluation: they take
// images that are already preprocessed tensors (such as the episodes of
// package episode, decoded once with [ModelInfo.Preprocess]) or embeddings
// that are already computed, so that nothing is decoded or resized per
// task and each image is embedded once. They compute exactly what
// [Classifier.Fit] and [Prototypes.Predict] compute for the images the
// tensors came from.

// EmbedTensor embeds n images that are already preprocessed with the
// model's [ModelInfo.Preprocess]: x holds them back to back, n × C × H × W
// float32 values in CHW order (the layout of episode.Set.Data). It returns
// the n embeddings back to back, n × [ModelInfo.EmbeddingSize] values, in
// batches of at most the classifier's batch size. An x of the wrong length
// or an embedding that is not finite is an error.
func (c *Classifier) EmbedTensor(x []float32, n int) ([]float32, error) {
	if n < 1 {
		return nil, ErrNoQueries
	}
	if inLen := c.model.info.Preprocess.Len(); len(x) != n*inLen {
		return nil, fmt.Errorf("fewshot: EmbedTensor: %d values for %d images of shape %v, want %d",
			len(x), n, c.model.info.InputShape(), n*inLen)
	}
	return c.embedTensor(x, n, func(i int) string { return fmt.Sprintf("image %d", i) })
}

// FitEmbeddings returns the prototypes of support examples given as
// embeddings: emb holds len(labels) embeddings back to back, as returned
// by [Classifier.EmbedTensor] (or [Classifier.Embed], concatenated), and
// labels[i] is the label of embedding i. The result equals what
// [Classifier.Fit] returns for the images the embeddings came from.
func (c *Classifier) FitEmbeddings(labels []string, emb []float32) (*Prototypes, error) {
	if len(labels) == 0 {
		return nil, ErrNoSupports
	}
	d := c.model.info.EmbeddingSize()
	if len(emb) != len(labels)*d {
		return nil, fmt.Errorf("fewshot: FitEmbeddings: %d values for %d embeddings of size %d, want %d",
			len(emb), len(labels), d, len(labels)*d)
	}
	for i, l := range labels {
		if l == "" {
			return nil, fmt.Errorf("fewshot: FitEmbeddings: support %d has an empty label", i)
		}
	}
	if err := checkFinite(emb, "FitEmbeddings: the support embeddings"); err != nil {
		return nil, err
	}
	return c.fitEmbeddings(labels, emb), nil
}

// PredictEmbeddings classifies queries given as embeddings: emb holds
// them back to back, as returned by [Classifier.EmbedTensor]. The result
// equals what [Prototypes.Predict] returns for the images the embeddings
// came from.
func (p *Prototypes) PredictEmbeddings(emb []float32) ([]Prediction, error) {
	d := p.c.model.info.EmbeddingSize()
	if len(emb) == 0 {
		return nil, ErrNoQueries
	}
	if len(emb)%d != 0 {
		return nil, fmt.Errorf("fewshot: PredictEmbeddings: %d values is not a whole number of embeddings of size %d", len(emb), d)
	}
	if err := checkFinite(emb, "PredictEmbeddings: the query embeddings"); err != nil {
		return nil, err
	}
	s := p.cur.Load()
	if len(s.classes) == 0 {
		return nil, ErrNoClasses
	}
	return p.predict(s, emb, len(emb)/d)
}
