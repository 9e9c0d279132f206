package export

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/onnxio"
)

// Opset is the default-domain operator set version of the models this
// package writes, and IRVersion the matching ONNX IR version. Every operator
// it emits (Conv, BatchNormalization, Relu, Sigmoid, MaxPool, Flatten,
// Gemm) has had its current semantics since opset 13 or earlier.
const (
	Opset     = 13
	IRVersion = 7
)

// Input and output names of the graphs this package writes.
const (
	// InputName is the embedding graph's input, float32 [N, C, H, W].
	InputName = "input"
	// OutputName is the embedding graph's output, float32 [N, ...]
	// (the per-image embedding shape).
	OutputName = "embedding"
	// RelationInputName is the relation module's input, float32
	// [N, 2C, H, W]: prototype and query feature maps concatenated.
	RelationInputName = "pair"
	// RelationOutputName is the relation module's output, float32 [N, 1].
	RelationOutputName = "score"
)

// Spec describes a trained model to export.
type Spec struct {
	// Embedding maps a preprocessed image [C, H, W] to its embedding.
	Embedding []Layer
	// Relation is the relation module, required for the Relation metric
	// and not allowed otherwise. It maps a (prototype, query) pair of
	// embeddings concatenated along their first axis to one score.
	Relation []Layer
	// Preprocess is the image transform the model was trained with.
	Preprocess episode.Preprocess
	// Metric is how the classifier compares queries with supports.
	Metric fewshot.Metric
	// Algorithm and TrainingData are free text for the metadata, such as
	// "l2g-protonet" and "omniglot background, vinyals split".
	Algorithm    string
	TrainingData string
	// Description becomes the model's doc_string.
	Description string
	// KeepBatchNorm writes BatchNormalization nodes instead of folding
	// each BatchNorm that directly follows a Conv into that Conv's weights
	// and bias. Folding (the default) gives a smaller graph of Conv, Relu,
	// MaxPool and Flatten nodes that even minimal ONNX runtimes execute; the
	// outputs agree to float32 rounding. A BatchNorm after anything else is
	// always written as a node.
	KeepBatchNorm bool
}

// Model builds the ONNX model for spec: the embedding graph (opset [Opset])
// with the fewshot metadata (keys fewshot.Key*), and for the Relation
// metric the relation module serialized into the
// [fewshot.KeyRelationModule] entry. Weights are copied, so the caller may
// keep training its network.
func Model(spec Spec) (*onnxio.Model, error) {
	if len(spec.Embedding) == 0 {
		return nil, errors.New("export: no embedding layers")
	}
	pre := spec.Preprocess
	if err := pre.Validate(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	in := []int{pre.Channels, pre.Height, pre.Width}
	g, emb, err := buildGraph("embedding", spec.Embedding, in, InputName, OutputName, !spec.KeepBatchNorm)
	if err != nil {
		return nil, fmt.Errorf("export: embedding: %w", err)
	}
	info := fewshot.ModelInfo{
		Preprocess:     pre,
		Metric:         spec.Metric,
		EmbeddingShape: emb,
		Algorithm:      spec.Algorithm,
		TrainingData:   spec.TrainingData,
	}
	meta, err := info.Metadata()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	m := newModel(g, spec.Description)
	m.MetadataProps = meta
	switch {
	case spec.Metric == fewshot.Relation && len(spec.Relation) == 0:
		return nil, errors.New("export: the relation metric needs Relation layers")
	case spec.Metric != fewshot.Relation && len(spec.Relation) != 0:
		return nil, fmt.Errorf("export: Relation layers given for the %q metric", spec.Metric)
	case spec.Metric == fewshot.Relation:
		pair := slices.Clone(emb)
		pair[0] *= 2
		rg, out, err := buildGraph("relation", spec.Relation, pair, RelationInputName, RelationOutputName, !spec.KeepBatchNorm)
		if err != nil {
			return nil, fmt.Errorf("export: relation module: %w", err)
		}
		if !slices.Equal(out, []int{1}) {
			return nil, fmt.Errorf("export: relation module outputs %v per pair, want [1]", out)
		}
		b, err := newModel(rg, "fewshot relation module").MarshalBinary()
		if err != nil {
			return nil, fmt.Errorf("export: relation module: %w", err)
		}
		m.MetadataProps = append(m.MetadataProps, onnxio.StringStringEntry{
			Key: fewshot.KeyRelationModule, Value: base64.StdEncoding.EncodeToString(b)})
	}
	return m, nil
}

func newModel(g *onnxio.Graph, doc string) *onnxio.Model {
	return &onnxio.Model{
		IRVersion:       IRVersion,
		OpsetImport:     []onnxio.OperatorSetID{{Version: Opset}},
		ProducerName:    fewshot.Producer,
		ProducerVersion: fewshot.Version,
		DocString:       doc,
		Graph:           g,
	}
}

// builder accumulates one graph's nodes and initializers.
type builder struct {
	g    *onnxio.Graph
	cur  string // name of the value the next node consumes
	fold bool
}

func (b *builder) init(name string, dims []int, v []float32) {
	d := make([]int64, len(dims))
	for i, x := range dims {
		d[i] = int64(x)
	}
	b.g.Initializer = append(b.g.Initializer, onnxio.NewFloatTensor(name, d, slices.Clone(v)))
}

func (b *builder) node(op, name string, inputs []string, attrs ...*onnxio.Attribute) {
	b.g.Nodes = append(b.g.Nodes, onnxio.NewNode(op, name, append([]string{b.cur}, inputs...), []string{name}, attrs...))
	b.cur = name
}

// buildGraph checks the layers against the input shape and writes them as
// a graph from input [N, in...] to output [N, out...].
func buildGraph(name string, layers []Layer, in []int, input, output string, fold bool) (*onnxio.Graph, []int, error) {
	b := &builder{g: &onnxio.Graph{Name: name}, cur: input, fold: fold}
	shape := in
	for i := 0; i < len(layers); i++ {
		l := layers[i]
		if l == nil {
			return nil, nil, fmt.Errorf("layer %d is nil", i)
		}
		out, err := l.outShape(shape)
		if err != nil {
			return nil, nil, fmt.Errorf("layer %d (%T): %w", i, l, err)
		}
		var bn *BatchNorm
		if c, ok := l.(*Conv); ok && fold && i+1 < len(layers) {
			if bn, _ = layers[i+1].(*BatchNorm); bn != nil {
				if _, err := bn.outShape(out); err != nil {
					return nil, nil, fmt.Errorf("layer %d (%T): %w", i+1, bn, err)
				}
				if err := b.conv(i, c, bn); err != nil {
					return nil, nil, err
				}
				i++
				shape = out
				continue
			}
		}
		if err := b.layer(i, l, len(shape)); err != nil {
			return nil, nil, err
		}
		shape = out
	}
	// The last node's output is renamed to the graph output.
	last := b.g.Nodes[len(b.g.Nodes)-1]
	last.Outputs[0] = output
	last.Name = output
	b.g.Inputs = []*onnxio.ValueInfo{onnxio.NewValueInfo(input, onnxio.Float, dimsWithBatch(in), "N")}
	b.g.Outputs = []*onnxio.ValueInfo{onnxio.NewValueInfo(output, onnxio.Float, dimsWithBatch(shape), "N")}
	return b.g, shape, nil
}

func dimsWithBatch(s []int) []int64 {
	d := []int64{-1}
	for _, x := range s {
		d = append(d, int64(x))
	}
	return d
}

// conv writes layer i, folding bn (if not nil) into it.
func (b *builder) conv(i int, c *Conv, bn *BatchNorm) error {
	name := fmt.Sprintf("conv%d", i)
	if err := finite(name+".weight", c.Weight); err != nil {
		return err
	}
	if err := finite(name+".bias", c.Bias); err != nil {
		return err
	}
	w, bias := c.Weight, c.Bias
	if bn != nil {
		if err := bn.check(fmt.Sprintf("bn%d", i+1)); err != nil {
			return err
		}
		// BN(conv(x) + b) = s·conv(x) + s·(b − mean) + beta with
		// s = gamma/√(var + eps), per output channel; computed in float64.
		per := len(w) / c.Out
		w = make([]float32, len(c.Weight))
		bias = make([]float32, c.Out)
		for o := range c.Out {
			s := float64(bn.Gamma[o]) / math.Sqrt(float64(bn.Var[o])+bn.eps())
			for k := range per {
				w[o*per+k] = float32(float64(c.Weight[o*per+k]) * s)
			}
			var b0 float64
			if c.Bias != nil {
				b0 = float64(c.Bias[o])
			}
			bias[o] = float32(s*(b0-float64(bn.Mean[o])) + float64(bn.Beta[o]))
		}
	}
	g := one(c.Groups)
	b.init(name+".weight", []int{c.Out, c.In / g, c.KH, c.KW}, w)
	inputs := []string{name + ".weight"}
	if bias != nil {
		b.init(name+".bias", []int{c.Out}, bias)
		inputs = append(inputs, name+".bias")
	}
	b.node("Conv", name, inputs,
		onnxio.AttrInts("kernel_shape", int64(c.KH), int64(c.KW)),
		onnxio.AttrInts("strides", int64(one(c.StrideH)), int64(one(c.StrideW))),
		onnxio.AttrInts("pads", int64(c.PadTop), int64(c.PadLeft), int64(c.PadBottom), int64(c.PadRight)),
		onnxio.AttrInts("dilations", int64(one(c.DilH)), int64(one(c.DilW))),
		onnxio.AttrInt("group", int64(g)))
	return nil
}

func (bn *BatchNorm) check(name string) error {
	for _, f := range []struct {
		n string
		v []float32
	}{{"gamma", bn.Gamma}, {"beta", bn.Beta}, {"mean", bn.Mean}, {"var", bn.Var}} {
		if err := finite(name+"."+f.n, f.v); err != nil {
			return err
		}
	}
	return nil
}

// layer writes layer i (not a folded Conv+BatchNorm pair); rank is the
// per-example rank of its input.
func (b *builder) layer(i int, l Layer, rank int) error {
	switch l := l.(type) {
	case *Conv:
		return b.conv(i, l, nil)
	case *BatchNorm:
		name := fmt.Sprintf("bn%d", i)
		if err := l.check(name); err != nil {
			return err
		}
		c := len(l.Gamma)
		for _, p := range []struct {
			n string
			v []float32
		}{{"scale", l.Gamma}, {"bias", l.Beta}, {"mean", l.Mean}, {"var", l.Var}} {
			b.init(name+"."+p.n, []int{c}, p.v)
		}
		b.node("BatchNormalization", name, []string{name + ".scale", name + ".bias", name + ".mean", name + ".var"},
			onnxio.AttrFloat("epsilon", float32(l.eps())))
	case ReLU:
		b.node("Relu", fmt.Sprintf("relu%d", i), nil)
	case Sigmoid:
		b.node("Sigmoid", fmt.Sprintf("sigmoid%d", i), nil)
	case *MaxPool:
		ceil := int64(0)
		if l.CeilMode {
			ceil = 1
		}
		b.node("MaxPool", fmt.Sprintf("pool%d", i), nil,
			onnxio.AttrInts("kernel_shape", int64(l.KH), int64(l.KW)),
			onnxio.AttrInts("strides", int64(l.strideH()), int64(l.strideW())),
			onnxio.AttrInts("pads", int64(l.PadTop), int64(l.PadLeft), int64(l.PadBottom), int64(l.PadRight)),
			onnxio.AttrInt("ceil_mode", ceil))
	case Flatten:
		if rank == 1 {
			return nil // already flat
		}
		b.node("Flatten", fmt.Sprintf("flatten%d", i), nil, onnxio.AttrInt("axis", 1))
	case *Linear:
		name := fmt.Sprintf("fc%d", i)
		if err := finite(name+".weight", l.Weight); err != nil {
			return err
		}
		if err := finite(name+".bias", l.Bias); err != nil {
			return err
		}
		b.init(name+".weight", []int{l.Out, l.In}, l.Weight)
		inputs := []string{name + ".weight"}
		if l.Bias != nil {
			b.init(name+".bias", []int{l.Out}, l.Bias)
			inputs = append(inputs, name+".bias")
		}
		b.node("Gemm", name, inputs, onnxio.AttrInt("transB", 1))
	default:
		return fmt.Errorf("layer %d: unsupported layer type %T", i, l)
	}
	return nil
}

// WriteFile encodes m and writes it to path atomically: the bytes go to a
// temporary file in the same folder, which is synced and then renamed over
// path, so path never holds a partly written model. The file gets mode
// 0644, since a model is meant to be shared.
func WriteFile(path string, m *onnxio.Model) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("export: encoding %s: %w", path, err)
	}
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}
