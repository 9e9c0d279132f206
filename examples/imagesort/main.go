// Command imagesort sorts a folder of unsorted images into class folders,
// learning the classes from a few labelled examples of each.
//
// Usage:
//
//	imagesort --examples EXAMPLES_DIR --in UNSORTED_DIR --out OUT_DIR
//	          [--model M.onnx] [--min-confidence P] [--copy|--move|--link]
//	          [--dry-run] [--report report.csv] [--quiet]
//	imagesort -demo [--model M.onnx]
//
// EXAMPLES_DIR holds one folder of example images per class. Every image
// directly in UNSORTED_DIR is classified and copied (or moved, or
// hard-linked) to OUT_DIR/<class>/, or to OUT_DIR/_unsure/ when its best
// probability is below --min-confidence. No file is ever overwritten: a
// name already taken gets a suffix (photo-1.png, photo-2.png, ...). A moved
// file's original is removed only once its copy is complete and flushed to
// disk.
//
// Without --model the examples choose the built-in model: the photo model
// (fewshot.DefaultPhotoModel) when most are colour images, the Omniglot
// model (fewshot.DefaultModel) otherwise; the first line of output names
// the model used. --min-confidence defaults to 0.75 with the built-in
// photo model, whose probabilities are calibrated, and 0.5 otherwise.
//
// An image that cannot be decoded or placed is reported on standard error
// (and in the report) and left where it is. The exit status is 0 when every
// image was sorted, 1 when some failed or the run could not start, 2 for a
// usage error and 130 when interrupted.
//
// -demo sorts Omniglot characters built into the program with the default
// model, in a temporary folder, and prints the accuracy.
//
// The program uses only the public fewshot API; see README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/fewshot-go/fewshot/fewshot"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130 // the shell convention for SIGINT
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling so that a
		// second Ctrl-C ends the program at once.
		<-ctx.Done()
		stop()
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program behind main, with its arguments and output
// streams passed in; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("imagesort", flag.ContinueOnError)
	fl.SetOutput(stderr)
	var (
		cfg       = Config{Stdout: stdout, Stderr: stderr}
		modelPath string
		copyF     = fl.Bool("copy", false, "copy images into the class folders (the default)")
		moveF     = fl.Bool("move", false, "move images: copy, flush to disk, then remove the original")
		linkF     = fl.Bool("link", false, "hard-link images into the class folders (same filesystem only)")
		demo      = fl.Bool("demo", false, "sort built-in Omniglot characters with the default model and print the accuracy")
	)
	fl.StringVar(&cfg.Examples, "examples", "", "folder with one `folder` of example images per class")
	fl.StringVar(&cfg.In, "in", "", "`folder` of unsorted images")
	fl.StringVar(&cfg.Out, "out", "", "`folder` to create the class folders in")
	fl.StringVar(&modelPath, "model", "", "ONNX model `file` (default: the built-in photo model when most examples are colour images, else the built-in Omniglot model)")
	fl.Float64Var(&cfg.MinConfidence, "min-confidence", defaultMinConfidence, fmt.Sprintf("`probability` below which an image goes to %s "+
		"(default %v with the built-in photo model, %v with any other)", UnsureDir, photoMinConfidence, defaultMinConfidence))
	fl.BoolVar(&cfg.DryRun, "dry-run", false, "print where each image would go and write nothing")
	fl.StringVar(&cfg.Report, "report", "", "write a CSV report of every image to `file`")
	fl.BoolVar(&cfg.Quiet, "quiet", false, "print no progress or summary, only errors")
	fl.Usage = func() {
		fmt.Fprint(fl.Output(), `Usage:
  imagesort --examples EXAMPLES_DIR --in UNSORTED_DIR --out OUT_DIR [flags]
  imagesort -demo [--model M.onnx]

Sorts the images directly in UNSORTED_DIR into OUT_DIR/<class>/, learning
the classes from EXAMPLES_DIR/<class>/ (a few example images each).

Flags:
`)
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "imagesort: "+format+"\n", a...)
		fmt.Fprintln(stderr, "Run 'imagesort -h' for usage.")
		return exitUsage
	}
	if fl.NArg() > 0 {
		return usage("unexpected argument %q", fl.Arg(0))
	}
	if cfg.MinConfidence < 0 || cfg.MinConfidence > 1 {
		return usage("--min-confidence %v is outside [0, 1]", cfg.MinConfidence)
	}
	switch n := countTrue(*copyF, *moveF, *linkF); {
	case n > 1:
		return usage("choose one of --copy, --move and --link")
	case *moveF:
		cfg.Mode = Move
	case *linkF:
		cfg.Mode = Link
	}
	if !*demo {
		var missing []string
		for _, f := range []struct{ name, value string }{{"--examples", cfg.Examples}, {"--in", cfg.In}, {"--out", cfg.Out}} {
			if f.value == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return usage("missing %s", strings.Join(missing, ", "))
		}
	}

	chosen := chosenModel{fewshot.DefaultModel(), omniglotModelName + ", the default for -demo"}
	switch {
	case modelPath != "":
		m, err := fewshot.LoadModel(modelPath)
		if err != nil {
			fmt.Fprintf(stderr, "imagesort: %v\n", err)
			return exitFailed
		}
		chosen = chosenModel{m, modelPath + " (--model)"}
	case !*demo:
		// The examples decide the built-in model; sortImages reuses them.
		examples, err := fewshot.LoadExamplesDir(cfg.Examples)
		if err != nil {
			return fail(stderr, fmt.Errorf("loading examples: %w", err))
		}
		cfg.examples = examples
		chosen = chooseDefaultModel(examples)
	}
	if err := chosen.model.Err(); err != nil {
		fmt.Fprintf(stderr, "imagesort: %v\nimagesort: pass a model file with --model\n", err)
		return exitFailed
	}
	cfg.Model = chosen.model
	minSet := false
	fl.Visit(func(f *flag.Flag) { minSet = minSet || f.Name == "min-confidence" })
	if !minSet && isBuiltinPhotoModel(chosen.model) {
		cfg.MinConfidence = photoMinConfidence
	}
	if !cfg.Quiet {
		fmt.Fprintf(stdout, "model: %s; min confidence %v\n", chosen.name, cfg.MinConfidence)
	}

	if *demo {
		if _, err := runDemo(ctx, cfg.Model, cfg.MinConfidence, stdout, stderr); err != nil {
			return fail(stderr, err)
		}
		return exitOK
	}

	sum, err := sortImages(ctx, cfg)
	if !cfg.Quiet && len(sum.Ignored) > 0 {
		fmt.Fprintf(stderr, "imagesort: skipped what is not a %s file in %s: %s\n",
			strings.Join(imageExts, "/"), cfg.In, listSome(sum.Ignored, 5))
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintf(stderr, "imagesort: interrupted after %d images; no partial file was left behind\n", len(sum.Results))
			return exitInterrupted
		}
		return fail(stderr, err)
	}
	if !cfg.Quiet {
		fmt.Fprintln(stdout, summaryLine(cfg, sum))
	}
	if sum.Failed > 0 {
		fmt.Fprintf(stderr, "imagesort: %d of %d images could not be sorted and were left in place\n", sum.Failed, len(sum.Results))
		return exitFailed
	}
	return exitOK
}

func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "imagesort: %v\n", err)
	return exitFailed
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// listSome joins the first n names and says how many more there are.
func listSome(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}

// summaryLine says what the run did, e.g. "copied 12 images into out: cats
// 7, dogs 4, _unsure 1".
func summaryLine(cfg Config, sum Summary) string {
	verb := map[Mode]string{Copy: "copied", Move: "moved", Link: "linked"}[cfg.Mode]
	if cfg.DryRun {
		verb = "would " + cfg.Mode.String()
	}
	placed := 0
	labels := make([]string, 0, len(sum.Counts))
	for l, n := range sum.Counts {
		placed += n
		labels = append(labels, l)
	}
	sort.Strings(labels)
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = fmt.Sprintf("%s %d", l, sum.Counts[l])
	}
	s := fmt.Sprintf("%s %d images into %s", verb, placed, cfg.Out)
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	return s
}
