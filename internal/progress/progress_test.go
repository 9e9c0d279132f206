package progress

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step on every call, so rates and ETAs are exact.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func newTest(buf *bytes.Buffer, total int64, opt Options, tick time.Duration) *Bar {
	b := New(buf, total, "episode", opt)
	b.now = fakeClock(tick)
	b.start = b.now()
	b.last = b.start
	return b
}

func TestPlainLinesEveryStep(t *testing.T) {
	var buf bytes.Buffer
	// One unit per second, Every far away: only the 25 % steps and the
	// final line print.
	b := newTest(&buf, 100, Options{Step: 25, Every: time.Hour}, time.Second)
	for i := 0; i < 100; i++ {
		b.Add(1, F("loss", 0.41), F("acc", float32(0.875)))
	}
	b.Finish()
	b.Finish() // idempotent
	b.Add(1)   // ignored after Finish
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		"episode 25/100 (25%) loss 0.41 acc 0.875 1/s ETA 1m15s",
		"episode 50/100 (50%) loss 0.41 acc 0.875 1/s ETA 50s",
		"episode 75/100 (75%) loss 0.41 acc 0.875 1/s ETA 25s",
		"episode 100/100 (100%) loss 0.41 acc 0.875 0.99/s done in 1m41s",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(got), len(want), buf.String())
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestPlainLinesEveryInterval(t *testing.T) {
	var buf bytes.Buffer
	// Each Add advances the clock by 10 s; a line is due every 30 s.
	b := newTest(&buf, 0, Options{Every: 30 * time.Second, Step: -1}, 10*time.Second)
	for i := 0; i < 9; i++ {
		b.Add(2, F("images", i))
	}
	got := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	want := []string{
		"episode 6 images 2 0.2/s",
		"episode 12 images 5 0.2/s",
		"episode 18 images 8 0.2/s",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFieldsKeepLastValue(t *testing.T) {
	var buf bytes.Buffer
	b := newTest(&buf, 2, Options{Step: 50, Every: time.Hour}, time.Second)
	b.Add(1, F("loss", 1.5), F("acc", 0.5))
	b.Add(1, F("acc", 0.75))
	b.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "loss 1.5 acc 0.75") {
		t.Errorf("last line %q does not carry the latest fields in order", last)
	}
}

func TestQuietPrintsNothing(t *testing.T) {
	var buf bytes.Buffer
	b := newTest(&buf, 10, Options{Quiet: true, Step: 1, Every: time.Nanosecond}, time.Minute)
	for i := 0; i < 10; i++ {
		b.Add(1, F("loss", 0.1))
	}
	b.Println("validation acc 0.9")
	b.Finish()
	if buf.Len() != 0 {
		t.Errorf("quiet mode printed %q", buf.String())
	}
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	b := newTest(&buf, 4, Options{JSON: true, Step: 50, Every: time.Hour}, 2*time.Second)
	b.Add(2, F("loss", math.NaN()), F("split", "val"))
	b.Add(2)
	b.Finish()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2:\n%s", len(lines), buf.String())
	}
	var first, last map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatalf("line 1 is not JSON: %v: %s", err, lines[0])
	}
	if err := json.Unmarshal([]byte(lines[1]), &last); err != nil {
		t.Fatalf("line 2 is not JSON: %v: %s", err, lines[1])
	}
	if first["done"] != 2.0 || first["total"] != 4.0 || first["percent"] != 50.0 ||
		first["rate"] != 1.0 || first["eta_s"] != 2.0 || first["loss"] != "NaN" || first["split"] != "val" {
		t.Errorf("first line = %v", first)
	}
	if last["finished"] != true || last["done"] != 4.0 {
		t.Errorf("last line = %v", last)
	}
	if _, ok := last["eta_s"]; ok {
		t.Errorf("last line has an ETA: %v", last)
	}
}

func TestNilBar(t *testing.T) {
	var b *Bar
	b.Add(1, F("x", 1))
	b.Println("ignored")
	b.Finish()
}

func TestNotTerminal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b := New(f, 10, "x", Options{}); b.bar != nil {
		t.Error("a regular file was taken for a terminal")
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                 "0s",
		12 * time.Second:                  "12s",
		41 * time.Minute:                  "41m",
		150 * time.Second:                 "2m30s",
		time.Hour + 5*time.Minute + 29e9:  "1h05m",
		26*time.Hour + 59*time.Minute + 1: "26h59m",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatFloat(t *testing.T) {
	for x, want := range map[float64]string{
		0: "0", 0.41: "0.41", 0.41234: "0.412", 12.345: "12.3", 1234.5: "1234", 2.5e-5: "2.5e-05", -3: "-3",
	} {
		if got := formatFloat(x); got != want {
			t.Errorf("formatFloat(%v) = %q, want %q", x, got, want)
		}
	}
}
