package kernel

import (
	"sync"
	"unsafe"
)

// scratch is reusable, 64-byte aligned working memory. One pool serves both
// element types; the backing store is raw words so the GC never scans it.
type scratch struct{ words []uint64 }

var scratchPool sync.Pool

// getScratch returns n elements of uninitialised working memory and the
// holder to hand back to putScratch when done.
func getScratch[T Float](n int) (*scratch, []T) {
	sp, _ := scratchPool.Get().(*scratch)
	if sp == nil {
		sp = new(scratch)
	}
	var zero T
	words := (n*int(unsafe.Sizeof(zero))+7)/8 + 8 // 8 spare words for alignment
	if cap(sp.words) < words {
		sp.words = make([]uint64, words)
	}
	if n == 0 {
		return sp, nil
	}
	p := unsafe.Pointer(unsafe.SliceData(sp.words))
	p = unsafe.Add(p, (64-uintptr(p)%64)%64)
	return sp, unsafe.Slice((*T)(p), n)
}

func putScratch(sp *scratch) { scratchPool.Put(sp) }
