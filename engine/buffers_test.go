package engine

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// pooledLen is a length large enough to be recycled.
const pooledLen = minPooled/4 + 100

// waitFiled collects until the free list of n float32s holds an array, or
// fails after a while.
func waitFiled(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(time.Millisecond)
		pool32.mu.Lock()
		k := len(pool32.free[n])
		pool32.mu.Unlock()
		if k > 0 {
			return
		}
	}
	t.Fatalf("no array of %d float32s was recycled", n)
}

func TestRecycledTensorsAreZero(t *testing.T) {
	fill := func() {
		x := New[float32](pooledLen)
		for i := range x.data {
			x.data[i] = 3
		}
	}
	fill()
	waitFiled(t, pooledLen)
	for range 4 {
		y := New[float32](pooledLen)
		for i, v := range y.data {
			if v != 0 {
				t.Fatalf("recycled tensor has %v at %d, want 0", v, i)
			}
		}
		for i := range y.data {
			y.data[i] = 5
		}
		y = nil
		runtime.GC()
	}
}

// A slice kept from a tensor's data keeps the whole array out of the free
// lists, even after the tensor itself is gone.
func TestRecyclingSparesKeptSlices(t *testing.T) {
	var kept []float32
	func() {
		x := New[float32](pooledLen)
		for i := range x.data {
			x.data[i] = 1
		}
		kept = x.Data()[pooledLen-10:]
	}()
	// Make and drop many arrays of the same length, so that a wrongly
	// recycled array would be handed out and overwritten.
	for range 20 {
		y := New[float32](pooledLen)
		for i := range y.data {
			y.data[i] = 7
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	for i, v := range kept {
		if v != 1 {
			t.Fatalf("kept slice changed at %d: %v, want 1", i, v)
		}
	}
	// A reshaped view does the same.
	var view *Tensor[float32]
	func() {
		x := New[float32](pooledLen)
		for i := range x.data {
			x.data[i] = 2
		}
		view = x.Reshape(1, pooledLen)
	}()
	for range 20 {
		y := New[float32](pooledLen)
		for i := range y.data {
			y.data[i] = 7
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	for i, v := range view.data {
		if v != 2 {
			t.Fatalf("view changed at %d: %v, want 2", i, v)
		}
	}
}

func TestRecyclingSizes(t *testing.T) {
	for _, n := range []int{0, 1, minPooled / 4, pooledLen} {
		if got := len(makeData[float32](n)); got != n {
			t.Errorf("makeData(%d) has %d elements", n, got)
		}
		if got := len(makeData[float64](n)); got != n {
			t.Errorf("makeData[float64](%d) has %d elements", n, got)
		}
		if got := len(makeIndex(n)); got != n {
			t.Errorf("makeIndex(%d) has %d elements", n, got)
		}
	}
}

// Many goroutines allocating and dropping pooled tensors at once (run
// under -race in CI) each see only their own values.
func TestRecyclingConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range 10 {
				x := New[float32](pooledLen + g)
				for i, v := range x.data {
					if v != 0 {
						t.Errorf("goroutine %d, iteration %d: element %d is %v, want 0", g, it, i, v)
						return
					}
				}
				for i := range x.data {
					x.data[i] = float32(g + 1)
				}
				if it%3 == 0 {
					runtime.GC()
				}
			}
		}()
	}
	wg.Wait()
}
