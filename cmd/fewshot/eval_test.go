package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
	"github.com/fewshot-go/fewshot/nn"
	"github.com/fewshot-go/fewshot/train"
)

// invoke runs the fewshot tool in-process and returns its exit status and
// output streams.
func invoke(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = runMain(context.Background(), &cmdEnv{stdout: &out, stderr: &errOut}, args)
	return code, out.String(), errOut.String()
}

// writeRandomModel exports a Conv-4 with random weights (hidden channels
// per block) for pre to a file in a temporary folder, as "fewshot export"
// would write a trained one, and returns its path.
func writeRandomModel(t *testing.T, pre episode.Preprocess, hidden int, seed uint64) string {
	t.Helper()
	net, err := nn.NewConv4[float32](nn.Conv4Config{InChannels: pre.Channels, Height: pre.Height, Width: pre.Width, Hidden: hidden},
		rand.New(rand.NewPCG(seed, 3)))
	if err != nil {
		t.Fatal(err)
	}
	layers, err := export.FromNetwork(net)
	if err != nil {
		t.Fatal(err)
	}
	m, err := export.Model(export.Spec{Embedding: layers, Preprocess: pre, Metric: fewshot.Euclidean, Algorithm: "random"})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "random.onnx")
	if err := export.WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	return path
}

// omniglotFixture is the checked-in sample: 6 characters of 5 drawings.
const omniglotFixture = "../../testdata/omniglot"

func evalJSON(t *testing.T, args ...string) evalReport {
	t.Helper()
	code, out, errOut := invoke(t, append([]string{"eval", "--json", "--quiet"}, args...)...)
	if code != 0 {
		t.Fatalf("eval %v: exit %d, stderr %s", args, code, errOut)
	}
	if errOut != "" {
		t.Errorf("eval --quiet wrote to stderr: %q", errOut)
	}
	var r evalReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("eval output %q is not the JSON report: %v", out, err)
	}
	if dec.More() {
		t.Fatalf("eval printed more than one JSON value: %q", out)
	}
	return r
}

func TestEvalJSON(t *testing.T) {
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 8, 1)
	cache := t.TempDir()
	args := []string{"--model", model, "--data", omniglotFixture, "--cache-dir", cache,
		"--way", "5", "--shot", "1", "--query", "3", "--episodes", "8", "--seed", "7"}
	r := evalJSON(t, args...)
	if !(r.Accuracy >= 0 && r.Accuracy <= 1) || !(r.CI95 >= 0) {
		t.Errorf("accuracy %v ± %v, want in [0, 1] and >= 0", r.Accuracy, r.CI95)
	}
	if r.Way != 5 || r.Shot != 1 || r.Query != 3 || r.Episodes != 8 || r.Seed != 7 || r.Runs != 1 ||
		r.Model != model || r.Data != omniglotFixture || r.Split != "" || r.Classes != 6 || r.Metric != "euclidean" {
		t.Errorf("report %+v does not echo the flags", r)
	}
	if r.PerRun != nil || r.ByTask != nil {
		t.Errorf("single fixed-shape run has per_run %v, by_task %v", r.PerRun, r.ByTask)
	}
	if pre, err := episode.ParsePreprocess(string(r.Preprocess)); err != nil || pre.String() != episode.OmniglotPreprocess().String() {
		t.Errorf("preprocess %s (%v), want the model's %s", r.Preprocess, err, episode.OmniglotPreprocess())
	}
	// Episode i depends only on (seed, i): the same flags give the same
	// result, with any number of threads.
	again := evalJSON(t, append(args, "--threads", "1")...)
	if again.Accuracy != r.Accuracy || again.CI95 != r.CI95 {
		t.Errorf("second evaluation %v ± %v, first %v ± %v", again.Accuracy, again.CI95, r.Accuracy, r.CI95)
	}

	// Three runs use seeds 7, 8, 9; the first equals the single run above
	// and the headline is the mean of the run means.
	multi := evalJSON(t, append(args, "--runs", "3")...)
	if len(multi.PerRun) != 3 || multi.PerRun[0].Seed != 7 || multi.PerRun[2].Seed != 9 {
		t.Fatalf("per_run %+v, want seeds 7, 8, 9", multi.PerRun)
	}
	if multi.PerRun[0].Accuracy != r.Accuracy || multi.PerRun[0].CI95 != r.CI95 {
		t.Errorf("run 1 %+v, want the single run's %v ± %v", multi.PerRun[0], r.Accuracy, r.CI95)
	}
	mean, ci := meanCI95([]float64{multi.PerRun[0].Accuracy, multi.PerRun[1].Accuracy, multi.PerRun[2].Accuracy})
	if multi.Accuracy != mean || multi.CI95 != ci {
		t.Errorf("multi-run result %v ± %v, want the mean of run means %v ± %v", multi.Accuracy, multi.CI95, mean, ci)
	}
}

func TestEvalAnyWayAnyShot(t *testing.T) {
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 8, 2)
	r := evalJSON(t, "--model", model, "--data", omniglotFixture, "--cache-dir", t.TempDir(),
		"--ways", "2,3", "--shots", "1,2", "--query", "2", "--episodes", "12")
	if r.Way != 0 || r.Shot != 0 || len(r.Ways) != 2 || len(r.Shots) != 2 {
		t.Errorf("way %d shot %d ways %v shots %v, want only the lists", r.Way, r.Shot, r.Ways, r.Shots)
	}
	n := 0
	var sum float64
	for _, s := range r.ByTask {
		if s.Way < 2 || s.Way > 3 || s.Shot < 1 || s.Shot > 2 || !(s.Accuracy >= 0 && s.Accuracy <= 1) {
			t.Errorf("by_task entry %+v out of range", s)
		}
		n += s.Episodes
		sum += s.Accuracy * float64(s.Episodes)
	}
	if n != 12 {
		t.Errorf("by_task covers %d episodes, want 12", n)
	}
	if d := sum/12 - r.Accuracy; d > 1e-12 || d < -1e-12 {
		t.Errorf("by_task weighted mean %v, overall %v", sum/12, r.Accuracy)
	}
}

func TestEvalHumanSummary(t *testing.T) {
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 8, 3)
	code, out, errOut := invoke(t, "eval", "--model", model, "--data", omniglotFixture, "--cache-dir", t.TempDir(),
		"--query", "2", "--episodes", "4")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	if !strings.HasPrefix(out, "5-way 1-shot: ") || !strings.Contains(out, " % ± ") || !strings.Contains(out, "(4 episodes)") {
		t.Errorf("summary %q, want \"5-way 1-shot: xx.xx %% ± y.yy (4 episodes)\"", out)
	}
	if !strings.Contains(errOut, "episode") {
		t.Errorf("no progress on stderr: %q", errOut)
	}
}

func TestEvalErrors(t *testing.T) {
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 4, 4)
	data := []string{"--data", omniglotFixture, "--cache-dir", t.TempDir(), "--quiet"}
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no model", []string{"eval", "--data", omniglotFixture}, 2, "--model FILE.onnx or --checkpoint FILE.fsckpt is required"},
		{"no data", []string{"eval", "--model", model}, 2, "--data is required"},
		{"bad flag", []string{"eval", "--model", model, "--frobnicate"}, 2, "frobnicate"},
		{"way 1", append([]string{"eval", "--model", model, "--way", "1"}, data...), 2, "at least 2 classes"},
		{"episodes 0", append([]string{"eval", "--model", model, "--episodes", "0"}, data...), 2, "--episodes 0"},
		{"bad list", append([]string{"eval", "--model", model, "--ways", "5,x"}, data...), 2, "comma-separated"},
		{"way and ways", append([]string{"eval", "--model", model, "--way", "5", "--ways", "5,7"}, data...), 2, "exclude each other"},
		{"bad preprocess", append([]string{"eval", "--model", model, "--preprocess", "{"}, data...), 2, "--preprocess"},
		{"bad metric", append([]string{"eval", "--model", model, "--metric", "manhattan"}, data...), 2, "manhattan"},
		{"extra argument", append([]string{"eval", "--model", model, "stray"}, data...), 2, "stray"},
		{"missing model", append([]string{"eval", "--model", "no/such/model.onnx"}, data...), 1, "no/such/model.onnx"},
		{"too few classes", append([]string{"eval", "--model", model, "--way", "7"}, data...), 1, "6 classes"},
		{"missing data", []string{"eval", "--model", model, "--data", "no/such/data", "--quiet"}, 1, "no/such/data"},
	}
	for _, c := range cases {
		code, out, errOut := invoke(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and a message containing %q", c.name, code, errOut, c.code, c.want)
		}
		// (The flag package prints the help after a parse error; runtime
		// errors must leave stdout empty for --json consumers.)
		if c.code == 1 && out != "" {
			t.Errorf("%s: wrote %q to stdout", c.name, out)
		}
	}
}

// A plain ONNX embedding model carries no fewshot metadata: eval says so
// and how to supply the preprocessing, and --preprocess makes it usable.
func TestEvalPlainONNX(t *testing.T) {
	model := filepath.Join(testshared.Path(t, "onnx-models/conv4-random-ortref"), "model.onnx")
	data := []string{"--data", omniglotFixture, "--cache-dir", t.TempDir(), "--query", "2", "--episodes", "2"}
	code, _, errOut := invoke(t, append([]string{"eval", "--model", model, "--quiet"}, data...)...)
	if code != 1 || !strings.Contains(errOut, model) || !strings.Contains(errOut, "lacks fewshot metadata") ||
		!strings.Contains(errOut, "--preprocess") {
		t.Errorf("exit %d, stderr %q; want exit 1 naming the file, the missing metadata and --preprocess", code, errOut)
	}
	r := evalJSON(t, append([]string{"--model", model, "--preprocess", "mini-imagenet"}, data...)...)
	if !(r.Accuracy >= 0 && r.Accuracy <= 1) || r.Metric != "euclidean" {
		t.Errorf("plain model with --preprocess: accuracy %v metric %q", r.Accuracy, r.Metric)
	}
}

// trainFixtureRun trains algo for two 3-way 1-shot 2-query episodes on the
// fixture folder (84×84×3, its usual preprocessing) with 4 channels per
// convolution and returns the run's checkpoint.
func trainFixtureRun(t *testing.T, algo string, extra ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append([]string{"--algo", algo, "--data", omniglotFixture, "--split", "", "--val-split", "none", "--out", out,
		"--way", "3", "--shot", "1", "--query", "2", "--hidden", "4", "--episodes", "2", "--cache-dir", t.TempDir()}, extra...)
	if code, stdout, stderr := runTrainCmd(args...); code != 0 {
		t.Fatalf("train %s: exit %d\nstdout %s\nstderr %s", algo, code, stdout, stderr)
	}
	return filepath.Join(out, train.CheckpointFile)
}

// TestEvalCheckpointMatchesModel evaluates a ProtoNet checkpoint with
// --checkpoint and its ONNX export with --model: both see the same
// episodes, pixel for pixel, and classify every episode alike (the export
// holds the same weights and batch-norm running statistics, and both paths
// score queries by Euclidean distance to the class means).
func TestEvalCheckpointMatchesModel(t *testing.T) {
	ckpt := trainFixtureRun(t, "proto")
	onnx := filepath.Join(t.TempDir(), "proto.onnx")
	if code, _, stderr := runCmd("export", "--checkpoint", ckpt, "--data", omniglotFixture, "--split", "", "--out", onnx); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	cache := t.TempDir()
	args := []string{"--data", omniglotFixture, "--cache-dir", cache, "--way", "3", "--shot", "1", "--query", "2",
		"--episodes", "12", "--seed", "5"}
	r := evalJSON(t, append([]string{"--checkpoint", ckpt}, args...)...)
	if !(r.Accuracy >= 0 && r.Accuracy <= 1) || !(r.CI95 > 0) {
		t.Errorf("accuracy %v ± %v, want in [0, 1] and > 0", r.Accuracy, r.CI95)
	}
	if r.Model != ckpt || r.Checkpoint == nil || *r.Checkpoint != (evalCheckpoint{Algorithm: "proto", Episode: 2}) || r.Metric != "" ||
		r.Way != 3 || r.Episodes != 12 || r.Seed != 5 || r.Classes != 6 {
		t.Errorf("report %+v (checkpoint %+v) does not describe the checkpoint and flags", r, r.Checkpoint)
	}
	if string(r.Preprocess) != episode.MiniImageNetPreprocess().String() {
		t.Errorf("preprocess %s, want the fixture's usual %s", r.Preprocess, episode.MiniImageNetPreprocess())
	}
	if again := evalJSON(t, append([]string{"--checkpoint", ckpt, "--threads", "1"}, args...)...); again.Accuracy != r.Accuracy || again.CI95 != r.CI95 {
		t.Errorf("--threads 1: %v ± %v, default threads %v ± %v", again.Accuracy, again.CI95, r.Accuracy, r.CI95)
	}
	m := evalJSON(t, append([]string{"--model", onnx}, args...)...)
	if m.Accuracy != r.Accuracy || m.CI95 != r.CI95 || m.Checkpoint != nil || m.Metric != "euclidean" {
		t.Errorf("--model %s: %v ± %v (checkpoint %v, metric %q); --checkpoint: %v ± %v", onnx, m.Accuracy, m.CI95,
			m.Checkpoint, m.Metric, r.Accuracy, r.CI95)
	}

	// Episode by episode: the tasks are identical and so is each accuracy.
	env := &cmdEnv{stdout: io.Discard, stderr: io.Discard}
	f := evalFlags{data: omniglotFixture, cacheDir: cache, ways: intList{3}, shots: intList{1}, query: 2, quiet: true}
	fm, fc := f, f
	fm.model, fc.checkpoint = onnx, ckpt
	ms, err := openModelSource(context.Background(), env, &fm, 2)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := openCheckpointSource(context.Background(), env, &fc, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := episode.Fixed(3, 1, 2)
	const n, seed = 12, 5
	for i := range n {
		a, errA := ms.dec.Episode(cfg, seed, i)
		b, errB := cs.dec.Episode(cfg, seed, i)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if !slices.Equal(a.Support.Labels, b.Support.Labels) || !slices.Equal(a.Query.Labels, b.Query.Labels) ||
			!slices.Equal(a.Support.Data, b.Support.Data) || !slices.Equal(a.Query.Data, b.Query.Data) {
			t.Fatalf("episode %d differs between the --model and --checkpoint data", i)
		}
	}
	defer engine.SetThreads(engine.SetThreads(1))
	mr, err := evalRun(context.Background(), ms.dec, cfg, n, seed, ms.scorers, func(float64) {})
	if err != nil {
		t.Fatal(err)
	}
	cr, err := evalRun(context.Background(), cs.dec, cfg, n, seed, cs.scorers, func(float64) {})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(mr, cr) {
		t.Errorf("per-episode results differ:\n--model      %v\n--checkpoint %v", mr, cr)
	}
	c, err := train.LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Algorithm()
	if err != nil {
		t.Fatal(err)
	}
	// The two paths compute the same embeddings up to float32 rounding
	// (the ONNX executor orders some sums differently), far below the gaps
	// between query-to-prototype distances that decide the accuracies.
	task, err := cs.dec.Episode(cfg, seed, 0)
	if err != nil {
		t.Fatal(err)
	}
	model, err := fewshot.LoadModel(onnx)
	if err != nil {
		t.Fatal(err)
	}
	clf, err := fewshot.New(model)
	if err != nil {
		t.Fatal(err)
	}
	s := task.Support
	got, err := clf.EmbedTensor(s.Data, s.N)
	if err != nil {
		t.Fatal(err)
	}
	net := a.Networks()[0]
	want := net.Forward(engine.Const(engine.FromSlice(s.Data, s.N, s.C, s.H, s.W)), net.Params(), nn.Eval).Value().Data()
	if len(got) != len(want) {
		t.Fatalf("ONNX embeddings have %d values, the checkpoint's network %d", len(got), len(want))
	}
	for k := range got {
		if d := got[k] - want[k]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("embedding value %d: ONNX %v, checkpoint %v", k, got[k], want[k])
		}
	}
	// The accuracies are also what train.Evaluate (fewshot train
	// --test-split) measures for the checkpoint.
	ev, err := train.Evaluate(context.Background(), a, cs.dec, cfg, n, seed)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range cr {
		if e.acc != ev.Accs[i] {
			t.Errorf("episode %d: accuracy %v, train.Evaluate %v", i, e.acc, ev.Accs[i])
		}
	}
}

// TestEvalCheckpointMAML evaluates the MAML learners, which adapt to each
// episode's supports: maml-proto at any way and shot (with results
// independent of --threads), maml at its training way only.
func TestEvalCheckpointMAML(t *testing.T) {
	cache := t.TempDir()
	data := []string{"--data", omniglotFixture, "--cache-dir", cache, "--query", "2", "--episodes", "6"}

	mp := trainFixtureRun(t, "maml-proto", "--inner-steps", "1")
	args := append([]string{"--checkpoint", mp, "--ways", "2,3", "--shots", "1,2"}, data...)
	r := evalJSON(t, args...)
	if !(r.Accuracy >= 0 && r.Accuracy <= 1) || len(r.ByTask) == 0 || r.Checkpoint == nil || r.Checkpoint.Algorithm != "maml-proto" {
		t.Errorf("maml-proto any-way any-shot: %+v", r)
	}
	one := evalJSON(t, append(args, "--threads", "1")...)
	if one.Accuracy != r.Accuracy || !slices.Equal(one.ByTask, r.ByTask) {
		t.Errorf("--threads 1: %v %v; default: %v %v", one.Accuracy, one.ByTask, r.Accuracy, r.ByTask)
	}

	mm := trainFixtureRun(t, "maml", "--inner-steps", "1", "--meta-batch", "1")
	r = evalJSON(t, append([]string{"--checkpoint", mm, "--way", "3", "--shot", "2"}, data...)...)
	if !(r.Accuracy >= 0 && r.Accuracy <= 1) || r.Checkpoint == nil || r.Checkpoint.Algorithm != "maml" {
		t.Errorf("maml at its training way: %+v", r)
	}
	for _, way := range [][]string{{"--way", "4"}, {"--ways", "3,4"}} {
		code, out, errOut := invoke(t, append(append([]string{"eval", "--checkpoint", mm}, way...), data...)...)
		if code != 1 || out != "" || !strings.Contains(errOut, mm) || !strings.Contains(errOut, "maml model trained for 3-way") ||
			!strings.Contains(errOut, "4-way") {
			t.Errorf("maml checkpoint with %v: exit %d, stdout %q, stderr %q; want exit 1 naming the file, "+
				"the algorithm and its 3-way training", way, code, out, errOut)
		}
	}
}

func TestEvalCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 4, 5)
	garbage := filepath.Join(dir, "garbage.fsckpt")
	if err := os.WriteFile(garbage, []byte("not a checkpoint at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A checkpoint for 28×28×1 images, evaluated on the 84×84×3 fixture.
	ds, err := episode.Load(omniglotFixture, "")
	if err != nil {
		t.Fatal(err)
	}
	dec, err := episode.Decode(context.Background(), ds, episode.OmniglotPreprocess(), episode.DecodeOptions{NoCache: true})
	ds.Close()
	if err != nil {
		t.Fatal(err)
	}
	a, err := train.New(train.Spec{Algo: "proto", InChannels: 1, Height: 28, Width: 28, Hidden: 4})
	if err != nil {
		t.Fatal(err)
	}
	small := filepath.Join(dir, "omniglot-run")
	if _, err := train.Run(context.Background(), a, train.Options{Train: dec, Task: episode.Fixed(3, 1, 2), Episodes: 1, Dir: small}); err != nil {
		t.Fatal(err)
	}
	small = filepath.Join(small, train.CheckpointFile)

	data := []string{"--data", omniglotFixture, "--cache-dir", t.TempDir(), "--quiet", "--episodes", "2", "--query", "2"}
	missing := filepath.Join(dir, "no-such.fsckpt")
	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"both", append([]string{"--model", model, "--checkpoint", garbage}, data...), 2, []string{"--model and --checkpoint exclude each other"}},
		{"neither", data, 2, []string{"--model", "--checkpoint", "required"}},
		{"preprocess", append([]string{"--checkpoint", garbage, "--preprocess", "omniglot"}, data...), 2, []string{"--preprocess applies to --model only"}},
		{"metric", append([]string{"--checkpoint", garbage, "--metric", "cosine"}, data...), 2, []string{"--metric applies to --model only"}},
		{"missing file", append([]string{"--checkpoint", missing}, data...), 1, []string{missing}},
		{"corrupt file", append([]string{"--checkpoint", garbage}, data...), 1, []string{garbage, "not a fewshot checkpoint"}},
		{"ONNX file", append([]string{"--checkpoint", model}, data...), 1, []string{model, "not a fewshot checkpoint"}},
		{"input shape", append([]string{"--checkpoint", small, "--way", "3"}, data...), 1, []string{small, "1×28×28 (C×H×W)", "3×84×84"}},
	}
	for _, c := range cases {
		code, out, errOut := invoke(t, append([]string{"eval"}, c.args...)...)
		ok := code == c.code
		for _, w := range c.want {
			ok = ok && strings.Contains(errOut, w)
		}
		if !ok {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and a message containing %q", c.name, code, errOut, c.code, c.want)
		}
		if c.code == 1 && out != "" {
			t.Errorf("%s: wrote %q to stdout", c.name, out)
		}
	}
}

// TestMetaLSTMCommands trains meta-lstm with the command, evaluates its
// checkpoint at its training way (and refuses another way), and exports
// its initial embedding with a warning that it is not the evaluated model.
func TestMetaLSTMCommands(t *testing.T) {
	ckpt := trainFixtureRun(t, "meta-lstm", "--inner-steps", "2")
	c, err := train.LoadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	if c.Spec.Algo != "meta-lstm" || c.Spec.Way != 3 || c.Spec.InnerSteps != 2 {
		t.Fatalf("checkpoint spec %+v", c.Spec)
	}
	data := []string{"--data", omniglotFixture, "--cache-dir", t.TempDir(), "--query", "2", "--episodes", "4"}
	r := evalJSON(t, append([]string{"--checkpoint", ckpt, "--way", "3", "--shot", "1"}, data...)...)
	if !(r.Accuracy >= 0 && r.Accuracy <= 1) || r.Checkpoint == nil || r.Checkpoint.Algorithm != "meta-lstm" {
		t.Errorf("meta-lstm at its training way: %+v", r)
	}
	code, out, errOut := invoke(t, append([]string{"eval", "--checkpoint", ckpt, "--way", "4"}, data...)...)
	if code != 1 || out != "" || !strings.Contains(errOut, "meta-lstm model trained for 3-way") || !strings.Contains(errOut, "4-way") {
		t.Errorf("meta-lstm checkpoint at 4-way: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	onnx := filepath.Join(t.TempDir(), "m.onnx")
	code, out, errOut = runCmd("export", "--checkpoint", ckpt, "--data", omniglotFixture, "--split", "", "--out", onnx)
	if code != 0 || !strings.Contains(out, "exported meta-lstm") || !strings.Contains(errOut, "NOT the model meta-lstm evaluates") {
		t.Fatalf("export: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	m, err := fewshot.LoadModel(onnx)
	if err != nil {
		t.Fatal(err)
	}
	if info := m.Info(); info.Metric != fewshot.Euclidean || !strings.Contains(info.Algorithm, "not the evaluated model") {
		t.Errorf("exported model info %+v", info)
	}
}
