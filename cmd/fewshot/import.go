package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/onnxio"
)

func init() {
	register(&command{
		name:    "import",
		summary: "turn a pretrained ONNX classification network (ResNet, MobileNet, ...) into a fewshot model",
		run:     runImport,
	})
}

const importExamples = `
# a torchvision ResNet-18 export: cut before its final fully connected layer
fewshot import --model resnet18.onnx --out resnet18-fewshot.onnx

# see the network's tensors, then cut at one of them and average it over height and width
fewshot import --model net.onnx --list
fewshot import --model net.onnx --out net-fewshot.onnx --embedding /layer4/layer4.1/relu_1/Relu_output_0 --pool

# a network trained on 299×299 crops, compared by cosine similarity
fewshot import --model inception.onnx --out inception-fewshot.onnx --crop 299 --resize 342 --metric cosine

# then use it like any fewshot model
fewshot eval --model resnet18-fewshot.onnx --data photos/ --way 5 --shot 5
go run ./examples/imagesort --model resnet18-fewshot.onnx --examples labelled/ --in unsorted/ --out sorted/`

const importDescription = `Turns an ONNX image classification network into a fewshot model in one step: the graph is cut
at the embedding tensor (it becomes the only output; nodes and weights it does not need are
dropped) and the preprocessing and metric metadata that fewshot reads are attached. No training
happens: prototypes on a pretrained network's features classify new classes from a few examples.

The embedding is, unless --embedding names a tensor, the input of the final classifier: walking
back from the network's output over Softmax, Flatten, Reshape, Dropout and similar nodes, the
tensor entering the last Gemm, or MatMul (+ Add bias), with constant weights. For a convolutional
head (a 1×1 Conv, maybe a Relu, then global average pooling, as in SqueezeNet) it is the feature
maps entering that Conv, averaged over height and width. A network that ends in global average
pooling with no classifier is kept whole. Otherwise name the tensor (see --list).

The network must take one float32 image batch [N, C, H, W]. The preprocessing defaults to the
ImageNet evaluation transform (shorter side resized to 256, centre 224×224 crop, ImageNet mean and
std), sized to the network's input when that is fixed at another size. The file is written
atomically.`

func runImport(ctx context.Context, env *cmdEnv, args []string) error {
	fl := newFlagSet(env, "import", "--model NET.onnx --out MODEL.onnx [--embedding TENSOR [--pool]] [flags]",
		importDescription, importExamples)
	var model, out, embedding, preprocess, metric, trainingData string
	var resize, crop int
	var pool, list bool
	fl.StringVar(&model, "model", "", "ONNX classification network to import (required)")
	fl.StringVar(&out, "out", "", "fewshot model file to write (required unless --list)")
	fl.StringVar(&embedding, "embedding", "", "tensor to use as the embedding (default: the input of the final classifier, see above)")
	fl.BoolVar(&pool, "pool", false, "average the --embedding tensor, feature maps [N, C, H, W], over H and W")
	fl.StringVar(&preprocess, "preprocess", "", `preprocessing: "imagenet" (the default), "mini-imagenet", "omniglot" or episode.Preprocess JSON`)
	fl.IntVar(&resize, "resize", 0, "resize the shorter image side to this many pixels, keeping the aspect ratio, before the crop\n(0: stretch to the crop size; default from --preprocess, or --crop×256/224)")
	fl.IntVar(&crop, "crop", 0, "size of the square centre crop the network takes, in pixels (default from --preprocess or the network's input)")
	fl.StringVar(&metric, "metric", string(fewshot.Euclidean), `how queries are compared with the class examples: "euclidean" (prototypes) or "cosine"`)
	fl.StringVar(&trainingData, "training-data", "", `what the network was trained on, stored as information (such as "ImageNet-1k")`)
	fl.BoolVar(&list, "list", false, "list the network's tensors and the default embedding, and write nothing")
	if err := parseFlagsNoArgs(fl, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fl.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case model == "":
		return usagef("--model is required")
	case out == "" && !list:
		return usagef("--out is required")
	case out != "" && list:
		return usagef("--list writes nothing; leave out --out")
	case pool && embedding == "":
		return usagef("--pool needs --embedding (the default embedding is pooled where needed)")
	case metric != string(fewshot.Euclidean) && metric != string(fewshot.Cosine):
		return usagef("--metric %q: want %q or %q", metric, fewshot.Euclidean, fewshot.Cosine)
	}
	pre, err := importPreprocess(preprocess, resize, crop, set["resize"], set["crop"])
	if err != nil {
		return usageError{err}
	}
	if list {
		return listTensors(env, model)
	}

	imp, err := fewshot.ImportBackboneFile(model, out, fewshot.BackboneOptions{
		Embedding: embedding, Pool: pool, Preprocess: pre, Metric: fewshot.Metric(metric), TrainingData: trainingData,
	})
	if err != nil {
		return err
	}
	info := imp.Info
	fmt.Fprintf(env.stdout, "imported %s to %s\n", model, out)
	what := "named with --embedding"
	if imp.Head != "" {
		what = "classifier: " + imp.Head
	}
	pooled := ""
	if imp.Pooled {
		pooled = ", averaged over height and width"
	}
	fmt.Fprintf(env.stdout, "  embedding:     tensor %q%s, %v = %d values per image (%s)\n",
		imp.Embedding, pooled, info.EmbeddingShape, info.EmbeddingSize(), what)
	fmt.Fprintf(env.stdout, "  removed:       %d of the network's nodes\n", imp.RemovedNodes)
	fmt.Fprintf(env.stdout, "  preprocessing: %s\n", describePreprocess(info.Preprocess))
	fmt.Fprintf(env.stdout, "  metric:        %s\n", info.Metric)
	return nil
}

// importPreprocess builds the --preprocess, --resize and --crop choice. The
// zero value (nothing given) lets fewshot size the ImageNet preset to the
// network's input.
func importPreprocess(name string, resize, crop int, resizeSet, cropSet bool) (episode.Preprocess, error) {
	if name == "" && !resizeSet && !cropSet {
		return episode.Preprocess{}, nil
	}
	var p episode.Preprocess
	var err error
	switch {
	case name == "":
		p = episode.ImageNetPreprocess()
	case strings.HasPrefix(strings.TrimSpace(name), "{"):
		if p, err = episode.ParsePreprocess(name); err != nil {
			return p, fmt.Errorf("--preprocess: %w", err)
		}
	default:
		if p, err = episode.PresetPreprocess(name); err != nil {
			return p, fmt.Errorf("--preprocess: %w (or give episode.Preprocess JSON such as %s)", err, episode.ImageNetPreprocess())
		}
	}
	if cropSet {
		if crop < 1 || crop > episode.MaxSide {
			return p, fmt.Errorf("--crop %d: want a size from 1 to %d pixels", crop, episode.MaxSide)
		}
		if !resizeSet && p.ResizeShorter > 0 {
			// Keep the preset's proportion of resize to crop (256:224).
			p.ResizeShorter = min(episode.MaxSide, (crop*p.ResizeShorter+max(p.Width, p.Height)/2)/max(p.Width, p.Height))
		}
		p.Width, p.Height = crop, crop
	}
	if resizeSet {
		if resize < 0 || resize > episode.MaxSide {
			return p, fmt.Errorf("--resize %d: want 0 (stretch) or a size up to %d pixels", resize, episode.MaxSide)
		}
		p.ResizeShorter = resize
	}
	if err := p.Validate(); err != nil {
		return p, fmt.Errorf("--resize %d --crop %dx%d: %w", p.ResizeShorter, p.Width, p.Height, err)
	}
	return p, nil
}

func describePreprocess(p episode.Preprocess) string {
	colour := "RGB"
	if p.Channels == 1 {
		colour = "grayscale"
	}
	var s string
	if p.ResizeShorter > 0 {
		s = fmt.Sprintf("shorter side to %d, centre %dx%d crop, %s", p.ResizeShorter, p.Width, p.Height, colour)
	} else {
		s = fmt.Sprintf("stretched to %dx%d, %s", p.Width, p.Height, colour)
	}
	if len(p.Mean) > 0 {
		s += fmt.Sprintf(", mean %v std %v", p.Mean, p.Std)
	}
	return s
}

// listTensors prints every node output of the network in file order, and
// what the default rule would choose.
func listTensors(env *cmdEnv, path string) error {
	m, err := onnxio.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading the network: %w", err)
	}
	if m.Graph == nil {
		return fmt.Errorf("%s: the network has no graph", path)
	}
	g := m.Graph
	for _, vi := range g.Inputs {
		fmt.Fprintf(env.stdout, "%-20s %s\n", "input", vi.Name)
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				fmt.Fprintf(env.stdout, "%-20s %s\n", n.OpType, o)
			}
		}
	}
	for _, vi := range g.Outputs {
		fmt.Fprintf(env.stdout, "%-20s %s\n", "output", vi.Name)
	}
	c, err := fewshot.DefaultEmbedding(m)
	switch {
	case errors.Is(err, fewshot.ErrNoClassifier):
		fmt.Fprintf(env.stdout, "\ndefault embedding: none (%v)\n", err)
	case err != nil:
		return fmt.Errorf("%s: %w", path, err)
	default:
		pooled := ""
		if c.Pool {
			pooled = ", averaged over height and width"
		}
		fmt.Fprintf(env.stdout, "\ndefault embedding: %q%s (classifier: %s)\n", c.Tensor, pooled, c.Head)
	}
	return nil
}
