package train

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fewshot-go/fewshot/episode"
)

// benchShapes are the standard inputs: mini-ImageNet's 84×84×3 with 5-way
// 5-shot 15-query tasks, and Omniglot's 28×28×1 with ProtoNet's 60-way
// 5-shot 5-query and a 20-way variant.
var benchShapes = []struct {
	name             string
	c, h, w          int
	way, shot, query int
}{
	{"84x84x3-5w5s15q", 3, 84, 84, 5, 5, 15},
	{"28x28x1-60w5s5q", 1, 28, 28, 60, 5, 5},
	{"28x28x1-20w5s5q", 1, 28, 28, 20, 5, 5},
}

func benchAlgo(b *testing.B, name string, c, h, w int) Algorithm {
	a, err := New(Spec{Algo: name, InChannels: c, Height: h, Width: w, Seed: 1, MetaBatch: 1})
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkProtoStep is one ProtoNet training step (forward, loss,
// backward) on one task.
func BenchmarkProtoStep(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			a := benchAlgo(b, "proto", s.c, s.h, s.w)
			rng := rand.New(rand.NewPCG(1, 2))
			batch := &Batch{Tasks: []*episode.Task{noisyTask(rng, s.way, s.shot, s.query, s.c, s.h, s.w, 0)}}
			for b.Loop() {
				a.Step(batch)
			}
		})
	}
}

// BenchmarkL2GPair is the exact second-order meta-gradient of one L2G task
// pair, d/dθ L_{T_j}(θ − α∇L_{T_i}(θ)).
func BenchmarkL2GPair(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.name, func(b *testing.B) {
			a := benchAlgo(b, "l2g-proto", s.c, s.h, s.w)
			rng := rand.New(rand.NewPCG(1, 2))
			batch := &Batch{Pairs: []*episode.Pair{{
				First:  noisyTask(rng, s.way, s.shot, s.query, s.c, s.h, s.w, 0),
				Second: noisyTask(rng, s.way, s.shot, s.query, s.c, s.h, s.w, 0),
			}}}
			for b.Loop() {
				a.Step(batch)
			}
		})
	}
}

// BenchmarkL2GMetaStepMemory runs full L2G meta-steps of 5 task pairs at
// 84×84×3 5-way 5-shot 15-query. It reports the peak of the live heap
// (runtime.MemStats.HeapAlloc, sampled every 2 ms by a background
// goroutine, so it includes garbage not yet collected) and the process's
// peak RSS (getrusage; Linux only). Run it alone for a meaningful RSS:
//
//	go test ./train -run '^$' -bench L2GMetaStepMemory -benchtime 2x
func BenchmarkL2GMetaStepMemory(b *testing.B) {
	a := benchAlgo(b, "l2g-proto", 3, 84, 84)
	rng := rand.New(rand.NewPCG(1, 2))
	batch := &Batch{}
	for range 5 {
		batch.Pairs = append(batch.Pairs, &episode.Pair{First: noisyTask(rng, 5, 5, 15, 3, 84, 84, 0), Second: noisyTask(rng, 5, 5, 15, 3, 84, 84, 0)})
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	for b.Loop() {
		a.Step(batch)
	}
	close(stop)
	<-done
	b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MiB")
	}
}

// BenchmarkMetaLSTMStep is one meta-lstm training step (T = 5 updates of the
// learner by the LSTM, then the query loss backpropagated through the unroll)
// on a 5-way task at 1 and 5 shots.
func BenchmarkMetaLSTMStep(b *testing.B) {
	for _, s := range []struct {
		name        string
		c, h, w     int
		shot, query int
	}{
		{"28x28x1-5w1s5q", 1, 28, 28, 1, 5},
		{"84x84x3-5w5s15q", 3, 84, 84, 5, 15},
	} {
		b.Run(s.name, func(b *testing.B) {
			a, err := New(Spec{Algo: "meta-lstm", InChannels: s.c, Height: s.h, Width: s.w, Seed: 1, Way: 5})
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			batch := &Batch{Tasks: []*episode.Task{noisyTask(rng, 5, s.shot, s.query, s.c, s.h, s.w, 0)}}
			for b.Loop() {
				a.Step(batch)
			}
		})
	}
}
