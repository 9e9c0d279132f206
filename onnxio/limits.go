package onnxio

import "math"

// Limits bounds what a decode or a run may allocate, so that a hostile or
// corrupt file fails with an error instead of exhausting memory. Every limit
// is checked before the memory it guards is allocated. The zero value of a
// field means "use the default".
type Limits struct {
	// MaxModelBytes bounds the size of a serialized model or tensor file.
	// Default 1 GiB.
	MaxModelBytes int64
	// MaxTensorElements bounds the element count of any one tensor, whether
	// read from a file or produced while running. Default 1<<30.
	MaxTensorElements int64
	// MaxInitializerBytes bounds the summed data size of all initializers and
	// Constant node values, and of the constants [Compile] computes by
	// folding (checked before each folded result is allocated).
	// Default 1 GiB.
	MaxInitializerBytes int64
	// MaxNodes bounds the node count of a graph, subgraphs included.
	// Default 1<<20.
	MaxNodes int
	// MaxGraphDepth bounds the nesting of graphs inside node attributes.
	// Default 16.
	MaxGraphDepth int
	// MaxRank bounds the number of dims of any tensor or shape. Default 32.
	MaxRank int
	// MaxNodeOps bounds the work of one node in one evaluation, counted as
	// multiply-adds for Conv, Gemm and MatMul, window taps for pooling and
	// LRN, and elements written for every op. The size of a file says
	// little about the work it asks for: a few hundred bytes can describe
	// a convolution of 10^12 multiply-adds, so such a node fails with an
	// error naming it instead of running for hours. Default 1<<40 (about
	// 10^12, minutes of CPU time).
	MaxNodeOps int64
	// MaxFoldOps bounds the total work, counted as for MaxNodeOps, that
	// [Compile] spends evaluating nodes whose inputs are all constant.
	// Real models fold shape arithmetic and small tensors; a hostile one
	// can make Compile itself, before any input is seen, do unbounded
	// work. Default 1<<32.
	MaxFoldOps int64
}

// DefaultLimits returns the limits used when no option overrides them.
func DefaultLimits() Limits {
	return Limits{
		MaxModelBytes:       1 << 30,
		MaxTensorElements:   1 << 30,
		MaxInitializerBytes: 1 << 30,
		MaxNodes:            1 << 20,
		MaxGraphDepth:       16,
		MaxRank:             32,
		MaxNodeOps:          1 << 40,
		MaxFoldOps:          1 << 32,
	}
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxModelBytes <= 0 {
		l.MaxModelBytes = d.MaxModelBytes
	}
	if l.MaxTensorElements <= 0 {
		l.MaxTensorElements = d.MaxTensorElements
	}
	if l.MaxInitializerBytes <= 0 {
		l.MaxInitializerBytes = d.MaxInitializerBytes
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = d.MaxNodes
	}
	if l.MaxGraphDepth <= 0 {
		l.MaxGraphDepth = d.MaxGraphDepth
	}
	if l.MaxRank <= 0 {
		l.MaxRank = d.MaxRank
	}
	if l.MaxNodeOps <= 0 {
		l.MaxNodeOps = d.MaxNodeOps
	}
	if l.MaxFoldOps <= 0 {
		l.MaxFoldOps = d.MaxFoldOps
	}
	return l
}

// Option adjusts how a model is decoded or compiled.
type Option func(*options)

type options struct {
	limits Limits
}

func buildOptions(opts []Option) options {
	o := options{limits: DefaultLimits()}
	for _, f := range opts {
		f(&o)
	}
	o.limits = o.limits.withDefaults()
	return o
}

// WithLimits replaces the default limits; zero fields keep their defaults.
func WithLimits(l Limits) Option {
	return func(o *options) { o.limits = l }
}

// mulSat returns the product of non-negative factors, saturating at
// math.MaxInt64 so that a cost computed from hostile dims cannot wrap.
func mulSat(fs ...int) int64 {
	p := int64(1)
	for _, f := range fs {
		p = mulSat64(p, int64(f))
	}
	return p
}

// mulSat64 multiplies non-negative a and b, saturating at math.MaxInt64.
func mulSat64(a, b int64) int64 {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// addSat adds non-negative a and b, saturating at math.MaxInt64.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
