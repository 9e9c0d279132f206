package engine

import (
	"runtime"
	"sync"
	"unsafe"
)

// Large arrays are recycled rather than left to the garbage collector.
//
// A training step allocates the same few hundred megabytes of activations
// and gradients every time. Freed by the collector, that memory goes back to
// the operating system, and the next step pays a page fault for every 4 KiB
// it touches again: on the virtual machines this project runs on, a first
// write to fresh memory costs about 40 times a second write, and the faults
// took more than half of a Conv-4 training step. So the backing array of
// every large tensor (and pooling index) carries a finalizer: once nothing
// refers to any part of it — no tensor, no view, no slice a caller kept from
// Data — the finalizer files it in a free list by length, and the next
// request of that length gets it back, zeroed. The finalizer only runs when
// the array is unreachable, so sharing and aliasing stay exactly as safe as
// with make.

// minPooled is the smallest array, in bytes, that is recycled: smaller ones
// live in the runtime's size-classed spans, which it reuses well itself.
const minPooled = 256 << 10

// maxPooledBytes bounds the memory each free list keeps idle; an array that
// would exceed it is left to the collector.
const maxPooledBytes = 4 << 30

// collectAfter is how much fresh memory may be allocated between forced
// collections. The collector paces itself by heap growth, which recycling
// hides: without a nudge, the arrays of earlier steps would wait for their
// finalizers while fresh ones were faulted in.
const collectAfter = 128 << 20

type elem interface{ ~float32 | ~float64 | ~int32 }

// arrayPool is the free lists of one element type.
type arrayPool[E elem] struct {
	mu    sync.Mutex
	free  map[int][][]E // by length
	bytes int           // held in free
	fresh int           // bytes allocated anew since the last forced collection
}

var (
	pool32  = &arrayPool[float32]{free: map[int][][]float32{}}
	pool64  = &arrayPool[float64]{free: map[int][][]float64{}}
	poolI32 = &arrayPool[int32]{free: map[int][][]int32{}}
)

// makeData returns n zeroed elements, recycled when n is large.
func makeData[T Float](n int) []T { return makeFloats[T](n, true) }

// makeOverwritten returns n elements, recycled when n is large, that the
// caller overwrites every one of before reading any: a recycled array keeps
// its old values. Zeroing the large arrays of a training step that a kernel
// then overwrites cost about 4 % of the step.
func makeOverwritten[T Float](n int) []T { return makeFloats[T](n, false) }

func makeFloats[T Float](n int, zeroed bool) []T {
	var zero T
	switch any(zero).(type) {
	case float32:
		return any(pool32.make(n, zeroed)).([]T)
	case float64:
		return any(pool64.make(n, zeroed)).([]T)
	}
	return make([]T, n)
}

// newOverwritten is New for a tensor that the caller overwrites entirely
// before reading it (see makeOverwritten).
func newOverwritten[T Float](shape ...int) *Tensor[T] {
	return &Tensor[T]{shape: cloneInts(shape), data: makeOverwritten[T](numElements(shape))}
}

// makeIndex returns n int32s (pooling arg-max indices), recycled when n is
// large, for the caller to overwrite entirely (see makeOverwritten).
func makeIndex(n int) []int32 { return poolI32.make(n, false) }

// make returns n elements, from the free list when it has an array of that
// length, zeroed if zeroed is set (a new array is always zero).
func (p *arrayPool[E]) make(n int, zeroed bool) []E {
	var zero E
	size := n * int(unsafe.Sizeof(zero))
	if size < minPooled {
		return make([]E, n)
	}
	buf := p.take(n, size)
	if buf == nil && p.collectDue(size) {
		runtime.GC()
		runtime.Gosched() // let the finalizers file what the collection found
		buf = p.take(n, size)
	}
	if buf == nil {
		buf = make([]E, n)
	} else if zeroed {
		clear(buf)
	}
	runtime.SetFinalizer(&buf[0], p.recycler(n, size))
	return buf
}

// take removes an n-element array from the free list, or returns nil.
func (p *arrayPool[E]) take(n, size int) []E {
	p.mu.Lock()
	defer p.mu.Unlock()
	list := p.free[n]
	if len(list) == 0 {
		return nil
	}
	buf := list[len(list)-1]
	list[len(list)-1] = nil
	p.free[n] = list[:len(list)-1]
	p.bytes -= size
	return buf
}

// collectDue counts size fresh bytes and reports whether a collection is
// due.
func (p *arrayPool[E]) collectDue(size int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fresh += size
	if p.fresh < collectAfter {
		return false
	}
	p.fresh = 0
	return true
}

// recycler returns the finalizer of an n-element array: it files the array
// under its length, or drops it when the list is full.
func (p *arrayPool[E]) recycler(n, size int) func(*E) {
	return func(first *E) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.bytes+size > maxPooledBytes {
			return
		}
		p.free[n] = append(p.free[n], unsafe.Slice(first, n))
		p.bytes += size
	}
}
