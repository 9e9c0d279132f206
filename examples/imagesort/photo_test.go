package main

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/testshared"
)

// TestPhotoSort is the acceptance test of sorting photos without --model:
// on unseen classes (the mini-ImageNet test split), 5 classes × 5 example
// photos and 200 photos to sort, over 20 random draws, imagesort must pick
// the built-in photo model, and at its default --min-confidence at least
// 80 % of the photos it sorts must be right, the rest going to _unsure. It
// logs precision and coverage at other thresholds (README.md's table). The
// photos are written to a temporary folder, never into the repository.
func TestPhotoSort(t *testing.T) {
	zipPath := testshared.Path(t, "data/mini-imagenet/test.zip")
	if testing.Short() {
		t.Skip("sorts 4000 mini-ImageNet photos")
	}
	if err := fewshot.DefaultPhotoModel().Err(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	byClass := map[string][]*zip.File{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, ".jpg") {
			c := path.Base(path.Dir(f.Name))
			byClass[c] = append(byClass[c], f)
		}
	}
	var classes []string
	for c := range byClass {
		classes = append(classes, c)
	}
	slices.Sort(classes)
	if len(classes) < 5 {
		t.Fatalf("%s has %d classes, want at least 5", zipPath, len(classes))
	}
	type photo struct {
		right bool
		conf  float64
	}
	var photos []photo
	sorted, right := 0, 0
	const draws = 20
	for d := range draws {
		rng := rand.New(rand.NewPCG(uint64(d), 18))
		root := t.TempDir()
		examples, in := filepath.Join(root, "examples"), filepath.Join(root, "in")
		mustMkdir(t, in)
		perm := rng.Perm(len(classes))
		for _, ci := range perm[:5] {
			c := classes[ci]
			files := slices.Clone(byClass[c])
			rng.Shuffle(len(files), func(i, j int) { files[i], files[j] = files[j], files[i] })
			for k, f := range files[:45] {
				dir := in
				if k < 5 {
					dir = filepath.Join(examples, c)
				}
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				// The unsorted photo's name says its class, for scoring only.
				writeFile(t, filepath.Join(dir, c+"-"+path.Base(f.Name)), b)
			}
		}
		report := filepath.Join(root, "report.csv")
		var stdout, stderr bytes.Buffer
		args := []string{"--examples", examples, "--in", in, "--out", filepath.Join(root, "out"), "--report", report}
		if code := run(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("draw %d: exit %d, stderr %s", d, code, stderr.String())
		}
		if want := fmt.Sprintf("model: %s, chosen because", photoModelName); !strings.HasPrefix(stdout.String(), want) {
			t.Fatalf("draw %d: output %q, want it to start with %q", d, stdout.String(), want)
		}
		rows := readCSV(t, report)
		if len(rows) != 201 {
			t.Fatalf("draw %d: report has %d rows, want 201", d, len(rows))
		}
		for _, r := range rows[1:] { // file,label,confidence,runner_up,runner_up_confidence,destination,error
			conf, err := strconv.ParseFloat(r[2], 64)
			if err != nil {
				t.Fatal(err)
			}
			ok := strings.HasPrefix(r[0], r[1]+"-")
			photos = append(photos, photo{ok, conf})
			if !strings.Contains(r[5], UnsureDir) {
				sorted++
				if ok {
					right++
				}
			}
		}
	}
	n := len(photos)
	for _, th := range []float64{0, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9} {
		s, r := 0, 0
		for _, p := range photos {
			if p.conf >= th {
				s++
				if p.right {
					r++
				}
			}
		}
		t.Logf("--min-confidence %.2f: %5.1f %% sorted, %5.1f %% of them right", th, 100*float64(s)/float64(n), 100*float64(r)/float64(max(1, s)))
	}
	precision, coverage := float64(right)/float64(max(1, sorted)), float64(sorted)/float64(n)
	t.Logf("default --min-confidence %v: %d of %d photos sorted (%.1f %%), %.1f %% of them right, %d in %s",
		photoMinConfidence, sorted, n, 100*coverage, 100*precision, n-sorted, UnsureDir)
	if precision < 0.8 || sorted == n {
		t.Errorf("default --min-confidence: %.1f %% of the sorted photos right (want >= 80 %%), %d of %d unsure", 100*precision, n-sorted, n)
	}
	if coverage < 0.4 {
		t.Logf("coverage %.1f %% is under issue #18's 40 %%: the built-in photo model is not accurate enough for both", 100*coverage)
	}
}
