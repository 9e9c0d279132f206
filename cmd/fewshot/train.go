package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/train"
)

func init() {
	register(&command{
		name:    "train",
		summary: "meta-train a few-shot model (ProtoNet, RelationNet, MAML, L2G, ...)",
		run:     runTrain,
	})
}

const trainExamples = `
# ProtoNet on Omniglot (Vinyals split), 60-way 5-shot 5-query episodes
fewshot train --algo proto --data shared/data/omniglot --out runs/proto-omni --episodes 20000

# L2G-ProtoNet on mini-ImageNet, 20-way 5-shot, exact second order
fewshot train --algo l2g-proto --data shared/data/mini-imagenet --way 20 --out runs/l2g-mini

# continue an interrupted run (same flags plus --resume)
fewshot train --algo proto --data shared/data/omniglot --out runs/proto-omni --episodes 20000 --resume`

// trainFlags are the parsed flags of the train command.
type trainFlags struct {
	algo, data, split, valSplit, testSplit, out, cacheDir, export string
	memoryLimit, init, augment                                    string
	way, shot, query                                              int
	valWay, valShot, valQuery                                     int
	episodes, valEvery, valEpisodes, testEpisodes                 int
	logEvery, checkpointEvery, lrDecayEvery                       int
	lr, lrDecay, clip, innerLR                                    float64
	innerSteps, metaBatch, hidden, threads, bpttSteps             int
	seed                                                          uint64
	resume, changeSchedule, firstOrder                            bool
}

func runTrain(ctx context.Context, env *cmdEnv, args []string) error {
	var f trainFlags
	fl := newFlagSet(env, "train", "--algo NAME --data PATH --out DIR [flags]",
		"Meta-trains a few-shot classifier on episodes drawn from a dataset. The output folder receives\n"+
			"checkpoint.fsckpt (latest, for --resume), best.fsckpt (best validation accuracy) and metrics.jsonl.\n"+
			"Omniglot (a folder with background.zip and evaluation.zip) defaults to the Vinyals splits, 28×28×1\n"+
			"and 60-way 5-shot 5-query training; other datasets to 84×84×3, splits train/val and 20-way\n"+
			"(5-way for the relation and MAML learners) 5-shot 15-query training. Validation is 5-way.\n"+
			"meta-lstm (Ravi & Larochelle's meta-learner LSTM) trains --val-way-way tasks, since its linear head\n"+
			"is tied to the way, with --clip 0.25 unless given, as in the paper.",
		trainExamples)
	fl.StringVar(&f.algo, "algo", "proto", "algorithm: "+strings.Join(train.Algorithms(), ", "))
	fl.StringVar(&f.data, "data", "", "dataset folder or zip (required; see episode.Load)")
	fl.StringVar(&f.split, "split", "", `training split (default vinyals-train for Omniglot, else train; "" for a folder of class folders)`)
	fl.StringVar(&f.valSplit, "val-split", "", `validation split (default vinyals-val for Omniglot, else val; "none" disables)`)
	fl.StringVar(&f.testSplit, "test-split", "", "if set, evaluate the best model on this split after training")
	fl.StringVar(&f.out, "out", "", "output folder (required)")
	fl.StringVar(&f.export, "export", "", "after training, write the best model as an ONNX file here (metric learners only)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "decoded-image cache folder (default: the user cache folder)")
	fl.IntVar(&f.way, "way", 0, "classes per training task (default by dataset and algorithm)")
	fl.IntVar(&f.shot, "shot", 5, "support images per class")
	fl.IntVar(&f.query, "query", 0, "query images per class in training (default 5 for Omniglot, else 15)")
	fl.IntVar(&f.valWay, "val-way", 5, "classes per validation and test task")
	fl.IntVar(&f.valShot, "val-shot", 0, "support images per class in validation and test (default --shot)")
	fl.IntVar(&f.valQuery, "val-query", 15, "query images per class in validation and test")
	fl.IntVar(&f.episodes, "episodes", 10000, "total training episodes (steps), including resumed ones")
	fl.IntVar(&f.valEvery, "val-every", 500, "validate every K episodes (0: only at the end)")
	fl.IntVar(&f.valEpisodes, "val-episodes", 600, "validation episodes")
	fl.IntVar(&f.testEpisodes, "test-episodes", 600, "test episodes for --test-split")
	fl.IntVar(&f.logEvery, "log-every", 10, "write a metrics line every K episodes")
	fl.IntVar(&f.checkpointEvery, "checkpoint-every", 0, "checkpoint every K episodes (default --val-every)")
	fl.Float64Var(&f.lr, "lr", 1e-3, "Adam learning rate")
	fl.Float64Var(&f.lrDecay, "lr-decay", 0.5, "learning-rate factor applied every --lr-decay-every episodes")
	fl.IntVar(&f.lrDecayEvery, "lr-decay-every", 0, "episodes between learning-rate decays (default 100000 for the relation learners, else 10000)")
	fl.Float64Var(&f.clip, "clip", 0, "clip the gradient norm to this value (0: off; default 0.25 for meta-lstm)")
	fl.Float64Var(&f.innerLR, "inner-lr", 0, "inner-step learning rate of L2G and MAML (default 0.01); meta-lstm: the initial input gate")
	fl.IntVar(&f.innerSteps, "inner-steps", 0, "MAML inner steps (default 5 for maml, 1 for maml-proto/-relation); meta-lstm: updates T (default 5)")
	fl.IntVar(&f.metaBatch, "meta-batch", 0, "task pairs per L2G step (default 5) or tasks per MAML or meta-lstm step (default 4 for maml, else 1)")
	fl.BoolVar(&f.firstOrder, "first-order", false, "L2G/MAML: detach the inner gradient (first-order approximation)")
	fl.IntVar(&f.bpttSteps, "bptt-steps", 0, "meta-lstm: backpropagate through the LSTM of only the last K updates (0: all, as in the paper)")
	fl.IntVar(&f.hidden, "hidden", 0, "channels of every convolution (default 64)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the initialisation and of every training episode")
	fl.IntVar(&f.threads, "threads", 0, "compute threads (default: all CPUs)")
	fl.BoolVar(&f.resume, "resume", false, "continue the run in --out from its checkpoint")
	fl.StringVar(&f.init, "init", "", "start from the weights and batch-norm statistics of this checkpoint (same networks; fresh optimiser,\n"+
		"episode 0), e.g. to fine-tune on another task shape; when --resume continues a run, its checkpoint wins")
	fl.StringVar(&f.memoryLimit, "memory-limit", "auto", "soft limit on the process's memory, such as 3GiB or 2500MiB: the garbage collector works harder near it\n"+
		"instead of letting the heap grow to twice the live data; auto: 3/4 of physical memory unless GOMEMLIMIT is set; off: none")
	fl.StringVar(&f.augment, "augment", "", `training-image augmentation, a comma-separated list of "flip" (mirror left-right at random)
and "pad=N" (shift by up to N pixels, filling with the mean colour); e.g. flip,pad=8`)
	fl.BoolVar(&f.changeSchedule, "change-schedule", false, "with --resume: accept a different --lr, --lr-decay, --lr-decay-every, --clip or --augment (applied from the checkpoint's episode on)")
	if err := parseFlagsNoArgs(fl, args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	aug, err := parseAugment(f.augment)
	if err != nil {
		return err
	}
	if f.threads > 0 {
		engine.SetThreads(f.threads)
	}
	memLimit, err := parseMemoryLimit(f.memoryLimit, os.Getenv("GOMEMLIMIT") != "", physicalMemory())
	if err != nil {
		return err
	}

	// An explicitly empty --split (a folder of class folders) is kept.
	set := map[string]bool{}
	fl.Visit(func(g *flag.Flag) { set[g.Name] = true })
	f.applyDefaults(isOmniglotDir(f.data), set)
	trainSet, err := openSplit(ctx, f.data, f.split, f.cacheDir)
	if err != nil {
		return err
	}
	var valSet *episode.Decoded
	if f.valSplit != "none" {
		if valSet, err = openSplit(ctx, f.data, f.valSplit, f.cacheDir); err != nil {
			return err
		}
	}
	c, h, w := trainSet.Shape()
	spec := train.Spec{Algo: f.algo, InChannels: c, Height: h, Width: w, Hidden: f.hidden, InnerLR: f.innerLR,
		InnerSteps: f.innerSteps, MetaBatch: f.metaBatch, FirstOrder: f.firstOrder, BPTTSteps: f.bpttSteps, Seed: f.seed}
	if f.algo == "maml" || f.algo == "meta-lstm" {
		spec.Way = f.way
	}
	algo, err := train.New(spec)
	if err != nil {
		return err
	}
	if f.init != "" {
		c, err := train.LoadCheckpoint(f.init)
		if err != nil {
			return err
		}
		if err := c.CopyWeights(algo); err != nil {
			return fmt.Errorf("--init %s: %w", f.init, err)
		}
	}
	valCfg := episode.Fixed(f.valWay, f.valShot, f.valQuery)
	opts := train.Options{
		Train: trainSet, Task: episode.Fixed(f.way, f.shot, f.query), Episodes: f.episodes, Seed: f.seed,
		LR: f.lr, LRDecay: f.lrDecay, LRDecayEvery: f.lrDecayEvery, ClipNorm: f.clip, Augment: aug,
		Val: valSet, ValTask: valCfg, ValEvery: f.valEvery, ValEpisodes: f.valEpisodes, ValSeed: f.seed,
		Dir: f.out, Resume: f.resume, ChangeSchedule: f.changeSchedule, CheckpointEvery: f.checkpointEvery, LogEvery: f.logEvery,
		Progress: env.stderr, MemoryLimit: memLimit,
	}
	fmt.Fprintf(env.stderr, "training %s on %s (%d classes), %d-way %d-shot %d-query, %d episodes, output %s\n",
		f.algo, trainSet.Name, trainSet.NumClasses(), f.way, f.shot, f.query, f.episodes, f.out)
	sum, err := train.Run(ctx, algo, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "trained %s for %d episodes in %.0f s\n", f.algo, sum.Episodes, sum.Seconds)
	if sum.BestEpisode > 0 {
		fmt.Fprintf(env.stdout, "best validation accuracy %.2f%% at episode %d (%s)\n", 100*sum.BestVal, sum.BestEpisode, filepath.Join(f.out, train.BestFile))
	}
	if f.export == "" && f.testSplit == "" {
		return nil
	}
	best, ckpt, err := loadBest(f.out)
	if err != nil {
		return err
	}
	if f.export != "" {
		desc := fmt.Sprintf("%s split %s", trainSet.Name, f.split)
		if err := train.ExportFile(f.export, best, trainSet.Pre, desc); err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "exported the model of episode %d to %s\n", ckpt.Progress.Episode, f.export)
		if w := train.ExportWarning(f.algo); w != "" {
			fmt.Fprintln(env.stderr, w)
		}
	}
	if f.testSplit != "" {
		return testBest(ctx, env, f, valCfg, best, ckpt)
	}
	return nil
}

// loadBest loads the best checkpoint of the run in dir, or its latest when
// it was never validated.
func loadBest(dir string) (train.Algorithm, *train.Checkpoint, error) {
	ckpt, err := train.LoadCheckpoint(filepath.Join(dir, train.BestFile))
	if errors.Is(err, fs.ErrNotExist) {
		ckpt, err = train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	}
	if err != nil {
		return nil, nil, err
	}
	a, err := ckpt.Algorithm()
	return a, ckpt, err
}

func (f *trainFlags) validate() error {
	if f.data == "" {
		return usagef("--data is required")
	}
	if f.out == "" {
		return usagef("--out is required")
	}
	valid := false
	for _, a := range train.Algorithms() {
		valid = valid || a == f.algo
	}
	if !valid {
		return usagef("unknown --algo %q (want one of %s)", f.algo, strings.Join(train.Algorithms(), ", "))
	}
	for _, c := range []struct {
		name string
		v    int
		min  int
	}{{"way", f.way, 0}, {"shot", f.shot, 1}, {"query", f.query, 0}, {"val-way", f.valWay, 2}, {"val-shot", f.valShot, 0},
		{"val-query", f.valQuery, 1}, {"episodes", f.episodes, 1}, {"val-every", f.valEvery, 0}, {"val-episodes", f.valEpisodes, 1},
		{"test-episodes", f.testEpisodes, 1}, {"log-every", f.logEvery, 1}, {"checkpoint-every", f.checkpointEvery, 0},
		{"lr-decay-every", f.lrDecayEvery, 0}, {"inner-steps", f.innerSteps, 0}, {"meta-batch", f.metaBatch, 0},
		{"hidden", f.hidden, 0}, {"threads", f.threads, 0}, {"bptt-steps", f.bpttSteps, 0}} {
		if c.v < c.min {
			return usagef("--%s %d, want >= %d", c.name, c.v, c.min)
		}
	}
	if f.way == 1 {
		return usagef("--way 1: a task needs at least 2 classes")
	}
	if !(f.lr > 0) || !(f.lrDecay > 0) || f.clip < 0 || f.innerLR < 0 {
		return usagef("--lr and --lr-decay must be positive, --clip and --inner-lr non-negative")
	}
	if f.valSplit == "none" && f.testSplit != "" {
		return usagef("--test-split needs validation to choose the best model; drop --val-split none")
	}
	return nil
}

// applyDefaults fills in the flags whose defaults depend on the dataset;
// set holds the names of the flags given on the command line.
func (f *trainFlags) applyDefaults(omniglot bool, set map[string]bool) {
	relation := strings.HasSuffix(f.algo, "relation")
	if f.way == 0 {
		switch {
		case f.algo == "meta-lstm":
			f.way = f.valWay
		case omniglot:
			f.way = 60
		case relation || strings.HasPrefix(f.algo, "maml"):
			f.way = 5
		default:
			f.way = 20
		}
	}
	if f.query == 0 {
		f.query = 15
		if omniglot {
			f.query = 5
		}
	}
	if f.valShot == 0 {
		f.valShot = f.shot
	}
	if f.algo == "meta-lstm" && !set["clip"] {
		f.clip = 0.25
	}
	if f.lrDecayEvery == 0 {
		f.lrDecayEvery = 10000
		if relation {
			f.lrDecayEvery = 100000
		}
	}
	if !set["split"] {
		f.split = defaultSplit(omniglot, "train")
	}
	if !set["val-split"] {
		f.valSplit = defaultSplit(omniglot, "val")
	}
}

func defaultSplit(omniglot bool, part string) string {
	if omniglot {
		return "vinyals-" + part
	}
	return part
}

// openSplit lists and decodes one split of the dataset at path with the
// dataset's usual preprocessing (see episode.Load).
func openSplit(ctx context.Context, path, split, cacheDir string) (*episode.Decoded, error) {
	ds, err := episode.Load(path, split)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	return episode.Decode(ctx, ds, ds.Pre, episode.DecodeOptions{CacheDir: cacheDir})
}

func isOmniglotDir(p string) bool {
	for _, z := range []string{"background.zip", "evaluation.zip"} {
		if st, err := os.Stat(filepath.Join(p, z)); err != nil || !st.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// testBest evaluates the best model on the test split and writes the
// result to test.json in the output folder.
func testBest(ctx context.Context, env *cmdEnv, f trainFlags, cfg episode.Config, algo train.Algorithm, ckpt *train.Checkpoint) error {
	testSet, err := openSplit(ctx, f.data, f.testSplit, f.cacheDir)
	if err != nil {
		return err
	}
	res, err := train.Evaluate(ctx, algo, testSet, cfg, f.testEpisodes, f.seed)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "test %d-way %d-shot on %s: %s\n", f.valWay, f.valShot, f.testSplit, res)
	out, _ := json.MarshalIndent(map[string]any{
		"split": f.testSplit, "way": f.valWay, "shot": f.valShot, "query": f.valQuery, "episodes": f.testEpisodes,
		"checkpoint_episode": ckpt.Progress.Episode, "accuracy": res.Mean, "ci95": res.CI95,
	}, "", "  ")
	return os.WriteFile(filepath.Join(f.out, "test.json"), append(out, '\n'), 0o644)
}

// parseMemoryLimit returns the byte count of a --memory-limit value: a
// number with an optional unit B, KiB, MiB, GiB or TiB (as GOMEMLIMIT
// takes), "off" (0: no limit), or "auto": 0 when GOMEMLIMIT is set, since
// the runtime applies it already, and otherwise 3/4 of physMem (0 when
// unknown), a safety net that leaves the collector alone until the heap
// nears the machine's size.
func parseMemoryLimit(v string, envSet bool, physMem int64) (int64, error) {
	switch v {
	case "off":
		return 0, nil
	case "auto":
		if envSet {
			return 0, nil
		}
		return physMem / 4 * 3, nil
	}
	num := strings.TrimRight(v, "BKMGTi")
	unit := v[len(num):]
	mult := map[string]int64{"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	n, err := strconv.ParseInt(num, 10, 64)
	if mult == 0 || err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, usagef("--memory-limit %q: want a size such as 3GiB or 2500MiB, auto or off", v)
	}
	return n * mult, nil
}

// physicalMemory returns the machine's memory in bytes from /proc/meminfo,
// or 0 where that cannot be read (other systems).
func physicalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "MemTotal:" && f[2] == "kB" {
			if kb, err := strconv.ParseInt(f[1], 10, 64); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// parseAugment reads the --augment list: "flip" and "pad=N" in any order.
func parseAugment(s string) (episode.Augment, error) {
	var a episode.Augment
	if s == "" {
		return a, nil
	}
	for _, item := range strings.Split(s, ",") {
		name, val, hasVal := strings.Cut(strings.TrimSpace(item), "=")
		switch {
		case name == "flip" && !hasVal:
			a.FlipH = true
		case name == "pad" && hasVal:
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return a, usagef("--augment %q: pad=%s, want a whole number of pixels ≥ 1", s, val)
			}
			a.Pad = n
		default:
			return a, usagef("--augment %q: unknown item %q (want flip or pad=N)", s, item)
		}
	}
	return a, nil
}
