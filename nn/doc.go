// Package nn builds few-shot backbones on the engine: layers with explicit
// parameter lists, the Conv-4 and Relation Network architectures, and
// optimisers.
//
// # Functional parameters
//
// A [Network] owns its weights, returned by [Network.Params], but its
// forward pass takes the weights as an argument:
//
//	y := net.Forward(x, net.Params(), nn.Train)
//
// Any list with the same shapes may be passed instead, such as the adapted
// weights θ' = θ − α∇L(θ) of a MAML or L2G inner step built with [SGDStep]
// from a create-graph gradient. The result then depends on θ through θ', and
// engine.Grad differentiates through the inner step.
//
// # Batch-normalisation statistics
//
// Batch-normalisation running means and variances are model state, not
// parameters: they never receive gradients and are not in the parameter list
// ([Network.State] returns them for checkpoints). The [Mode] of a forward
// pass decides how they are used:
//
//   - [Train]: every BatchNorm layer normalises with the statistics of the
//     batch it is given, and gradients flow through those statistics. In a
//     meta-learning step each forward call therefore normalises one task's
//     batch with that task's own statistics (inner and outer losses alike),
//     as MAML and L2G do. Each call also updates the running averages once,
//     from that batch (momentum 0.1, unbiased variance).
//   - [TrainFrozenStats]: batch statistics as in Train, but the running
//     averages are left alone: for extra forward passes that must not count
//     twice, and for finite-difference checks.
//   - [Eval]: every BatchNorm layer normalises with the running averages, so
//     an image's embedding does not depend on the other images of the batch
//     (non-transductive evaluation).
//
// A forward pass in Train mode writes to the running statistics, so it must
// not run concurrently with another pass over the same Network.
package nn
