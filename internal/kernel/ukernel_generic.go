//go:build purego || !amd64

package kernel

// sgemmKernel is the float32 micro-kernel in use.
var sgemmKernel = goKernel32

// sgemmKernels lists the float32 micro-kernels this CPU can run.
func sgemmKernels() []*microKernel[float32] { return []*microKernel[float32]{goKernel32} }
