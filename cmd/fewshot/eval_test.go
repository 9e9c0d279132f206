package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
	"github.com/fewshot-go/fewshot/nn"
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
		{"no model", []string{"eval", "--data", omniglotFixture}, 2, "--model is required"},
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
