package engine

import (
	"math"
	"math/rand/v2"
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

// poisonFreeLists overwrites every array waiting in the free lists with
// values no computation should ever see: NaN, and arg-max indices far out
// of range.
func poisonFreeLists() {
	runtime.GC()
	time.Sleep(10 * time.Millisecond)
	runtime.GC()
	pool32.mu.Lock()
	for _, list := range pool32.free {
		for _, a := range list {
			for i := range a {
				a[i] = float32(math.NaN())
			}
		}
	}
	pool32.mu.Unlock()
	poolI32.mu.Lock()
	for _, list := range poolI32.free {
		for _, a := range list {
			for i := range a {
				a[i] = math.MaxInt32
			}
		}
	}
	poolI32.mu.Unlock()
}

// Arrays handed out without zeroing (makeOverwritten, makeIndex) must be
// written in full by their ops: the first and second derivatives of a
// Conv → BN → ReLU → max-pool block come out bit for bit the same when
// every recycled array held NaN before.
func TestOverwrittenArraysIgnoreStaleValues(t *testing.T) {
	run := func() [][]float32 {
		rng := rand.New(rand.NewPCG(7, 8))
		x := Param(RandNormal[float32](rng, 1, 8, 16, 64, 64))
		w := Param(RandNormal[float32](rng, 0.1, 16, 16, 3, 3))
		b := Param(RandNormal[float32](rng, 0.1, 16))
		gamma := Param(RandNormal[float32](rng, 0.1, 16))
		beta := Param(RandNormal[float32](rng, 0.1, 16))
		wrt := []*Var[float32]{x, w, b, gamma, beta}
		h := Conv2D(x, w, b, ConvSame(1, 1))
		h = BatchNormReLUMaxPool2D(h, gamma, beta, NewBNState[float32](16), true, PoolSquare(2, 2))
		h = MaxPool2D(Conv2D(h, w, nil, ConvSame(1, 1)), PoolSquare(2, 2))
		y := Sum(Mul(h, h))
		first := Grad(y, wrt, true)
		var out [][]float32
		pen := Sum(Mul(first[1], first[1]))
		for _, g := range first {
			out = append(out, g.Value().Data())
		}
		for _, g := range Grad(pen, wrt, false) {
			out = append(out, g.Value().Data())
		}
		return out
	}
	want := run()
	for range 2 {
		poisonFreeLists()
		got := run()
		for i := range want {
			for j := range want[i] {
				if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
					t.Fatalf("gradient %d element %d: %v after poisoning the free lists, %v before", i, j, got[i][j], want[i][j])
				}
			}
		}
	}
}
