package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/progress"
	"github.com/fewshot-go/fewshot/train"
)

func init() {
	register(&command{
		name:    "eval",
		summary: "measure a model's accuracy on fixed few-shot episodes (mean ± 95% CI)",
		run:     runEval,
	})
}

const evalExamples = `
# the standard protocol: 600 5-way 1-shot 15-query episodes of the Omniglot Vinyals test split
fewshot eval --model omniglot-proto.onnx --data shared/data/omniglot --way 5 --shot 1

# mini-ImageNet test split, 5-way 5-shot, three runs of 600 episodes (seeds 1, 2, 3), as JSON
fewshot eval --model mini-l2g.onnx --data shared/data/mini-imagenet --shot 5 --runs 3 --json

# any-way any-shot: each episode draws its way from 5, 7, 10 and its shot from 1, 5, 10
fewshot eval --model mini-l2g.onnx --data shared/data/mini-imagenet --ways 5,7,10 --shots 1,5,10

# a plain ONNX embedding model without fewshot metadata, told its preprocessing
fewshot eval --model conv4.onnx --preprocess mini-imagenet --data shared/data/mini-imagenet

# a MAML-family learner, which adapts to each episode's supports: evaluate its training checkpoint
fewshot eval --checkpoint runs/maml-proto-omni/best.fsckpt --data shared/data/omniglot --way 5 --shot 1`

// evalFlags are the parsed flags of the eval command.
type evalFlags struct {
	model, checkpoint, data, split, cacheDir, preprocess, metric string
	way, shot, query, episodes, runs, threads                    int
	ways, shots                                                  intList
	seed                                                         uint64
	jsonOut, quiet                                               bool
}

func runEval(ctx context.Context, env *cmdEnv, args []string) error {
	var f evalFlags
	fl := newFlagSet(env, "eval", "(--model FILE.onnx | --checkpoint FILE.fsckpt) --data PATH [flags]",
		"Evaluates a model written by \"fewshot export\" (or package export) on fixed episodes: episode i of a\n"+
			"run depends only on the data, the task shape, the seed and i, so two models evaluated with the same\n"+
			"flags see identical tasks. Images are preprocessed as the model's metadata says. The result is the\n"+
			"mean query accuracy with the half-width of its 95 % confidence interval, 1.96·std/√episodes; with\n"+
			"--runs R > 1, run r uses seed --seed+r-1 and the result is the mean of the run means with the\n"+
			"interval of those means. Results do not depend on --threads.\n"+
			"The split defaults to vinyals-test for an Omniglot folder, test for a folder holding test.zip\n"+
			"(mini-ImageNet) and none (a folder of class folders) otherwise.\n\n"+
			"--checkpoint evaluates a training checkpoint (checkpoint.fsckpt or best.fsckpt of \"fewshot train\")\n"+
			"with its own algorithm instead of an ONNX file: this is how the MAML learners (maml, maml-proto,\n"+
			"maml-relation) and meta-lstm, which adapt their weights to each episode's support set, are evaluated;\n"+
			"an export of maml-proto, maml-relation or meta-lstm classifies without that adaptation. Images are\n"+
			"preprocessed as \"fewshot train\" does, with the dataset's usual preprocessing (no --preprocess or\n"+
			"--metric), and the episodes are the same as with --model. A maml or meta-lstm checkpoint classifies\n"+
			"only the way it was trained for; meta-lstm normalises the queries of an episode with their own batch\n"+
			"statistics, as its paper does.\n\n"+
			"With --json the result is one object: model (the file evaluated, ONNX model or checkpoint), checkpoint\n"+
			"(with --checkpoint: {algorithm, episode}, its algorithm and training episodes), data, split, way and shot\n"+
			"(fixed-shape episodes), ways, shots, query, episodes, seed, runs, accuracy, ci95, per_run (runs > 1:\n"+
			"[{seed, accuracy, ci95}]), by_task (any-way any-shot: [{way, shot, episodes, accuracy, ci95}]),\n"+
			"classes (in the split), metric (ONNX models), preprocess (episode.Preprocess JSON) and seconds.",
		evalExamples)
	fl.StringVar(&f.model, "model", "", "ONNX model file (this or --checkpoint is required)")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "training checkpoint to evaluate with its algorithm, instead of --model")
	fl.StringVar(&f.data, "data", "", "dataset folder or zip (required; see episode.Load)")
	fl.StringVar(&f.split, "split", "", "dataset split (default by dataset, see above)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "decoded-image cache folder (default: the user cache folder)")
	fl.StringVar(&f.preprocess, "preprocess", "", `override the model's preprocessing: "omniglot", "mini-imagenet" or episode.Preprocess JSON (--model only)`)
	fl.StringVar(&f.metric, "metric", "", "override the model's metric: euclidean, cosine or relation (--model only)")
	fl.IntVar(&f.way, "way", 5, "classes per episode")
	fl.IntVar(&f.shot, "shot", 1, "support images per class")
	fl.Var(&f.ways, "ways", "any-way evaluation: comma-separated ways, one drawn per episode (replaces --way)")
	fl.Var(&f.shots, "shots", "any-shot evaluation: comma-separated shots, one drawn per episode (replaces --shot)")
	fl.IntVar(&f.query, "query", 15, "query images per class")
	fl.IntVar(&f.episodes, "episodes", 600, "episodes per run")
	fl.IntVar(&f.runs, "runs", 1, "independent runs, with seeds --seed, --seed+1, ...")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the episode list")
	fl.IntVar(&f.threads, "threads", 0, "episodes evaluated at once, one CPU each (default: all CPUs)")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress on standard error")
	if err := parseFlagsNoArgs(fl, args); err != nil {
		return err
	}
	if err := f.validate(fl.Visit); err != nil {
		return err
	}
	if f.split == "" {
		f.split = defaultEvalSplit(f.data)
	}
	return evaluate(ctx, env, &f)
}

// intList is a flag holding comma-separated positive integers.
type intList []int

func (l *intList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, v := range *l {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ",")
}

func (l *intList) Set(s string) error {
	var out []int
	for _, part := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(part))
		if err != nil || v < 1 {
			return fmt.Errorf("%q is not a comma-separated list of positive integers", s)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// validate checks the flags and turns --way/--shot into one-element lists
// unless --ways/--shots were given. visit walks the flags set explicitly.
func (f *evalFlags) validate(visit func(func(*flag.Flag))) error {
	set := map[string]bool{}
	visit(func(fv *flag.Flag) { set[fv.Name] = true })
	switch {
	case f.model == "" && f.checkpoint == "":
		return usagef("--model FILE.onnx or --checkpoint FILE.fsckpt is required")
	case set["model"] && set["checkpoint"]:
		return usagef("--model and --checkpoint exclude each other: give one")
	case f.data == "":
		return usagef("--data is required")
	}
	if f.checkpoint != "" {
		// A checkpoint's networks were trained on the dataset's usual
		// preprocessing and its algorithm decides how to classify, so
		// neither can be overridden.
		for _, name := range []string{"preprocess", "metric"} {
			if set[name] {
				return usagef("--%s applies to --model only: a checkpoint is evaluated with its own algorithm "+
					"on images preprocessed as in training", name)
			}
		}
	}
	for _, c := range [][2]string{{"way", "ways"}, {"shot", "shots"}} {
		if set[c[0]] && set[c[1]] {
			return usagef("--%s and --%s exclude each other", c[0], c[1])
		}
	}
	if len(f.ways) == 0 {
		f.ways = intList{f.way}
	}
	if len(f.shots) == 0 {
		f.shots = intList{f.shot}
	}
	if slices.Min(f.ways) < 2 {
		return usagef("way %d: an episode needs at least 2 classes", slices.Min(f.ways))
	}
	if slices.Min(f.shots) < 1 {
		return usagef("shot %d, want >= 1", slices.Min(f.shots))
	}
	for _, c := range []struct {
		name string
		v    int
		min  int
	}{{"query", f.query, 1}, {"episodes", f.episodes, 1}, {"runs", f.runs, 1}, {"threads", f.threads, 0}} {
		if c.v < c.min {
			return usagef("--%s %d, want >= %d", c.name, c.v, c.min)
		}
	}
	if f.metric != "" && !slices.Contains([]fewshot.Metric{fewshot.Euclidean, fewshot.Cosine, fewshot.Relation}, fewshot.Metric(f.metric)) {
		return usagef("unknown --metric %q (want %s, %s or %s)", f.metric, fewshot.Euclidean, fewshot.Cosine, fewshot.Relation)
	}
	if f.preprocess != "" {
		if _, err := parsePreprocessFlag(f.preprocess); err != nil {
			return usageError{err}
		}
	}
	return nil
}

// defaultEvalSplit is the test split of the dataset layouts episode.Load
// knows, or "" (the whole folder) for anything else.
func defaultEvalSplit(data string) string { return presentSplit(data, "test") }

// presentSplit is defaultSplit for a dataset folder that may hold no such
// split: Omniglot's vinyals-PART, PART when the folder holds PART.zip, and
// "" (the whole folder) for anything else.
func presentSplit(data, part string) string {
	if isOmniglotDir(data) {
		return defaultSplit(true, part)
	}
	if st, err := os.Stat(filepath.Join(data, part+".zip")); err == nil && st.Mode().IsRegular() {
		return part
	}
	return ""
}

// parsePreprocessFlag reads --preprocess: a preset name or the JSON of an
// episode.Preprocess.
func parsePreprocessFlag(s string) (episode.Preprocess, error) {
	switch s {
	case "omniglot":
		return episode.OmniglotPreprocess(), nil
	case "mini-imagenet":
		return episode.MiniImageNetPreprocess(), nil
	}
	p, err := episode.ParsePreprocess(s)
	if err != nil {
		return p, fmt.Errorf(`--preprocess %q: want "omniglot", "mini-imagenet" or episode.Preprocess JSON such as %s: %w`,
			s, episode.MiniImageNetPreprocess(), err)
	}
	return p, nil
}

// loadModelFlags loads the model named by --model with the --preprocess
// and --metric overrides, explaining how to supply the preprocessing when
// the file does not carry it.
func loadModelFlags(path, preprocess, metric string) (*fewshot.Model, error) {
	var opts []fewshot.ModelOption
	if preprocess != "" {
		pre, err := parsePreprocessFlag(preprocess)
		if err != nil {
			return nil, usageError{err}
		}
		opts = append(opts, fewshot.WithPreprocess(pre))
	}
	if metric != "" {
		opts = append(opts, fewshot.WithMetric(fewshot.Metric(metric)))
	}
	m, err := fewshot.LoadModel(path, opts...)
	if errors.Is(err, fewshot.ErrNoPreprocess) {
		return nil, fmt.Errorf("%s lacks fewshot metadata (it has no %s entry, so it does not say how to preprocess "+
			"images; \"fewshot export\" writes it). For a plain ONNX embedding model, pass --preprocess omniglot, "+
			"--preprocess mini-imagenet or the JSON of an episode.Preprocess such as '%s'",
			path, fewshot.KeyPreprocess, episode.MiniImageNetPreprocess())
	}
	return m, err
}

// evalReport is the result of the eval command, printed as JSON with --json.
type evalReport struct {
	// Model is the file evaluated: the --model ONNX file or the
	// --checkpoint file, which Checkpoint then describes.
	Model      string          `json:"model"`
	Checkpoint *evalCheckpoint `json:"checkpoint,omitempty"`
	Data       string          `json:"data"`
	Split      string          `json:"split"`
	// Way and Shot are set for fixed-shape episodes; Ways and Shots always.
	Way      int             `json:"way,omitempty"`
	Shot     int             `json:"shot,omitempty"`
	Ways     []int           `json:"ways"`
	Shots    []int           `json:"shots"`
	Query    int             `json:"query"`
	Episodes int             `json:"episodes"`
	Seed     uint64          `json:"seed"`
	Runs     int             `json:"runs"`
	Accuracy float64         `json:"accuracy"`
	CI95     float64         `json:"ci95"`
	PerRun   []evalRunResult `json:"per_run,omitempty"`
	ByTask   []evalShape     `json:"by_task,omitempty"`
	Classes  int             `json:"classes"`
	// Metric is the ONNX model's metric; a checkpoint classifies as its
	// algorithm does.
	Metric string `json:"metric,omitempty"`
	// Preprocess is the transform applied, as episode.Preprocess JSON.
	Preprocess json.RawMessage `json:"preprocess"`
	Seconds    float64         `json:"seconds"`
}

// evalCheckpoint describes an evaluated training checkpoint.
type evalCheckpoint struct {
	// Algorithm is the checkpoint's algorithm (see train.Algorithms).
	Algorithm string `json:"algorithm"`
	// Episode is the number of training episodes it holds.
	Episode int `json:"episode"`
}

// evalRunResult is one run of a multi-run evaluation.
type evalRunResult struct {
	Seed     uint64  `json:"seed"`
	Accuracy float64 `json:"accuracy"`
	CI95     float64 `json:"ci95"`
}

// evalShape is the result over all episodes of one (way, shot) in an
// any-way any-shot evaluation.
type evalShape struct {
	Way      int     `json:"way"`
	Shot     int     `json:"shot"`
	Episodes int     `json:"episodes"`
	Accuracy float64 `json:"accuracy"`
	CI95     float64 `json:"ci95"`
}

// episodeResult is the outcome of one episode.
type episodeResult struct {
	way, shot int
	acc       float64
}

// episodeScorer returns the fraction of t's queries it classifies
// correctly. A scorer is used by one goroutine at a time.
type episodeScorer func(t *episode.Task) (float64, error)

// evalSource is what the episodes are evaluated on: the decoded split and
// one scorer per worker goroutine.
type evalSource struct {
	dec        *episode.Decoded
	scorers    []episodeScorer
	metric     string
	checkpoint *evalCheckpoint
}

func evaluate(ctx context.Context, env *cmdEnv, f *evalFlags) error {
	start := time.Now()
	// Each worker evaluates whole episodes with single-threaded kernels:
	// episodes are independent, so this keeps every CPU busy even for
	// small models, and makes each result independent of --threads.
	workers := f.threads
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, f.episodes)
	var (
		src  *evalSource
		err  error
		path = f.model
	)
	if f.checkpoint != "" {
		path = f.checkpoint
		src, err = openCheckpointSource(ctx, env, f, workers)
	} else {
		src, err = openModelSource(ctx, env, f, workers)
	}
	if err != nil {
		return err
	}
	dec := src.dec
	if w := slices.Max(f.ways); dec.NumClasses() < w {
		return fmt.Errorf("%s has %d classes, fewer than the %d an episode needs", dec.Name, dec.NumClasses(), w)
	}
	defer engine.SetThreads(engine.SetThreads(1))

	bar := progress.New(env.stderr, int64(f.runs*f.episodes), "episode", progress.Options{Quiet: f.quiet})
	var tally struct {
		sync.Mutex
		sum float64
		n   int
	}
	report := func(acc float64) {
		tally.Lock()
		tally.sum += acc
		tally.n++
		mean := tally.sum / float64(tally.n)
		tally.Unlock()
		bar.Add(1, progress.F("acc", mean))
	}
	rep := evalReport{
		Model: path, Checkpoint: src.checkpoint, Data: f.data, Split: f.split, Ways: f.ways, Shots: f.shots, Query: f.query,
		Episodes: f.episodes, Seed: f.seed, Runs: f.runs, Classes: dec.NumClasses(), Metric: src.metric,
		Preprocess: json.RawMessage(dec.Pre.String()),
	}
	if len(f.ways) == 1 && len(f.shots) == 1 {
		rep.Way, rep.Shot = f.ways[0], f.shots[0]
	}
	cfg := episode.Config{Ways: f.ways, Shots: f.shots, Query: f.query}
	var all []episodeResult
	var runMeans []float64
	for r := range f.runs {
		seed := f.seed + uint64(r)
		res, err := evalRun(ctx, dec, cfg, f.episodes, seed, src.scorers, report)
		if err != nil {
			bar.Finish()
			return err
		}
		accs := make([]float64, len(res))
		for i, e := range res {
			accs[i] = e.acc
		}
		mean, ci := meanCI95(accs)
		rep.PerRun = append(rep.PerRun, evalRunResult{Seed: seed, Accuracy: mean, CI95: ci})
		runMeans = append(runMeans, mean)
		all = append(all, res...)
	}
	bar.Finish()
	if f.runs == 1 {
		rep.Accuracy, rep.CI95 = rep.PerRun[0].Accuracy, rep.PerRun[0].CI95
		rep.PerRun = nil
	} else {
		rep.Accuracy, rep.CI95 = meanCI95(runMeans)
	}
	if rep.Way == 0 {
		rep.ByTask = byShape(all)
	}
	rep.Seconds = time.Since(start).Seconds()

	if f.jsonOut {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%s\n", b)
		return err
	}
	return printEvalSummary(env, &rep)
}

// openModelSource loads the --model file and decodes the split with the
// model's preprocessing. The classifier is safe for concurrent use, so all
// workers share it.
func openModelSource(ctx context.Context, env *cmdEnv, f *evalFlags, workers int) (*evalSource, error) {
	model, err := loadModelFlags(f.model, f.preprocess, f.metric)
	if err != nil {
		return nil, err
	}
	info := model.Info()
	maxImages := slices.Max(f.ways) * (slices.Max(f.shots) + f.query)
	clf, err := fewshot.New(model, fewshot.WithBatchSize(min(maxImages, 128)))
	if err != nil {
		return nil, err
	}
	ds, err := episode.Load(f.data, f.split)
	if err != nil {
		return nil, err
	}
	defer ds.Close()
	if !f.quiet {
		fmt.Fprintf(env.stderr, "decoding %s (%d images) at %d×%d×%d\n", ds.Name, ds.NumItems(), info.Preprocess.Channels, info.Preprocess.Height, info.Preprocess.Width)
	}
	dec, err := episode.Decode(ctx, ds, info.Preprocess, episode.DecodeOptions{CacheDir: f.cacheDir})
	if err != nil {
		return nil, err
	}
	src := &evalSource{dec: dec, metric: string(info.Metric), scorers: make([]episodeScorer, workers)}
	for w := range src.scorers {
		src.scorers[w] = func(t *episode.Task) (float64, error) { return classifyEpisode(clf, t) }
	}
	return src, nil
}

// openCheckpointSource loads the --checkpoint file and decodes the split
// as "fewshot train" does (openSplit). Each worker gets its own copy of the
// algorithm, so no two goroutines ever run a forward pass on the same
// networks.
func openCheckpointSource(ctx context.Context, env *cmdEnv, f *evalFlags, workers int) (*evalSource, error) {
	path := f.checkpoint
	ckpt, err := train.LoadCheckpoint(path)
	if err != nil {
		return nil, err
	}
	spec := ckpt.Spec
	// The linear head of maml and meta-lstm has one output per class of
	// its training way (train.Spec.Way); every other algorithm scores any
	// number of classes.
	if spec.Algo == "maml" || spec.Algo == "meta-lstm" {
		for _, w := range f.ways {
			if w != spec.Way {
				return nil, fmt.Errorf("checkpoint %s holds a %s model trained for %d-way tasks: its softmax head has %d outputs, "+
					"so it cannot classify %d-way episodes (evaluate it with --way %d)", path, spec.Algo, spec.Way, spec.Way, w, spec.Way)
			}
		}
	}
	if !f.quiet {
		fmt.Fprintf(env.stderr, "decoding %s split %q with its usual preprocessing, as for training\n", f.data, f.split)
	}
	dec, err := openSplit(ctx, f.data, f.split, f.cacheDir)
	if err != nil {
		return nil, err
	}
	if c, h, w := dec.Shape(); c != spec.InChannels || h != spec.Height || w != spec.Width {
		return nil, fmt.Errorf("checkpoint %s (%s) takes %d×%d×%d (C×H×W) images, but %s is preprocessed to %d×%d×%d: "+
			"evaluate it on the kind of dataset it was trained on", path, spec.Algo, spec.InChannels, spec.Height, spec.Width, dec.Name, c, h, w)
	}
	src := &evalSource{dec: dec, checkpoint: &evalCheckpoint{Algorithm: spec.Algo, Episode: ckpt.Progress.Episode},
		scorers: make([]episodeScorer, workers)}
	for w := range src.scorers {
		a, err := ckpt.Algorithm()
		if err != nil {
			return nil, fmt.Errorf("checkpoint %s: %w", path, err)
		}
		src.scorers[w] = func(t *episode.Task) (float64, error) {
			scores, err := a.Predict(t)
			if err != nil {
				return 0, err
			}
			return engine.Accuracy(scores, t.Query.Labels), nil
		}
	}
	return src, nil
}

// evalRun evaluates episodes 0..n-1 of (cfg, seed) on one goroutine per
// scorer (at most n) and returns their results in episode order. done is
// called after each episode with its accuracy.
func evalRun(ctx context.Context, dec *episode.Decoded, cfg episode.Config, n int, seed uint64,
	scorers []episodeScorer, done func(acc float64)) ([]episodeResult, error) {
	res := make([]episodeResult, n)
	err := runEpisodes(ctx, n, len(scorers), func(w, i int) error {
		r, err := evalEpisode(dec, cfg, seed, i, scorers[w])
		if err != nil {
			return err
		}
		res[i] = r
		done(r.acc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// runEpisodes calls do(w, i) for every episode index i in [0, n) on
// min(workers, n) goroutines, w being the caller's worker number (for
// per-worker state such as a scorer). It stops handing out episodes at the
// first error or when ctx ends, and returns that error.
func runEpisodes(ctx context.Context, n, workers int, do func(w, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if ctx.Err() != nil {
					return
				}
				if err := do(w, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// evalEpisode draws episode i of (cfg, seed), the same task whatever
// scores it, and scores it.
func evalEpisode(dec *episode.Decoded, cfg episode.Config, seed uint64, i int, score episodeScorer) (episodeResult, error) {
	t, err := dec.Episode(cfg, seed, i)
	if err != nil {
		return episodeResult{}, fmt.Errorf("episode %d (seed %d): %w", i, seed, err)
	}
	acc, err := score(t)
	if err != nil {
		return episodeResult{}, fmt.Errorf("episode %d (seed %d): %w", i, seed, err)
	}
	return episodeResult{way: t.Way, shot: t.Shot, acc: acc}, nil
}

// classifyEpisode classifies the queries of t with the tensor fast path of
// package fewshot: the supports and queries are embedded in one pass.
func classifyEpisode(clf *fewshot.Classifier, t *episode.Task) (float64, error) {
	// Zero-padded labels sort in label order, so a tie goes to the lowest
	// label as an argmax would.
	labels := make([]string, t.Way)
	for l := range labels {
		labels[l] = fmt.Sprintf("%04d", l)
	}
	ns, nq := t.Support.N, t.Query.N
	x := make([]float32, 0, len(t.Support.Data)+len(t.Query.Data))
	x = append(append(x, t.Support.Data...), t.Query.Data...)
	emb, err := clf.EmbedTensor(x, ns+nq)
	if err != nil {
		return 0, err
	}
	d := len(emb) / (ns + nq)
	supLabels := make([]string, ns)
	for k, l := range t.Support.Labels {
		supLabels[k] = labels[l]
	}
	protos, err := clf.FitEmbeddings(supLabels, emb[:ns*d])
	if err != nil {
		return 0, err
	}
	preds, err := protos.PredictEmbeddings(emb[ns*d:])
	if err != nil {
		return 0, err
	}
	correct := 0
	for k, p := range preds {
		if p.Label == labels[t.Query.Labels[k]] {
			correct++
		}
	}
	return float64(correct) / float64(nq), nil
}

// meanCI95 returns the mean of v and the half-width of its 95 % confidence
// interval, 1.96·s/√n with the sample standard deviation s (0 for n = 1).
func meanCI95(v []float64) (mean, ci float64) {
	for _, x := range v {
		mean += x
	}
	n := float64(len(v))
	mean /= n
	if len(v) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return mean, 1.96 * math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// byShape groups episode results by (way, shot), sorted by way then shot.
func byShape(res []episodeResult) []evalShape {
	groups := map[[2]int][]float64{}
	for _, r := range res {
		k := [2]int{r.way, r.shot}
		groups[k] = append(groups[k], r.acc)
	}
	var out []evalShape
	for k, accs := range groups {
		mean, ci := meanCI95(accs)
		out = append(out, evalShape{Way: k[0], Shot: k[1], Episodes: len(accs), Accuracy: mean, CI95: ci})
	}
	slices.SortFunc(out, func(a, b evalShape) int {
		if a.Way != b.Way {
			return a.Way - b.Way
		}
		return a.Shot - b.Shot
	})
	return out
}

func printEvalSummary(env *cmdEnv, r *evalReport) error {
	shape := fmt.Sprintf("%d-way %d-shot", r.Way, r.Shot)
	if r.Way == 0 {
		shape = fmt.Sprintf("{%s}-way {%s}-shot", (*intList)(&r.Ways), (*intList)(&r.Shots))
	}
	w := env.stdout
	if r.Runs == 1 {
		fmt.Fprintf(w, "%s: %.2f %% ± %.2f (%d episodes)\n", shape, 100*r.Accuracy, 100*r.CI95, r.Episodes)
	} else {
		fmt.Fprintf(w, "%s: %.2f %% ± %.2f (mean of %d runs of %d episodes; ± over the run means)\n",
			shape, 100*r.Accuracy, 100*r.CI95, r.Runs, r.Episodes)
		for i, pr := range r.PerRun {
			fmt.Fprintf(w, "  run %d (seed %d): %.2f %% ± %.2f\n", i+1, pr.Seed, 100*pr.Accuracy, 100*pr.CI95)
		}
	}
	for _, s := range r.ByTask {
		fmt.Fprintf(w, "  %d-way %d-shot: %.2f %% ± %.2f (%d episodes)\n", s.Way, s.Shot, 100*s.Accuracy, 100*s.CI95, s.Episodes)
	}
	_, err := fmt.Fprintf(w, "%d queries per class, seed %d, %s split %q (%d classes), %.1f s\n",
		r.Query, r.Seed, r.Data, r.Split, r.Classes, r.Seconds)
	return err
}
