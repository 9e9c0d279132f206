package main

import (
	"context"
	"fmt"

	"github.com/fewshot-go/fewshot/internal/plot"
)

func init() {
	register(&command{
		name:    "plot",
		summary: "draw training curves (loss, validation accuracy) from metrics logs",
		run:     runPlot,
	})
}

const plotExamples = `
# one run; writes docs/figures/omniglot-convergence.png and .svg
fewshot plot --log runs/l2g-omni/metrics.jsonl --out docs/figures/omniglot-convergence

# compare runs, naming them, with a 50-point moving average on the loss
fewshot plot --log L2G=runs/l2g-omni/metrics.jsonl --log ProtoNet=runs/proto-omni/metrics.jsonl \
    --smooth 50 --title "Omniglot 20-way 1-shot" --out docs/figures/omniglot-convergence`

func runPlot(ctx context.Context, env *cmdEnv, args []string) error {
	var logs stringList
	fl := newFlagSet(env, "plot", "--log [NAME=]metrics.jsonl [--log ...] --out PREFIX [flags]",
		"Draws convergence curves from the metrics logs that \"fewshot train\" writes: training loss\n"+
			"(moving average) and validation accuracy against episodes, one line per log, and writes\n"+
			"PREFIX.png and PREFIX.svg. A run is named NAME when given, else after the log's folder.",
		plotExamples)
	fl.Var(&logs, "log", "metrics log, optionally NAME=PATH (repeatable, at least one)")
	out := fl.String("out", "", "output path without extension (required)")
	smooth := fl.Int("smooth", 20, "moving-average window for the training loss, in logged points (1: raw)")
	title := fl.String("title", "", "title above the plots")
	trainAcc := fl.Bool("train-acc", false, "also draw training accuracy (dashed)")
	width := fl.Int("width", 1500, "PNG width in pixels")
	height := fl.Int("height", 600, "PNG height in pixels")
	if err := parseFlags(fl, args); err != nil {
		return err
	}
	switch {
	case fl.NArg() > 0:
		return usagef("unexpected argument %q", fl.Arg(0))
	case len(logs) == 0:
		return usagef("--log is required")
	case *out == "":
		return usagef("--out is required")
	case *smooth < 0:
		return usagef("--smooth %d: want >= 0", *smooth)
	case *width < 16 || *height < 16:
		return usagef("--width %d --height %d: want at least 16 pixels each", *width, *height)
	}
	runs := make([]*plot.Run, len(logs))
	for i, arg := range logs {
		name, path := plot.ParseLogArg(arg)
		r, err := plot.ReadLog(name, path)
		if err != nil {
			return err
		}
		runs[i] = r
	}
	uniqueNames(runs)
	paths, err := plot.WriteConvergence(*out, runs, plot.ConvergenceOptions{
		Title: *title, Smooth: *smooth, TrainAcc: *trainAcc,
		Size: plot.Size{Width: *width, Height: *height},
	})
	if err != nil {
		return err
	}
	for _, p := range paths {
		fmt.Fprintln(env.stdout, "wrote", p)
	}
	return nil
}

// uniqueNames makes legend entries distinguishable: runs that would share
// a name (two logs in one folder, say) are named by their paths instead.
func uniqueNames(runs []*plot.Run) {
	count := map[string]int{}
	for _, r := range runs {
		count[r.Name]++
	}
	for _, r := range runs {
		if count[r.Name] > 1 {
			r.Name = r.Path
		}
	}
}
