package episode

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
)

// Config is the shape of the tasks to draw: for each task the way (number
// of classes) and the shot (support images per class) are drawn uniformly
// from Ways and Shots; every class also gets Query query images. Use
// [Fixed] for the classic C-way N-shot M-query setting, or longer lists for
// any-way any-shot training (e.g. Ways {5, 7, 10}, Shots {1, 5, 10}).
type Config struct {
	Ways  []int
	Shots []int
	Query int
}

// Fixed returns the Config of way-way shot-shot tasks with query query
// images per class.
func Fixed(way, shot, query int) Config {
	return Config{Ways: []int{way}, Shots: []int{shot}, Query: query}
}

// Validate reports whether c can describe a task: non-empty Ways and Shots,
// ways >= 1, shots >= 1, query >= 0.
func (c Config) Validate() error {
	if len(c.Ways) == 0 || len(c.Shots) == 0 {
		return errors.New("episode: task config needs at least one way and one shot")
	}
	for _, w := range c.Ways {
		if w < 1 {
			return fmt.Errorf("episode: task config way %d, want >= 1", w)
		}
	}
	for _, s := range c.Shots {
		if s < 1 {
			return fmt.Errorf("episode: task config shot %d, want >= 1", s)
		}
	}
	if c.Query < 0 {
		return fmt.Errorf("episode: task config query %d, want >= 0", c.Query)
	}
	return nil
}

// Set is a batch of images with labels.
type Set struct {
	// Data holds N images as an N×C×H×W row-major float32 tensor.
	Data []float32
	// Labels[k] is the label (0..Way-1) of image k.
	Labels     []int
	N, C, H, W int
}

// Image returns image k of the set as a CHW slice of Data (not a copy).
func (s *Set) Image(k int) []float32 {
	n := s.C * s.H * s.W
	return s.Data[k*n : (k+1)*n]
}

// Task is one few-shot episode. Both sets are in class-major order: support
// image k has label k / Shot and query image k has label k / QueryPerClass,
// so Support holds Shot images of label 0, then Shot of label 1, and so on.
// The support and query images of a class are distinct images.
type Task struct {
	Way, Shot, QueryPerClass int
	// Classes[l] names the class with label l; ClassIndex[l] is its index in
	// the Decoded dataset.
	Classes    []string
	ClassIndex []int
	Support    Set
	Query      Set
}

// Pair is two tasks on disjoint class sets, as consumed by L2G's bilevel
// step (the first task adapts, the second measures generalisation).
type Pair struct {
	First, Second *Task
}

// Augment is random training augmentation, applied per image after
// preprocessing. The zero value does nothing.
type Augment struct {
	// FlipH mirrors each image left-right with probability 1/2.
	FlipH bool `json:"flip_h,omitempty"`
	// Pad > 0 enables random cropping: the image is padded by Pad pixels of
	// value 0 on every side and cropped back to its size at a uniformly
	// random offset, i.e. shifted by up to Pad pixels in each direction.
	// (0 is the background after inversion, or the mean colour after
	// normalisation.)
	Pad int `json:"pad,omitempty"`
}

// Sampler draws training tasks from a [Decoded] dataset. It is
// deterministic: the same data, seed and sequence of calls give the same
// tasks. A Sampler is not safe for concurrent use; run it in one goroutine,
// for example through [Prefetch] or [Sampler.Stream].
type Sampler struct {
	// Augment is applied to every image of the tasks this Sampler draws.
	Augment Augment

	data    *Decoded
	rng     *rand.Rand
	scratch []uint8
}

// samplerStream is the fixed second half of the PCG seed for samplers; it
// keeps training streams apart from evaluation episodes with equal seeds.
const samplerStream = 0x5eed_0f_7a5c_5a11

// NewSampler returns a sampler over d seeded with seed.
func NewSampler(d *Decoded, seed uint64) *Sampler {
	return &Sampler{data: d, rng: rand.New(rand.NewPCG(seed, samplerStream))}
}

// Task draws one task shaped by cfg.
func (s *Sampler) Task(cfg Config) (*Task, error) {
	ts, err := s.data.draw(s.rng, &s.Augment, s.scratchBuf(), cfg)
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// Pair draws two tasks whose class sets are disjoint, the first shaped by
// first and the second by second. L2G's "fixed first task, varying second
// task" is first = [Fixed](...) with second listing several ways and shots.
func (s *Sampler) Pair(first, second Config) (*Pair, error) {
	ts, err := s.data.draw(s.rng, &s.Augment, s.scratchBuf(), first, second)
	if err != nil {
		return nil, err
	}
	return &Pair{First: ts[0], Second: ts[1]}, nil
}

// MetaBatch draws k pairs as [Sampler.Pair] does. Classes are disjoint
// within each pair, not across pairs.
func (s *Sampler) MetaBatch(first, second Config, k int) ([]*Pair, error) {
	if k < 1 {
		return nil, fmt.Errorf("episode: meta-batch of %d pairs, want >= 1", k)
	}
	out := make([]*Pair, k)
	for i := range out {
		p, err := s.Pair(first, second)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

func (s *Sampler) scratchBuf() []uint8 {
	if len(s.scratch) < s.data.Pre.Len() {
		s.scratch = make([]uint8, s.data.Pre.Len())
	}
	return s.scratch
}

// Episode returns evaluation episode i of the list defined by (cfg, seed):
// it depends only on the data, cfg, seed and i, never on other calls, so
// two models evaluated on episodes 0..n-1 of a seed see identical tasks.
// No augmentation is applied. Safe for concurrent use.
func (d *Decoded) Episode(cfg Config, seed uint64, i int) (*Task, error) {
	if i < 0 {
		return nil, fmt.Errorf("episode: episode index %d, want >= 0", i)
	}
	rng := rand.New(rand.NewPCG(splitmix64(seed), splitmix64(uint64(i)^0x9e3779b97f4a7c15)))
	ts, err := d.draw(rng, nil, nil, cfg)
	if err != nil {
		return nil, err
	}
	return ts[0], nil
}

// splitmix64 scrambles an integer so that neighbouring seeds and indices
// start PCG in unrelated states.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// draw samples one task per config, all on pairwise disjoint classes.
func (d *Decoded) draw(rng *rand.Rand, aug *Augment, scratch []uint8, cfgs ...Config) ([]*Task, error) {
	if aug != nil && aug.Pad != 0 && (aug.Pad < 0 || aug.Pad >= min(d.Pre.Width, d.Pre.Height)) {
		return nil, fmt.Errorf("episode: augment pad %d, want 0..%d", aug.Pad, min(d.Pre.Width, d.Pre.Height)-1)
	}
	ways := make([]int, len(cfgs))
	shots := make([]int, len(cfgs))
	total := 0
	for k, cfg := range cfgs {
		if err := cfg.Validate(); err != nil {
			return nil, err
		}
		if need := slices.Max(cfg.Shots) + cfg.Query; d.minLen < need {
			for c, r := range d.refs {
				if len(r) < need {
					return nil, fmt.Errorf("episode: dataset %s: class %q has %d images, fewer than shot+query = %d",
						d.Name, d.classes[c], len(r), need)
				}
			}
		}
		ways[k] = cfg.Ways[rng.IntN(len(cfg.Ways))]
		shots[k] = cfg.Shots[rng.IntN(len(cfg.Shots))]
		total += ways[k]
	}
	if total > len(d.classes) {
		return nil, fmt.Errorf("episode: dataset %s: tasks need %d distinct classes, it has %d", d.Name, total, len(d.classes))
	}
	classes := choose(rng, len(d.classes), total)
	out := make([]*Task, len(cfgs))
	for k, cfg := range cfgs {
		out[k] = d.assemble(rng, aug, scratch, classes[:ways[k]], shots[k], cfg.Query)
		classes = classes[ways[k]:]
	}
	return out, nil
}

// choose returns k distinct integers from [0, n) in random order (a
// partial Fisher-Yates shuffle).
func choose(rng *rand.Rand, n, k int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := 0; i < k; i++ {
		j := i + rng.IntN(n-i)
		p[i], p[j] = p[j], p[i]
	}
	return p[:k]
}

func (d *Decoded) assemble(rng *rand.Rand, aug *Augment, scratch []uint8, classes []int, shot, query int) *Task {
	c, h, w := d.Shape()
	size := d.Pre.Len()
	way := len(classes)
	t := &Task{
		Way: way, Shot: shot, QueryPerClass: query,
		Classes:    make([]string, way),
		ClassIndex: append([]int(nil), classes...),
		Support:    Set{Data: make([]float32, way*shot*size), Labels: make([]int, way*shot), N: way * shot, C: c, H: h, W: w},
		Query:      Set{Data: make([]float32, way*query*size), Labels: make([]int, way*query), N: way * query, C: c, H: h, W: w},
	}
	var tmp []float32
	if aug != nil && (aug.FlipH || aug.Pad > 0) {
		tmp = make([]float32, size)
	}
	for l, cls := range classes {
		t.Classes[l] = d.classes[cls]
		refs := d.refs[cls]
		picks := choose(rng, len(refs), shot+query)
		for j, p := range picks {
			set, k := &t.Support, l*shot+j
			if j >= shot {
				set, k = &t.Query, l*query+j-shot
			}
			dst := set.Data[k*size : (k+1)*size]
			d.fill(dst, refs[p], scratch)
			if tmp != nil {
				aug.apply(rng, dst, tmp, c, h, w)
			}
			set.Labels[k] = l
		}
	}
	return t
}

// apply augments one CHW image in place; tmp has the image's length.
func (a *Augment) apply(rng *rand.Rand, img, tmp []float32, c, h, w int) {
	dx, dy := 0, 0
	if a.Pad > 0 {
		dx = rng.IntN(2*a.Pad+1) - a.Pad
		dy = rng.IntN(2*a.Pad+1) - a.Pad
	}
	flip := a.FlipH && rng.IntN(2) == 1
	if dx == 0 && dy == 0 && !flip {
		return
	}
	copy(tmp, img)
	for p := 0; p < c; p++ {
		src, dst := tmp[p*h*w:(p+1)*h*w], img[p*h*w:(p+1)*h*w]
		for y := 0; y < h; y++ {
			sy := y + dy
			for x := 0; x < w; x++ {
				sx := x + dx
				if flip {
					sx = w - 1 - x + dx
				}
				v := float32(0)
				if sy >= 0 && sy < h && sx >= 0 && sx < w {
					v = src[sy*w+sx]
				}
				dst[y*w+x] = v
			}
		}
	}
}
