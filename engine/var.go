package engine

// Var is a value in a computation graph: a tensor plus, for a value computed
// from parameters, the op that produced it and how to differentiate it.
type Var[T Float] struct {
	value *Tensor[T]
	// tracked is true for parameters and for every value computed from one:
	// exactly the values that gradients can flow through.
	tracked bool
	fn      *node[T]
	name    string
	// released marks a computed value whose node GradFree dropped;
	// releasedOp keeps the op's name for the panic that guards it.
	released   bool
	releasedOp string
	// fresh marks an untracked result whose tensor its op has just
	// allocated and that nothing else refers to. A gradient pass without
	// a graph may then keep the tensor as the sum of a value's gradient
	// and add further contributions into it in place. A backward function
	// must therefore never return a fresh value together with a view of
	// it (gradSeed catches the same value returned twice).
	fresh bool
	// deposit, when set, is a gradient contribution that a backward pass
	// without a graph returns unmaterialised: value holds only the shape,
	// and deposit(dst, false) adds the contribution into dst; with
	// overwrite it writes every element of dst instead. The gradient pass
	// adds it straight into the sum of the value's gradient, so it is never
	// built as a tensor of its own when there is a sum to add to. Only
	// gradSeed's accumulate sees such a Var.
	deposit func(dst []T, overwrite bool)
	// depositImage, when set on a deferred contribution to an NCHW value,
	// writes image n's part of it (every element) into dst, and may be
	// called for several images at a time. A backward function that
	// consumes its output gradient an image at a time (the first
	// convolution's filter gradient, see Conv2D) takes such a contribution
	// as it is when it is the whole gradient, and the gradient is never
	// built at full size.
	depositImage func(n int, dst []T)
	// affine, when set beside depositImage, splits the contribution into
	// b[c]·of + d[c] per channel c, of being the data of the value that
	// the contribution's op read (a batch norm's input), plus a part that
	// affine.sparse writes an image at a time. A convolution whose own
	// output is of computes the first part's filter gradient from its
	// input's patch Gram matrix, without reading of (see Conv2D).
	affine *affineParts[T]
	// pooled, when set on a deferred contribution, is its form as a
	// gradient with respect to a fused batch norm's input, so that a second
	// contribution of that form to the same value merges with it (see
	// poolGrad) instead of making both be built.
	pooled *poolGrad[T]
	// wino, when set on a deferred contribution, is the Winograd
	// convolution that computes it, so that a second one of the same
	// geometry to the same value shares its pass (see winoTerm).
	wino *winoTerm
	// lazy, when set on a value recorded by a gradient pass with a graph,
	// is the deferred contribution (see deposit) that holds its value:
	// until ensure builds it, value has the shape but no data. The first
	// convolution's recorded backward pass takes its filter gradient from
	// lazy an image at a time (see Conv2D), so that a first layer's
	// recorded input gradient, the largest tensor of the pass, is never
	// built; every other consumer gets it built by gradSeed.
	lazy *Var[T]
	// planeSums, on a deferred contribution or on a gradient sum of an
	// NCHW value, are its sums over N, H and W per channel, known from how
	// it was computed (nil: unknown). The sum that follows batch
	// normalisation is the bias gradient of the convolution before it,
	// which then needs no pass over the largest tensor of a step. Whatever
	// adds into the value in place must update or drop them.
	planeSums []float64
}

// affineParts is the split of a deferred contribution described at
// Var.affine.
type affineParts[T Float] struct {
	of     []T
	b, d   []T
	sparse func(n int, dst []T)
}

// freshConst returns an untracked value holding t, which the caller has just
// allocated and hands over (see Var.fresh).
func freshConst[T Float](t *Tensor[T]) *Var[T] { return &Var[T]{value: t, fresh: true} }

// markFresh marks v fresh if it is untracked: for ops whose result is a
// tensor they have just allocated.
func markFresh[T Float](v *Var[T]) *Var[T] {
	if !v.tracked {
		v.fresh = true
	}
	return v
}

// deferred returns a gradient contribution of the given shape that deposit
// adds into (or writes over) a destination when the gradient pass needs it
// (see Var.deposit).
func deferred[T Float](shape []int, deposit func(dst []T, overwrite bool)) *Var[T] {
	return &Var[T]{value: &Tensor[T]{shape: shape}, deposit: deposit}
}

// deferredWithSums is deferred for a contribution whose plane sums are
// known (see Var.planeSums).
func deferredWithSums[T Float](shape []int, sums []float64, deposit func(dst []T, overwrite bool)) *Var[T] {
	v := deferred(shape, deposit)
	v.planeSums = sums
	return v
}

// addPlaneSums returns the plane sums of the sum of two values with plane
// sums a and b: nil unless both are known.
func addPlaneSums(a, b []float64) []float64 {
	if a == nil || b == nil || len(a) != len(b) {
		return nil
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] + b[i]
	}
	return out
}

// materialize returns v itself, or for a deferred contribution a fresh value
// holding it.
func materialize[T Float](v *Var[T]) *Var[T] {
	if v.deposit == nil {
		return v
	}
	t := newOverwritten[T](v.value.shape...)
	v.deposit(t.data, true)
	out := freshConst(t)
	out.planeSums = v.planeSums
	return out
}

// ensure builds the value of a lazy v (see Var.lazy) and returns v.
func ensure[T Float](v *Var[T]) *Var[T] {
	if v.lazy != nil {
		v.value.data = makeOverwritten[T](numElements(v.value.shape))
		v.lazy.deposit(v.value.data, true)
		v.lazy = nil
	}
	return v
}

// backwardFunc computes the gradients of an op's inputs from g, the gradient
// of its output. It must be written with engine ops only, using in and out
// (never Vars captured from the forward pass), so that the engine can run it
// either on the recorded graph (create-graph mode) or on detached copies.
// need[i] reports whether input i's gradient is wanted; the result may hold
// nil where it is not, or where the input has no gradient.
type backwardFunc[T Float] func(g, out *Var[T], in []*Var[T], need []bool) []*Var[T]

// node records how a tracked value was computed.
type node[T Float] struct {
	op       string
	inputs   []*Var[T]
	backward backwardFunc[T]
	// imagewise: backward accepts, without a graph, an output gradient
	// that is deferred with depositImage set, unmaterialised.
	imagewise bool
}

// Param returns a leaf variable that gradients can be taken with respect to.
// The tensor is not copied.
func Param[T Float](t *Tensor[T]) *Var[T] { return &Var[T]{value: t, tracked: true} }

// Const returns a leaf variable that is never differentiated. Ops on
// constants only record nothing.
func Const[T Float](t *Tensor[T]) *Var[T] { return &Var[T]{value: t} }

// Detach returns a constant sharing v's value: gradients do not flow through it.
func Detach[T Float](v *Var[T]) *Var[T] { return &Var[T]{value: v.value, name: v.name} }

// DetachAll applies Detach to each variable.
func DetachAll[T Float](vs []*Var[T]) []*Var[T] {
	out := make([]*Var[T], len(vs))
	for i, v := range vs {
		out[i] = Detach(v)
	}
	return out
}

// Value returns the variable's tensor. The caller must not modify it while
// the graph is in use.
func (v *Var[T]) Value() *Tensor[T] { return v.value }

// Shape returns the shape of the variable's value.
func (v *Var[T]) Shape() []int { return v.value.shape }

// Tracked reports whether gradients can flow through v (it is a parameter or
// was computed from one).
func (v *Var[T]) Tracked() bool { return v.tracked }

// Op returns the name of the op that computed v, or "" for a leaf.
func (v *Var[T]) Op() string {
	if v.released {
		return v.releasedOp
	}
	if v.fn == nil {
		return ""
	}
	return v.fn.op
}

// Name returns the name set with SetName.
func (v *Var[T]) Name() string { return v.name }

// SetName attaches a name for error messages and debugging, and returns v.
func (v *Var[T]) SetName(name string) *Var[T] { v.name = name; return v }

// Item returns the single element of a one-element variable.
func (v *Var[T]) Item() T { return v.value.Item() }

// record returns the op's result: a constant when no input is tracked (the
// no-graph fast path), otherwise a tracked value remembering how to
// differentiate it.
func record[T Float](op string, value *Tensor[T], backward backwardFunc[T], inputs ...*Var[T]) *Var[T] {
	for _, in := range inputs {
		if in.tracked {
			return &Var[T]{value: value, tracked: true, fn: &node[T]{op: op, inputs: inputs, backward: backward}}
		}
	}
	return &Var[T]{value: value}
}
