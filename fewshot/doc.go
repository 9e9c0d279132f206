// Package fewshot classifies images among classes it learns from a handful
// of labelled examples, with a pretrained metric-based meta-learner stored
// as ONNX.
//
//	m, err := fewshot.LoadModel("omniglot-proto.onnx") // or fewshot.DefaultModel()
//	clf, err := fewshot.New(m)
//	preds, err := clf.Classify(supports, queries)
//
// Classify embeds the support examples, builds one prototype per label and
// scores each query against every class. Programs that classify many images
// against the same classes fit once and predict many times:
//
//	protos, err := clf.Fit(supports)
//	preds, err := protos.Predict(queries)   // any number of times, from any goroutine
//	err = protos.Add("new class", img1, img2) // grow incrementally
//	err = protos.SaveFile("classes.fsp")      // reload with clf.LoadPrototypes
//
// Evaluation code that already holds preprocessed tensors, such as the
// episodes of package episode decoded with [ModelInfo.Preprocess], takes the
// fast path: [Classifier.EmbedTensor] embeds them without decoding or
// resizing, and [Classifier.FitEmbeddings] and [Prototypes.PredictEmbeddings]
// work on embeddings, with the same results as Fit and Predict.
//
// No gradient step runs at inference: a class is added by embedding its
// images. The embedding graph runs on package onnxio's executor, and the
// package does not link the training code.
//
// # Models
//
// A model file is an ONNX embedding graph with one float32 input
// [N, C, H, W] and, in its metadata_props, the keys fewshot.Key* that
// package export writes: the image preprocessing (an episode.Preprocess, so
// inference transforms images exactly as training did), the input and
// embedding shapes, the [Metric], and informational fields. Any ONNX runtime
// can run the embedding graph alone. For the [Relation] metric the relation
// module travels inside the same file (see [KeyRelationModule]).
//
// [WithPreprocess] and [WithMetric] let a plain ONNX embedding model without
// that metadata be used. [WithLimits] bounds what decoding and running an
// untrusted file may allocate.
//
// # Bring your own backbone
//
// A pretrained ONNX classification network (a ResNet, MobileNet or
// EfficientNet exported from PyTorch, for instance) becomes a fewshot model
// with [ImportBackbone] or [ImportBackboneFile] (the command line has
// "fewshot import"): the graph is cut at the input of its final classifier
// layer, or at a tensor you name, and the metadata is attached, by default
// the ImageNet evaluation transform ([episode.ImageNetPreprocess]) and the
// [Euclidean] metric. Prototypes on such features need no training.
//
// # Classes and probabilities
//
// Classes are the distinct labels, sorted byte-wise; [Prediction.Scores] and
// [Prediction.Probs] follow that order. How scores become probabilities
// depends on the metric, see [Euclidean], [Cosine] and [Relation], and on
// the model's temperature T ([KeyTemperature], [Model.Temperature]):
// Probs = softmax([Metric.Logits](Scores) / T), which at T = 1 is the
// metric's rule. A temperature fitted on validation episodes ("fewshot
// calibrate", [FitTemperature]) makes the probabilities calibrated: among
// predictions made with confidence p, about a fraction p is right.
// [ComputeReliability] measures that as the expected calibration error.
//
// # Concurrency
//
// [Model], [Classifier] and [Prototypes] are safe for concurrent use by
// multiple goroutines. Prototypes readers never block on writers: each Add
// or Remove publishes a new immutable snapshot.
package fewshot
