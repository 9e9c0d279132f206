package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
)

func TestRunUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--bogus"},
		{"--examples", "e", "--in", "i"},
		{"--examples", "e", "--in", "i", "--out", "o", "--copy", "--move"},
		{"--examples", "e", "--in", "i", "--out", "o", "--move", "--link"},
		{"--examples", "e", "--in", "i", "--out", "o", "--min-confidence", "1.5"},
		{"--examples", "e", "--in", "i", "--out", "o", "--min-confidence", "x"},
		{"--examples", "e", "--in", "i", "--out", "o", "extra"},
	} {
		var stderr bytes.Buffer
		if got := run(context.Background(), args, &bytes.Buffer{}, &stderr); got != exitUsage {
			t.Errorf("run(%q) = %d, want %d", args, got, exitUsage)
		}
		if stderr.Len() == 0 {
			t.Errorf("run(%q) printed no explanation", args)
		}
	}
	var stderr bytes.Buffer
	if got := run(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr); got != exitOK || !strings.Contains(stderr.String(), "--examples") && !strings.Contains(stderr.String(), "-examples") {
		t.Errorf("run(-h) = %d, usage:\n%s", got, stderr.String())
	}
}

func TestRun(t *testing.T) {
	modelFile := filepath.Join(t.TempDir(), "model.onnx")
	writeFile(t, modelFile, testModelBytes(t, 1, 1))
	f := newFixture(t, 1)
	report := filepath.Join(t.TempDir(), "report.csv")
	args := []string{"--examples", f.examples, "--in", f.in, "--out", f.out, "--model", modelFile,
		"--min-confidence", "0", "--report", report}

	var stdout, stderr bytes.Buffer
	if got := run(context.Background(), args, &stdout, &stderr); got != exitOK {
		t.Fatalf("run = %d, want 0; stderr:\n%s", got, stderr.String())
	}
	if !strings.Contains(stdout.String(), "copied 6 images into "+f.out) {
		t.Errorf("summary %q, want it to say 6 images were copied", stdout.String())
	}
	if rows := readCSV(t, report); len(rows) != 1+len(f.want) {
		t.Errorf("report has %d rows, want %d", len(rows), 1+len(f.want))
	}

	// An undecodable image makes the exit status 1; the rest is sorted.
	writeFile(t, filepath.Join(f.in, "broken.png"), []byte("junk"))
	stdout.Reset()
	stderr.Reset()
	if got := run(context.Background(), append(args, "--move", "--quiet"), &stdout, &stderr); got != exitFailed {
		t.Errorf("run with an undecodable image = %d, want %d", got, exitFailed)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "broken.png") {
		t.Errorf("--quiet: stdout %q, stderr %q; want only the error", stdout.String(), stderr.String())
	}
	if in := tree(t, f.in); len(in) != 1 {
		t.Errorf("unsorted folder holds %v, want only broken.png", keys(in))
	}

	// A cancelled run exits with 130.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	writeFile(t, filepath.Join(f.in, "again.png"), readFile(t, firstPNG(t, filepath.Join(omniglotDir, "Latin", "character01"))))
	if got := run(ctx, args, &stdout, &stderr); got != exitInterrupted {
		t.Errorf("cancelled run = %d, want %d", got, exitInterrupted)
	}
}

func TestRunModelErrors(t *testing.T) {
	f := newFixture(t, 1)
	base := []string{"--examples", f.examples, "--in", f.in, "--out", f.out}
	var stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope.onnx")
	if got := run(context.Background(), append(base, "--model", missing), &bytes.Buffer{}, &stderr); got != exitFailed || !strings.Contains(stderr.String(), "nope.onnx") {
		t.Errorf("missing model file: run = %d, stderr %q", got, stderr.String())
	}
	if err := fewshot.DefaultModel().Err(); errors.Is(err, fewshot.ErrNoDefaultModel) {
		stderr.Reset()
		if got := run(context.Background(), base, &bytes.Buffer{}, &stderr); got != exitFailed || !strings.Contains(stderr.String(), "--model") {
			t.Errorf("without a default model: run = %d, stderr %q; want 1 and advice to pass --model", got, stderr.String())
		}
	}
	if _, err := os.Stat(f.out); !errors.Is(err, os.ErrNotExist) {
		t.Error("a run that could not load its model created the output folder")
	}
}
