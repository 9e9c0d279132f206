package onnxio

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
	// Constant node values. Default 1 GiB.
	MaxInitializerBytes int64
	// MaxNodes bounds the node count of a graph, subgraphs included.
	// Default 1<<20.
	MaxNodes int
	// MaxGraphDepth bounds the nesting of graphs inside node attributes.
	// Default 16.
	MaxGraphDepth int
	// MaxRank bounds the number of dims of any tensor or shape. Default 32.
	MaxRank int
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
