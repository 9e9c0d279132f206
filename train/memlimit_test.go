package train

import (
	"context"
	"runtime/debug"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
)

// limitProbe records the runtime's memory limit during each step.
type limitProbe struct {
	Algorithm
	seen []int64
}

func (p *limitProbe) Step(b *Batch) StepResult {
	p.seen = append(p.seen, debug.SetMemoryLimit(-1)) // a negative value only reads it
	return p.Algorithm.Step(b)
}

// TestRunMemoryLimit checks that Options.MemoryLimit is in force during the
// steps and that the previous limit is back after Run, and that without it
// Run leaves the limit alone.
func TestRunMemoryLimit(t *testing.T) {
	d := fixtures(t)
	const before, during = int64(1) << 50, int64(3) << 30
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(before))
	for _, limit := range []int64{during, 0} {
		a, err := New(Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Seed: 4})
		if err != nil {
			t.Fatal(err)
		}
		p := &limitProbe{Algorithm: a}
		if _, err := Run(context.Background(), p, Options{Train: d, Task: episode.Fixed(3, 1, 1), Episodes: 2, Seed: 1, MemoryLimit: limit}); err != nil {
			t.Fatal(err)
		}
		want := limit
		if limit == 0 {
			want = before
		}
		if len(p.seen) != 2 || p.seen[0] != want || p.seen[1] != want {
			t.Errorf("MemoryLimit %d: limits seen in the steps %v, want %d", limit, p.seen, want)
		}
		if got := debug.SetMemoryLimit(-1); got != before {
			t.Errorf("MemoryLimit %d: limit after Run %d, want the previous %d", limit, got, before)
		}
	}
	a, _ := New(Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Seed: 4})
	if _, err := Run(context.Background(), a, Options{Train: d, Task: episode.Fixed(3, 1, 1), Episodes: 1, MemoryLimit: -1}); err == nil {
		t.Error("negative MemoryLimit accepted")
	}
}
