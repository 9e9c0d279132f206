package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkParallelFor runs parallelFor and checks that every index ran exactly
// once and every worker index was in range.
func checkParallelFor(t *testing.T, workers, n int, inner func()) {
	t.Helper()
	counts := make([]atomic.Int32, n)
	var bad atomic.Int32
	parallelFor(workers, n, func(i, worker int) {
		if worker < 0 || worker >= max(workers, 1) {
			bad.Store(int32(worker) + 1)
		}
		counts[i].Add(1)
		if inner != nil {
			inner()
		}
	})
	if w := bad.Load(); w != 0 {
		t.Errorf("parallelFor(%d, %d): worker index %d out of range", workers, n, w-1)
	}
	for i := range counts {
		if c := counts[i].Load(); c != 1 {
			t.Fatalf("parallelFor(%d, %d): index %d ran %d times", workers, n, i, c)
		}
	}
}

// TestParallelForCrew covers the crew's paths: back-to-back calls (members
// awake), calls after the members have gone to sleep, calls from several
// goroutines at once and calls nested in an item (which fall back to
// goroutines of their own), and more workers than Ps.
func TestParallelForCrew(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, workers := range []int{1, 2, 3, procs, procs + 2} {
		for _, n := range []int{0, 1, 2, 5, 64} {
			checkParallelFor(t, workers, n, nil)
		}
	}
	for range 3 {
		time.Sleep(3 * spinFor) // the members sleep now
		checkParallelFor(t, max(procs, 2), 16, nil)
	}
	checkParallelFor(t, 2, 8, func() {
		var sum atomic.Int64
		parallelFor(2, 4, func(i, _ int) { sum.Add(int64(i)) })
		if sum.Load() != 6 {
			t.Error("nested parallelFor skipped an index")
		}
	})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for n := range 200 {
				checkParallelFor(t, 2, n%7+1, nil)
			}
		})
	}
	wg.Wait()
}

// TestParallelForCrewSlowItems lets the caller finish long before a member,
// so that it sleeps while it waits and the member must wake it.
func TestParallelForCrewSlowItems(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs 2 Ps")
	}
	for range 3 {
		var ran atomic.Int32
		parallelFor(2, 2, func(i, worker int) {
			if worker != 0 {
				time.Sleep(3 * spinFor)
			}
			ran.Add(1)
		})
		if ran.Load() != 2 {
			t.Fatalf("%d of 2 items ran", ran.Load())
		}
	}
}

// TestParallelRange checks that the parts cover [0, n) exactly once, in
// contiguous pieces no smaller than asked, with one part per thread at most.
func TestParallelRange(t *testing.T) {
	defer SetThreads(SetThreads(3))
	for _, c := range []struct{ n, minPart, parts int }{
		{0, 10, 1}, {5, 10, 1}, {19, 10, 1}, {20, 10, 2}, {31, 10, 3}, {1000, 10, 3}, {7, 0, 3},
	} {
		var mu sync.Mutex
		seen := make([]int, c.n)
		parts := 0
		ParallelRange(c.n, c.minPart, func(lo, hi int) {
			mu.Lock()
			defer mu.Unlock()
			parts++
			if c.parts > 1 && hi-lo < c.minPart {
				t.Errorf("n=%d minPart=%d: part [%d, %d) is too small", c.n, c.minPart, lo, hi)
			}
			for i := lo; i < hi; i++ {
				seen[i]++
			}
		})
		if parts != c.parts {
			t.Errorf("n=%d minPart=%d: %d parts, want %d", c.n, c.minPart, parts, c.parts)
		}
		for i, s := range seen {
			if s != 1 {
				t.Fatalf("n=%d minPart=%d: element %d covered %d times", c.n, c.minPart, i, s)
			}
		}
	}
}
