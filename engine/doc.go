// Package engine is the SDK's compute core: dense tensors and a reverse-mode
// automatic differentiation whose backward rules are themselves engine ops.
//
// Because every backward rule is written with differentiable ops, a gradient
// can be differentiated again. That is what second-order meta-learning needs:
// L2G and MAML take an inner step θ' = θ − α∇L_i(θ) and then differentiate a
// loss at θ' with respect to θ, through the inner gradient.
//
// # Values
//
// A [Tensor] is a dense row-major array of float32 or float64 (the type
// parameter T); images are NCHW. A [Var] wraps a tensor as a node of a
// computation graph. [Param] makes a leaf that gradients are taken with
// respect to; [Const] makes a leaf that is never differentiated. An op whose
// inputs are all constants records nothing and returns a constant, so
// inference on constants (or on parameters passed through [Detach]) costs no
// graph bookkeeping: that is the no-graph mode.
//
// # Gradients
//
// [Grad] returns the gradients of a scalar with respect to chosen variables.
// With createGraph false the backward pass runs on detached values and its
// results are constants: first-order training. With createGraph true the
// backward pass is itself recorded, so its results can be passed to Grad
// again (like PyTorch's autograd.grad with create_graph=True). [GradFree]
// is the first-order Grad for the last gradient of a graph: it drops the
// graph behind it as the backward pass goes, so that memory holds the
// graph's remaining part instead of all of it until the end (like
// PyTorch's default retain_graph=False).
//
// # Memory
//
// A recorded graph keeps every value an op consumed, since some backward
// rule may read it. Fused ops keep less: [BatchNormReLU2D] and
// [BatchNormReLUMaxPool2D] keep their input and output only, and their
// recorded backward passes keep no full-size intermediate gradient, which
// is most of the memory of a second-order step on a convolutional network.
//
// # Concurrency
//
// There is no global state: graphs built by different goroutines are
// independent. A Var and its Tensor must not be mutated while other
// goroutines use them. Kernels use the thread count set with [SetThreads].
//
// # Shapes
//
// Ops document the shapes they accept. A shape mismatch is a programming error
// and panics with a message naming the op and the shapes, as in gonum/mat.
package engine
