package fewshot

import (
	"errors"
	"fmt"
	"image"
	"math"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
)

// Prototypes holds the classes a [Classifier] has been shown and predicts
// the class of new images. Build it once with [Classifier.Fit] (or start
// empty with [Classifier.NewPrototypes]), grow it with [Prototypes.Add],
// and call [Prototypes.Predict] as often as needed.
//
// All methods are safe for concurrent use. Readers (Predict, Classes,
// Count, Save) work on an immutable snapshot and never wait for writers;
// writers (Add, Remove) are serialised and publish a new snapshot when done,
// so a Predict sees either all or none of an Add.
//
// What is kept per class depends on the metric: for [Euclidean] and
// [Relation] the sum and count of the support embeddings, for [Cosine]
// every support embedding, normalised to unit length.
type Prototypes struct {
	c   *Classifier
	mu  sync.Mutex // serialises writers
	cur atomic.Pointer[protoSet]
}

// protoSet is an immutable snapshot of the classes, sorted by label.
type protoSet struct {
	classes []*class
	labels  []string
}

// class is the immutable state of one label.
type class struct {
	label string
	n     int
	sum   []float64 // Euclidean, Relation: sum of the embeddings
	mean  []float64 // Euclidean: sum / n
	relIn []float32 // Relation: the sum as the relation module's input
	vecs  []float32 // Cosine: n unit-length embeddings back to back
}

// NewPrototypes returns prototypes with no class, to be filled with
// [Prototypes.Add].
func (c *Classifier) NewPrototypes() *Prototypes {
	p := &Prototypes{c: c}
	p.cur.Store(&protoSet{})
	return p
}

// Fit embeds the supports and returns their prototypes. Classes are the
// distinct labels of supports; an empty support set, an empty label or an
// image that cannot be preprocessed is an error.
func (c *Classifier) Fit(supports []Example) (*Prototypes, error) {
	if len(supports) == 0 {
		return nil, ErrNoSupports
	}
	images := make([]image.Image, len(supports))
	labels := make([]string, len(supports))
	for i, s := range supports {
		if s.Label == "" {
			return nil, fmt.Errorf("fewshot: support %d has an empty label", i)
		}
		images[i], labels[i] = s.Image, s.Label
	}
	emb, err := c.embed(images, func(i int) string { return fmt.Sprintf("support %d (label %q)", i, supports[i].Label) })
	if err != nil {
		return nil, err
	}
	return c.fitEmbeddings(labels, emb), nil
}

// fitEmbeddings returns the prototypes of the embeddings emb (back to
// back), embedding i labelled labels[i].
func (c *Classifier) fitEmbeddings(labels []string, emb []float32) *Prototypes {
	p := c.NewPrototypes()
	p.cur.Store(p.merge(&protoSet{}, labels, emb))
	return p
}

// Add embeds images and adds them to the class label, creating the class
// if it is new. Adding images one call at a time gives the same prototypes
// as fitting them all at once, up to float rounding.
func (p *Prototypes) Add(label string, images ...image.Image) error {
	if label == "" {
		return errors.New("fewshot: Add: empty label")
	}
	if len(images) == 0 {
		return fmt.Errorf("fewshot: Add: label %q with no images", label)
	}
	emb, err := p.c.embed(images, func(i int) string { return fmt.Sprintf("image %d of label %q", i, label) })
	if err != nil {
		return err
	}
	labels := make([]string, len(images))
	for i := range labels {
		labels[i] = label
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur.Store(p.merge(p.cur.Load(), labels, emb))
	return nil
}

// Remove deletes the class label and reports whether it existed.
func (p *Prototypes) Remove(label string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.cur.Load()
	i, ok := slices.BinarySearch(s.labels, label)
	if !ok {
		return false
	}
	p.cur.Store(&protoSet{
		classes: slices.Delete(slices.Clone(s.classes), i, i+1),
		labels:  slices.Delete(slices.Clone(s.labels), i, i+1),
	})
	return true
}

// Classes returns the class labels in sorted order, the order of
// [Prediction.Scores] and [Prediction.Probs].
func (p *Prototypes) Classes() []string { return slices.Clone(p.cur.Load().labels) }

// Count returns the number of examples of class label (0 if it is absent).
func (p *Prototypes) Count(label string) int {
	s := p.cur.Load()
	if i, ok := slices.BinarySearch(s.labels, label); ok {
		return s.classes[i].n
	}
	return 0
}

// merge returns a new snapshot: s plus the embeddings emb (back to back)
// labelled labels, in order. Classes that do not change are shared.
func (p *Prototypes) merge(s *protoSet, labels []string, emb []float32) *protoSet {
	d := p.c.model.info.EmbeddingSize()
	metric := p.c.model.info.Metric
	byLabel := map[string]*class{}
	for i, l := range labels {
		cl := byLabel[l]
		if cl == nil {
			cl = &class{label: l}
			if j, ok := slices.BinarySearch(s.labels, l); ok {
				old := s.classes[j]
				cl.n, cl.sum, cl.vecs = old.n, slices.Clone(old.sum), slices.Clone(old.vecs)
			}
			if cl.sum == nil && metric != Cosine {
				cl.sum = make([]float64, d)
			}
			byLabel[l] = cl
		}
		e := emb[i*d : (i+1)*d]
		cl.n++
		if metric == Cosine {
			cl.vecs = append(cl.vecs, unit(e)...)
			continue
		}
		for k, x := range e {
			cl.sum[k] += float64(x)
		}
	}
	for _, cl := range byLabel {
		cl.finish(metric)
	}
	// Rebuild the sorted class list with the changed classes swapped in.
	out := &protoSet{}
	for _, cl := range s.classes {
		if byLabel[cl.label] == nil {
			out.classes = append(out.classes, cl)
		}
	}
	for _, cl := range byLabel {
		out.classes = append(out.classes, cl)
	}
	sort.Slice(out.classes, func(i, j int) bool { return out.classes[i].label < out.classes[j].label })
	out.labels = make([]string, len(out.classes))
	for i, cl := range out.classes {
		out.labels[i] = cl.label
	}
	return out
}

// finish derives the per-metric prototype from the sum.
func (cl *class) finish(metric Metric) {
	switch metric {
	case Euclidean:
		cl.mean = make([]float64, len(cl.sum))
		for k, v := range cl.sum {
			cl.mean[k] = v / float64(cl.n)
		}
	case Relation:
		cl.relIn = make([]float32, len(cl.sum))
		for k, v := range cl.sum {
			cl.relIn[k] = float32(v)
		}
	}
}

// unit returns e scaled to unit length; a zero vector stays zero, so its
// cosine with anything is 0.
func unit(e []float32) []float32 {
	var ss float64
	for _, x := range e {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, len(e))
	if ss == 0 {
		return out
	}
	inv := 1 / math.Sqrt(ss)
	for k, x := range e {
		out[k] = float32(float64(x) * inv)
	}
	return out
}

// Predict classifies each query among the current classes.
func (p *Prototypes) Predict(queries []image.Image) ([]Prediction, error) {
	if len(queries) == 0 {
		return nil, ErrNoQueries
	}
	s := p.cur.Load()
	if len(s.classes) == 0 {
		return nil, ErrNoClasses
	}
	emb, err := p.c.embed(queries, func(i int) string { return fmt.Sprintf("query %d", i) })
	if err != nil {
		return nil, err
	}
	return p.predict(s, emb, len(queries))
}

// predict classifies the nq query embeddings emb (back to back) among the
// classes of s, which holds at least one class.
func (p *Prototypes) predict(s *protoSet, emb []float32, nq int) ([]Prediction, error) {
	d := p.c.model.info.EmbeddingSize()
	nc := len(s.classes)
	scores := make([]float64, nq*nc)
	switch p.c.model.info.Metric {
	case Euclidean:
		for q := range nq {
			e := emb[q*d : (q+1)*d]
			for k, cl := range s.classes {
				var dist float64
				for i, x := range e {
					t := float64(x) - cl.mean[i]
					dist += t * t
				}
				scores[q*nc+k] = -dist
			}
		}
	case Cosine:
		for q := range nq {
			e := unit(emb[q*d : (q+1)*d])
			for k, cl := range s.classes {
				sims := make([]float64, cl.n)
				for j := range sims {
					v := cl.vecs[j*d : (j+1)*d]
					var dot float64
					for i, x := range e {
						dot += float64(x) * float64(v[i])
					}
					sims[j] = dot
				}
				scores[q*nc+k] = logSumExp(sims)
			}
		}
	case Relation:
		if err := p.relationScores(s, emb, nq, scores); err != nil {
			return nil, err
		}
	}
	preds := make([]Prediction, nq)
	for q := range preds {
		sc := scores[q*nc : (q+1)*nc : (q+1)*nc]
		pr := probs(p.c.model.info.Metric, sc, p.c.model.info.Temperature)
		best := 0
		for k := range pr {
			if pr[k] > pr[best] {
				best = k
			}
		}
		preds[q] = Prediction{Label: s.labels[best], Prob: pr[best], Classes: s.labels, Scores: sc, Probs: pr}
	}
	return preds, nil
}

// relationScores runs the relation module on every (class, query) pair, a
// batch of pairs at a time, writing scores[q*nc+k].
func (p *Prototypes) relationScores(s *protoSet, emb []float32, nq int, scores []float64) error {
	d := p.c.model.info.EmbeddingSize()
	nc := len(s.classes)
	total := nq * nc
	batch := p.c.batch
	if r := p.c.model.relation.batch; r > 0 {
		batch = r
	}
	x := make([]float32, min(batch, total)*2*d)
	for start := 0; start < total; start += batch {
		n := min(batch, total-start)
		for j := range n {
			q, k := (start+j)/nc, (start+j)%nc
			row := x[j*2*d : (j+1)*2*d]
			copy(row[:d], s.classes[k].relIn)
			copy(row[d:], emb[q*d:(q+1)*d])
		}
		out, _, err := p.c.model.relation.run(x[:n*2*d], n, batch)
		if err != nil {
			return err
		}
		for j, r := range out {
			q, k := (start+j)/nc, (start+j)%nc
			if math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
				return fmt.Errorf("fewshot: the relation module scored query %d against class %q as %v: %w", q, s.labels[k], r, ErrNotFinite)
			}
			if r < 0 {
				return fmt.Errorf("fewshot: the relation module scored query %d against class %q as %v, want a score >= 0 (does the module end in Sigmoid?)", q, s.labels[k], r)
			}
			scores[start+j] = float64(r)
		}
	}
	return nil
}

// probs turns one query's scores into probabilities with temperature t:
// softmax(Metric.Logits(scores) / t). At t = 1 (or 0) it is exactly the
// metric's rule, softmax(scores) or, for Relation, scores / Σ scores.
func probs(m Metric, scores []float64, t float64) []float64 {
	if t == 0 || t == 1 {
		if m == Relation {
			return normalize(scores)
		}
		return softmax(scores)
	}
	if m == Relation && slices.Max(scores) <= 0 {
		return normalize(scores) // all 0: uniform at any temperature
	}
	z := m.Logits(scores)
	for i := range z {
		z[i] /= t
	}
	return softmax(z)
}

func logSumExp(v []float64) float64 {
	m := slices.Max(v)
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

func softmax(v []float64) []float64 {
	m := slices.Max(v)
	if math.IsInf(m, 0) { // every logit -Inf (cannot happen for the finite scores of predict)
		out := make([]float64, len(v))
		for i := range out {
			out[i] = 1 / float64(len(v))
		}
		return out
	}
	out := make([]float64, len(v))
	var s float64
	for i, x := range v {
		out[i] = math.Exp(x - m)
		s += out[i]
	}
	for i := range out {
		out[i] /= s
	}
	return out
}

// normalize divides non-negative finite scores by their sum (uniform when
// the sum is 0).
func normalize(v []float64) []float64 {
	out := make([]float64, len(v))
	var s float64
	for _, x := range v {
		s += x
	}
	for i, x := range v {
		if s > 0 {
			out[i] = x / s
		} else {
			out[i] = 1 / float64(len(v))
		}
	}
	return out
}
