package train

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
)

// TestCopyWeights starts an L2G+Proto learner from a ProtoNet checkpoint
// (same embedding network): every parameter and batch-norm statistic must
// arrive unchanged, and a checkpoint of other shapes must be refused.
func TestCopyWeights(t *testing.T) {
	d := fixtures(t)
	dir := t.TempDir()
	spec := Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 8, Seed: 3}
	p, err := New(spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(context.Background(), p, Options{Train: d, Task: episode.Fixed(3, 1, 2), Episodes: 3, Seed: 5, Dir: dir}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadCheckpoint(filepath.Join(dir, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	l2g, err := New(Spec{Algo: "l2g-proto", InChannels: 1, Height: 28, Width: 28, Hidden: 8, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CopyWeights(l2g); err != nil {
		t.Fatal(err)
	}
	src, dst := p.Networks()[0], l2g.Networks()[0]
	for i, v := range src.Params() {
		if !slices.Equal(v.Value().Data(), dst.Params()[i].Value().Data()) {
			t.Fatalf("parameter %d differs after CopyWeights", i)
		}
	}
	for i, v := range src.State() {
		if !slices.Equal(v.Data(), dst.State()[i].Data()) {
			t.Fatalf("batch-norm statistic %d differs after CopyWeights", i)
		}
	}
	wide, _ := New(Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 16, Seed: 3})
	if err := c.CopyWeights(wide); err == nil {
		t.Error("CopyWeights into networks of other shapes succeeded")
	}
}
