package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// A crew of long-lived worker goroutines runs parallelFor's items.
//
// Starting a goroutine is cheap, but the idle CPU it lands on may be
// asleep: on a virtual machine waking one takes tens to hundreds of
// microseconds, as long as a whole convolution layer on a single image, so
// a fresh goroutine often starts only after the caller has done all the
// items itself. Crew members therefore stay awake for spinFor after each
// job, polling for the next one (yielding their P so they never hold up
// other goroutines), and only then sleep on a channel; the caller polls for
// the members to finish in the same way. A forward pass calls parallelFor
// layer after layer, so the members stay awake through it and go to sleep
// soon after it ends.
//
// One caller at a time owns the crew. Concurrent callers, and parallelFor
// calls made from inside an item, fall back to goroutines of their own.

// spinFor is how long crew members and the waiting caller poll before they
// sleep.
const spinFor = 200 * time.Microsecond

type crew struct {
	mu      sync.Mutex // held by the parallelFor call that uses the crew
	members []*member
}

var theCrew crew

// member is one worker goroutine of the crew.
type member struct {
	id    int           // worker index passed to the items (≥ 1; the caller is 0)
	seq   atomic.Uint64 // jobs posted so far
	job   *job          // the latest job, written before seq is advanced
	state atomic.Int32  // awake or asleep
	wake  chan struct{} // one token wakes a sleeping member
}

const (
	awake int32 = iota
	asleep
	finished // job.waiter only: every member is done
)

// job is one parallelFor call run by the crew.
type job struct {
	fn      func(i, worker int)
	n       int64
	next    atomic.Int64 // next index to hand out
	pending atomic.Int32 // members still working on the job
	waiter  atomic.Int32 // the caller: awake, asleep or finished
	done    chan struct{}
}

// run hands out indices to worker until none are left.
func (j *job) run(worker int) {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.fn(int(i), worker)
	}
}

// tryCrew runs fn over [0, n) with the caller and workers−1 crew members,
// and reports whether it did: false if another call owns the crew or the
// members would outnumber the Ps (they poll while they wait, and must not
// keep an owner from running).
func tryCrew(workers, n int, fn func(i, worker int)) bool {
	if workers > runtime.GOMAXPROCS(0) || !theCrew.mu.TryLock() {
		return false
	}
	defer theCrew.mu.Unlock()
	for len(theCrew.members) < workers-1 {
		m := &member{id: len(theCrew.members) + 1, wake: make(chan struct{}, 1)}
		theCrew.members = append(theCrew.members, m)
		go m.loop()
	}
	j := &job{fn: fn, n: int64(n), done: make(chan struct{}, 1)}
	j.pending.Store(int32(workers - 1))
	for _, m := range theCrew.members[:workers-1] {
		m.post(j)
	}
	j.run(0)
	j.wait()
	// Every member has taken the job and finished it. Drop their
	// references: fn's closure holds the slices of the call, and a member
	// keeping it until the next call would keep a training step's dead
	// activations from being recycled (180 MB more at the peak of an L2G
	// meta-step on 2 threads).
	for _, m := range theCrew.members[:workers-1] {
		m.job = nil
	}
	return true
}

// post gives the member job j and wakes it if it sleeps.
func (m *member) post(j *job) {
	m.job = j
	m.seq.Add(1)
	if m.state.Swap(awake) == asleep {
		m.wake <- struct{}{}
	}
}

// loop runs the member's jobs, one per post, forever.
func (m *member) loop() {
	var seen uint64
	for {
		m.await(seen)
		seen++
		m.runJob(m.job)
	}
}

// runJob runs the member's share of j and signs off; j is not referenced
// once it returns.
func (m *member) runJob(j *job) {
	j.run(m.id)
	if j.pending.Add(-1) == 0 && j.waiter.Swap(finished) == asleep {
		j.done <- struct{}{}
	}
}

// await returns once a job after the seen-th has been posted, polling for
// spinFor and then sleeping until post wakes it.
func (m *member) await(seen uint64) {
	start := time.Now()
	for m.seq.Load() == seen {
		if time.Since(start) < spinFor {
			runtime.Gosched()
			continue
		}
		if !m.state.CompareAndSwap(awake, asleep) {
			continue
		}
		if m.seq.Load() != seen {
			// A post came between the check and the state change. If
			// post already saw asleep, its token is on the way.
			if !m.state.CompareAndSwap(asleep, awake) {
				<-m.wake
			}
			return
		}
		<-m.wake
		start = time.Now()
	}
}

// wait returns when every member has finished j, polling for spinFor and
// then sleeping until the last member wakes it.
func (j *job) wait() {
	start := time.Now()
	for j.pending.Load() != 0 {
		if time.Since(start) < spinFor {
			runtime.Gosched()
			continue
		}
		if j.waiter.CompareAndSwap(awake, asleep) {
			<-j.done
		}
		return // finished: the last member swapped in finished first
	}
}
