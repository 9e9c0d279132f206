package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := runMain(context.Background(), &cmdEnv{stdout: &out, stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// TestExportRun trains two episodes on the fixtures, exports the run and
// loads the file as a fewshot model with the training preprocessing.
func TestExportRun(t *testing.T) {
	run, fixtures := t.TempDir(), filepath.Join("..", "..", "testdata", "omniglot")
	if code, _, stderr := runTrainCmd("--algo", "proto", "--data", fixtures, "--split", "", "--val-split", "none",
		"--out", run, "--way", "3", "--shot", "1", "--query", "2", "--hidden", "4", "--episodes", "2",
		"--cache-dir", t.TempDir()); code != 0 {
		t.Fatalf("train: exit %d: %s", code, stderr)
	}
	onnx := filepath.Join(t.TempDir(), "m.onnx")
	code, stdout, stderr := runCmd("export", "--run", run, "--data", fixtures, "--split", "", "--out", onnx)
	if code != 0 || !strings.Contains(stdout, "episode 2") {
		t.Fatalf("export: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	m, err := fewshot.LoadModel(onnx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := episode.Load(fixtures, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	info := m.Info()
	if info.Preprocess.String() != ds.Pre.String() || info.Metric != fewshot.Euclidean {
		t.Errorf("exported preprocess %s metric %s; want %s and euclidean", info.Preprocess, info.Metric, ds.Pre)
	}
	if !strings.Contains(info.TrainingData, "2 episodes") {
		t.Errorf("training data %q does not give the episode count", info.TrainingData)
	}
}

func TestExportErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--out", "x.onnx", "--preprocess", "omniglot"}, 2, "exactly one of --run and --checkpoint"},
		{[]string{"--run", "r", "--checkpoint", "c", "--out", "x.onnx", "--preprocess", "omniglot"}, 2, "exactly one"},
		{[]string{"--run", "r", "--preprocess", "omniglot"}, 2, "--out is required"},
		{[]string{"--run", "r", "--out", "x.onnx"}, 2, "--data"},
		{[]string{"--run", "r", "--out", "x.onnx", "--preprocess", "sepia"}, 2, "--preprocess"},
		{[]string{"--run", filepath.Join(t.TempDir(), "missing-run"), "--out", "x.onnx", "--preprocess", "omniglot"}, 1, "missing-run"},
	} {
		code, _, stderr := runCmd(append([]string{"export"}, c.args...)...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("export %q: exit %d, stderr %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
