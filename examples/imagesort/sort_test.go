package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestSortCopy(t *testing.T) {
	f := newFixture(t, 2)
	report := filepath.Join(t.TempDir(), "report.csv")
	cfg := f.config(testModel(t, 1))
	cfg.MinConfidence = 0
	cfg.Report = report
	before := tree(t, f.in)

	sum, err := sortImages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 || len(sum.Results) != len(f.want) {
		t.Fatalf("failed %d, results %d, want 0 and %d", sum.Failed, len(sum.Results), len(f.want))
	}
	for _, label := range fixtureClasses {
		if sum.Counts[label] != 2 {
			t.Errorf("Counts[%q] = %d, want 2", label, sum.Counts[label])
		}
	}
	// Every image is in its class folder, byte for byte; the originals
	// are untouched and nothing else was written.
	out := tree(t, f.out)
	if len(out) != len(f.want) {
		t.Errorf("output holds %d files, want %d: %v", len(out), len(f.want), keys(out))
	}
	for name, label := range f.want {
		if got := out[label+"/"+name]; !bytes.Equal(got, before[name]) {
			t.Errorf("%s/%s: content differs from the original (%d vs %d bytes)", label, name, len(got), len(before[name]))
		}
	}
	if !equalTrees(before, tree(t, f.in)) {
		t.Error("--copy changed the unsorted folder")
	}
	for _, r := range sum.Results {
		if r.Label != f.want[r.File] || r.Prob <= r.RunnerUpProb || r.RunnerUp == "" || r.RunnerUp == r.Label {
			t.Errorf("%s: %+v, want label %s ahead of a different runner-up", r.File, r, f.want[r.File])
		}
	}

	rows := readCSV(t, report)
	if !slices.Equal(rows[0], reportHeader) {
		t.Fatalf("report header %q, want %q", rows[0], reportHeader)
	}
	rows = rows[1:]
	if len(rows) != len(f.want) {
		t.Fatalf("report has %d rows, want %d", len(rows), len(f.want))
	}
	if !sort.SliceIsSorted(rows, func(i, j int) bool { return rows[i][0] < rows[j][0] }) {
		t.Error("report rows are not in file name order")
	}
	for _, row := range rows {
		name, label := row[0], f.want[row[0]]
		conf, err1 := strconv.ParseFloat(row[2], 64)
		second, err2 := strconv.ParseFloat(row[4], 64)
		if row[1] != label || err1 != nil || err2 != nil || conf < second || conf > 1 || second < 0 ||
			!slices.Contains(fixtureClasses, row[3]) || row[3] == label ||
			row[5] != filepath.Join(f.out, filepath.FromSlash(label), name) || row[6] != "" {
			t.Errorf("report row %q, want label %s, a valid runner-up and destination", row, label)
		}
	}
	noTempFiles(t, filepath.Dir(report))
	noTempFiles(t, f.out)
}

func TestSortUnsure(t *testing.T) {
	f := newFixture(t, 1)
	// A tiny embedding scale makes every prediction nearly uniform over
	// the 6 classes, yet exact copies still rank their class first.
	cfg := f.config(testModel(t, 1e-3))
	cfg.MinConfidence = 0.5
	sum, err := sortImages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Counts[UnsureDir] != len(f.want) {
		t.Errorf("Counts = %v, want all %d in %s", sum.Counts, len(f.want), UnsureDir)
	}
	for _, r := range sum.Results {
		if !r.Unsure || r.Label != f.want[r.File] || r.Prob >= 0.5 || r.Prob <= 1.0/6 ||
			r.Dest != filepath.Join(f.out, UnsureDir, r.File) {
			t.Errorf("%s: %+v, want unsure with label %s and 1/6 < prob < 0.5", r.File, r, f.want[r.File])
		}
	}
	if got := len(tree(t, filepath.Join(f.out, UnsureDir))); got != len(f.want) {
		t.Errorf("%s holds %d files, want %d", UnsureDir, got, len(f.want))
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	f := newFixture(t, 1)
	// An existing file shows that the plan resolves name clashes.
	taken := filepath.Join(f.out, "Greek", "character01", "Greek-character01-a.png")
	writeFile(t, taken, []byte("already here"))
	report := filepath.Join(t.TempDir(), "report.csv")
	beforeIn, beforeOut := tree(t, f.in), tree(t, f.out)

	var stdout bytes.Buffer
	for _, mode := range []Mode{Copy, Move, Link} {
		stdout.Reset()
		cfg := f.config(testModel(t, 1))
		cfg.MinConfidence = 0
		cfg.DryRun, cfg.Mode, cfg.Report, cfg.Stdout = true, mode, report, &stdout
		sum, err := sortImages(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if !equalTrees(beforeIn, tree(t, f.in)) || !equalTrees(beforeOut, tree(t, f.out)) {
			t.Errorf("%v --dry-run changed the folders", mode)
		}
		if _, err := os.Stat(report); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%v --dry-run wrote the report (stat: %v)", mode, err)
		}
		lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
		if len(lines) != len(f.want) || len(sum.Results) != len(f.want) {
			t.Fatalf("%v plan has %d lines, %d results, want %d:\n%s", mode, len(lines), len(sum.Results), len(f.want), stdout.String())
		}
		for _, r := range sum.Results {
			want := filepath.Join(f.out, filepath.FromSlash(f.want[r.File]), r.File)
			if r.File == "Greek-character01-a.png" {
				want = strings.TrimSuffix(taken, ".png") + "-1.png"
			}
			line := filepath.Join(f.in, r.File) + " -> " + want + " "
			if r.Dest != want || !strings.Contains(stdout.String(), line) {
				t.Errorf("%v: %s planned to %s, want %s; plan:\n%s", mode, r.File, r.Dest, want, stdout.String())
			}
		}
	}
}

func TestNameClashNeverOverwrites(t *testing.T) {
	f := newFixture(t, 1)
	dir := filepath.Join(f.out, "Latin", "character02")
	writeFile(t, filepath.Join(dir, "Latin-character02-a.png"), []byte("old"))
	writeFile(t, filepath.Join(dir, "Latin-character02-a-1.png"), []byte("old 1"))
	src := readFile(t, filepath.Join(f.in, "Latin-character02-a.png"))
	cfg := f.config(testModel(t, 1))
	cfg.MinConfidence = 0

	if _, err := sortImages(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	out := tree(t, f.out)
	if string(out["Latin/character02/Latin-character02-a.png"]) != "old" || string(out["Latin/character02/Latin-character02-a-1.png"]) != "old 1" {
		t.Error("an existing file was overwritten")
	}
	if !bytes.Equal(out["Latin/character02/Latin-character02-a-2.png"], src) {
		t.Errorf("the new copy is not at Latin-character02-a-2.png: %v", keys(out))
	}

	// Sorting the same images again adds a second copy of each.
	sum, err := sortImages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tree(t, f.out)); got != 2+2*len(f.want) {
		t.Errorf("after two runs the output holds %d files, want %d", got, 2+2*len(f.want))
	}
	for _, r := range sum.Results {
		if !strings.HasSuffix(r.Dest, "-1.png") && !strings.HasSuffix(r.Dest, "-3.png") {
			t.Errorf("second run placed %s at %s, want a -1 (or -3) suffix", r.File, r.Dest)
		}
	}
	noTempFiles(t, f.out)
}

func TestUndecodableFileIsReportedAndKept(t *testing.T) {
	f := newFixture(t, 1)
	broken := filepath.Join(f.in, "broken.png")
	writeFile(t, broken, []byte("this is not a PNG"))
	writeFile(t, filepath.Join(f.in, "notes.txt"), []byte("not an image"))
	mustMkdir(t, filepath.Join(f.in, "sub"))
	report := filepath.Join(t.TempDir(), "report.csv")
	var stderr bytes.Buffer
	cfg := f.config(testModel(t, 1))
	cfg.MinConfidence, cfg.Mode, cfg.Report, cfg.Stderr = 0, Move, report, &stderr

	sum, err := sortImages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || len(sum.Results) != len(f.want)+1 {
		t.Fatalf("failed %d of %d, want 1 of %d", sum.Failed, len(sum.Results), len(f.want)+1)
	}
	if !slices.Equal(sum.Ignored, []string{"notes.txt", "sub"}) {
		t.Errorf("Ignored = %q, want notes.txt and sub", sum.Ignored)
	}
	if !strings.Contains(stderr.String(), broken) || !strings.Contains(stderr.String(), "left in place") {
		t.Errorf("stderr does not report %s:\n%s", broken, stderr.String())
	}
	if string(readFile(t, broken)) != "this is not a PNG" {
		t.Error("the undecodable file was changed")
	}
	// The decodable images were moved despite the failure.
	in := tree(t, f.in)
	if len(in) != 2 {
		t.Errorf("unsorted folder holds %v, want only broken.png and notes.txt", keys(in))
	}
	if got := len(tree(t, f.out)); got != len(f.want) {
		t.Errorf("output holds %d files, want %d", got, len(f.want))
	}
	var found bool
	for _, row := range readCSV(t, report)[1:] {
		if row[0] == "broken.png" {
			found = true
			if row[1] != "" || row[5] != "" || !strings.Contains(row[6], "broken.png") {
				t.Errorf("report row %q, want no label, no destination and an error naming the file", row)
			}
		}
	}
	if !found {
		t.Error("the report has no row for broken.png")
	}
}

func TestMoveRemovesSourceOnlyAfterCopy(t *testing.T) {
	f := newFixture(t, 1)
	before := tree(t, f.in)
	cfg := f.config(testModel(t, 1))
	cfg.MinConfidence, cfg.Mode = 0, Move
	removed := 0
	cfg.hooks.beforeRemove = func(src, dst string) {
		removed++
		// The copy is complete under its final name and the original is
		// still there when its removal starts.
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, before[filepath.Base(src)]) {
			t.Errorf("removing %s before %s holds its content (%v)", src, dst, err)
		}
		if _, err := os.Stat(src); err != nil {
			t.Errorf("original %s missing before its removal: %v", src, err)
		}
		noTempFiles(t, f.out)
	}
	// One destination cannot be created: a file sits where the class
	// folder should be, so that image must stay in place.
	blocker := filepath.Join(f.out, "Greek", "character03")
	writeFile(t, blocker, []byte("a file, not a folder"))

	sum, err := sortImages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || removed != len(f.want)-1 {
		t.Errorf("failed %d, removed %d, want 1 and %d", sum.Failed, removed, len(f.want)-1)
	}
	in := tree(t, f.in)
	if len(in) != 1 || !bytes.Equal(in["Greek-character03-a.png"], before["Greek-character03-a.png"]) {
		t.Errorf("unsorted folder holds %v, want only the image whose folder could not be made", keys(in))
	}
	out := tree(t, f.out)
	for name, label := range f.want {
		if label != "Greek/character03" && !bytes.Equal(out[label+"/"+name], before[name]) {
			t.Errorf("%s was not moved to %s intact", name, label)
		}
	}
}

func TestLink(t *testing.T) {
	f := newFixture(t, 1)
	cfg := f.config(testModel(t, 1))
	cfg.MinConfidence, cfg.Mode = 0, Link
	sum, err := sortImages(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 {
		t.Fatalf("%d failed", sum.Failed)
	}
	for _, r := range sum.Results {
		a, err1 := os.Stat(filepath.Join(f.in, r.File))
		b, err2 := os.Stat(r.Dest)
		if err1 != nil || err2 != nil || !os.SameFile(a, b) {
			t.Errorf("%s and %s are not the same file (%v, %v)", r.File, r.Dest, err1, err2)
		}
	}
}

func TestLinkErrorAcrossDevices(t *testing.T) {
	err := linkError("in/a.png", "out/cats", &os.LinkError{Op: "link", Old: "in/a.png", New: "out/cats/a.png", Err: syscall.EXDEV})
	var xdev *crossDeviceError
	if !errors.As(err, &xdev) || !errors.Is(err, syscall.EXDEV) || !strings.Contains(err.Error(), "different filesystems") ||
		!strings.Contains(err.Error(), "--copy") {
		t.Errorf("linkError(EXDEV) = %v, want a crossDeviceError suggesting --copy", err)
	}
	other := &os.LinkError{Op: "link", Err: syscall.EPERM}
	if got := linkError("a", "b", other); got != error(other) {
		t.Errorf("linkError(EPERM) = %v, want it unchanged", got)
	}
}

func TestCancel(t *testing.T) {
	t.Run("before start", func(t *testing.T) {
		f := newFixture(t, 1)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		cfg := f.config(testModel(t, 1))
		cfg.Report = filepath.Join(f.out, "report.csv")
		if _, err := sortImages(ctx, cfg); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if _, err := os.Stat(f.out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a cancelled run created %s", f.out)
		}
	})
	t.Run("mid copy", func(t *testing.T) {
		f := newFixture(t, 1)
		before := tree(t, f.in)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		report := filepath.Join(t.TempDir(), "report.csv")
		cfg := f.config(testModel(t, 1))
		cfg.MinConfidence, cfg.Mode, cfg.Report = 0, Move, report
		cfg.hooks.chunk = 16 // so that every copy takes several chunks
		cfg.hooks.afterChunk = cancel
		sum, err := sortImages(ctx, cfg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if len(sum.Results) != 0 {
			t.Errorf("the abandoned file was recorded: %+v", sum.Results)
		}
		if out := tree(t, f.out); len(out) != 0 {
			t.Errorf("a cancelled copy left files: %v", keys(out))
		}
		if !equalTrees(before, tree(t, f.in)) {
			t.Error("a cancelled move changed the unsorted folder")
		}
		if rows := readCSV(t, report); len(rows) != 1 {
			t.Errorf("report has %d rows, want the header only", len(rows))
		}
		noTempFiles(t, filepath.Dir(report))
	})
	t.Run("after first file", func(t *testing.T) {
		f := newFixture(t, 1)
		before := tree(t, f.in)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		report := filepath.Join(t.TempDir(), "report.csv")
		cfg := f.config(testModel(t, 1))
		cfg.MinConfidence, cfg.Mode, cfg.Report = 0, Move, report
		cfg.hooks.afterPlace = func(Result) { cancel() }
		sum, err := sortImages(ctx, cfg)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if len(sum.Results) != 1 {
			t.Fatalf("%d results, want 1", len(sum.Results))
		}
		r := sum.Results[0]
		out, in := tree(t, f.out), tree(t, f.in)
		if len(out) != 1 || !bytes.Equal(out[f.want[r.File]+"/"+r.File], before[r.File]) {
			t.Errorf("output %v, want only %s, complete", keys(out), r.File)
		}
		if _, ok := in[r.File]; ok || len(in) != len(before)-1 {
			t.Errorf("unsorted folder %v, want all but %s", keys(in), r.File)
		}
		if rows := readCSV(t, report); len(rows) != 2 || rows[1][0] != r.File {
			t.Errorf("report rows %q, want the header and %s", rows, r.File)
		}
		noTempFiles(t, f.out)
	})
}

func TestUnsureClassNameReserved(t *testing.T) {
	f := newFixture(t, 1)
	src := firstPNG(t, filepath.Join(omniglotDir, "Greek", "character01"))
	writeFile(t, filepath.Join(f.examples, UnsureDir, "x.png"), readFile(t, src))
	_, err := sortImages(context.Background(), f.config(testModel(t, 1)))
	if err == nil || !strings.Contains(err.Error(), UnsureDir) {
		t.Errorf("err = %v, want a complaint about the class %s", err, UnsureDir)
	}
}

func TestSuffixed(t *testing.T) {
	for _, c := range []struct {
		name string
		i    int
		want string
	}{
		{"a.png", 0, "a.png"}, {"a.png", 1, "a-1.png"}, {"a.b.jpeg", 12, "a.b-12.jpeg"}, {"noext", 2, "noext-2"},
	} {
		if got := suffixed(c.name, c.i); got != c.want {
			t.Errorf("suffixed(%q, %d) = %q, want %q", c.name, c.i, got, c.want)
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

func keys(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
