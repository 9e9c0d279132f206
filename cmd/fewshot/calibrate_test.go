package main

import (
	"encoding/json"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
)

func calibrateJSON(t *testing.T, args ...string) calibrateReport {
	t.Helper()
	code, out, errOut := invoke(t, append([]string{"calibrate", "--json", "--quiet"}, args...)...)
	if code != 0 {
		t.Fatalf("calibrate %v: exit %d, stderr %s", args, code, errOut)
	}
	var r calibrateReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("calibrate output %q is not the JSON report: %v", out, err)
	}
	return r
}

func TestCalibrate(t *testing.T) {
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 8, 4)
	dir := t.TempDir()
	out, fig := filepath.Join(dir, "cal.onnx"), filepath.Join(dir, "rel.png")
	args := []string{"--model", model, "--data", omniglotFixture, "--cache-dir", t.TempDir(),
		"--way", "3", "--shot", "1", "--query", "2", "--episodes", "20", "--seed", "3", "--threads", "2"}
	r := calibrateJSON(t, append(args, "--out", out, "--plot", fig, "--eval-split", "")...)
	if r.TemperatureBefore != 1 || !(r.Temperature >= fewshot.MinTemperature && r.Temperature <= fewshot.MaxTemperature) {
		t.Errorf("temperature %v → %v", r.TemperatureBefore, r.Temperature)
	}
	if r.Fit.Queries != 20*3*2 || r.Fit.Seed != 3 || r.Heldout.Seed != 1003 || r.Heldout.Episodes != 20 || r.Fit.Split != "" {
		t.Errorf("report %+v does not echo the flags", r)
	}
	// The fit minimises the NLL on its episodes and never changes accuracy.
	if r.Fit.After.NLL > r.Fit.Before.NLL+1e-12 {
		t.Errorf("fitted NLL %v > NLL at T = 1 %v", r.Fit.After.NLL, r.Fit.Before.NLL)
	}
	for _, s := range []calibrateSet{r.Fit, r.Heldout} {
		if len(s.Before.JSONBins) != fewshot.DefaultBins || len(s.After.JSONBins) != fewshot.DefaultBins {
			t.Errorf("%d and %d bins, want %d", len(s.Before.JSONBins), len(s.After.JSONBins), fewshot.DefaultBins)
		}
		n := 0
		var ece float64
		for _, b := range s.After.JSONBins {
			n += b.Count
			ece += float64(b.Count) * math.Abs(b.Accuracy-b.Confidence)
		}
		if n != s.Queries || math.Abs(ece/float64(n)-s.After.ECE) > 1e-9 {
			t.Errorf("bins hold %d queries (want %d), ECE from bins %v, reported %v", n, s.Queries, ece/float64(n), s.After.ECE)
		}
	}
	// The written model carries the temperature and classifies the same
	// way: its eval accuracy is unchanged.
	m, err := fewshot.LoadModel(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Temperature() != r.Temperature {
		t.Errorf("written model has temperature %v, report %v", m.Temperature(), r.Temperature)
	}
	evalArgs := []string{"--data", omniglotFixture, "--cache-dir", t.TempDir(), "--way", "3", "--shot", "1", "--query", "2", "--episodes", "10"}
	if a, b := evalJSON(t, append(evalArgs, "--model", model)...), evalJSON(t, append(evalArgs, "--model", out)...); a.Accuracy != b.Accuracy {
		t.Errorf("accuracy %v before calibration, %v after", a.Accuracy, b.Accuracy)
	}
	f, err := os.Open(fig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(f); err != nil {
		t.Errorf("reliability diagram: %v", err)
	}
	f.Close()
	// Deterministic; calibrating the calibrated model measures "before"
	// at its temperature and finds the same one.
	again := calibrateJSON(t, append(args, "--model", out)[2:]...)
	if math.Abs(again.Temperature/r.Temperature-1) > 1e-5 || again.TemperatureBefore != r.Temperature {
		t.Errorf("recalibration: %v → %v, first fit %v", again.TemperatureBefore, again.Temperature, r.Temperature)
	}
	if math.Abs(again.Fit.Before.ECE-r.Fit.After.ECE) > 1e-9 {
		t.Errorf("ECE of the calibrated model %v, want %v", again.Fit.Before.ECE, r.Fit.After.ECE)
	}
	// Measure only: no file is written, no temporary left behind.
	calibrateJSON(t, args...)
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("folder holds %v, want the model and the figure", entries)
	}
}

func TestCalibrateErrors(t *testing.T) {
	model := writeRandomModel(t, episode.OmniglotPreprocess(), 8, 4)
	base := []string{"calibrate", "--quiet", "--data", omniglotFixture, "--cache-dir", t.TempDir(), "--way", "3", "--shot", "1",
		"--query", "2", "--episodes", "2"}
	before, _ := os.ReadFile(model)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--model", model, "--out", model}, 2, "--overwrite"},
		{[]string{"--model", model, "--plot", "x.jpg"}, 2, ".png or .svg"},
		{[]string{"--model", model, "--seed", "5", "--eval-seed", "5"}, 2, "--eval-seed"},
		{[]string{"--model", model, "--way", "1"}, 2, "2 classes"},
		{[]string{"--model", model, "--bins", "0"}, 2, "--bins"},
		{[]string{"--data", omniglotFixture}, 2, "--model"},
		{[]string{"--model", filepath.Join(t.TempDir(), "missing.onnx")}, 1, "missing.onnx"},
		{[]string{"--model", model, "--way", "7"}, 1, "fewer than the 7"},
		{[]string{"--model", model, "--out", filepath.Join(t.TempDir(), "no", "such", "dir.onnx")}, 1, "dir.onnx"},
	} {
		code, _, errOut := invoke(t, append(base, c.args...)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("calibrate %v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if after, _ := os.ReadFile(model); string(after) != string(before) {
		t.Error("a failed calibration changed the model file")
	}
	// --overwrite replaces the model in place.
	if code, _, errOut := invoke(t, append(base, "--model", model, "--out", model, "--overwrite")...); code != 0 {
		t.Fatalf("--overwrite: exit %d, %s", code, errOut)
	}
	if m, err := fewshot.LoadModel(model); err != nil || m.Temperature() == 1 {
		t.Errorf("overwritten model: %v, %v", m, err)
	}
}

// TestCalibratePhotoModel checks on mini-ImageNet validation episodes that
// the built-in photo model is calibrated: fitting again finds T close to
// the one it carries, and its held-out ECE is small.
func TestCalibratePhotoModel(t *testing.T) {
	data := testshared.Path(t, "data/mini-imagenet")
	if testing.Short() {
		t.Skip("decodes the mini-ImageNet validation split")
	}
	model := filepath.Join("..", "..", "models", "mini-imagenet-proto-20way.onnx")
	r := calibrateJSON(t, "--model", model, "--data", data, "--split", "val", "--way", "5", "--shot", "5",
		"--episodes", "40", "--seed", "77", "--threads", "1")
	if math.Abs(math.Log(r.Temperature/r.TemperatureBefore)) > 0.25 || r.Heldout.Before.ECE > 0.08 {
		t.Errorf("built-in photo model: temperature %v, refit %v, held-out ECE %v", r.TemperatureBefore, r.Temperature, r.Heldout.Before.ECE)
	}
}
