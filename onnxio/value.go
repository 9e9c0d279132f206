package onnxio

import (
	"fmt"
	"math/bits"
	"sync"
	"unsafe"
)

// number is the set of element types arithmetic runs on.
type number interface {
	~float32 | ~float64 | integer
}

type integer interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

type float interface{ ~float32 | ~float64 }

// value is a tensor during execution: an element type, a shape and a typed
// Go slice ([]float32, []int64, ...). Values are never written once another
// step can see them, except by in-place ops that own their buffer.
type value struct {
	dt    DataType
	shape []int
	data  any
	// buf is non-nil when the data came from the float32 pool during this
	// run; aliases (Reshape, Identity, ...) share it.
	buf *buffer
}

// buffer is a pooled float32 allocation shared by the values that alias it.
// Refs counts live slots referencing it; it is used by one run only.
type buffer struct {
	f    []float32
	refs int
}

func (v *value) len() int { return lenOf(v.data) }

func (v *value) f32() []float32 { return v.data.([]float32) }

func lenOf(data any) int {
	switch s := data.(type) {
	case []float32:
		return len(s)
	case []float64:
		return len(s)
	case []int64:
		return len(s)
	case []int32:
		return len(s)
	case []int16:
		return len(s)
	case []int8:
		return len(s)
	case []uint64:
		return len(s)
	case []uint32:
		return len(s)
	case []uint16:
		return len(s)
	case []uint8:
		return len(s)
	case []bool:
		return len(s)
	}
	panic(fmt.Sprintf("onnxio: unexpected data %T", data))
}

// newData allocates a zeroed slice of n elements of type dt.
func newData(dt DataType, n int) any {
	switch dt {
	case Float:
		return make([]float32, n)
	case Double:
		return make([]float64, n)
	case Int64:
		return make([]int64, n)
	case Int32:
		return make([]int32, n)
	case Int16:
		return make([]int16, n)
	case Int8:
		return make([]int8, n)
	case Uint64:
		return make([]uint64, n)
	case Uint32:
		return make([]uint32, n)
	case Uint16:
		return make([]uint16, n)
	case Uint8:
		return make([]uint8, n)
	case Bool:
		return make([]bool, n)
	}
	panic("onnxio: newData: unsupported type " + dt.String())
}

func dataTypeOf(data any) DataType {
	switch data.(type) {
	case []float32:
		return Float
	case []float64:
		return Double
	case []int64:
		return Int64
	case []int32:
		return Int32
	case []int16:
		return Int16
	case []int8:
		return Int8
	case []uint64:
		return Uint64
	case []uint32:
		return Uint32
	case []uint16:
		return Uint16
	case []uint8:
		return Uint8
	case []bool:
		return Bool
	}
	return Undefined
}

// float64s converts any element type to float64 (a copy).
func (v *value) float64s() []float64 {
	n := v.len()
	out := make([]float64, n)
	switch s := v.data.(type) {
	case []float32:
		convertF(out, s)
	case []float64:
		copy(out, s)
	case []int64:
		convertF(out, s)
	case []int32:
		convertF(out, s)
	case []int16:
		convertF(out, s)
	case []int8:
		convertF(out, s)
	case []uint64:
		convertF(out, s)
	case []uint32:
		convertF(out, s)
	case []uint16:
		convertF(out, s)
	case []uint8:
		convertF(out, s)
	case []bool:
		for i, b := range s {
			if b {
				out[i] = 1
			}
		}
	}
	return out
}

func convertF[S number](dst []float64, src []S) {
	for i, x := range src {
		dst[i] = float64(x)
	}
}

// ints returns the values of an integer tensor as ints (shape/axes inputs).
func (v *value) ints() ([]int, error) {
	out := make([]int, v.len())
	switch s := v.data.(type) {
	case []int64:
		for i, x := range s {
			out[i] = int(x)
		}
	case []int32:
		for i, x := range s {
			out[i] = int(x)
		}
	default:
		return nil, fmt.Errorf("want an int32 or int64 tensor, got %v", v.dt)
	}
	return out, nil
}

// bytesView reinterprets the value's elements as a slice of an unsigned
// type of the same size, for data-movement ops that only copy elements.
func bytesView(data any) (p unsafe.Pointer, n, size int) {
	n = lenOf(data)
	size = dataTypeOf(data).Size()
	if n == 0 {
		return nil, 0, size
	}
	switch s := data.(type) {
	case []float32:
		p = unsafe.Pointer(&s[0])
	case []float64:
		p = unsafe.Pointer(&s[0])
	case []int64:
		p = unsafe.Pointer(&s[0])
	case []int32:
		p = unsafe.Pointer(&s[0])
	case []int16:
		p = unsafe.Pointer(&s[0])
	case []int8:
		p = unsafe.Pointer(&s[0])
	case []uint64:
		p = unsafe.Pointer(&s[0])
	case []uint32:
		p = unsafe.Pointer(&s[0])
	case []uint16:
		p = unsafe.Pointer(&s[0])
	case []uint8:
		p = unsafe.Pointer(&s[0])
	case []bool:
		p = unsafe.Pointer(&s[0])
	}
	return p, n, size
}

// moveElems calls one of the four instantiations of fn that matches the
// element size of src and dst (which must have the same type).
func moveElems(src, dst any, f8 func(s, d []uint8), f16 func(s, d []uint16), f32 func(s, d []uint32), f64 func(s, d []uint64)) {
	sp, sn, size := bytesView(src)
	dp, dn, _ := bytesView(dst)
	switch size {
	case 1:
		f8(unsafe.Slice((*uint8)(sp), sn), unsafe.Slice((*uint8)(dp), dn))
	case 2:
		f16(unsafe.Slice((*uint16)(sp), sn), unsafe.Slice((*uint16)(dp), dn))
	case 4:
		f32(unsafe.Slice((*uint32)(sp), sn), unsafe.Slice((*uint32)(dp), dn))
	case 8:
		f64(unsafe.Slice((*uint64)(sp), sn), unsafe.Slice((*uint64)(dp), dn))
	}
}

// float32 pool: size classes are powers of two, so a released buffer can
// serve any later request of up to its capacity.
var f32Pools [48]sync.Pool

func poolClass(n int) int { return bits.Len(uint(n - 1)) }

func getF32(n int) *buffer {
	if n == 0 {
		return &buffer{f: []float32{}, refs: 1}
	}
	c := poolClass(n)
	if b, ok := f32Pools[c].Get().(*buffer); ok {
		b.f = b.f[:n]
		b.refs = 1
		return b
	}
	return &buffer{f: make([]float32, n, 1<<c), refs: 1}
}

func putF32(b *buffer) {
	if cap(b.f) == 0 {
		return
	}
	c := poolClass(cap(b.f))
	if 1<<c != cap(b.f) {
		return
	}
	f32Pools[c].Put(b)
}

func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func shapeEq(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// viewsOf reinterprets each typed slice in datas as a []T of the same
// element size (see bytesView).
func viewsOf[T any](datas []any) [][]T {
	out := make([][]T, len(datas))
	for i, d := range datas {
		p, n, _ := bytesView(d)
		out[i] = unsafe.Slice((*T)(p), n)
	}
	return out
}
