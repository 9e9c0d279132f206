package plot

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeLog writes a synthetic metrics log like train's: a header line,
// training lines every 10 episodes and validation lines every 100.
func writeLog(t *testing.T, dir string, rate float64) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString(`{"config":{"way":5,"shot":1},"start":"2024-01-01T00:00:00Z"}` + "\n")
	for ep := 10; ep <= 1000; ep += 10 {
		loss := 1.6*math.Exp(-rate*float64(ep)) + 0.1*math.Sin(float64(ep))
		fmt.Fprintf(&b, `{"episode":%d,"loss":%.4f,"acc":%.4f,"lr":0.001,"seconds":%.1f,"extra":[1,2]}`+"\n",
			ep, loss, min(1-loss/2, 1), float64(ep)/10)
		if ep%100 == 0 {
			fmt.Fprintf(&b, `{"episode":%d,"val_acc":%.4f,"val_ci95":0.01}`+"\n", ep, 0.99-0.6*math.Exp(-rate*float64(ep)))
		}
	}
	path := filepath.Join(dir, "metrics.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		t.Errorf("%s is %d×%d, want %d×%d", path, b.Dx(), b.Dy(), w, h)
	}
	// Something was drawn: not every pixel is the white background.
	nonWhite := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if r, g, bl, _ := img.At(x, y).RGBA(); r != 0xffff || g != 0xffff || bl != 0xffff {
				nonWhite++
			}
		}
	}
	if nonWhite < 100 {
		t.Errorf("%s: only %d sampled pixels are not white", path, nonWhite)
	}
}

func checkSVG(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	if !strings.HasPrefix(s, "<?xml") && !strings.HasPrefix(s, "<svg") {
		t.Errorf("%s starts with %q", path, s[:min(len(s), 20)])
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	elems := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v", path, err)
		}
		if _, ok := tok.(xml.StartElement); ok {
			elems++
		}
	}
	if elems < 10 {
		t.Errorf("%s has only %d elements", path, elems)
	}
	return s
}

func TestWriteConvergence(t *testing.T) {
	dir := t.TempDir()
	a, err := ReadLog("", writeLog(t, filepath.Join(dir, "omniglot-l2g"), 0.004))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ReadLog("baseline", writeLog(t, filepath.Join(dir, "other"), 0.002))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != "omniglot-l2g" || b.Name != "baseline" {
		t.Errorf("names %q, %q", a.Name, b.Name)
	}
	if len(a.Loss) != 100 || len(a.Acc) != 100 || len(a.LR) != 100 || len(a.Val) != 10 {
		t.Fatalf("read %d loss, %d acc, %d lr, %d val points; want 100, 100, 100, 10",
			len(a.Loss), len(a.Acc), len(a.LR), len(a.Val))
	}
	if v := a.Val[9]; v.Episode != 1000 || v.CI95 != 0.01 {
		t.Errorf("last validation point %+v", v)
	}
	prefix := filepath.Join(dir, "fig", "convergence")
	if err := os.Mkdir(filepath.Dir(prefix), 0o755); err != nil {
		t.Fatal(err)
	}
	opt := ConvergenceOptions{Title: "Omniglot 5-way 1-shot", Smooth: 5, TrainAcc: true, Size: Size{Width: 900, Height: 400, DPI: 100}}
	paths, err := WriteConvergence(prefix, []*Run{a, b}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 || paths[0] != prefix+".png" || paths[1] != prefix+".svg" {
		t.Fatalf("paths %v", paths)
	}
	checkPNG(t, paths[0], 900, 400)
	svg := checkSVG(t, paths[1])
	for _, want := range []string{"omniglot-l2g", "baseline", "Validation accuracy", "Omniglot 5-way 1-shot"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks the text %q", want)
		}
	}
	// No temporary files are left beside the outputs.
	ents, _ := os.ReadDir(filepath.Dir(prefix))
	if len(ents) != 2 {
		names := []string{}
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("output folder holds %v, want only the two figures", names)
	}
	// Writing again replaces the files.
	if _, err := WriteConvergence(prefix, []*Run{a}, ConvergenceOptions{Size: Size{Width: 300, Height: 200}}); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, paths[0], 300, 200)
}

func TestConvergenceOnlyLoss(t *testing.T) {
	run, err := ParseLog(strings.NewReader(`{"episode":1,"loss":2}`+"\n"+`{"episode":2,"loss":1}`), "x.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := RenderConvergence(&buf, SVG, []*Run{run}, ConvergenceOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, "Training loss") || strings.Contains(s, "Validation accuracy") {
		t.Error("a log without validation lines should give only the loss panel")
	}
}

func TestConvergenceErrors(t *testing.T) {
	empty := &Run{Name: "e", Path: "runs/e/metrics.jsonl"}
	if _, err := WriteConvergence(filepath.Join(t.TempDir(), "x"), []*Run{empty}, ConvergenceOptions{}); err == nil ||
		!strings.Contains(err.Error(), "runs/e/metrics.jsonl") {
		t.Errorf("empty run: error %v, want one naming the log", err)
	}
	run := &Run{Name: "r", Loss: []Sample{{1, 1}}}
	if err := RenderConvergence(io.Discard, "pdf", []*Run{run}, ConvergenceOptions{}); err == nil {
		t.Error("unknown format: no error")
	}
	if err := RenderConvergence(io.Discard, PNG, []*Run{run}, ConvergenceOptions{Smooth: -1}); err == nil {
		t.Error("negative smoothing: no error")
	}
	if err := RenderConvergence(io.Discard, PNG, []*Run{run}, ConvergenceOptions{Size: Size{Width: 5, Height: 5}}); err == nil {
		t.Error("tiny size: no error")
	}
	if err := RenderConvergence(io.Discard, PNG, nil, ConvergenceOptions{}); err == nil {
		t.Error("no runs: no error")
	}
	if _, err := WriteConvergence(filepath.Join(t.TempDir(), "missing", "x"), []*Run{run}, ConvergenceOptions{}); err == nil ||
		!strings.Contains(err.Error(), "missing") {
		t.Errorf("missing folder: error %v, want one naming the path", err)
	}
}

func TestParseLogTolerance(t *testing.T) {
	log := strings.Join([]string{
		`{"episode": 20, "loss": 0.5, "acc": null, "unknown": {"a": 1}}`,
		``,
		`{"note": "no episode here", "loss": 3}`,
		`{"episode": 10, "loss": "NaN", "acc": 0.25}`,
		`{"episode": 30, "val_acc": 0.8}`,
		"{\"episode\": 40, \"loss\": 0.25}\r",
	}, "\n")
	run, err := ParseLog(strings.NewReader(log), "m.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	wantLoss := []Sample{{20, 0.5}, {40, 0.25}}
	if fmt.Sprint(run.Loss) != fmt.Sprint(wantLoss) {
		t.Errorf("loss %v, want %v", run.Loss, wantLoss)
	}
	if fmt.Sprint(run.Acc) != fmt.Sprint([]Sample{{10, 0.25}}) {
		t.Errorf("acc %v", run.Acc)
	}
	if len(run.Val) != 1 || run.Val[0] != (ValSample{30, 0.8, 0}) {
		t.Errorf("val %v", run.Val)
	}
}

func TestParseLogErrors(t *testing.T) {
	for name, tc := range map[string]struct{ log, want string }{
		"truncated":  {`{"episode":1,"loss":1}` + "\n" + `{"episode":2,"loss":`, "run.jsonl:2: malformed JSON"},
		"not object": {`{"episode":1}` + "\n\n" + `[1,2]`, "run.jsonl:3: not a JSON object"},
		"bad field":  {`{"episode":1,"loss":"high"}`, `run.jsonl:1: field "loss": want a number, got "\"high\""`},
		"bad ep":     {`{"episode":true}`, `run.jsonl:1: field "episode"`},
	} {
		_, err := ParseLog(strings.NewReader(tc.log), "run.jsonl")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.want)
		}
	}
	// Through ReadLog the message names the file's path.
	path := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(path, []byte("{\"episode\":1}\n{oops}\n"), 0o644)
	if _, err := ReadLog("", path); err == nil || !strings.Contains(err.Error(), path+":2:") {
		t.Errorf("ReadLog error %v, want it to name %s:2", err, path)
	}
	if _, err := ReadLog("", filepath.Join(t.TempDir(), "none.jsonl")); err == nil || !strings.Contains(err.Error(), "none.jsonl") {
		t.Errorf("missing file: error %v", err)
	}
}

func TestMovingAverage(t *testing.T) {
	s := []Sample{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 10}}
	got := movingAverage(s, 3, 2)
	want := []float64{2, 3, 4, 6, 17.0 / 3 * 2}
	for i := range want {
		if math.Abs(got[i].Y-want[i]) > 1e-12 || got[i].X != s[i].Episode {
			t.Errorf("point %d = %v, want (%v, %v)", i, got[i], s[i].Episode, want[i])
		}
	}
	for i, p := range movingAverage(s, 0, 1) {
		if p.Y != s[i].Value {
			t.Errorf("window 0 changed point %d: %v", i, p)
		}
	}
}

func TestParseLogArgAndDefaultName(t *testing.T) {
	for in, want := range map[string][2]string{
		"l2g=runs/a/metrics.jsonl": {"l2g", "runs/a/metrics.jsonl"},
		"runs/a=b/metrics.jsonl":   {"", "runs/a=b/metrics.jsonl"},
		"=x.jsonl":                 {"", "=x.jsonl"},
		"metrics.jsonl":            {"", "metrics.jsonl"},
	} {
		if n, p := ParseLogArg(in); n != want[0] || p != want[1] {
			t.Errorf("ParseLogArg(%q) = %q, %q; want %q, %q", in, n, p, want[0], want[1])
		}
	}
	for in, want := range map[string]string{
		"runs/omniglot-5w1s/metrics.jsonl": "omniglot-5w1s",
		"metrics.jsonl":                    "metrics",
		"/metrics.jsonl":                   "metrics",
		"./a/b.jsonl":                      "a",
	} {
		if got := DefaultName(in); got != want {
			t.Errorf("DefaultName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteScatter(t *testing.T) {
	classes := []string{"Greek/character03", "Latin/character11", "Hebrew/character07"}
	var pts []Point
	for c := range classes {
		for k := range 20 {
			a := float64(k) / 20 * 2 * math.Pi
			pts = append(pts, Point{X: 10*float64(c) + math.Cos(a), Y: math.Sin(a), Class: c, Support: k < 5})
		}
	}
	prefix := filepath.Join(t.TempDir(), "tsne")
	paths, err := WriteScatter(prefix, classes, pts, ScatterOptions{Title: "t-SNE", Size: Size{Width: 640, Height: 480}})
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, paths[0], 640, 480)
	svg := checkSVG(t, paths[1])
	for _, want := range append(classes, "support", "query", "t-SNE") {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks the text %q", want)
		}
	}
	if err := RenderScatter(io.Discard, PNG, classes, []Point{{Class: 3}}, ScatterOptions{}); err == nil ||
		!strings.Contains(err.Error(), "point 0 has class 3") {
		t.Errorf("bad class: error %v", err)
	}
	if err := RenderScatter(io.Discard, PNG, classes, []Point{{X: math.NaN()}}, ScatterOptions{}); err == nil {
		t.Error("NaN point: no error")
	}
	if err := RenderScatter(io.Discard, PNG, classes, nil, ScatterOptions{}); err == nil {
		t.Error("no points: no error")
	}
}
