package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/internal/testshared"
	"github.com/fewshot-go/fewshot/onnxio"
)

func TestONNXRun(t *testing.T) {
	dir := testshared.Path(t, "onnx-models/mnist-8")
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{stdout: &stdout, stderr: &stderr}
	code := runMain(context.Background(), env, []string{"onnx", "run",
		"--model", filepath.Join(dir, "model.onnx"),
		"--input", filepath.Join(dir, "test_data_set_0", "input_0.pb"),
		"--output-dir", out})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got, err := onnxio.ReadTensorFile(filepath.Join(out, "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := onnxio.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "output_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := onnxio.Compare(got, want, onnxio.DefaultTolerance); err != nil {
		t.Error(err)
	}
	ents, _ := os.ReadDir(out)
	if len(ents) != 1 {
		t.Errorf("output dir holds %d files, want only output_0.pb", len(ents))
	}

	// A missing flag is a usage error (exit 2).
	if code := runMain(context.Background(), env, []string{"onnx", "run", "--model", "x.onnx"}); code != 2 {
		t.Errorf("missing --output-dir: exit %d, want 2", code)
	}
}

func TestONNXCheck(t *testing.T) {
	root := testshared.Path(t, "onnx-conformance")
	good := []string{filepath.Join(root, "node", "test_relu"), filepath.Join(root, "simple", "test_single_relu_model")}

	// A case whose expected output is wrong: the model of test_relu with
	// test_sigmoid's data.
	bad := t.TempDir()
	copyFile(t, filepath.Join(root, "node", "test_relu", "model.onnx"), filepath.Join(bad, "model.onnx"))
	set := filepath.Join(bad, "test_data_set_0")
	if err := os.Mkdir(set, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"input_0.pb", "output_0.pb"} {
		copyFile(t, filepath.Join(root, "node", "test_sigmoid", "test_data_set_0", f), filepath.Join(set, f))
	}

	var stdout, stderr bytes.Buffer
	env := &cmdEnv{stdout: &stdout, stderr: &stderr}
	if code := runMain(context.Background(), env, append([]string{"onnx", "check"}, good...)); code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if !strings.HasSuffix(stdout.String(), "2 passed, 0 failed\n") {
		t.Errorf("output %q", stdout.String())
	}
	stdout.Reset()
	if code := runMain(context.Background(), env, []string{"onnx", "check", good[0], bad}); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "FAIL "+bad) || lines[1] != "1 passed, 1 failed" {
		t.Errorf("output %q", stdout.String())
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
