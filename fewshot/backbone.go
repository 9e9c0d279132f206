package fewshot

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/onnxio"
)

// AlgorithmImported is the [KeyAlgorithm] that [ImportBackbone] writes: the
// embedding is a classification network's features, used without
// meta-training.
const AlgorithmImported = "imported backbone"

// ErrNoClassifier is wrapped by the error [ImportBackbone] reports when no
// embedding tensor is named and the network does not end in a classifier
// layer that the default rule recognises.
var ErrNoClassifier = errors.New("no final classifier found")

// BackboneOptions says how [ImportBackbone] turns a classification network
// into a fewshot model. The zero value picks the embedding by the default
// rule, ImageNet preprocessing and the [Euclidean] metric.
type BackboneOptions struct {
	// Embedding names the tensor to use as the embedding. Empty means the
	// default rule, which walks back from the network's first output over
	// Identity, Dropout, Softmax, LogSoftmax, Sigmoid, Flatten, Reshape,
	// Squeeze and Unsqueeze nodes and then takes:
	//
	//   - for a Gemm with constant weights (a fully connected layer), or a
	//     MatMul with constant weights, optionally followed by an Add of a
	//     constant bias: the tensor entering it, such as ResNet's 512 pooled
	//     features;
	//   - for a convolutional head, a 1×1 Conv with constant weights,
	//     optionally followed by Relu, Identity or Dropout, then a
	//     GlobalAveragePool or a ReduceMean over the two spatial axes (as in
	//     SqueezeNet): the feature maps entering the Conv, averaged over
	//     their height and width (the result is Pooled);
	//   - for a network whose output is already a global average pool with
	//     no classifier before it (a feature extractor): the output itself.
	//
	// Anything else is an error wrapping [ErrNoClassifier]; name the tensor
	// then.
	Embedding string
	// Pool averages the named Embedding tensor, which must be a batch of
	// feature maps [N, C, H, W], over H and W, giving a C-value embedding
	// (GlobalAveragePool then Flatten are added to the graph). It needs
	// Embedding.
	Pool bool
	// Preprocess is the transform the network expects. The zero value
	// means [episode.ImageNetPreprocess], sized to the network's input when
	// the input has a fixed height and width other than 224 (the crop takes
	// that size and the shorter side is resized in the same 256:224
	// proportion). A given transform must match the input's channels and
	// any fixed height and width.
	Preprocess episode.Preprocess
	// Metric is [Euclidean] (the default when empty) or [Cosine]; the
	// [Relation] metric needs a trained relation module and is refused.
	Metric Metric
	// TrainingData describes what the network was trained on, such as
	// "ImageNet-1k, torchvision weights" (informational, [KeyTrainingData]).
	TrainingData string
	// Source names the network in the model's doc string, such as its file
	// name. [ImportBackboneFile] sets it to the input file's base name
	// when empty.
	Source string
	// Limits bound compiling and running the network (zero fields keep
	// their defaults; see [onnxio.Limits]).
	Limits onnxio.Limits
}

// ImportedBackbone is the result of [ImportBackbone].
type ImportedBackbone struct {
	// Model is the fewshot model: the network cut at the embedding, with
	// the fewshot metadata.
	Model *onnxio.Model
	// Bytes is Model serialized, as [ImportBackboneFile] writes it;
	// [ParseModel] loads it.
	Bytes []byte
	// Embedding is the tensor the network was cut at.
	Embedding string
	// Pooled reports that Embedding, a batch of feature maps, is averaged
	// over its height and width to give the model's output.
	Pooled bool
	// Head describes the classifier that was cut off, such as `Gemm node
	// "/fc/Gemm"`, or says why the output was kept; empty when Embedding
	// was named.
	Head string
	// RemovedNodes is the number of the network's nodes left out.
	RemovedNodes int
	// Info is what the model's metadata says.
	Info ModelInfo
}

// ImportBackbone turns a pretrained ONNX classification network into a
// fewshot model in one step: it chooses the embedding tensor (see
// [BackboneOptions.Embedding]), cuts the graph there with
// [onnxio.ExtractSubgraph] (the embedding becomes the only output; the
// nodes, initializers and inputs it does not need are dropped), checks that
// the network takes one float image batch [N, C, H, W] and that the
// embedding has one row per image, and attaches the metadata that
// [LoadModel] reads. The result loads with [ParseModel] (it is checked).
//
// src is not modified. Prototypes on the features of a network trained on
// a large dataset such as ImageNet classify new photo classes well with no
// training at all.
func ImportBackbone(src *onnxio.Model, o BackboneOptions) (*ImportedBackbone, error) {
	if src == nil || src.Graph == nil {
		return nil, errors.New("fewshot: the network has no graph")
	}
	metric := o.Metric
	switch metric {
	case "":
		metric = Euclidean
	case Euclidean, Cosine:
	case Relation:
		return nil, fmt.Errorf("fewshot: the %q metric needs a trained relation module; use %q or %q for an imported backbone", Relation, Euclidean, Cosine)
	default:
		return nil, fmt.Errorf("fewshot: unknown metric %q (want %q or %q)", metric, Euclidean, Cosine)
	}
	if o.Pool && o.Embedding == "" {
		return nil, errors.New("fewshot: pooling needs a named embedding tensor (the default rule pools by itself where needed)")
	}

	imp := &ImportedBackbone{Embedding: o.Embedding, Pooled: o.Pool}
	if o.Embedding == "" {
		c, err := defaultEmbedding(src.Graph)
		if err != nil {
			return nil, err
		}
		imp.Embedding, imp.Pooled, imp.Head = c.Tensor, c.Pool, c.Head
	}
	cut, err := onnxio.ExtractSubgraph(src, imp.Embedding)
	if err != nil {
		return nil, fmt.Errorf("fewshot: cutting the network: %w", err)
	}
	g := cut.Graph
	imp.RemovedNodes = len(src.Graph.Nodes) - len(g.Nodes)
	in, err := imageInput(g, imp.Embedding)
	if err != nil {
		return nil, err
	}
	pre, err := backbonePreprocess(o.Preprocess, in)
	if err != nil {
		return nil, err
	}
	cut.ProducerName, cut.ProducerVersion = Producer, Version
	emb, err := probeEmbedding(cut, in, pre, imp.Embedding, o.Limits)
	if err != nil {
		return nil, err
	}
	out := imp.Embedding
	if imp.Pooled {
		if len(emb) != 3 {
			return nil, fmt.Errorf("fewshot: cannot pool the embedding tensor %q: it has shape %v per image, pooling needs feature maps [C, H, W]", imp.Embedding, emb)
		}
		emb = emb[:1]
		out = unusedName(src.Graph, "fewshot_embedding")
		pooled := unusedName(src.Graph, "fewshot_pooled")
		g.Nodes = append(g.Nodes,
			onnxio.NewNode("GlobalAveragePool", pooled, []string{imp.Embedding}, []string{pooled}),
			onnxio.NewNode("Flatten", out, []string{pooled}, []string{out}, onnxio.AttrInt("axis", 1)))
	}
	batch := in.Shape[0]
	dims := append([]int64{batch.Value}, toInt64s(emb)...)
	if batch.Value <= 0 {
		dims[0] = -1
	}
	param := batch.Param
	if param == "" {
		param = "N"
	}
	g.Outputs[0] = onnxio.NewValueInfo(out, onnxio.Float, dims, param)

	info := ModelInfo{Preprocess: pre, Metric: metric, EmbeddingShape: emb, Algorithm: AlgorithmImported, TrainingData: o.TrainingData}
	meta, err := info.Metadata()
	if err != nil {
		return nil, err
	}
	var kept []onnxio.StringStringEntry
	for _, e := range cut.MetadataProps {
		if !strings.HasPrefix(e.Key, "fewshot.") {
			kept = append(kept, e)
		}
	}
	cut.MetadataProps = append(kept, meta...)
	cut.DocString = importDoc(src, o.Source, imp)

	b, err := cut.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("fewshot: encoding the imported model: %w", err)
	}
	loaded, err := ParseModel(b, WithLimits(o.Limits))
	if err != nil {
		return nil, fmt.Errorf("fewshot: the imported model does not load: %w", err)
	}
	imp.Model, imp.Bytes, imp.Info = cut, b, loaded.Info()
	return imp, nil
}

// ImportBackboneFile reads the ONNX classification network in, turns it
// into a fewshot model with [ImportBackbone] and writes it to out
// atomically (a reader never sees a partly written file; on error out is
// left as it was). out must differ from in.
func ImportBackboneFile(in, out string, o BackboneOptions) (*ImportedBackbone, error) {
	if sameFile(in, out) {
		return nil, fmt.Errorf("fewshot: the output file %s is the network file itself; choose another name", out)
	}
	src, err := onnxio.ReadFile(in, onnxio.WithLimits(o.Limits))
	if err != nil {
		return nil, fmt.Errorf("fewshot: reading the network: %w", err)
	}
	if o.Source == "" {
		o.Source = filepath.Base(in)
	}
	imp, err := ImportBackbone(src, o)
	if err != nil {
		return nil, fmt.Errorf("%w (network file %s)", err, in)
	}
	err = atomicfile.Write(out, 0o644, func(w io.Writer) error {
		_, err := w.Write(imp.Bytes)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("fewshot: %w", err)
	}
	return imp, nil
}

func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// EmbeddingChoice is the embedding that the default rule of
// [BackboneOptions.Embedding] picks for a network.
type EmbeddingChoice struct {
	// Tensor is the tensor to cut the network at.
	Tensor string
	// Pool reports that Tensor holds feature maps [N, C, H, W] to be
	// averaged over H and W (a convolutional classifier head).
	Pool bool
	// Head describes the classifier layer found, such as `Gemm node
	// "/fc/Gemm"`, or says why the output itself is the embedding.
	Head string
}

// DefaultEmbedding applies the default rule of [BackboneOptions.Embedding]
// to m's graph without changing it. The error wraps [ErrNoClassifier] when
// the rule finds no classifier.
func DefaultEmbedding(m *onnxio.Model) (EmbeddingChoice, error) {
	if m == nil || m.Graph == nil {
		return EmbeddingChoice{}, errors.New("fewshot: the network has no graph")
	}
	return defaultEmbedding(m.Graph)
}

// passThrough are the ops the default rule walks back over: they do not
// change which features a classifier saw.
var passThrough = map[string]bool{
	"Identity": true, "Dropout": true, "Softmax": true, "LogSoftmax": true, "Sigmoid": true,
	"Flatten": true, "Reshape": true, "Squeeze": true, "Unsqueeze": true,
}

// defaultEmbedding applies the rule documented on BackboneOptions.Embedding.
func defaultEmbedding(g *onnxio.Graph) (EmbeddingChoice, error) {
	if len(g.Outputs) == 0 {
		return EmbeddingChoice{}, errors.New("fewshot: the network has no outputs")
	}
	gi := newGraphIndex(g)
	out := g.Outputs[0].Name
	noHead := func(why string) error {
		return fmt.Errorf("fewshot: %w: walking back from the output %q, %s; name the embedding tensor (BackboneOptions.Embedding, or --embedding on the command line)", ErrNoClassifier, out, why)
	}
	name := out
	for range len(g.Nodes) + 1 {
		n := gi.producer[name]
		if n == nil {
			return EmbeddingChoice{}, noHead(fmt.Sprintf("tensor %q is not computed by any node", name))
		}
		switch {
		case passThrough[n.OpType] && len(n.Inputs) > 0:
			name = n.Inputs[0]
		case n.OpType == "Gemm" && len(n.Inputs) >= 2:
			if a := n.Attr("transA"); a != nil && a.I != 0 {
				return EmbeddingChoice{}, noHead(fmt.Sprintf("the final %s transposes its input (transA=1)", n))
			}
			if !gi.constant(n.Inputs[1]) {
				return EmbeddingChoice{}, noHead(fmt.Sprintf("the final %s has computed, not constant, weights", n))
			}
			return EmbeddingChoice{Tensor: n.Inputs[0], Head: n.String()}, nil
		case n.OpType == "MatMul" && len(n.Inputs) == 2:
			if !gi.constant(n.Inputs[1]) || gi.constant(n.Inputs[0]) {
				return EmbeddingChoice{}, noHead(fmt.Sprintf("the final %s does not multiply the features by constant weights", n))
			}
			return EmbeddingChoice{Tensor: n.Inputs[0], Head: n.String()}, nil
		case n.OpType == "Add" && len(n.Inputs) == 2:
			x, bias := n.Inputs[0], n.Inputs[1]
			if gi.constant(x) {
				x, bias = bias, x
			}
			p := gi.producer[x]
			if !gi.constant(bias) || p == nil || (p.OpType != "MatMul" && p.OpType != "Gemm") {
				return EmbeddingChoice{}, noHead(fmt.Sprintf("it reached %s, which is not the bias of a MatMul or Gemm", n))
			}
			name = x
		case n.OpType == "GlobalAveragePool" || (n.OpType == "ReduceMean" && gi.spatialMean(n)):
			if c := gi.convHead(n.Inputs[0]); c != nil {
				return EmbeddingChoice{Tensor: c.Inputs[0], Pool: true, Head: c.String() + ", a 1×1 convolution before global average pooling"}, nil
			}
			return EmbeddingChoice{Tensor: out, Head: fmt.Sprintf("none: the output is %s of feature maps", n)}, nil
		default:
			return EmbeddingChoice{}, noHead(fmt.Sprintf("it reached %s, which is not a classifier layer (Gemm, MatMul, MatMul+Add, or 1×1 Conv then global average pooling)", n))
		}
	}
	return EmbeddingChoice{}, noHead("it went round a cycle")
}

// graphIndex answers the questions the default rule asks about a graph.
type graphIndex struct {
	producer map[string]*onnxio.Node
	inits    map[string]*onnxio.Tensor
}

func newGraphIndex(g *onnxio.Graph) *graphIndex {
	gi := &graphIndex{producer: map[string]*onnxio.Node{}, inits: map[string]*onnxio.Tensor{}}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				gi.producer[o] = n
			}
		}
	}
	for _, t := range g.Initializer {
		gi.inits[t.Name] = t
	}
	return gi
}

// constTensor returns the value of name when it is an initializer or the
// output of a Constant node with a tensor value, else nil.
func (gi *graphIndex) constTensor(name string) *onnxio.Tensor {
	if t := gi.inits[name]; t != nil {
		return t
	}
	if n := gi.producer[name]; n != nil && n.OpType == "Constant" {
		if a := n.Attr("value"); a != nil && a.T != nil {
			return a.T
		}
	}
	return nil
}

func (gi *graphIndex) constant(name string) bool { return gi.constTensor(name) != nil }

// spatialMean reports whether a ReduceMean averages exactly axes 2 and 3
// of a rank-4 input (given as an attribute before opset 18, an input
// after).
func (gi *graphIndex) spatialMean(n *onnxio.Node) bool {
	var axes []int64
	if a := n.Attr("axes"); a != nil {
		axes = a.Ints
	} else if len(n.Inputs) > 1 {
		t := gi.constTensor(n.Inputs[1])
		if t == nil {
			return false
		}
		v, err := t.Int64s()
		if err != nil {
			return false
		}
		axes = v
	}
	if len(axes) != 2 {
		return false
	}
	s := slices.Sorted(slices.Values(axes))
	return slices.Equal(s, []int64{2, 3}) || slices.Equal(s, []int64{-2, -1})
}

// convHead returns the 1×1 Conv with constant weights that computes x,
// possibly through Relu, Identity or Dropout, or nil.
func (gi *graphIndex) convHead(x string) *onnxio.Node {
	for range 8 {
		n := gi.producer[x]
		if n == nil || len(n.Inputs) == 0 {
			return nil
		}
		switch n.OpType {
		case "Relu", "Identity", "Dropout":
			x = n.Inputs[0]
			continue
		case "Conv":
			if len(n.Inputs) < 2 {
				return nil
			}
			w := gi.constTensor(n.Inputs[1])
			if w == nil || len(w.Dims) != 4 || w.Dims[2] != 1 || w.Dims[3] != 1 {
				return nil
			}
			if a := n.Attr("group"); a != nil && a.I != 1 {
				return nil
			}
			return n
		}
		return nil
	}
	return nil
}

// imageInput returns the cut graph's one image input, checked to be a
// float tensor of rank 4 whose channel count, if fixed, is 1 or 3.
func imageInput(g *onnxio.Graph, emb string) (*onnxio.ValueInfo, error) {
	inits := map[string]bool{}
	for _, t := range g.Initializer {
		inits[t.Name] = true
	}
	var ins []*onnxio.ValueInfo
	for _, vi := range g.Inputs {
		if !inits[vi.Name] {
			ins = append(ins, vi)
		}
	}
	switch len(ins) {
	case 0:
		return nil, fmt.Errorf("fewshot: the embedding tensor %q does not depend on the network's input", emb)
	case 1:
	default:
		var names []string
		for _, vi := range ins {
			names = append(names, fmt.Sprintf("%q", vi.Name))
		}
		return nil, fmt.Errorf("fewshot: the embedding tensor %q depends on %d inputs (%s); want one image input", emb, len(ins), strings.Join(names, ", "))
	}
	vi := ins[0]
	if vi.ElemType != onnxio.Float {
		return nil, fmt.Errorf("fewshot: the network's input %q is %v, want float32 images", vi.Name, vi.ElemType)
	}
	if !vi.HasShape {
		return nil, fmt.Errorf("fewshot: the network's input %q has no declared shape, want an image tensor of rank 4 [N, C, H, W]", vi.Name)
	}
	if len(vi.Shape) != 4 {
		return nil, fmt.Errorf("fewshot: the network's input %q has shape %s (rank %d), want an image tensor of rank 4 [N, C, H, W]", vi.Name, dimsString(vi.Shape), len(vi.Shape))
	}
	if c := vi.Shape[1]; c.Param == "" && c.Value > 0 && c.Value != 1 && c.Value != 3 {
		return nil, fmt.Errorf("fewshot: the network's input %q has shape %s: %d channels, want 1 (grayscale) or 3 (RGB) at axis 1 [N, C, H, W]", vi.Name, dimsString(vi.Shape), c.Value)
	}
	return vi, nil
}

func fixedDim(d onnxio.Dim) int {
	if d.Param == "" && d.Value > 0 {
		return int(d.Value)
	}
	return 0
}

// backbonePreprocess returns the transform for input in: p, or the
// ImageNet preset sized to in when p is the zero value.
func backbonePreprocess(p episode.Preprocess, in *onnxio.ValueInfo) (episode.Preprocess, error) {
	c, h, w := fixedDim(in.Shape[1]), fixedDim(in.Shape[2]), fixedDim(in.Shape[3])
	if p.Width == 0 && p.Height == 0 && p.Channels == 0 {
		p = episode.ImageNetPreprocess()
		if c == 1 {
			return p, fmt.Errorf("fewshot: the network's input %q takes 1-channel images but the default ImageNet preprocessing is RGB; give a grayscale BackboneOptions.Preprocess", in.Name)
		}
		if h > 0 && w > 0 && (h != p.Height || w != p.Width) {
			if h > episode.MaxSide || w > episode.MaxSide {
				return p, fmt.Errorf("fewshot: the network's input %q has shape %s, larger than %d pixels a side", in.Name, dimsString(in.Shape), episode.MaxSide)
			}
			// Keep the 256:224 proportion of the resize to the crop.
			p.Width, p.Height = w, h
			p.ResizeShorter = min(episode.MaxSide, (max(w, h)*256+112)/224)
		}
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("fewshot: preprocessing: %w", err)
	}
	if c > 0 && c != p.Channels {
		return p, fmt.Errorf("fewshot: the network's input %q has shape %s (%d channels), but the preprocessing gives %d-channel images", in.Name, dimsString(in.Shape), c, p.Channels)
	}
	if (h > 0 && h != p.Height) || (w > 0 && w != p.Width) {
		wantW, wantH := p.Width, p.Height
		if w > 0 {
			wantW = w
		}
		if h > 0 {
			wantH = h
		}
		return p, fmt.Errorf("fewshot: the network's input %q has shape %s, but the preprocessing gives %dx%d images (width x height); make them %dx%d",
			in.Name, dimsString(in.Shape), p.Width, p.Height, wantW, wantH)
	}
	return p, nil
}

// probeEmbedding runs a batch of blank images through the cut model and
// returns the per-image embedding shape, checking that the first axis is
// the batch.
func probeEmbedding(m *onnxio.Model, in *onnxio.ValueInfo, pre episode.Preprocess, emb string, l onnxio.Limits) ([]int, error) {
	plan, err := onnxio.Compile(m, onnxio.WithLimits(l))
	if err != nil {
		return nil, fmt.Errorf("fewshot: compiling the network up to %q: %w", emb, err)
	}
	n := 2 // two images tell a batch axis from a fixed one
	if b := fixedDim(in.Shape[0]); b > 0 {
		n = b
	}
	dims := []int64{int64(n), int64(pre.Channels), int64(pre.Height), int64(pre.Width)}
	res, err := plan.RunPositional(onnxio.NewFloatTensor(in.Name, dims, make([]float32, n*pre.Len())))
	if err != nil {
		return nil, fmt.Errorf("fewshot: running the network up to %q on %dx%d images: %w", emb, pre.Width, pre.Height, err)
	}
	t := res[0]
	if t.DataType != onnxio.Float {
		return nil, fmt.Errorf("fewshot: the embedding tensor %q is %v, want float32", emb, t.DataType)
	}
	s := t.Shape()
	if len(s) < 2 || s[0] != n {
		return nil, fmt.Errorf("fewshot: the embedding tensor %q has shape %v for a batch of %d images; want one row per image [N, ...]", emb, s, n)
	}
	if len(s) > 4 {
		return nil, fmt.Errorf("fewshot: the embedding tensor %q has shape %v: want at most 3 axes per image", emb, s)
	}
	return slices.Clone(s[1:]), nil
}

// unusedName returns base, or base with a numeric suffix, that no tensor
// or node of g is called.
func unusedName(g *onnxio.Graph, base string) string {
	used := map[string]bool{}
	for _, n := range g.Nodes {
		used[n.Name] = true
		for _, s := range append(slices.Clone(n.Inputs), n.Outputs...) {
			used[s] = true
		}
	}
	for _, vi := range g.Inputs {
		used[vi.Name] = true
	}
	for _, t := range g.Initializer {
		used[t.Name] = true
	}
	name := base
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	return name
}

func importDoc(src *onnxio.Model, source string, imp *ImportedBackbone) string {
	if source == "" {
		source = "an ONNX network"
	}
	by := strings.TrimSpace(src.ProducerName + " " + src.ProducerVersion)
	if by != "" {
		source += " (" + by + ")"
	}
	s := fmt.Sprintf("fewshot embedding imported from %s: the network cut at tensor %q", source, imp.Embedding)
	if imp.Pooled {
		s += ", averaged over height and width"
	}
	if imp.Head != "" {
		s += "; classifier: " + imp.Head
	}
	return s
}
