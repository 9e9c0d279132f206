package kernel

import (
	"math/bits"
	"sync"
	"unsafe"
)

// scratch is reusable, 64-byte aligned working memory. One pool serves both
// element types; the backing store is raw words so the GC never scans it.
type scratch struct{ words []uint64 }

// Scratch is kept in free lists by power-of-two size class rather than in a
// sync.Pool: a pool is emptied by every garbage collection, and training
// collects often, so packed panels and transform buffers of several
// megabytes were allocated afresh each step; first writes to fresh pages
// cost far more than the packing itself on some virtual machines.
// Retention is bounded per class and in total.
const (
	minScratchClass    = 6 // 64 words
	scratchPerClass    = 8
	scratchRetainBytes = 1 << 30
)

var scratchFree struct {
	mu    sync.Mutex
	bytes int
	lists [64][]*scratch
}

// scratchClass returns the size class holding words words: the smallest c
// with 1<<c ≥ words.
func scratchClass(words int) int {
	if words <= 1<<minScratchClass {
		return minScratchClass
	}
	return bits.Len(uint(words - 1))
}

// getScratch returns n elements of uninitialised working memory and the
// holder to hand back to putScratch when done.
func getScratch[T Float](n int) (*scratch, []T) {
	var zero T
	words := (n*int(unsafe.Sizeof(zero))+7)/8 + 8 // 8 spare words for alignment
	c := scratchClass(words)
	var sp *scratch
	f := &scratchFree
	f.mu.Lock()
	if l := f.lists[c]; len(l) > 0 {
		sp = l[len(l)-1]
		l[len(l)-1] = nil
		f.lists[c] = l[:len(l)-1]
		f.bytes -= 8 * len(sp.words)
	}
	f.mu.Unlock()
	if sp == nil {
		sp = &scratch{words: make([]uint64, 1<<c)}
	}
	if n == 0 {
		return sp, nil
	}
	p := unsafe.Pointer(unsafe.SliceData(sp.words))
	p = unsafe.Add(p, (64-uintptr(p)%64)%64)
	return sp, unsafe.Slice((*T)(p), n)
}

// putScratch files sp for reuse, or drops it when its class or the total
// retained is full.
func putScratch(sp *scratch) {
	c := scratchClass(len(sp.words))
	size := 8 * len(sp.words)
	f := &scratchFree
	f.mu.Lock()
	if len(f.lists[c]) < scratchPerClass && f.bytes+size <= scratchRetainBytes {
		f.lists[c] = append(f.lists[c], sp)
		f.bytes += size
	}
	f.mu.Unlock()
}
