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
// →MaxPool chains fused into one step (and a BatchNormalization→Relu pair
// with no Conv before it), constant MatMul and Conv weights packed once,
// and intermediate buffers recycled after their last use; a Slice that is
// one run of its input shares the input's buffer. Shapes are checked per node when the plan runs,
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
//
// # Operators
//
// [Compile] runs the operators below from the default domain (ai.onnx) at
// opsets 1 to 18, in each form their versions define (attributes that later
// became inputs, changed defaults such as Softmax's axis). Data types are
// float32 and float64, and the integer and bool types where the operator
// defines them; float16, bfloat16 and string tensors are not executed. A
// node using an attribute or form not listed fails at Compile with an error
// naming it, rather than computing something else. A number in parentheses
// is the opset that introduced the operator or form. Every torchvision
// classification network that PyTorch exports at opsets 13 to 17 runs.
//
//   - Elementwise: Add, Sub, Mul, Div (numpy broadcasting; broadcast and
//     axis before opset 7), Pow, Sum, Mod (10; fmod 0 for integers, 1 for
//     any type), Relu, LeakyRelu, Sigmoid, Sqrt, Erf (9), HardSigmoid,
//     HardSwish (14), Clip (min/max attributes before 11, optional inputs
//     from 11, integer types from 12), Identity, Dropout (inference; in
//     training mode only with ratio 0, which drops nothing).
//   - Logic: Equal, Less, Greater (broadcast and axis before 7),
//     LessOrEqual, GreaterOrEqual (12), And, Or, Xor, Not, Where (9), Cast
//     (6; Cast-1's string type names too; not to or from float16, bfloat16
//     or string; no saturate, opset 19).
//   - Convolution and pooling: Conv (1-D to 3-D, groups, dilations,
//     auto_pad), BatchNormalization (inference statistics, and training mode
//     from 14), MaxPool (ceil_mode, dilations, indices output with
//     storage_order), AveragePool (count_include_pad), GlobalAveragePool,
//     LRN. Not ConvTranspose, GlobalMaxPool or LpPool.
//   - Linear algebra and normalization: Gemm, MatMul (batched, with
//     broadcast batch dims), Softmax and LogSoftmax (the 2-D coercion before
//     opset 13, one axis from 13), LayerNormalization (17; stash_type 1,
//     optional Mean and InvStdDev outputs), ReduceSum (axes as input from
//     13), ReduceMean (axes as input from 18). Not InstanceNormalization,
//     GroupNormalization or the other reductions.
//   - Shape and data movement: Reshape (shape attribute before 5,
//     allowzero), Flatten, Squeeze, Unsqueeze (axes attribute before 13,
//     input from 13), Transpose, Concat, Shape (start and end, 15), Gather,
//     Slice (attributes before 10, then inputs with steps), Split (split
//     attribute before 13, input from 13, num_outputs from 18), Expand (8),
//     Pad (pads attribute, named paddings in Pad-1, before 11, then inputs;
//     axes input from 18; constant, reflect and edge modes, not wrap),
//     ScatterND (11; reduction none, add or mul from 16, not max or min),
//     Constant, ConstantOfShape, Range (11).
//
// Not supported, among others: control flow (If, Loop, Scan), recurrent
// layers (LSTM, GRU, RNN), Resize and Upsample, GatherND, GatherElements,
// ScatterElements, Tile, TopK, ArgMax, NonZero, Einsum, Tanh, Exp, Log and
// the other unary functions not listed, quantized operators, and operators
// from other domains (com.microsoft).
//
// Nodes whose inputs are all constant are evaluated by Compile; the shape
// arithmetic that exporters emit around Reshape (Shape, Gather, Unsqueeze,
// Concat on a dynamic batch axis) runs on the actual shapes at run time,
// where it costs microseconds.
package onnxio
