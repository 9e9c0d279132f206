// Package peers holds benchmarks of a peer Go deep-learning library,
// gorgonia (gorgonia.org/gorgonia v0.9.18), on the workloads the fewshot SDK
// measures itself on: the Conv-4 embedding network's forward pass and
// first-order training step at batch 80 on 84×84×3 images, and a 1024³
// float32 matrix product. It is a separate module so that gorgonia stays out
// of the SDK's go.mod; the SDK's own benchmarks live beside its packages.
package peers
