package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/nn"
)

// File names [Run] uses inside Options.Dir.
const (
	// CheckpointFile is the latest checkpoint, for resuming.
	CheckpointFile = "checkpoint.fsckpt"
	// BestFile is the checkpoint with the best validation accuracy.
	BestFile = "best.fsckpt"
	// MetricsFile is the JSON-lines metrics log.
	MetricsFile = "metrics.jsonl"
)

// Options configures [Run]. Zero values select the defaults given.
type Options struct {
	// Train is the training split.
	Train *episode.Decoded
	// Task shapes the training tasks (each task of an L2G pair too).
	Task episode.Config
	// Episodes is the total number of training steps (episodes), counting
	// those of earlier sessions when resuming.
	Episodes int
	// Seed determines every training episode: episode e's tasks depend only
	// on (Seed, e).
	Seed uint64

	// LR is Adam's initial learning rate; 0 means 1e-3. It is multiplied by
	// LRDecay (0 means 0.5) every LRDecayEvery episodes (0: never).
	LR           float64
	LRDecay      float64
	LRDecayEvery int
	// ClipNorm, if positive, scales each step's gradient down to this
	// Euclidean norm when it is larger.
	ClipNorm float64
	// Augment is applied to every training image (never to validation
	// or test images); the zero value leaves them as they are.
	Augment episode.Augment

	// Val is the validation split; nil disables validation. Never pass
	// the test split: it would select the model on test data.
	Val *episode.Decoded
	// ValTask shapes validation tasks; a zero value means Task.
	ValTask episode.Config
	// ValEvery is the validation interval in episodes (0: only at the
	// end); ValEpisodes the number of validation episodes (0 means 600),
	// always the same ones (episode.Decoded.Episode with ValSeed).
	ValEvery    int
	ValEpisodes int
	ValSeed     uint64

	// Dir receives CheckpointFile, BestFile and MetricsFile; it is created
	// if needed. Empty means no files.
	Dir string
	// Resume continues from Dir's checkpoint if there is one. Without it
	// an existing checkpoint in Dir is an error, so a run is never
	// overwritten by accident.
	Resume bool
	// ChangeSchedule lets Resume continue a checkpoint written with another
	// learning-rate schedule (LR, LRDecay, LRDecayEvery), ClipNorm or
	// Augment. The
	// run goes on from the checkpoint's episode under the new settings, so
	// it is no longer the same as an uninterrupted run; the metrics log's
	// lr field shows the change. Seed and Task must still match.
	ChangeSchedule bool
	// CheckpointEvery is the checkpoint interval in episodes; 0 means
	// ValEvery, or 1000 without validation. A checkpoint is also written
	// at the end and when ctx is cancelled.
	CheckpointEvery int
	// LogEvery is the metrics-line interval in episodes (0 means 10); each
	// line holds the means since the previous line.
	LogEvery int
	// Progress, if not nil, receives a human-readable progress line with
	// an ETA every ProgressInterval (0 means 10 s) and after validations.
	Progress         io.Writer
	ProgressInterval time.Duration

	// MemoryLimit, if positive, is a soft limit in bytes on the Go
	// runtime's memory while Run runs (runtime/debug.SetMemoryLimit; the
	// previous limit is restored when Run returns). Near it the garbage
	// collector runs more often instead of letting the heap grow to about
	// twice the live data (GOGC=100), which is most of the peak resident
	// memory of an L2G step. The limit is process-wide, so Run sets one
	// only when asked; zero leaves the runtime's (GOMEMLIMIT) alone.
	MemoryLimit int64
}

// runKey holds the options that must not change when a run is resumed,
// because the continuation would then differ from an uninterrupted run.
type runKey struct {
	Seed         uint64         `json:"seed"`
	Task         episode.Config `json:"task"`
	LR           float64        `json:"lr"`
	LRDecay      float64        `json:"lr_decay"`
	LRDecayEvery int            `json:"lr_decay_every"`
	ClipNorm     float64        `json:"clip_norm"`
	// Augment is nil without augmentation, so the keys of runs from before
	// augmentation existed still match.
	Augment *episode.Augment `json:"augment,omitempty"`
}

func (o *Options) withDefaults() Options {
	c := *o
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.LRDecay == 0 {
		c.LRDecay = 0.5
	}
	if len(c.ValTask.Ways) == 0 {
		c.ValTask = c.Task
	}
	if c.ValEpisodes == 0 {
		c.ValEpisodes = 600
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = c.ValEvery
		if c.CheckpointEvery == 0 {
			c.CheckpointEvery = 1000
		}
	}
	if c.LogEvery == 0 {
		c.LogEvery = 10
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = 10 * time.Second
	}
	return c
}

// Metrics is one line of the metrics log.
type Metrics struct {
	// Episode is the number of episodes completed.
	Episode int `json:"episode"`
	// Loss and Acc are the mean training loss and query accuracy over the
	// episodes since the previous line.
	Loss float64 `json:"loss"`
	Acc  float64 `json:"acc"`
	// LR is the learning rate of the last of those episodes.
	LR float64 `json:"lr"`
	// Seconds is the training wall time so far.
	Seconds float64 `json:"seconds"`
	// ValAcc and ValCI95 are the validation accuracy and its 95 %
	// interval, when validation ran at this episode.
	ValAcc  *float64 `json:"val_acc,omitempty"`
	ValCI95 *float64 `json:"val_ci95,omitempty"`
}

// Summary is the outcome of [Run].
type Summary struct {
	// Episodes is the number of episodes completed.
	Episodes int
	// BestVal is the best validation accuracy, at BestEpisode (0 if
	// validation never ran).
	BestVal     float64
	BestEpisode int
	// Seconds is the total training wall time.
	Seconds float64
}

// configChecker is implemented by algorithms that accept only some task
// shapes.
type configChecker interface {
	checkConfig(cfg episode.Config) error
}

// episodeSeed is the sampler seed of training episode e.
func episodeSeed(seed uint64, e int) uint64 {
	return splitmix(seed ^ splitmix(uint64(e)+0x51ed))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Run trains a with Adam on episodes drawn from opts.Train until
// opts.Episodes have been completed, validating, logging and checkpointing
// as opts says. When ctx is cancelled it writes a checkpoint (if opts.Dir is
// set) and returns ctx's error; rerunning with Resume continues where it
// stopped, on the same episodes with the same weights, optimiser state and
// learning rate. The continuation is bit-identical to an uninterrupted run
// when the compute kernels are deterministic, which they are with one
// thread (engine.SetThreads(1)); with more, kernels that add per-thread
// partial sums in scheduling order make the last bits of any two runs
// differ, interrupted or not.
func Run(ctx context.Context, a Algorithm, opts Options) (*Summary, error) {
	o := opts.withDefaults()
	if o.Train == nil {
		return nil, errors.New("train: no training data")
	}
	if o.Episodes < 0 || o.ValEvery < 0 || o.ValEpisodes < 0 || o.CheckpointEvery < 0 || o.LogEvery < 0 || o.LRDecayEvery < 0 || o.ClipNorm < 0 || o.LR < 0 || o.MemoryLimit < 0 {
		return nil, fmt.Errorf("train: negative setting in options")
	}
	if o.MemoryLimit > 0 {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(o.MemoryLimit))
	}
	if err := o.Task.Validate(); err != nil {
		return nil, fmt.Errorf("train: training task: %w", err)
	}
	if o.Task.Query < 1 {
		return nil, errors.New("train: training tasks need at least one query image per class")
	}
	if err := checkInput(a, o.Train); err != nil {
		return nil, err
	}
	if cc, ok := a.(configChecker); ok {
		if err := cc.checkConfig(o.Task); err != nil {
			return nil, err
		}
		if o.Val != nil {
			if err := cc.checkConfig(o.ValTask); err != nil {
				return nil, fmt.Errorf("validation: %w", err)
			}
		}
	}
	if o.Val != nil {
		if err := o.ValTask.Validate(); err != nil {
			return nil, fmt.Errorf("train: validation task: %w", err)
		}
		if err := checkInput(a, o.Val); err != nil {
			return nil, err
		}
	}
	if p := o.Augment.Pad; p < 0 || p >= min(o.Train.Pre.Width, o.Train.Pre.Height) {
		return nil, fmt.Errorf("train: augmentation pad %d, want 0..%d for %d×%d images", p, min(o.Train.Pre.Width, o.Train.Pre.Height)-1, o.Train.Pre.Width, o.Train.Pre.Height)
	}
	key := runKey{Seed: o.Seed, Task: o.Task, LR: o.LR, LRDecay: o.LRDecay, LRDecayEvery: o.LRDecayEvery, ClipNorm: o.ClipNorm}
	if o.Augment != (episode.Augment{}) {
		key.Augment = &o.Augment
	}
	opt := nn.NewAdam[float32](o.LR)
	var prog Progress
	if o.Dir != "" {
		if err := os.MkdirAll(o.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		ckpt := filepath.Join(o.Dir, CheckpointFile)
		c, err := LoadCheckpoint(ckpt)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		case !o.Resume:
			return nil, fmt.Errorf("train: %s already holds a checkpoint (episode %d); resume it or choose another folder", o.Dir, c.Progress.Episode)
		default:
			want := key
			if o.ChangeSchedule {
				want = c.run
				want.Seed, want.Task = key.Seed, key.Task
			}
			if err := checkResume(c, a.Spec(), want, ckpt); err != nil {
				return nil, err
			}
			if err := c.restore(a, opt); err != nil {
				return nil, err
			}
			prog = c.Progress
		}
		if err := removeCheckpointTemps(o.Dir); err != nil {
			return nil, err
		}
		if err := truncateMetrics(filepath.Join(o.Dir, MetricsFile), prog.Episode); err != nil {
			return nil, err
		}
	}
	r := &runner{a: a, o: o, key: key, opt: opt, prog: prog}
	return r.loop(ctx)
}

// checkInput reports whether d's images fit a's networks.
func checkInput(a Algorithm, d *episode.Decoded) error {
	c, h, w := d.Shape()
	in := a.Networks()[0].InShape()
	if in[0] != c || in[1] != h || in[2] != w {
		return fmt.Errorf("train: dataset %s has %d×%d×%d images (C×H×W), the %s network takes %d×%d×%d", d.Name, c, h, w, a.Spec().Algo, in[0], in[1], in[2])
	}
	return nil
}

// checkResume reports whether checkpoint c can continue a run of spec and
// key.
func checkResume(c *Checkpoint, spec Spec, key runKey, path string) error {
	if c.Spec != spec {
		return fmt.Errorf("train: checkpoint %s was written for %+v, this run is %+v", path, c.Spec, spec)
	}
	kj, _ := json.Marshal(key)
	cj, _ := json.Marshal(c.run)
	if !bytes.Equal(kj, cj) {
		return fmt.Errorf("train: checkpoint %s was written with options %s, this run has %s; resuming would not continue the same run", path, cj, kj)
	}
	return nil
}

// truncateMetrics drops the lines of the metrics log after episode, so a
// resumed run appends to exactly the lines its checkpoint had seen. A
// missing log is fine.
func truncateMetrics(path string, episode int) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var keep []byte
	for line := range bytes.Lines(data) {
		var m Metrics
		if json.Unmarshal(line, &m) != nil || m.Episode > episode || !bytes.HasSuffix(line, []byte("\n")) {
			break
		}
		keep = append(keep, line...)
	}
	if len(keep) == len(data) {
		return nil
	}
	// keep is a prefix, so one truncate call does it: unlike rewriting the
	// file, a kill at any moment leaves either the old log or the new one.
	if err := os.Truncate(path, int64(len(keep))); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// removeCheckpointTemps deletes the temporary files of checkpoint writes
// (of CheckpointFile and BestFile) that a killed session left in dir. They
// are never read (a checkpoint only becomes visible by its rename), so this
// only reclaims the space; it assumes no other run uses dir at the same
// time.
func removeCheckpointTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	patterns := []string{atomicfile.TempPattern(CheckpointFile), atomicfile.TempPattern(BestFile)}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		for _, pat := range patterns {
			if ok, _ := filepath.Match(pat, e.Name()); ok {
				if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
					return fmt.Errorf("train: removing a stale checkpoint temporary: %w", err)
				}
				break
			}
		}
	}
	return nil
}

// runner is the state of one training session.
type runner struct {
	a    Algorithm
	o    Options
	key  runKey
	opt  *nn.Adam[float32]
	prog Progress

	log         *bufio.Writer
	logFile     *os.File
	sessionEp   int // episode at the start of this session
	start       time.Time
	lastPrint   time.Time
	baseSeconds float64
}

func (r *runner) seconds() float64 { return r.baseSeconds + time.Since(r.start).Seconds() }

func (r *runner) loop(ctx context.Context) (_ *Summary, err error) {
	o := r.o
	if o.Dir != "" {
		f, err := os.OpenFile(filepath.Join(o.Dir, MetricsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		r.logFile, r.log = f, bufio.NewWriter(f)
		defer func() {
			if ferr := r.log.Flush(); ferr != nil && err == nil {
				err = fmt.Errorf("train: writing metrics: %w", ferr)
			}
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("train: writing metrics: %w", cerr)
			}
		}()
	}
	r.start, r.lastPrint, r.baseSeconds, r.sessionEp = time.Now(), time.Now(), r.prog.Seconds, r.prog.Episode

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := r.prog.Episode
	batches := episode.Prefetch(sctx, 2, func() (*Batch, error) {
		s := episode.NewSampler(o.Train, episodeSeed(o.Seed, next))
		s.Augment = o.Augment
		b, err := r.a.Sample(s, o.Task)
		if err != nil {
			err = fmt.Errorf("train: sampling episode %d: %w", next, err)
		}
		next++
		return b, err
	})
	schedule := nn.StepLR{Base: o.LR, Every: o.LRDecayEvery, Factor: o.LRDecay}
	params := r.a.Params()
	for r.prog.Episode < o.Episodes {
		// Checked first: a select with both cases ready picks at random.
		if err := ctx.Err(); err != nil {
			return r.interrupted(err)
		}
		var res episode.Result[*Batch]
		select {
		case <-ctx.Done():
			return r.interrupted(ctx.Err())
		case res = <-batches:
		}
		if res.Err != nil {
			return nil, res.Err
		}
		lr := schedule.At(r.prog.Episode)
		r.opt.LR = lr
		st := r.a.Step(res.Value)
		grads := st.Grads
		if o.ClipNorm > 0 {
			grads, _ = nn.ClipGradNorm(grads, o.ClipNorm)
		}
		r.opt.Step(params, grads)
		r.prog.Episode++
		r.prog.WindowLoss += st.Loss
		r.prog.WindowAcc += st.Acc
		r.prog.WindowN++
		ep := r.prog.Episode
		last := ep == o.Episodes

		var val *EvalResult
		if o.Val != nil && ((o.ValEvery > 0 && ep%o.ValEvery == 0) || last) {
			v, err := Evaluate(ctx, r.a, o.Val, o.ValTask, o.ValEpisodes, o.ValSeed)
			if err != nil {
				if ctx.Err() != nil {
					return r.interrupted(ctx.Err())
				}
				return nil, fmt.Errorf("train: validation at episode %d: %w", ep, err)
			}
			val = &v
			if r.prog.BestEpisode == 0 || v.Mean > r.prog.BestVal {
				r.prog.BestVal, r.prog.BestEpisode = v.Mean, ep
				if o.Dir != "" {
					if err := writeCheckpoint(filepath.Join(o.Dir, BestFile), r.a, nil, r.key, r.prog); err != nil {
						return nil, err
					}
				}
			}
		}
		if ep%o.LogEvery == 0 || val != nil || last {
			if err := r.writeMetrics(lr, val); err != nil {
				return nil, err
			}
		}
		if o.Dir != "" && (ep%o.CheckpointEvery == 0 || last) {
			if err := r.checkpoint(); err != nil {
				return nil, err
			}
		}
		if o.Progress != nil && (val != nil || last || time.Since(r.lastPrint) >= o.ProgressInterval) {
			r.printProgress(st, lr, val)
		}
	}
	return &Summary{Episodes: r.prog.Episode, BestVal: r.prog.BestVal, BestEpisode: r.prog.BestEpisode, Seconds: r.seconds()}, nil
}

// interrupted saves a checkpoint after cancellation and returns cause.
func (r *runner) interrupted(cause error) (*Summary, error) {
	if r.o.Dir != "" {
		if err := r.checkpoint(); err != nil {
			return nil, errors.Join(cause, err)
		}
	}
	if r.o.Progress != nil {
		fmt.Fprintf(r.o.Progress, "interrupted at episode %d; checkpoint saved, rerun with resume to continue\n", r.prog.Episode)
	}
	return nil, fmt.Errorf("train: stopped at episode %d: %w", r.prog.Episode, cause)
}

func (r *runner) checkpoint() error {
	p := r.prog
	p.Seconds = r.seconds()
	// The metrics log must hold every line the checkpoint has seen, even
	// after a power loss, so it is synced before the checkpoint is.
	if r.log != nil {
		if err := r.log.Flush(); err != nil {
			return fmt.Errorf("train: writing metrics: %w", err)
		}
		if err := r.logFile.Sync(); err != nil {
			return fmt.Errorf("train: writing metrics: %w", err)
		}
	}
	return writeCheckpoint(filepath.Join(r.o.Dir, CheckpointFile), r.a, r.opt, r.key, p)
}

func (r *runner) writeMetrics(lr float64, val *EvalResult) error {
	n := float64(max(r.prog.WindowN, 1))
	m := Metrics{Episode: r.prog.Episode, Loss: r.prog.WindowLoss / n, Acc: r.prog.WindowAcc / n, LR: lr, Seconds: r.seconds()}
	if val != nil {
		m.ValAcc, m.ValCI95 = &val.Mean, &val.CI95
	}
	r.prog.WindowLoss, r.prog.WindowAcc, r.prog.WindowN = 0, 0, 0
	if r.log == nil {
		return nil
	}
	line, err := json.Marshal(m)
	if err != nil {
		return err
	}
	// Flushed per line so that the log can be followed during a long run;
	// lines past the last checkpoint are dropped again on resume.
	r.log.Write(append(line, '\n'))
	if err := r.log.Flush(); err != nil {
		return fmt.Errorf("train: writing metrics: %w", err)
	}
	return nil
}

func (r *runner) printProgress(st StepResult, lr float64, val *EvalResult) {
	r.lastPrint = time.Now()
	ep, total := r.prog.Episode, r.o.Episodes
	done := ep - r.sessionEp
	per := time.Since(r.start).Seconds() / float64(max(done, 1))
	eta := time.Duration(per * float64(total-ep) * float64(time.Second)).Round(time.Second)
	line := fmt.Sprintf("episode %d/%d (%.1f%%) loss %.4f acc %.2f%% lr %.3g %.3fs/episode ETA %s",
		ep, total, 100*float64(ep)/float64(max(total, 1)), st.Loss, 100*st.Acc, lr, per, eta)
	if val != nil {
		line += fmt.Sprintf(" | val %s, best %.2f%% at %d", val, 100*r.prog.BestVal, r.prog.BestEpisode)
	}
	fmt.Fprintln(r.o.Progress, line)
}
