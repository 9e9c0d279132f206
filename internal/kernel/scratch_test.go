package kernel

import (
	"runtime"
	"testing"
	"unsafe"
)

// Scratch comes back 64-byte aligned and of the asked length, and a holder
// handed back is reused for the next request of its size class, also after
// a garbage collection (which empties a sync.Pool).
func TestScratchReuse(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 1000, 1 << 20} {
		sp, s := getScratch[float32](n)
		if len(s) != n {
			t.Fatalf("getScratch(%d): length %d", n, len(s))
		}
		if n > 0 && uintptr(unsafe.Pointer(&s[0]))%64 != 0 {
			t.Errorf("getScratch(%d) is not 64-byte aligned", n)
		}
		putScratch(sp)
	}
	sp, s := getScratch[float64](300000)
	first := &s[0]
	putScratch(sp)
	runtime.GC()
	sp2, s2 := getScratch[float32](550000) // same class: 2^19 words
	if sp2 != sp || unsafe.Pointer(&s2[0]) != unsafe.Pointer(first) {
		t.Errorf("a filed scratch of the same class was not reused")
	}
	putScratch(sp2)
}

// Retention stops at scratchPerClass holders per class.
func TestScratchRetentionBounded(t *testing.T) {
	var held []*scratch
	for i := 0; i < 3*scratchPerClass; i++ {
		sp, _ := getScratch[float32](5000)
		held = append(held, sp)
	}
	for _, sp := range held {
		putScratch(sp)
	}
	c := scratchClass((5000*4+7)/8 + 8)
	scratchFree.mu.Lock()
	n := len(scratchFree.lists[c])
	scratchFree.mu.Unlock()
	if n != scratchPerClass {
		t.Errorf("class %d keeps %d holders, want %d", c, n, scratchPerClass)
	}
	if scratchClass(64) != minScratchClass || scratchClass(65) != 7 || scratchClass(1<<20) != 20 || scratchClass(1<<20+1) != 21 {
		t.Errorf("scratchClass boundaries wrong")
	}
}
