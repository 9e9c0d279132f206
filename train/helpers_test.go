package train

import (
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/episode"
)

// randomTask returns a task of random images with a class-dependent
// offset, so that classes are separable.
func randomTask(rng *rand.Rand, way, shot, query, c, h, w int) *episode.Task {
	return noisyTask(rng, way, shot, query, c, h, w, 0.5)
}

// noisyTask is randomTask with offset sep per class index. Benchmarks use
// sep 0: with well-separated classes an untrained 84×84 ProtoNet has logits
// so far apart that softmax underflows to subnormal floats, whose
// arithmetic is far slower on x86 and would dominate the timings.
func noisyTask(rng *rand.Rand, way, shot, query, c, h, w int, sep float32) *episode.Task {
	t := &episode.Task{Way: way, Shot: shot, QueryPerClass: query}
	fill := func(s *episode.Set, per int) {
		*s = episode.Set{N: way * per, C: c, H: h, W: w, Data: make([]float32, way*per*c*h*w), Labels: make([]int, way*per)}
		size := c * h * w
		for i := 0; i < s.N; i++ {
			cls := i / per
			s.Labels[i] = cls
			for j := 0; j < size; j++ {
				s.Data[i*size+j] = float32(rng.NormFloat64()) + sep*float32(cls)*float32(j%3)
			}
		}
	}
	fill(&t.Support, shot)
	fill(&t.Query, query)
	t.Classes = make([]string, way)
	t.ClassIndex = make([]int, way)
	for i := range t.ClassIndex {
		t.ClassIndex[i] = i
	}
	return t
}
