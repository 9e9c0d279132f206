package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
)

// demoLine is the demo's final line.
var demoLine = regexp.MustCompile(`(?m)^demo: 5-way 1-shot, 4 rounds, 380 images, accuracy \d+\.\d %`)

// TestDemo is the acceptance test of the demo: with the built-in model it
// must sort unseen Omniglot characters at least 90 % right, 5-way 1-shot.
func TestDemo(t *testing.T) {
	m := fewshot.DefaultModel()
	if err := m.Err(); errors.Is(err, fewshot.ErrNoDefaultModel) {
		t.Skipf("the default model is not built in yet (%v); TestDemo asserts >= 90 %% accuracy once fewshot/models/omniglot-proto.onnx exists", err)
	} else if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, err := runDemo(context.Background(), m, 0.5, &out, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo output:\n%s", out.String())
	if !demoLine.MatchString(out.String()) {
		t.Errorf("no summary line in the demo output")
	}
	if res.Images != 380 || res.Accuracy() < 0.9 {
		t.Errorf("demo: %d images, accuracy %.3f; want 380 images and >= 0.9", res.Images, res.Accuracy())
	}
}

// TestDemoRuns checks the demo's mechanics with a random model, whose
// accuracy is meaningless: every embedded image is sorted once, and the
// temporary folder is removed.
func TestDemoRuns(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var out bytes.Buffer
	res, err := runDemo(context.Background(), testModel(t, 1), 0.5, &out, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range res.Counts {
		total += n
	}
	if res.Rounds != 4 || res.Images != 380 || total != 380 || res.Correct > res.Images || res.Unsure != res.Counts[UnsureDir] {
		t.Errorf("demo result %+v, want 4 rounds, 380 images placed", res)
	}
	if !demoLine.MatchString(out.String()) || strings.Count(out.String(), "\nround ")+1 < 4 {
		t.Errorf("demo output lacks rounds or summary:\n%s", out.String())
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the demo left %d entries in the temporary folder", len(left))
	}
}

func TestDemoData(t *testing.T) {
	classes, err := demoClasses()
	if err != nil {
		t.Fatal(err)
	}
	if len(classes) != 20 {
		t.Errorf("%d demo classes, want one per evaluation alphabet (20)", len(classes))
	}
	for _, c := range classes {
		if len(c.files) != 20 {
			t.Errorf("%s has %d drawings, want 20", c.label, len(c.files))
		}
		for _, f := range c.files {
			b, _ := demoFS.ReadFile(f)
			if _, err := fewshot.DecodeImage(f, b); err != nil {
				t.Error(err)
			}
		}
	}
	lic, err := demoFS.ReadFile("demo/LICENSE")
	if err != nil || !strings.Contains(string(lic), "Brenden Lake") {
		t.Errorf("demo/LICENSE missing or wrong (%v)", err)
	}
}
