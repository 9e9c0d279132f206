package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
	"github.com/fewshot-go/fewshot/train"
)

// runTrainCmd runs "fewshot train args..." in-process and returns the exit
// status and both streams.
func runTrainCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, append([]string{"train"}, args...))
	return code, out.String(), errb.String()
}

func TestTrainUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--out", "x"}, "--data is required"},
		{[]string{"--data", "x"}, "--out is required"},
		{[]string{"--data", "x", "--out", "y", "--algo", "nope"}, "unknown --algo"},
		{[]string{"--data", "x", "--out", "y", "--shot", "0"}, "--shot 0"},
		{[]string{"--data", "x", "--out", "y", "--way", "1"}, "--way 1"},
		{[]string{"--data", "x", "--out", "y", "--lr", "-1"}, "--lr"},
		{[]string{"--data", "x", "--out", "y", "--bogus"}, "bogus"},
		{[]string{"--data", "x", "--out", "y", "--augment", "flip,rotate"}, `unknown item "rotate"`},
		{[]string{"--data", "x", "--out", "y", "--augment", "pad=0"}, "pad=0"},
		{[]string{"--data", "x", "--out", "y", "--augment", "pad"}, `unknown item "pad"`},
		{[]string{"--data", "x", "--out", "y", "extra"}, "unexpected arguments"},
	} {
		code, _, stderr := runTrainCmd(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("train %q: exit %d, stderr %q; want 2 and %q", c.args, code, stderr, c.want)
		}
	}
	if code, stdout, _ := runTrainCmd("-h"); code != 0 || !strings.Contains(stdout, "--algo") {
		t.Errorf("train -h: exit %d, output %q", code, stdout)
	}
}

func TestTrainMissingData(t *testing.T) {
	code, _, stderr := runTrainCmd("--data", filepath.Join(t.TempDir(), "none"), "--out", t.TempDir())
	if code != 1 || !strings.Contains(stderr, "none") {
		t.Errorf("exit %d, stderr %q; want 1 and the missing path", code, stderr)
	}
}

// TestTrainOmniglot runs a few L2G-ProtoNet episodes on the Vinyals
// Omniglot split through the command, evaluates on the test split, exports
// the model and loads it, then resumes the run for one more episode.
func TestTrainOmniglot(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes the Omniglot Vinyals split")
	}
	data := testshared.Path(t, "data/omniglot")
	out := t.TempDir()
	args := []string{"--algo", "l2g-proto", "--data", data, "--out", out, "--way", "5", "--shot", "1", "--query", "2",
		"--hidden", "8", "--meta-batch", "1", "--val-every", "2", "--val-episodes", "5", "--val-shot", "1", "--log-every", "1"}
	code, stdout, stderr := runTrainCmd(append(args, "--episodes", "3", "--test-split", "vinyals-test", "--test-episodes", "5",
		"--export", filepath.Join(out, "model.onnx"))...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "best validation accuracy") || !strings.Contains(stdout, "test 5-way 1-shot") {
		t.Errorf("stdout %q lacks the validation and test results", stdout)
	}
	for _, f := range []string{train.CheckpointFile, train.BestFile, train.MetricsFile, "test.json", "model.onnx"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	var res struct{ Accuracy, CI95 float64 }
	if b, err := os.ReadFile(filepath.Join(out, "test.json")); err != nil || json.Unmarshal(b, &res) != nil || res.Accuracy <= 0 || res.Accuracy > 1 {
		t.Errorf("test.json: %+v (%v)", res, err)
	}
	if _, err := fewshot.LoadModel(filepath.Join(out, "model.onnx")); err != nil {
		t.Errorf("exported model: %v", err)
	}
	if code, _, stderr := runTrainCmd(append(args, "--episodes", "4")...); code != 1 || !strings.Contains(stderr, "resume") {
		t.Errorf("rerun without --resume: exit %d, stderr %q; want 1 and a hint to resume", code, stderr)
	}
	if code, _, stderr := runTrainCmd(append(args, "--episodes", "4", "--resume")...); code != 0 {
		t.Fatalf("resume: exit %d, stderr %s", code, stderr)
	}
	c, err := train.LoadCheckpoint(filepath.Join(out, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if c.Progress.Episode != 4 {
		t.Errorf("resumed checkpoint at episode %d, want 4", c.Progress.Episode)
	}
}

// TestTrainFolder trains ProtoNet for two episodes with augmentation on
// the fixture folder of class folders (an explicitly empty split) without
// validation, and checks the metrics log.
func TestTrainFolder(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runTrainCmd("--algo", "proto", "--data", filepath.Join("..", "..", "testdata", "omniglot"), "--split", "",
		"--val-split", "none", "--out", out, "--way", "3", "--shot", "1", "--query", "2", "--hidden", "4", "--episodes", "2",
		"--log-every", "1", "--augment", "flip,pad=2", "--cache-dir", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("metrics log has %d lines, want 2:\n%s", len(lines), b)
	}
	var m train.Metrics
	if err := json.Unmarshal([]byte(lines[1]), &m); err != nil || m.Episode != 2 || !(m.Loss > 0) || m.ValAcc != nil {
		t.Errorf("last metrics line %s (%v)", lines[1], err)
	}
}

func TestParseMemoryLimit(t *testing.T) {
	const phys = int64(16) << 30
	for _, c := range []struct {
		v      string
		envSet bool
		want   int64
	}{
		{"auto", false, 12 << 30}, {"auto", true, 0}, {"off", false, 0},
		{"3GiB", false, 3 << 30}, {"2500MiB", false, 2500 << 20}, {"512KiB", true, 512 << 10},
		{"1TiB", false, 1 << 40}, {"1000", false, 1000}, {"1000B", false, 1000}, {"0", false, 0},
	} {
		got, err := parseMemoryLimit(c.v, c.envSet, phys)
		if err != nil || got != c.want {
			t.Errorf("parseMemoryLimit(%q, env %v) = %d, %v; want %d", c.v, c.envSet, got, err, c.want)
		}
	}
	for _, v := range []string{"", "3G", "3GB", "-1MiB", "1.5GiB", "GiB", "99999999999TiB", "lots"} {
		if _, err := parseMemoryLimit(v, false, phys); err == nil || !strings.Contains(err.Error(), "--memory-limit") {
			t.Errorf("parseMemoryLimit(%q): err = %v, want a usage error naming the flag", v, err)
		}
	}
}

// TestTrainInit starts a run from another run's checkpoint: with a
// negligible learning rate its weights stay those of the checkpoint, and a
// checkpoint of other networks is refused with an error naming it.
func TestTrainInit(t *testing.T) {
	data := filepath.Join("..", "..", "testdata", "omniglot")
	cache := t.TempDir()
	run := func(out string, extra ...string) {
		t.Helper()
		args := append([]string{"--algo", "proto", "--data", data, "--split", "", "--val-split", "none", "--out", out,
			"--way", "3", "--shot", "1", "--query", "2", "--hidden", "4", "--episodes", "2", "--cache-dir", cache}, extra...)
		if code, stdout, stderr := runTrainCmd(args...); code != 0 {
			t.Fatalf("train %q: exit %d\nstdout %s\nstderr %s", args, code, stdout, stderr)
		}
	}
	weights := func(path string) []float32 {
		t.Helper()
		c, err := train.LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Algorithm()
		if err != nil {
			t.Fatal(err)
		}
		var w []float32
		for _, p := range a.Params() {
			w = append(w, p.Value().Data()...)
		}
		return w
	}
	a, b, fresh := t.TempDir(), t.TempDir(), t.TempDir()
	run(a, "--seed", "1")
	from := filepath.Join(a, train.CheckpointFile)
	run(b, "--seed", "2", "--init", from, "--lr", "1e-12")
	run(fresh, "--seed", "2", "--lr", "1e-12")
	wa, wb, wf := weights(from), weights(filepath.Join(b, train.CheckpointFile)), weights(filepath.Join(fresh, train.CheckpointFile))
	var dInit, dFresh float64
	for i := range wa {
		dInit = max(dInit, math.Abs(float64(wa[i]-wb[i])))
		dFresh = max(dFresh, math.Abs(float64(wa[i]-wf[i])))
	}
	if dInit > 1e-6 || dFresh < 1e-3 {
		t.Errorf("largest weight difference from the --init checkpoint: %g with --init, %g without", dInit, dFresh)
	}

	code, _, stderr := runTrainCmd("--algo", "proto", "--data", data, "--split", "", "--val-split", "none", "--out", t.TempDir(),
		"--way", "3", "--shot", "1", "--query", "2", "--hidden", "8", "--episodes", "1", "--cache-dir", cache, "--init", from)
	if code != 1 || !strings.Contains(stderr, from) || !strings.Contains(stderr, "shape") {
		t.Errorf("--init with other networks: exit %d, stderr %q; want 1, the file and the shape mismatch", code, stderr)
	}
}

// TestTrainDefaultsMetaLSTM checks meta-lstm's flag defaults: tasks of the
// validation way (its head is tied to the way, on Omniglot too) and the
// paper's gradient clipping at 0.25 unless --clip is given.
func TestTrainDefaultsMetaLSTM(t *testing.T) {
	f := trainFlags{algo: "meta-lstm", valWay: 7, shot: 1}
	f.applyDefaults(true, map[string]bool{})
	if f.way != 7 || f.clip != 0.25 {
		t.Errorf("meta-lstm on Omniglot: way %d, clip %g; want 7 and 0.25", f.way, f.clip)
	}
	g := trainFlags{algo: "meta-lstm", valWay: 5, shot: 1}
	g.applyDefaults(false, map[string]bool{"clip": true})
	if g.way != 5 || g.clip != 0 {
		t.Errorf("meta-lstm with --clip 0: way %d, clip %g; want 5 and 0", g.way, g.clip)
	}
	p := trainFlags{algo: "proto", valWay: 5, shot: 1}
	p.applyDefaults(true, map[string]bool{})
	if p.clip != 0 {
		t.Errorf("proto got clip %g by default", p.clip)
	}
}

func TestParseAugment(t *testing.T) {
	for in, want := range map[string]episode.Augment{
		"":            {},
		"flip":        {FlipH: true},
		"pad=8":       {Pad: 8},
		"flip,pad=4":  {FlipH: true, Pad: 4},
		"pad=4, flip": {FlipH: true, Pad: 4},
	} {
		got, err := parseAugment(in)
		if err != nil || got != want {
			t.Errorf("parseAugment(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}
