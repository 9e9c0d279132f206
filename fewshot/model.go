package fewshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/onnxio"
)

// Model is a loaded fewshot model: a compiled embedding graph, for the
// [Relation] metric a compiled relation module, and the [ModelInfo] read
// from the file's metadata. A Model is immutable and safe for concurrent
// use; several Classifiers may share one.
type Model struct {
	info        ModelInfo
	fingerprint [sha256.Size]byte
	embed       *runner
	relation    *runner // nil unless info.Metric is Relation
	// err is set only on the Model that DefaultModel returns when its
	// embedded file is missing or broken; New reports it.
	err error
}

// ModelOption adjusts how a model is loaded.
type ModelOption func(*modelOptions)

type modelOptions struct {
	limits      onnxio.Limits
	pre         *episode.Preprocess
	metric      Metric
	temperature float64 // 0: the file's
}

// WithLimits bounds what decoding the file and running the graphs may
// allocate (see [onnxio.Limits]; zero fields keep their defaults).
func WithLimits(l onnxio.Limits) ModelOption {
	return func(o *modelOptions) { o.limits = l }
}

// WithPreprocess sets the image transform, overriding the model's
// [KeyPreprocess] metadata. It lets a plain ONNX embedding model that was not
// written by package export be used.
func WithPreprocess(p episode.Preprocess) ModelOption {
	return func(o *modelOptions) { o.pre = &p }
}

// WithMetric sets the metric, overriding the model's [KeyMetric] metadata
// (which defaults to [Euclidean] when absent).
func WithMetric(m Metric) ModelOption {
	return func(o *modelOptions) { o.metric = m }
}

// WithTemperature sets the calibration temperature, overriding the model's
// [KeyTemperature] metadata (which defaults to 1 when absent).
// WithTemperature(1) gives the uncalibrated probabilities of the metric. A
// t outside [[MinTemperature], [MaxTemperature]], or not finite, makes
// loading fail.
func WithTemperature(t float64) ModelOption {
	return func(o *modelOptions) {
		o.temperature = t
		if t == 0 {
			o.temperature = math.NaN() // rejected when loading, not ignored
		}
	}
}

// Temperature returns the temperature T the model's probabilities use:
// Probs = softmax(logits / T), see [Prediction]. It is 1 for a model
// without [KeyTemperature] metadata.
func (m *Model) Temperature() float64 { return m.info.Temperature }

// LoadModel reads the ONNX model file at path.
func LoadModel(path string, opts ...ModelOption) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fewshot: loading model: %w", err)
	}
	defer f.Close()
	m, err := ReadModel(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w (model file %s)", err, path)
	}
	return m, nil
}

// ReadModel reads a serialized ONNX model from r, at most
// Limits.MaxModelBytes bytes.
func ReadModel(r io.Reader, opts ...ModelOption) (*Model, error) {
	o := buildModelOptions(opts)
	limit := o.limits.MaxModelBytes
	if limit <= 0 {
		limit = onnxio.DefaultLimits().MaxModelBytes
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("fewshot: reading model: %w", err)
	}
	if n > limit {
		return nil, fmt.Errorf("fewshot: model exceeds the %d-byte limit", limit)
	}
	return parseModel(buf.Bytes(), o)
}

// ParseModel loads a model from its serialized ONNX bytes. The model does
// not keep b.
func ParseModel(b []byte, opts ...ModelOption) (*Model, error) {
	return parseModel(b, buildModelOptions(opts))
}

func buildModelOptions(opts []ModelOption) modelOptions {
	var o modelOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

func parseModel(b []byte, o modelOptions) (*Model, error) {
	lim := onnxio.WithLimits(o.limits)
	pm, err := onnxio.DecodeBytes(b, lim)
	if err != nil {
		return nil, fmt.Errorf("fewshot: decoding model: %w", err)
	}
	info, err := parseInfo(pm, o)
	if err != nil {
		return nil, err
	}
	m := &Model{info: info, fingerprint: sha256.Sum256(b)}
	if m.embed, err = newRunner("embedding graph", pm, info.InputShape(), lim); err != nil {
		return nil, err
	}
	// One blank image through the graph tells the embedding shape and
	// catches NaN or infinite weights hidden in Constant nodes.
	emb, shape, err := m.embed.run(make([]float32, info.Preprocess.Len()), 1, 1)
	if err != nil {
		return nil, err
	}
	if err := checkFinite(emb, "the embedding of a blank image (the model's weights are broken)"); err != nil {
		return nil, err
	}
	if info.EmbeddingShape != nil && !slices.Equal(info.EmbeddingShape, shape) {
		return nil, fmt.Errorf("fewshot: the embedding graph outputs shape %v per image, metadata %s says %v", shape, KeyEmbeddingShape, info.EmbeddingShape)
	}
	m.info.EmbeddingShape = shape
	if err := m.info.validate(); err != nil {
		return nil, err
	}
	if info.Metric == Relation {
		if m.relation, err = loadRelation(pm, shape, lim, o.limits); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// loadRelation decodes and compiles the relation module stored in the
// embedding model's metadata.
func loadRelation(pm *onnxio.Model, emb []int, lim onnxio.Option, l onnxio.Limits) (*runner, error) {
	var enc string
	for _, e := range pm.MetadataProps {
		if e.Key == KeyRelationModule {
			enc = e.Value
		}
	}
	if enc == "" {
		return nil, fmt.Errorf("fewshot: the metric is %q but the model has no %s metadata", Relation, KeyRelationModule)
	}
	maxBytes := l.MaxModelBytes
	if maxBytes <= 0 {
		maxBytes = onnxio.DefaultLimits().MaxModelBytes
	}
	if int64(base64.StdEncoding.DecodedLen(len(enc))) > maxBytes {
		return nil, fmt.Errorf("fewshot: %s exceeds the %d-byte model limit", KeyRelationModule, maxBytes)
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("fewshot: metadata %s is not standard base64: %w", KeyRelationModule, err)
	}
	rm, err := onnxio.DecodeBytes(b, lim)
	if err != nil {
		return nil, fmt.Errorf("fewshot: decoding the relation module in %s: %w", KeyRelationModule, err)
	}
	pair := slices.Clone(emb)
	pair[0] *= 2
	r, err := newRunner("relation module", rm, pair, lim)
	if err != nil {
		return nil, err
	}
	out, shape, err := r.run(make([]float32, 2*shapeLen(emb)), 1, 1)
	if err != nil {
		return nil, err
	}
	if shapeLen(shape) != 1 {
		return nil, fmt.Errorf("fewshot: the relation module outputs shape %v per pair, want one score", shape)
	}
	if err := checkFinite(out, "the relation score of a blank pair (the relation module's weights are broken)"); err != nil {
		return nil, err
	}
	return r, nil
}

// Info returns what the model says about itself. The result is a copy.
func (m *Model) Info() ModelInfo {
	i := m.info
	i.EmbeddingShape = slices.Clone(i.EmbeddingShape)
	i.Preprocess.Mean = slices.Clone(i.Preprocess.Mean)
	i.Preprocess.Std = slices.Clone(i.Preprocess.Std)
	return i
}

// Fingerprint returns the hex SHA-256 of the model's serialized bytes.
// Saved [Prototypes] record it, so that they are never used with another
// model.
func (m *Model) Fingerprint() string { return hex.EncodeToString(m.fingerprint[:]) }

// runner runs one compiled graph with a single float32 input of shape
// [N, in...] and uses its first output, [N, out...].
type runner struct {
	what  string // "embedding graph" or "relation module", for errors
	plan  *onnxio.Plan
	in    []int // per-example input shape
	batch int   // the graph's fixed batch size, 0 when it is free
}

func newRunner(what string, pm *onnxio.Model, in []int, lim onnxio.Option) (*runner, error) {
	if err := checkWeights(pm.Graph); err != nil {
		return nil, fmt.Errorf("fewshot: %s: %w", what, err)
	}
	plan, err := onnxio.Compile(pm, lim)
	if err != nil {
		return nil, fmt.Errorf("fewshot: compiling the %s: %w", what, err)
	}
	r := &runner{what: what, plan: plan, in: in}
	ins := plan.Inputs()
	if len(ins) != 1 {
		return nil, fmt.Errorf("fewshot: the %s has %d inputs, want exactly one", what, len(ins))
	}
	if len(plan.Outputs()) == 0 {
		return nil, fmt.Errorf("fewshot: the %s has no outputs", what)
	}
	vi := ins[0]
	if vi.ElemType != onnxio.Float && vi.ElemType != onnxio.Undefined {
		return nil, fmt.Errorf("fewshot: the %s's input %q is %v, want float32", what, vi.Name, vi.ElemType)
	}
	if !vi.HasShape {
		return r, nil
	}
	if len(vi.Shape) != 1+len(in) {
		return nil, fmt.Errorf("fewshot: the %s's input %q has rank %d, want %d (batch and %v)", what, vi.Name, len(vi.Shape), 1+len(in), in)
	}
	for i, d := range vi.Shape[1:] {
		if d.Param == "" && d.Value > 0 && d.Value != int64(in[i]) {
			return nil, fmt.Errorf("fewshot: the %s's input %q has shape %s, but the preprocessing gives %v per example", what, vi.Name, dimsString(vi.Shape), in)
		}
	}
	if d := vi.Shape[0]; d.Param == "" && d.Value > 0 {
		r.batch = int(d.Value)
	}
	return r, nil
}

func dimsString(ds []onnxio.Dim) string {
	s := "["
	for i, d := range ds {
		if i > 0 {
			s += ","
		}
		switch {
		case d.Param != "":
			s += d.Param
		case d.Value > 0:
			s += fmt.Sprint(d.Value)
		default:
			s += "?"
		}
	}
	return s + "]"
}

// checkWeights rejects float initializers that hold NaN or Inf.
func checkWeights(g *onnxio.Graph) error {
	for _, t := range g.Initializer {
		if t.DataType != onnxio.Float && t.DataType != onnxio.Double {
			continue
		}
		v, err := t.Float64Values()
		if err != nil {
			return err
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("weight %q holds %v at index %d", t.Name, x, i)
			}
		}
	}
	return nil
}

// run feeds n examples held back to back in x through the graph, at most
// maxBatch at a time (exactly r.batch when the graph fixes it, padding the
// last batch with zeros), and returns the outputs back to back with the
// per-example output shape.
func (r *runner) run(x []float32, n, maxBatch int) ([]float32, []int, error) {
	inLen := shapeLen(r.in)
	if r.batch > 0 {
		maxBatch = r.batch
	}
	var out []float32
	var outShape []int
	for start := 0; start < n; start += maxBatch {
		b := min(maxBatch, n-start)
		chunk := x[start*inLen : (start+b)*inLen]
		rows := b
		if r.batch > 0 && b < r.batch {
			chunk = append(slices.Clone(chunk), make([]float32, (r.batch-b)*inLen)...)
			rows = r.batch
		}
		dims := append([]int64{int64(rows)}, toInt64s(r.in)...)
		res, err := r.plan.RunPositional(onnxio.NewFloatTensor("input", dims, chunk))
		if err != nil {
			return nil, nil, fmt.Errorf("fewshot: running the %s: %w", r.what, err)
		}
		t := res[0]
		if t.DataType != onnxio.Float {
			return nil, nil, fmt.Errorf("fewshot: the %s outputs %v, want float32", r.what, t.DataType)
		}
		shape := t.Shape()
		if len(shape) == 0 || shape[0] != rows {
			return nil, nil, fmt.Errorf("fewshot: the %s outputs shape %v for a batch of %d", r.what, shape, rows)
		}
		per := shape[1:]
		if len(per) == 0 {
			per = []int{1}
		}
		if outShape == nil {
			outShape = per
			out = make([]float32, 0, n*shapeLen(per))
		} else if !slices.Equal(outShape, per) {
			return nil, nil, fmt.Errorf("fewshot: the %s's output shape changed from %v to %v between batches", r.what, outShape, per)
		}
		v, err := t.Float32s()
		if err != nil {
			return nil, nil, fmt.Errorf("fewshot: the %s's output: %w", r.what, err)
		}
		out = append(out, v[:b*shapeLen(per)]...)
	}
	return out, outShape, nil
}

func toInt64s(s []int) []int64 {
	out := make([]int64, len(s))
	for i, v := range s {
		out[i] = int64(v)
	}
	return out
}

func shapeLen(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// ErrNotFinite is wrapped by the errors reporting NaN or infinite weights,
// embeddings or scores.
var ErrNotFinite = errors.New("not finite")

func checkFinite(v []float32, what string) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("fewshot: %s holds %v at index %d: %w", what, x, i, ErrNotFinite)
		}
	}
	return nil
}
