// Package onnxio reads, writes and runs ONNX models without cgo.
//
// The protobuf wire format is decoded and encoded by hand (with
// google.golang.org/protobuf/encoding/protowire) into plain Go structs —
// [Model], [Graph], [Node], [Attribute], [ValueInfo] and [Tensor] — that
// mirror the ONNX messages of the same names. Fields this package does not
// know are skipped when reading, so newer files still load.
//
// Files come from the internet, so every decode is bounded by [Limits]:
// sizes are checked before anything is allocated, and malformed input is
// reported as an error that names the offending tensor, node or field; it
// never panics. Compiling and running are bounded as well, since a file of
// a few hundred bytes can ask for a convolution of 10^12 multiply-adds:
// each node's work is checked against Limits.MaxNodeOps before it runs,
// the constant subgraphs Compile evaluates share the Limits.MaxFoldOps
// budget, and their results count against Limits.MaxInitializerBytes.
//
// [Compile] turns a graph into a [Plan]: nodes in topological order,
// initializers and Constant subgraphs folded, Conv→BatchNormalization→Relu
// →MaxPool chains fused into one step, and intermediate buffers recycled
// after their last use. Shapes are checked per node when the plan runs,
// since graph inputs may have symbolic dims.
// A Plan is safe for concurrent use by several goroutines.
//
// # Writing models
//
// Build a Model from the plain structs and the small constructors
// ([NewFloatTensor], [AttrInt], [AttrInts], ...), then call [Model.Encode].
// Opset 17 ([RecommendedOpset]) is the recommended target: it is widely
// supported by runtimes and every operator this package executes has its
// modern form there (axes as inputs for Squeeze/Unsqueeze/ReduceSum,
// single-axis Softmax, BatchNormalization-15).
package onnxio
