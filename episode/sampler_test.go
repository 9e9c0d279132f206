package episode

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// checkTask verifies a task's structure against the coded dataset: shapes,
// class-major balanced labels, images from the labelled class, and no image
// used twice.
func checkTask(t *testing.T, d *Decoded, task *Task) {
	t.Helper()
	seen := map[[2]int]bool{}
	for _, s := range []struct {
		set *Set
		per int
	}{{&task.Support, task.Shot}, {&task.Query, task.QueryPerClass}} {
		if s.set.N != task.Way*s.per || len(s.set.Labels) != s.set.N || len(s.set.Data) != s.set.N*16 || s.set.C != 1 || s.set.H != 4 || s.set.W != 4 {
			t.Fatalf("set shape N=%d C=%d H=%d W=%d labels %d data %d for way %d × %d", s.set.N, s.set.C, s.set.H, s.set.W, len(s.set.Labels), len(s.set.Data), task.Way, s.per)
		}
		for k := range s.set.N {
			l := s.set.Labels[k]
			if l != k/s.per {
				t.Fatalf("image %d has label %d, want class-major %d", k, l, k/s.per)
			}
			c, i := origin(s.set.Image(k))
			if c != task.ClassIndex[l] || d.ClassName(c) != task.Classes[l] {
				t.Fatalf("image %d with label %d (class %d %s) comes from class %d", k, l, task.ClassIndex[l], task.Classes[l], c)
			}
			if seen[[2]int{c, i}] {
				t.Fatalf("image %d of class %d used twice in one task", i, c)
			}
			seen[[2]int{c, i}] = true
		}
	}
	if len(task.Classes) != task.Way || len(task.ClassIndex) != task.Way {
		t.Fatalf("%d class names for way %d", len(task.Classes), task.Way)
	}
	distinct := slices.Clone(task.ClassIndex)
	slices.Sort(distinct)
	if len(slices.Compact(distinct)) != task.Way {
		t.Fatalf("repeated classes %v", task.ClassIndex)
	}
}

func TestSamplerTasks(t *testing.T) {
	d := codeDataset(t, 12, 8)
	s := NewSampler(d, 7)
	for range 200 {
		task, err := s.Task(Fixed(5, 3, 5))
		if err != nil {
			t.Fatal(err)
		}
		if task.Way != 5 || task.Shot != 3 || task.QueryPerClass != 5 {
			t.Fatalf("task shape %d-way %d-shot %d-query", task.Way, task.Shot, task.QueryPerClass)
		}
		checkTask(t, d, task)
	}
	// Zero query images is allowed (support only).
	task, err := s.Task(Fixed(2, 1, 0))
	if err != nil || task.Query.N != 0 {
		t.Fatalf("0-query task: %v, %d queries", err, task.Query.N)
	}
}

func TestSamplerDeterministic(t *testing.T) {
	d := codeDataset(t, 12, 8)
	cfg := Config{Ways: []int{2, 3, 5}, Shots: []int{1, 2}, Query: 3}
	a, b, c := NewSampler(d, 42), NewSampler(d, 42), NewSampler(d, 43)
	differ := false
	for range 20 {
		ta, _ := a.Task(cfg)
		tb, _ := b.Task(cfg)
		tc, _ := c.Task(cfg)
		if !slices.Equal(ta.Support.Data, tb.Support.Data) || !slices.Equal(ta.Query.Data, tb.Query.Data) || !slices.Equal(ta.ClassIndex, tb.ClassIndex) {
			t.Fatal("same seed gave different tasks")
		}
		if !slices.Equal(ta.ClassIndex, tc.ClassIndex) || !slices.Equal(ta.Support.Data, tc.Support.Data) {
			differ = true
		}
	}
	if !differ {
		t.Fatal("seeds 42 and 43 gave identical task streams")
	}
}

// Every class, and every image of a class, is drawn about equally often.
func TestSamplerUniform(t *testing.T) {
	d := codeDataset(t, 10, 6)
	s := NewSampler(d, 1)
	const n = 3000
	classCount := make([]int, 10)
	imageCount := make([]int, 6)
	for range n {
		task, err := s.Task(Fixed(2, 1, 1))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range task.ClassIndex {
			classCount[c]++
		}
		_, i := origin(task.Support.Image(0))
		imageCount[i]++
	}
	checkUniform(t, "class", classCount, 2*n)
	checkUniform(t, "image", imageCount, n)
}

// checkUniform fails if any count is more than 5 standard deviations from
// the uniform expectation total/len(counts).
func checkUniform(t *testing.T, what string, counts []int, total int) {
	t.Helper()
	p := 1 / float64(len(counts))
	exp := float64(total) * p
	sd := math.Sqrt(float64(total) * p * (1 - p))
	for k, c := range counts {
		if math.Abs(float64(c)-exp) > 5*sd {
			t.Fatalf("%s %d drawn %d times, expected %.0f ± %.0f (counts %v)", what, k, c, exp, sd, counts)
		}
	}
}

func TestAnyWayAnyShot(t *testing.T) {
	d := codeDataset(t, 12, 8)
	s := NewSampler(d, 3)
	cfg := Config{Ways: []int{2, 3, 5}, Shots: []int{1, 2, 4}, Query: 2}
	const n = 1800
	ways, shots := map[int]int{}, map[int]int{}
	for range n {
		task, err := s.Task(cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkTask(t, d, task)
		ways[task.Way]++
		shots[task.Shot]++
	}
	checkUniform(t, "way", []int{ways[2], ways[3], ways[5]}, n)
	checkUniform(t, "shot", []int{shots[1], shots[2], shots[4]}, n)
	if len(ways) != 3 || len(shots) != 3 {
		t.Fatalf("ways %v shots %v: values outside the configured sets", ways, shots)
	}
}

func TestPairsDisjoint(t *testing.T) {
	d := codeDataset(t, 12, 8)
	s := NewSampler(d, 5)
	first := Fixed(5, 1, 3)
	second := Config{Ways: []int{3, 5, 7}, Shots: []int{1, 2, 5}, Query: 3}
	batch, err := s.MetaBatch(first, second, 50)
	if err != nil {
		t.Fatal(err)
	}
	secondWays := map[int]bool{}
	for _, p := range batch {
		checkTask(t, d, p.First)
		checkTask(t, d, p.Second)
		if p.First.Way != 5 || p.First.Shot != 1 {
			t.Fatalf("first task %d-way %d-shot, want fixed 5-way 1-shot", p.First.Way, p.First.Shot)
		}
		secondWays[p.Second.Way] = true
		for _, c := range p.First.ClassIndex {
			if slices.Contains(p.Second.ClassIndex, c) {
				t.Fatalf("class %d in both tasks of a pair", c)
			}
		}
	}
	if len(secondWays) != 3 {
		t.Fatalf("second-task ways %v never varied", secondWays)
	}
	// 5 + 8 classes cannot be disjoint among 12.
	if _, err := s.Pair(first, Fixed(8, 1, 1)); err == nil || !strings.Contains(err.Error(), "need 13 distinct classes, it has 12") {
		t.Fatalf("oversized pair: %v", err)
	}
	if _, err := s.MetaBatch(first, second, 0); err == nil {
		t.Fatal("empty meta-batch accepted")
	}
}

func TestEvalEpisodes(t *testing.T) {
	d := codeDataset(t, 12, 8)
	cfg := Fixed(5, 2, 3)
	// Episode i is the same whatever was drawn before, in any order.
	want := make([]*Task, 10)
	for i := range want {
		var err error
		if want[i], err = d.Episode(cfg, 99, i); err != nil {
			t.Fatal(err)
		}
		checkTask(t, d, want[i])
	}
	for _, i := range []int{7, 3, 9, 0} {
		got, _ := d.Episode(cfg, 99, i)
		if !slices.Equal(got.Support.Data, want[i].Support.Data) || !slices.Equal(got.Query.Data, want[i].Query.Data) {
			t.Fatalf("episode %d not reproducible", i)
		}
	}
	if slices.Equal(want[0].Query.Data, want[1].Query.Data) {
		t.Fatal("episodes 0 and 1 identical")
	}
	other, _ := d.Episode(cfg, 100, 0)
	if slices.Equal(other.Query.Data, want[0].Query.Data) {
		t.Fatal("seeds 99 and 100 gave the same episode 0")
	}
	if _, err := d.Episode(cfg, 99, -1); err == nil {
		t.Fatal("negative episode index accepted")
	}
}

func TestSamplerErrors(t *testing.T) {
	d := codeDataset(t, 4, 5)
	s := NewSampler(d, 1)
	cases := []struct {
		cfg  Config
		want string
	}{
		{Fixed(2, 3, 3), `class "c00" has 5 images, fewer than shot+query = 6`},
		{Config{Ways: []int{2}, Shots: []int{1, 5}, Query: 1}, "fewer than shot+query = 6"},
		{Fixed(5, 1, 1), "need 5 distinct classes, it has 4"},
		{Fixed(0, 1, 1), "way 0"},
		{Fixed(2, 0, 1), "shot 0"},
		{Fixed(2, 1, -1), "query -1"},
		{Config{Shots: []int{1}}, "at least one way"},
	}
	for _, c := range cases {
		if _, err := s.Task(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want %q", c.cfg, err, c.want)
		}
	}
	s.Augment.Pad = 4
	if _, err := s.Task(Fixed(2, 1, 1)); err == nil || !strings.Contains(err.Error(), "pad 4") {
		t.Errorf("pad as large as the image: %v", err)
	}
}

// Augmented images are the original shifted by at most Pad pixels (zero
// filled) and possibly mirrored, and both variants occur.
func TestAugment(t *testing.T) {
	d := codeDataset(t, 3, 4)
	s := NewSampler(d, 11)
	s.Augment = Augment{FlipH: true, Pad: 1}
	kinds := map[[3]int]bool{}
	for range 100 {
		task, err := s.Task(Fixed(1, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		got := task.Support.Image(0)
		found := false
		for ci := range 3 {
			for ii := range 4 {
				orig := d.Image(ci, ii)
				for _, flip := range []bool{false, true} {
					for dy := -1; dy <= 1; dy++ {
						for dx := -1; dx <= 1; dx++ {
							if slices.Equal(got, shifted(orig, dx, dy, flip)) {
								found = true
								k := 0
								if flip {
									k = 1
								}
								kinds[[3]int{dx, dy, k}] = true
							}
						}
					}
				}
			}
		}
		if !found {
			t.Fatalf("augmented image %v is no shift/flip of any dataset image", got)
		}
	}
	if len(kinds) < 12 {
		t.Fatalf("only %d of 18 shift/flip combinations seen in 100 draws", len(kinds))
	}
}

// shifted is an independent statement of Augment for a 4×4 image: out(y, x)
// = in(y+dy, x'+dx) with x' = 3-x when mirrored, 0 outside.
func shifted(in []float32, dx, dy int, flip bool) []float32 {
	out := make([]float32, 16)
	for y := range 4 {
		for x := range 4 {
			xx := x
			if flip {
				xx = 3 - x
			}
			sy, sx := y+dy, xx+dx
			if sy >= 0 && sy < 4 && sx >= 0 && sx < 4 {
				out[y*4+x] = in[sy*4+sx]
			}
		}
	}
	return out
}

func TestPrefetch(t *testing.T) {
	d := codeDataset(t, 12, 8)
	cfg := Fixed(5, 1, 2)
	ref := NewSampler(d, 9)
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	ch := NewSampler(d, 9).Stream(ctx, cfg, 4)
	for i := range 25 {
		r := <-ch
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		want, _ := ref.Task(cfg)
		if !slices.Equal(r.Value.Query.Data, want.Query.Data) {
			t.Fatalf("prefetched task %d differs from direct sampling", i)
		}
	}
	// Stop without draining: the producer must exit and close the channel.
	cancel()
	for range ch {
	}
	waitGoroutines(t, before)

	// An error is delivered once, then the channel closes.
	bad := Prefetch(context.Background(), 2, func() (*Task, error) { return NewSampler(d, 1).Task(Fixed(13, 1, 1)) })
	r, ok := <-bad
	if !ok || r.Err == nil {
		t.Fatalf("first result %+v, want the sampling error", r)
	}
	if _, ok := <-bad; ok {
		t.Fatal("channel still open after an error")
	}
	// A cancelled context with a full buffer and no reader still exits.
	ctx2, cancel2 := context.WithCancel(context.Background())
	n := 0
	Prefetch(ctx2, 1, func() (int, error) { n++; return n, nil })
	time.Sleep(10 * time.Millisecond)
	cancel2()
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	for range 200 {
		if runtime.NumGoroutine() <= want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%d goroutines, want %d: prefetch goroutine leaked", runtime.NumGoroutine(), want)
}

// The rotation of a sampled image matches its class's rotation.
func TestSampledRotation(t *testing.T) {
	ds, err := OpenOmniglot(fakeOmniglot(t), "vinyals-test")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	d, err := Decode(context.Background(), ds, OmniglotPreprocess(), DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	task, err := NewSampler(d, 2).Task(Fixed(12, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	for l, c := range task.ClassIndex {
		base := c - c%4 // rot000 of the same character
		q := c % 4
		img := task.Support.Image(l * 2)
		found := false
		for i := range d.ClassLen(base) {
			src := toBytes(d.Image(base, i))
			rot := make([]uint8, len(src))
			rotateCHW(rot, src, 1, 28, q)
			if slices.Equal(toBytes(img), rot) {
				found = true
			}
		}
		if !found {
			t.Fatalf("label %d (%s): image is no %d-quarter-turn of %s", l, task.Classes[l], q, d.ClassName(base))
		}
	}
}

func toBytes(x []float32) []uint8 {
	b := make([]uint8, len(x))
	for i, v := range x {
		b[i] = uint8(v*255 + 0.5)
	}
	return b
}
