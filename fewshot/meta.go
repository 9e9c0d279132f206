package fewshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/onnxio"
)

// Keys of the ONNX metadata_props entries that describe a fewshot model.
// Package export writes them; [ParseModel] reads them. Other runtimes can
// ignore them and still run the embedding graph.
const (
	// KeyFormat is the version of this metadata layout, a decimal integer
	// (at most [FormatVersion]). Models with a newer version are refused.
	KeyFormat = "fewshot.format"
	// KeyPreprocess holds the image transform as the JSON of
	// episode.Preprocess.String.
	KeyPreprocess = "fewshot.preprocess"
	// KeyInputShape holds the per-image input shape as a JSON array
	// [channels, height, width]; it must agree with KeyPreprocess and with
	// the graph input.
	KeyInputShape = "fewshot.input_shape"
	// KeyEmbeddingShape holds the per-image output shape of the embedding
	// graph as a JSON array: [D] for a flat embedding, [C, H, W] for the
	// feature maps a relation module consumes.
	KeyEmbeddingShape = "fewshot.embedding_shape"
	// KeyMetric names how queries are compared with supports: one of the
	// [Metric] constants.
	KeyMetric = "fewshot.metric"
	// KeyAlgorithm names the training algorithm, free text such as
	// "protonet" or "l2g-protonet" (informational).
	KeyAlgorithm = "fewshot.algorithm"
	// KeyTrainingData describes the training data, free text such as
	// "omniglot background, vinyals split" (informational).
	KeyTrainingData = "fewshot.training_data"
	// KeyRelationModule holds, for the [Relation] metric, the relation
	// module: a complete serialized ONNX ModelProto, standard base64
	// encoded (RFC 4648 with padding). Its single input is a batch of
	// (prototype, query) pairs concatenated along the first per-example axis
	// (prototype first), shape [N, 2C, H, W] for embeddings [C, H, W]; its
	// output holds one relation score in [0, 1] per pair, shape [N, 1] or
	// [N].
	KeyRelationModule = "fewshot.relation_module"
	// KeyTemperature holds the calibration temperature T, a positive finite
	// decimal in [[MinTemperature], [MaxTemperature]] such as "1.73" (see
	// [Prediction] for how it scales probabilities). "fewshot calibrate"
	// fits it on validation episodes. Absent means 1: the probabilities of
	// models written before calibration existed are unchanged.
	KeyTemperature = "fewshot.temperature"
)

// The range of temperatures a model may carry in [KeyTemperature] or be
// given with [WithTemperature].
const (
	MinTemperature = 1e-3
	MaxTemperature = 1e3
)

// checkTemperature reports whether t is a usable temperature.
func checkTemperature(t float64) error {
	if math.IsNaN(t) || math.IsInf(t, 0) || t < MinTemperature || t > MaxTemperature {
		return fmt.Errorf("fewshot: temperature %v: want a finite number in [%g, %g]", t, MinTemperature, MaxTemperature)
	}
	return nil
}

// parseTemperature reads the value of [KeyTemperature].
func parseTemperature(v string) (float64, error) {
	t, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || checkTemperature(t) != nil {
		return 0, fmt.Errorf("fewshot: metadata %s = %q: want a positive finite decimal in [%g, %g]", KeyTemperature, v, MinTemperature, MaxTemperature)
	}
	return t, nil
}

// ErrNoPreprocess is wrapped by the error that loading a model reports
// when the file does not say how images are preprocessed (it has no
// [KeyPreprocess] metadata) and no [WithPreprocess] option supplies it.
var ErrNoPreprocess = errors.New("fewshot: the model does not say how to preprocess images")

// FormatVersion is the newest metadata layout version this package reads
// and writes. Version 2 added the aspect-keeping resize and centre crop of
// [episode.Preprocess.ResizeShorter]; [ModelInfo.Metadata] writes 2 only for
// a model that uses it and 1 otherwise, so that older releases of this
// module, which read only version 1, still load every other model and
// refuse the ones they would preprocess wrongly with a message asking for
// an upgrade.
const FormatVersion = 2

// formatVersion returns the oldest metadata layout version that describes
// i completely.
func (i ModelInfo) formatVersion() int {
	if i.Preprocess.ResizeShorter > 0 {
		return 2
	}
	return 1
}

// Producer is the producer_name that package export writes into models.
const Producer = "fewshot-go"

// Version is the version of this module, written as the producer_version of
// exported models.
const Version = "0.1.0"

// Metric says how query embeddings are compared with support embeddings.
type Metric string

// Metrics. For every metric a query's per-class Scores turn into Probs as
// described on [Prediction]; the rules below are those at temperature 1.
const (
	// Euclidean is the Prototypical Networks rule: each class is the mean of
	// its support embeddings, Scores[k] = -‖q - p_k‖², Probs = softmax(Scores).
	Euclidean Metric = "euclidean"
	// Cosine is the Matching Networks rule (without full-context
	// embeddings): the query attends to every support with weights
	// softmax over supports of cos(q, s_i), and Probs[k] sums the weights of
	// class k's supports. Equivalently Scores[k] = log Σ_{i in k} exp(cos(q,
	// s_i)) and Probs = softmax(Scores).
	Cosine Metric = "cosine"
	// Relation is the Relation Networks rule: each class prototype is the
	// sum of its support feature maps, a learned relation module (see
	// [KeyRelationModule]) scores every (prototype, query) pair in [0, 1],
	// Scores are those relation scores and Probs[k] = Scores[k] / Σ Scores
	// (uniform when all are 0).
	Relation Metric = "relation"
)

// Logits returns the values whose softmax gives the probabilities at
// temperature 1 from one query's per-class scores: the scores themselves
// for [Euclidean] and [Cosine], their logarithms for [Relation] (-Inf for
// a score of 0). The result is a new slice.
func (m Metric) Logits(scores []float64) []float64 {
	out := slices.Clone(scores)
	if m == Relation {
		for i, s := range out {
			out[i] = math.Log(s)
		}
	}
	return out
}

func (m Metric) valid() bool { return m == Euclidean || m == Cosine || m == Relation }

// ModelInfo is what a fewshot model says about itself in its metadata.
type ModelInfo struct {
	// Preprocess is the transform images go through before the embedding
	// graph; it fixes the input shape [Channels, Height, Width].
	Preprocess episode.Preprocess
	// Metric compares queries with supports.
	Metric Metric
	// EmbeddingShape is the per-image shape of the embedding output.
	EmbeddingShape []int
	// Algorithm and TrainingData are informational free text.
	Algorithm    string
	TrainingData string
	// Temperature divides the logits before the softmax that gives
	// [Prediction.Probs] (see [KeyTemperature]); 1, the value for a file
	// without the key, leaves them as the metric defines them. 0 in a
	// ModelInfo built by hand also means 1.
	Temperature float64
	// Producer and ProducerVersion come from the ONNX model header, not from
	// metadata_props; [ModelInfo.Metadata] does not write them.
	Producer        string
	ProducerVersion string
}

// InputShape returns the per-image input shape [channels, height, width].
func (i ModelInfo) InputShape() []int {
	return []int{i.Preprocess.Channels, i.Preprocess.Height, i.Preprocess.Width}
}

// EmbeddingSize returns the number of values in one embedding.
func (i ModelInfo) EmbeddingSize() int {
	n := 1
	for _, d := range i.EmbeddingShape {
		n *= d
	}
	return n
}

// validate checks the fields Metadata writes.
func (i ModelInfo) validate() error {
	if err := i.Preprocess.Validate(); err != nil {
		return err
	}
	if !i.Metric.valid() {
		return fmt.Errorf("fewshot: unknown metric %q (want %q, %q or %q)", i.Metric, Euclidean, Cosine, Relation)
	}
	if len(i.EmbeddingShape) == 0 || len(i.EmbeddingShape) > 3 {
		return fmt.Errorf("fewshot: embedding shape %v: want 1 to 3 dims", i.EmbeddingShape)
	}
	for _, d := range i.EmbeddingShape {
		if d < 1 || d > 1<<30 {
			return fmt.Errorf("fewshot: embedding shape %v has a dim out of range", i.EmbeddingShape)
		}
	}
	if i.Temperature != 0 {
		if err := checkTemperature(i.Temperature); err != nil {
			return err
		}
	}
	if n := i.EmbeddingSize(); n > 1<<24 {
		return fmt.Errorf("fewshot: embedding shape %v has %d values, more than %d", i.EmbeddingShape, n, 1<<24)
	}
	return nil
}

// Metadata returns the metadata_props entries that describe the model, in
// a fixed order. It does not include [KeyRelationModule]. [KeyTemperature]
// is written only when Temperature is neither 0 nor 1.
func (i ModelInfo) Metadata() ([]onnxio.StringStringEntry, error) {
	if err := i.validate(); err != nil {
		return nil, err
	}
	md := []onnxio.StringStringEntry{
		{Key: KeyFormat, Value: strconv.Itoa(i.formatVersion())},
		{Key: KeyPreprocess, Value: i.Preprocess.String()},
		{Key: KeyInputShape, Value: intsJSON(i.InputShape())},
		{Key: KeyEmbeddingShape, Value: intsJSON(i.EmbeddingShape)},
		{Key: KeyMetric, Value: string(i.Metric)},
		{Key: KeyAlgorithm, Value: i.Algorithm},
		{Key: KeyTrainingData, Value: i.TrainingData},
	}
	if i.Temperature != 0 && i.Temperature != 1 {
		md = append(md, onnxio.StringStringEntry{Key: KeyTemperature, Value: FormatTemperature(i.Temperature)})
	}
	return md, nil
}

// FormatTemperature formats t as the value of [KeyTemperature]: the
// shortest decimal that parses back to t exactly.
func FormatTemperature(t float64) string { return strconv.FormatFloat(t, 'g', -1, 64) }

func intsJSON(v []int) string {
	b, _ := json.Marshal(v) // a []int always marshals
	return string(b)
}

func parseInts(key, s string) ([]int, error) {
	var v []int
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("fewshot: metadata %s = %q: want a JSON array of integers", key, s)
	}
	return v, nil
}

// parseInfo reads the fewshot metadata of m. Entries the caller overrides
// (pre, metric) may be absent from the file.
func parseInfo(m *onnxio.Model, o modelOptions) (ModelInfo, error) {
	props := map[string]string{}
	for _, e := range m.MetadataProps {
		if strings.HasPrefix(e.Key, "fewshot.") {
			if _, dup := props[e.Key]; dup {
				return ModelInfo{}, fmt.Errorf("fewshot: metadata key %s appears twice", e.Key)
			}
			props[e.Key] = e.Value
		}
	}
	info := ModelInfo{
		Algorithm:       props[KeyAlgorithm],
		TrainingData:    props[KeyTrainingData],
		Producer:        m.ProducerName,
		ProducerVersion: m.ProducerVersion,
	}
	if v, ok := props[KeyFormat]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return ModelInfo{}, fmt.Errorf("fewshot: metadata %s = %q: want a positive integer", KeyFormat, v)
		}
		if n > FormatVersion {
			return ModelInfo{}, fmt.Errorf("fewshot: model metadata format %d is newer than this library reads (%d); upgrade github.com/fewshot-go/fewshot", n, FormatVersion)
		}
	}
	switch {
	case o.pre != nil:
		if err := o.pre.Validate(); err != nil {
			return ModelInfo{}, err
		}
		info.Preprocess = *o.pre
	case props[KeyPreprocess] != "":
		p, err := episode.ParsePreprocess(props[KeyPreprocess])
		if err != nil {
			return ModelInfo{}, fmt.Errorf("fewshot: metadata %s: %w", KeyPreprocess, err)
		}
		info.Preprocess = p
	default:
		return ModelInfo{}, fmt.Errorf("%w: it has no %s metadata (not made by package export?); pass fewshot.WithPreprocess", ErrNoPreprocess, KeyPreprocess)
	}
	if v, ok := props[KeyInputShape]; ok && o.pre == nil {
		s, err := parseInts(KeyInputShape, v)
		if err != nil {
			return ModelInfo{}, err
		}
		if !slices.Equal(s, info.InputShape()) {
			return ModelInfo{}, fmt.Errorf("fewshot: metadata %s = %v does not match the preprocessing's [channels, height, width] = %v", KeyInputShape, s, info.InputShape())
		}
	}
	switch {
	case o.metric != "":
		info.Metric = o.metric
	case props[KeyMetric] != "":
		info.Metric = Metric(props[KeyMetric])
	default:
		info.Metric = Euclidean
	}
	if !info.Metric.valid() {
		return ModelInfo{}, fmt.Errorf("fewshot: unknown metric %q (want %q, %q or %q)", info.Metric, Euclidean, Cosine, Relation)
	}
	info.Temperature = 1
	if v, ok := props[KeyTemperature]; ok {
		t, err := parseTemperature(v)
		if err != nil {
			return ModelInfo{}, err
		}
		info.Temperature = t
	}
	if o.temperature != 0 {
		if err := checkTemperature(o.temperature); err != nil {
			return ModelInfo{}, err
		}
		info.Temperature = o.temperature
	}
	if v, ok := props[KeyEmbeddingShape]; ok {
		s, err := parseInts(KeyEmbeddingShape, v)
		if err != nil {
			return ModelInfo{}, err
		}
		info.EmbeddingShape = s
	}
	return info, nil
}
