package main

import (
	"archive/zip"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/onnxio"
)

// TestUserErrors runs commands on broken inputs and checks that each fails
// with exit status 1 or 2 and one message naming the offending file, and
// that no Go panic or stack trace reaches the user.
func TestUserErrors(t *testing.T) {
	dir := t.TempDir()
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 4, 9)
	good, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.onnx")
	writeTestFile(t, truncated, good[:len(good)/2])
	garbage := filepath.Join(dir, "garbage.onnx")
	writeTestFile(t, garbage, []byte("this is not a protobuf \xff\xff\xff\xff\xff"))
	nanModel := filepath.Join(dir, "nan.onnx")
	writeNaNModel(t, model, nanModel)
	emptyDir := filepath.Join(dir, "empty")
	if err := os.Mkdir(emptyDir, 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "no-such-dataset")
	evil := filepath.Join(dir, "evil.zip")
	writeEvilZip(t, evil)
	cache := t.TempDir()
	data := func(d string) []string {
		return []string{"--data", d, "--cache-dir", cache, "--quiet", "--episodes", "2"}
	}
	eval := func(m string, extra ...string) []string { return append([]string{"eval", "--model", m}, extra...) }
	tsneOut := filepath.Join(dir, "map")

	cases := []struct {
		name string
		args []string
		file string // must appear in the message
		want string // and so must this
	}{
		{"truncated model", eval(truncated, data(omniglotFixture)...), truncated, ""},
		{"garbage model", eval(garbage, data(omniglotFixture)...), garbage, ""},
		{"truncated model in bench", []string{"bench", "--model", truncated, "--iters", "1"}, truncated, ""},
		{"truncated model in onnx run", []string{"onnx", "run", "--model", truncated, "--output-dir", dir}, truncated, ""},
		{"input shape does not match the images", eval(model, append(data(omniglotFixture), "--preprocess", `{"width":32,"height":32,"channels":3}`)...), model, ""},
		{"NaN weights", eval(nanModel, data(omniglotFixture)...), nanModel, "NaN"},
		{"empty support folder", eval(model, data(emptyDir)...), emptyDir, ""},
		{"dataset path does not exist", eval(model, data(missing)...), missing, ""},
		{"dataset path does not exist in tsne", []string{"tsne", "--model", model, "--data", missing, "--out", tsneOut}, missing, ""},
		{"zip with a ../ entry", eval(model, data(evil)...), evil, `".." path element`},
		{"zip with a ../ entry in tsne", []string{"tsne", "--model", model, "--data", evil, "--out", tsneOut, "--cache-dir", cache}, evil, ".."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, c.args...)
			t.Logf("exit %d: %s", code, stderr)
			all := stdout + stderr
			if code != 1 && code != 2 {
				t.Errorf("exit %d, want 1 or 2; stderr %q", code, stderr)
			}
			if !strings.Contains(stderr, c.file) {
				t.Errorf("stderr %q does not name %s", stderr, c.file)
			}
			if c.want != "" && !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q does not say %q", stderr, c.want)
			}
			for _, bad := range []string{"panic", "goroutine ", ".go:"} {
				if strings.Contains(all, bad) {
					t.Errorf("output contains %q: %s", bad, all)
				}
			}
		})
	}
}

// TestPanicBecomesInternalError checks runMain's last line of defence: a
// panicking command prints one line asking for a bug report and exits 1,
// with the stack only when FEWSHOT_DEBUG=1.
func TestPanicBecomesInternalError(t *testing.T) {
	commands["zz-panic"] = &command{name: "zz-panic", run: func(_ context.Context, _ *cmdEnv, _ []string) error {
		var m map[string]int
		m["boom"]++ // a nil-map write: a genuine runtime panic
		return nil
	}}
	defer delete(commands, "zz-panic")
	t.Setenv(envDebug, "")
	code, stdout, stderr := invoke(t, "zz-panic")
	if code != 1 || !strings.Contains(stderr, "internal error") || !strings.Contains(stderr, "please report") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if strings.Contains(stdout+stderr, "goroutine ") || strings.Contains(stderr, ".go:") {
		t.Errorf("stack trace shown without %s: %s", envDebug, stderr)
	}
	t.Setenv(envDebug, "1")
	if code, _, stderr := invoke(t, "zz-panic"); code != 1 || !strings.Contains(stderr, "errors_test.go:") {
		t.Errorf("with %s=1: exit %d, stderr lacks the stack: %q", envDebug, code, stderr)
	}
}

func writeTestFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeNaNModel copies the model at src to dst with one weight set to NaN,
// as a diverged training run could leave it.
func writeNaNModel(t *testing.T, src, dst string) {
	t.Helper()
	m, err := onnxio.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, init := range m.Graph.Initializer {
		if init.DataType != onnxio.Float || init.NumElements() < 2 {
			continue
		}
		v, err := init.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		v = append([]float32(nil), v...)
		v[1] = float32(math.NaN())
		init.FloatData, init.RawData = v, nil
		f, err := os.Create(dst)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Encode(f); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("model has no float initializer to patch")
}

// writeEvilZip writes a dataset zip with one entry that climbs out of the
// archive's tree.
func writeEvilZip(t *testing.T, path string) {
	t.Helper()
	png, err := os.ReadFile(filepath.Join(omniglotFixture, "Greek", "character01", "0394_01.png"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, name := range []string{"a/1.png", "a/2.png", "../escaped/1.png", "b/1.png"} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(png); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
