package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/progress"
)

// Mode says how an image reaches its class folder.
type Mode int

// Modes. Copy is the default.
const (
	Copy Mode = iota // copy the file, leave the original
	Move             // copy, fsync, then remove the original
	Link             // hard-link the file (same filesystem only)
)

func (m Mode) String() string {
	switch m {
	case Move:
		return "move"
	case Link:
		return "link"
	}
	return "copy"
}

// UnsureDir is the folder, inside the output folder, for images whose
// best probability is below Config.MinConfidence.
const UnsureDir = "_unsure"

// batchSize is how many images are decoded and classified at a time: it
// bounds memory on folders of large photos.
const batchSize = 64

// Config describes one sorting run.
type Config struct {
	// Examples holds one folder per class (see fewshot.LoadExamplesDir).
	Examples string
	// In is the folder of unsorted images; only the images directly in it
	// are sorted, sub-folders are left alone.
	In string
	// Out receives one folder per class and UnsureDir.
	Out string
	// Model classifies the images.
	Model *fewshot.Model
	// MinConfidence is the probability below which an image goes to
	// UnsureDir instead of its class folder.
	MinConfidence float64
	Mode          Mode
	// DryRun classifies and plans but writes nothing.
	DryRun bool
	// Report, if not empty, is the CSV file the results are written to.
	Report string
	// Stdout receives the plan of a dry run; Stderr progress and per-file
	// errors. Nil means io.Discard.
	Stdout, Stderr io.Writer
	// Quiet turns off progress (errors are still printed).
	Quiet bool

	hooks testHooks
	// examples, when set, are the images of Examples, already loaded.
	examples []fewshot.Example
}

// testHooks let tests observe and interrupt a run at precise points; the
// zero value does nothing.
type testHooks struct {
	afterPlace   func(Result)          // after each image is handled
	afterChunk   func()                // after each chunk of a copy is written
	beforeRemove func(src, dst string) // before --move removes an original
	chunk        int                   // copy buffer size, 0 for the default
}

// Result is what happened to one input image.
type Result struct {
	// File is the image's path relative to Config.In.
	File string
	// Label and Prob are the predicted class and its probability;
	// RunnerUp and RunnerUpProb the second most probable class (empty
	// with a single class).
	Label        string
	Prob         float64
	RunnerUp     string
	RunnerUpProb float64
	// Unsure is set when Prob < Config.MinConfidence.
	Unsure bool
	// Dest is where the image was (or, in a dry run, would be) placed;
	// empty if it failed.
	Dest string
	// Err says why the image was left in place.
	Err error
}

// Summary is the outcome of a run.
type Summary struct {
	// Results holds one entry per input image, in file name order, for
	// the images handled before the run ended.
	Results []Result
	// Counts is the number of images placed in each class folder (and
	// UnsureDir).
	Counts map[string]int
	// Failed counts the images left in place because of an error.
	Failed int
	// Ignored lists the entries of Config.In that are not image files.
	Ignored []string
}

// sortImages classifies the images of cfg.In against the classes of
// cfg.Examples and places each in its class folder under cfg.Out.
//
// A file that cannot be read, decoded or placed is recorded in its Result
// and left where it is; the run goes on. The returned error is for
// problems that stop the run: bad folders, an unusable model or examples, a
// failed report, a cross-device --link, or ctx being cancelled. On
// cancellation the file in progress is abandoned (its temporary copy is
// removed), and the Summary and report cover the files handled so far.
func sortImages(ctx context.Context, cfg Config) (Summary, error) {
	sum := Summary{Counts: map[string]int{}}
	stdout, stderr := orDiscard(cfg.Stdout), orDiscard(cfg.Stderr)
	if cfg.MinConfidence < 0 || cfg.MinConfidence > 1 {
		return sum, fmt.Errorf("min confidence %v is outside [0, 1]", cfg.MinConfidence)
	}
	clf, err := fewshot.New(cfg.Model)
	if err != nil {
		return sum, err
	}
	files, ignored, err := listImages(cfg.In)
	if err != nil {
		return sum, err
	}
	sum.Ignored = ignored
	examples := cfg.examples
	if examples == nil {
		if examples, err = fewshot.LoadExamplesDir(cfg.Examples); err != nil {
			return sum, fmt.Errorf("loading examples: %w", err)
		}
	}
	protos, err := clf.Fit(examples)
	if err != nil {
		return sum, fmt.Errorf("learning the classes of %s: %w", cfg.Examples, err)
	}
	if slices.Contains(protos.Classes(), UnsureDir) {
		return sum, fmt.Errorf("%s has a class folder named %s, which is reserved for unsure images", cfg.Examples, UnsureDir)
	}
	if err := ctx.Err(); err != nil {
		return sum, err
	}

	bar := progress.New(stderr, int64(len(files)), "image", progress.Options{Quiet: cfg.Quiet})
	defer bar.Finish()
	pl := &placer{mode: cfg.Mode, dryRun: cfg.DryRun, planned: map[string]bool{}, hooks: cfg.hooks}
	runErr := func() error {
		for start := 0; start < len(files); start += batchSize {
			if err := ctx.Err(); err != nil {
				return err
			}
			batch := files[start:min(start+batchSize, len(files))]
			results := classify(protos, cfg.In, batch)
			for i := range results {
				r := &results[i]
				if r.Err == nil {
					if err := ctx.Err(); err != nil {
						return err
					}
					r.Unsure = r.Prob < cfg.MinConfidence
					folder := filepath.FromSlash(r.Label)
					if r.Unsure {
						folder = UnsureDir
					}
					r.Dest, r.Err = pl.place(ctx, filepath.Join(cfg.In, r.File), filepath.Join(cfg.Out, folder))
					if r.Err != nil && (errors.Is(r.Err, context.Canceled) || errors.Is(r.Err, context.DeadlineExceeded)) {
						return r.Err // not the file's fault: stop, without recording it
					}
					var xdev *crossDeviceError
					if errors.As(r.Err, &xdev) {
						return r.Err // every other file would fail the same way
					}
				}
				if r.Err != nil {
					sum.Failed++
					msg := fmt.Sprintf("imagesort: %v (left in place)", r.Err)
					if src := filepath.Join(cfg.In, r.File); !strings.Contains(r.Err.Error(), src) {
						msg = fmt.Sprintf("imagesort: %s: %v (left in place)", src, r.Err)
					}
					if cfg.Quiet {
						fmt.Fprintln(stderr, msg) // errors are printed even when quiet
					} else {
						bar.Println(msg) // keeps a terminal bar intact
					}
				} else {
					sum.Counts[destFolder(*r)]++
					if cfg.DryRun {
						fmt.Fprintf(stdout, "%s -> %s (%s %.3f)\n", filepath.Join(cfg.In, r.File), r.Dest, r.Label, r.Prob)
					}
				}
				sum.Results = append(sum.Results, *r)
				if cfg.hooks.afterPlace != nil {
					cfg.hooks.afterPlace(*r)
				}
				bar.Add(1)
			}
		}
		return nil
	}()
	if cfg.Report != "" && !cfg.DryRun {
		if err := writeReport(cfg.Report, sum.Results); err != nil {
			return sum, errors.Join(runErr, err)
		}
	}
	return sum, runErr
}

// destFolder returns the label Summary.Counts files r under.
func destFolder(r Result) string {
	if r.Unsure {
		return UnsureDir
	}
	return r.Label
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// imageExts are the extensions of the formats fewshot decodes.
var imageExts = []string{".png", ".jpg", ".jpeg", ".gif"}

// listImages returns the names of the image files directly in dir, sorted,
// and the other non-hidden entries it skips (folders included).
func listImages(dir string) (images, ignored []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the unsorted folder: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, "."):
			// Hidden files include our own temporary copies.
		case e.Type().IsRegular() && slices.Contains(imageExts, strings.ToLower(filepath.Ext(name))):
			images = append(images, name)
		default:
			ignored = append(ignored, name)
		}
	}
	sort.Strings(images)
	return images, ignored, nil
}

// classify decodes the files names (relative to dir) in parallel and
// predicts their classes. A file that fails gets an Err and no prediction.
func classify(protos *fewshot.Prototypes, dir string, names []string) []Result {
	results := make([]Result, len(names))
	imgs := make([]image.Image, len(names))
	var wg sync.WaitGroup
	next := make(chan int, len(names))
	for i := range names {
		results[i].File = names[i]
		next <- i
	}
	close(next)
	for range min(runtime.GOMAXPROCS(0), len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				imgs[i], results[i].Err = fewshot.LoadImage(filepath.Join(dir, names[i]))
			}
		}()
	}
	wg.Wait()

	var ok []int // indexes of the decoded images
	for i := range results {
		if results[i].Err == nil {
			ok = append(ok, i)
		}
	}
	if len(ok) == 0 {
		return results
	}
	batch := make([]image.Image, len(ok))
	for j, i := range ok {
		batch[j] = imgs[i]
	}
	preds, err := protos.Predict(batch)
	if err != nil {
		// Predict names only the first image it could not handle; retry
		// one by one so the others still get sorted.
		for _, i := range ok {
			p, err := protos.Predict(imgs[i : i+1])
			if err != nil {
				results[i].Err = err
				continue
			}
			setPrediction(&results[i], p[0])
		}
		return results
	}
	for j, i := range ok {
		setPrediction(&results[i], preds[j])
	}
	return results
}

// setPrediction copies the best and second best classes of p into r.
func setPrediction(r *Result, p fewshot.Prediction) {
	r.Label, r.Prob = p.Label, p.Prob
	second := -1
	for k, c := range p.Classes {
		if c == p.Label {
			continue
		}
		if second < 0 || p.Probs[k] > p.Probs[second] {
			second = k
		}
	}
	if second >= 0 {
		r.RunnerUp, r.RunnerUpProb = p.Classes[second], p.Probs[second]
	}
}
