package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/train"
)

func init() {
	register(&command{
		name:    "export",
		summary: "write a trained checkpoint as an ONNX model that fewshot.LoadModel reads",
		run:     runExport,
	})
}

const exportExamples = `
# the best checkpoint of a training run, preprocessing taken from its dataset
fewshot export --run runs/proto-omni --data shared/data/omniglot --out models/omniglot-proto.onnx

# a given checkpoint file, with an explicit preprocessing preset
fewshot export --checkpoint runs/proto-omni/checkpoint.fsckpt --preprocess omniglot --out model.onnx`

func runExport(ctx context.Context, env *cmdEnv, args []string) error {
	fl := newFlagSet(env, "export", "(--run DIR | --checkpoint FILE) (--data PATH | --preprocess P) --out FILE.onnx [flags]",
		"Writes a trained model as an ONNX embedding graph plus the metadata fewshot needs (input shape,\n"+
			"preprocessing, metric; a Relation Network's relation module travels inside the same file).\n"+
			"The preprocessing must be the one the model was trained with: it is taken from --data (the\n"+
			"dataset the run trained on) unless --preprocess names it. The file is written atomically.",
		exportExamples)
	var run, ckptPath, data, split, preprocess, out, description string
	fl.StringVar(&run, "run", "", "training output folder: its best checkpoint (or latest, if never validated) is exported")
	fl.StringVar(&ckptPath, "checkpoint", "", "checkpoint file to export (instead of --run)")
	fl.StringVar(&data, "data", "", "dataset the model was trained on, for its preprocessing and description")
	fl.StringVar(&split, "split", "", "training split of --data (default vinyals-train for Omniglot, else train)")
	fl.StringVar(&preprocess, "preprocess", "", `preprocessing instead of --data's: "omniglot", "mini-imagenet" or episode.Preprocess JSON`)
	fl.StringVar(&out, "out", "", "ONNX file to write (required)")
	fl.StringVar(&description, "description", "", "training-data description stored in the model (default from --data)")
	if err := parseFlags(fl, args); err != nil {
		return err
	}
	switch {
	case fl.NArg() > 0:
		return usagef("unexpected arguments %q", fl.Args())
	case (run == "") == (ckptPath == ""):
		return usagef("give exactly one of --run and --checkpoint")
	case out == "":
		return usagef("--out is required")
	case data == "" && preprocess == "":
		return usagef("give --data (the training dataset) or --preprocess")
	}

	var pre episode.Preprocess
	if preprocess != "" {
		p, err := parsePreprocessFlag(preprocess)
		if err != nil {
			return usageError{err}
		}
		pre = p
	}
	if data != "" {
		splitSet := false // an explicitly empty --split means a plain folder of classes
		fl.Visit(func(g *flag.Flag) { splitSet = splitSet || g.Name == "split" })
		if !splitSet {
			split = defaultSplit(isOmniglotDir(data), "train")
		}
		ds, err := episode.Load(data, split)
		if err != nil {
			return err
		}
		defer ds.Close()
		if preprocess == "" {
			pre = ds.Pre
		}
		if description == "" {
			description = fmt.Sprintf("%s split %s", ds.Name, split)
		}
	}

	var (
		algo train.Algorithm
		ckpt *train.Checkpoint
		err  error
	)
	if run != "" {
		algo, ckpt, err = loadBest(run)
	} else if ckpt, err = train.LoadCheckpoint(ckptPath); err == nil {
		algo, err = ckpt.Algorithm()
	}
	if err != nil {
		return err
	}
	if description != "" {
		description = fmt.Sprintf("%s, %d episodes", description, ckpt.Progress.Episode)
	}
	if err := train.ExportFile(out, algo, pre, description); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "exported %s (episode %d) to %s\n", ckpt.Spec.Algo, ckpt.Progress.Episode, out)
	if w := train.ExportWarning(ckpt.Spec.Algo); w != "" {
		fmt.Fprintln(env.stderr, w)
	}
	return nil
}
