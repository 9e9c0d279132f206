// Package export writes trained few-shot models as ONNX files that package
// fewshot loads and that other ONNX runtimes can run.
//
// A model is described by a [Spec]: the embedding network as a list of
// layers ([Conv], [BatchNorm], [ReLU], [MaxPool], [Flatten], [Linear],
// [Sigmoid]) with their trained weights and batch-normalisation running
// statistics, the preprocessing the network was trained with, the metric,
// and for Relation Networks the relation module. [Model] turns it into an
// [onnxio.Model] with opset [Opset] and the metadata keys defined in package
// fewshot (fewshot.KeyPreprocess, ...); [WriteFile] writes it atomically.
//
// By default a BatchNorm that directly follows a Conv is folded into the
// convolution, so a Conv-4 backbone becomes Conv → Relu → MaxPool blocks and
// a Flatten: the same function in inference mode, and a graph that minimal
// runtimes run. Spec.KeepBatchNorm writes BatchNormalization nodes instead.
package export
