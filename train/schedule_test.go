package train

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
)

// TestResumeChangeSchedule resumes a run with a faster learning-rate decay:
// refused without ChangeSchedule, accepted with it, and the episodes after
// the checkpoint use the new schedule. A different seed is still refused.
func TestResumeChangeSchedule(t *testing.T) {
	d := fixtures(t)
	spec := Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Seed: 4}
	dir := t.TempDir()
	opts := Options{Train: d, Task: episode.Fixed(3, 1, 1), Episodes: 4, Seed: 11, LR: 1e-3, LRDecayEvery: 100,
		Val: nil, Dir: dir, LogEvery: 1}
	a, _ := New(spec)
	if _, err := Run(context.Background(), a, opts); err != nil {
		t.Fatal(err)
	}

	o := opts
	o.Episodes, o.LRDecayEvery, o.Resume = 8, 2, true
	b, _ := New(spec)
	if _, err := Run(context.Background(), b, o); err == nil || !strings.Contains(err.Error(), "options") {
		t.Fatalf("resume with another schedule without ChangeSchedule: err = %v, want a refusal naming the options", err)
	}
	o.ChangeSchedule = true
	o.Seed = 12
	if _, err := Run(context.Background(), b, o); err == nil {
		t.Fatal("resume with another seed succeeded")
	}
	o.Seed = opts.Seed
	if _, err := Run(context.Background(), b, o); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, dir)
	if len(m) != 8 {
		t.Fatalf("%d metrics lines, want 8", len(m))
	}
	for _, l := range m {
		want := 1e-3
		if l.Episode > 4 {
			// Episode e (1-based) trains with 1e-3 · 0.5^((e-1)/2).
			want = 1e-3
			for range (l.Episode - 1) / 2 {
				want /= 2
			}
		}
		if l.LR != want {
			t.Errorf("episode %d: lr %g, want %g", l.Episode, l.LR, want)
		}
	}
}

// TestAugmentedRun checks that Options.Augment reaches the training images
// (the weights differ from an unaugmented run with the same seed), that it
// is part of what a resumed run must match unless ChangeSchedule, that an
// unaugmented run's key is written as before augmentation existed, and
// that a pad as large as the image is refused.
func TestAugmentedRun(t *testing.T) {
	d := fixtures(t)
	spec := Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 4, Seed: 4}
	opts := Options{Train: d, Task: episode.Fixed(3, 1, 1), Episodes: 3, Seed: 11, LogEvery: 1}
	plain, _ := New(spec)
	if _, err := Run(context.Background(), plain, opts); err != nil {
		t.Fatal(err)
	}
	aug := opts
	aug.Augment = episode.Augment{FlipH: true, Pad: 3}
	aug.Dir = t.TempDir()
	augmented, _ := New(spec)
	if _, err := Run(context.Background(), augmented, aug); err != nil {
		t.Fatal(err)
	}
	if weightsDiff(plain, augmented) == "" {
		t.Error("augmented training gave the same weights as unaugmented training")
	}

	o := aug
	o.Augment, o.Episodes, o.Resume = episode.Augment{}, 5, true
	b, _ := New(spec)
	if _, err := Run(context.Background(), b, o); err == nil || !strings.Contains(err.Error(), "augment") {
		t.Fatalf("resume without the run's augmentation: err = %v, want a refusal naming augment", err)
	}
	o.ChangeSchedule = true
	if _, err := Run(context.Background(), b, o); err != nil {
		t.Fatalf("resume with ChangeSchedule and another augmentation: %v", err)
	}

	if j, _ := json.Marshal(runKey{}); strings.Contains(string(j), "augment") {
		t.Errorf("an unaugmented run's key %s names augment: checkpoints of older runs would no longer resume", j)
	}

	bad := opts
	bad.Augment.Pad = 28
	c, _ := New(spec)
	if _, err := Run(context.Background(), c, bad); err == nil || !strings.Contains(err.Error(), "pad 28") {
		t.Fatalf("pad 28 on 28×28 images: err = %v, want a refusal naming the pad", err)
	}
}
