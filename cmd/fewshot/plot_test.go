package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writePlotLog writes a small metrics log under dir/run and returns its path.
func writePlotLog(t *testing.T, dir, run string) string {
	t.Helper()
	var b strings.Builder
	for ep := 10; ep <= 200; ep += 10 {
		fmt.Fprintf(&b, `{"episode":%d,"loss":%g,"acc":%g,"lr":0.001,"seconds":%d}`+"\n", ep, 2/float64(ep), 1-1/float64(ep), ep)
		if ep%50 == 0 {
			fmt.Fprintf(&b, `{"episode":%d,"val_acc":%g,"val_ci95":0.02}`+"\n", ep, 0.9-1/float64(ep))
		}
	}
	p := filepath.Join(dir, run, "metrics.jsonl")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlotCommand(t *testing.T) {
	dir := t.TempDir()
	a := writePlotLog(t, dir, "l2g")
	b := writePlotLog(t, dir, "proto")
	out := filepath.Join(dir, "fig")
	var stdout, stderr bytes.Buffer
	env := &cmdEnv{stdout: &stdout, stderr: &stderr}
	code := runMain(context.Background(), env, []string{"plot", "--log", a, "--log", "ProtoNet=" + b,
		"--out", out, "--smooth", "3", "--title", "test", "--width", "600", "--height", "300"})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if want := "wrote " + out + ".png\nwrote " + out + ".svg\n"; stdout.String() != want {
		t.Errorf("stdout %q, want %q", stdout.String(), want)
	}
	f, err := os.Open(out + ".png")
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 600 || img.Bounds().Dy() != 300 {
		t.Errorf("PNG is %v, want 600×300", img.Bounds())
	}
	svg, err := os.ReadFile(out + ".svg")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"l2g", "ProtoNet"} {
		if !bytes.Contains(svg, []byte(">"+name+"<")) {
			t.Errorf("SVG legend lacks %q", name)
		}
	}
}

func TestPlotCommandErrors(t *testing.T) {
	dir := t.TempDir()
	good := writePlotLog(t, dir, "r")
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(`{"episode":1,"loss":1}`+"\n"+`{"episode":2,"loss":`+"\n"), 0o644)
	missing := filepath.Join(dir, "nope", "metrics.jsonl")
	out := filepath.Join(dir, "x")
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no log", []string{"--out", out}, 2, "--log is required"},
		{"no out", []string{"--log", good}, 2, "--out is required"},
		{"bad flag", []string{"--log", good, "--out", out, "--smooth", "x"}, 2, "smooth"},
		{"negative smooth", []string{"--log", good, "--out", out, "--smooth", "-2"}, 2, "--smooth"},
		{"extra arg", []string{"--log", good, "--out", out, "extra"}, 2, `"extra"`},
		{"missing file", []string{"--log", good, "--log", missing, "--out", out}, 1, missing},
		{"malformed line", []string{"--log", bad, "--out", out}, 1, bad + ":2:"},
	} {
		var stdout, stderr bytes.Buffer
		code := runMain(context.Background(), &cmdEnv{stdout: &stdout, stderr: &stderr}, append([]string{"plot"}, tc.args...))
		if code != tc.code || !strings.Contains(stderr.String(), tc.msg) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", tc.name, code, stderr.String(), tc.code, tc.msg)
		}
	}
	if _, err := os.Stat(out + ".png"); err == nil {
		t.Error("a failed plot wrote a figure")
	}
	var stdout bytes.Buffer
	if code := runMain(context.Background(), &cmdEnv{stdout: &stdout, stderr: &stdout}, []string{"plot", "-h"}); code != 0 ||
		!strings.Contains(stdout.String(), "NAME=PATH") {
		t.Errorf("-h: exit %d, output %q", code, stdout.String())
	}
}
