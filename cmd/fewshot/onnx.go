package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/onnxio"
)

func init() {
	register(&command{
		name:    "onnx",
		summary: "run an ONNX model on tensor files, or check ONNX test cases",
		run:     runONNX,
	})
}

const onnxUsage = `Usage:
  fewshot onnx run --model M.onnx --input input_0.pb [--input input_1.pb ...] --output-dir DIR
  fewshot onnx check CASE_DIR...

Subcommands:
  run    run a model on serialized TensorProto inputs and write output_N.pb files
  check  run ONNX backend test case directories (model.onnx + test_data_set_*)
         and compare with their expected outputs (rtol 1e-3, atol 1e-5)`

func runONNX(ctx context.Context, env *cmdEnv, args []string) error {
	if len(args) == 0 {
		return usagef("missing subcommand\n\n%s", onnxUsage)
	}
	switch args[0] {
	case "run":
		return runONNXRun(env, args[1:])
	case "check":
		return runONNXCheck(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprintln(env.stdout, onnxUsage)
		return errHelp
	}
	return usagef("unknown subcommand %q\n\n%s", args[0], onnxUsage)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runONNXRun(env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "onnx run", "--model M.onnx --input input_0.pb [--input ...] --output-dir DIR",
		"Runs the model on the given inputs (serialized onnx.TensorProto, in the order of the\n"+
			"model's non-initializer graph inputs) and writes output_N.pb for each graph output.",
		"fewshot onnx run --model model.onnx --input test_data_set_0/input_0.pb --output-dir out")
	model := fs.String("model", "", "ONNX model file")
	outDir := fs.String("output-dir", "", "directory for output_N.pb files (created if missing)")
	var inputs stringList
	fs.Var(&inputs, "input", "input tensor file (repeat for each input, in order)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *model == "" || *outDir == "" {
		return usagef("--model and --output-dir are required")
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %v", fs.Args())
	}
	m, err := onnxio.ReadFile(*model)
	if err != nil {
		return err
	}
	plan, err := onnxio.Compile(m)
	if err != nil {
		return fmt.Errorf("%s: %w", *model, err)
	}
	if len(inputs) != len(plan.Inputs()) {
		return usagef("the model takes %d inputs, got %d --input files", len(plan.Inputs()), len(inputs))
	}
	ts := make([]*onnxio.Tensor, len(inputs))
	for i, p := range inputs {
		if ts[i], err = onnxio.ReadTensorFile(p); err != nil {
			return err
		}
	}
	outs, err := plan.RunPositional(ts...)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	for i, t := range outs {
		b, err := t.MarshalBinary()
		if err != nil {
			return err
		}
		path := filepath.Join(*outDir, fmt.Sprintf("output_%d.pb", i))
		err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
			_, err := w.Write(b)
			return err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "%s: %s %v %v\n", path, t.Name, t.DataType, t.Dims)
	}
	return nil
}

func runONNXCheck(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet(env, "onnx check", "CASE_DIR...",
		"Runs each ONNX backend test case directory and compares its outputs with the\n"+
			"expected output_N.pb files (rtol 1e-3, atol 1e-5). Prints one line per failure.",
		"fewshot onnx check ../shared/onnx-conformance/node/*")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("no case directories given")
	}
	passed, failed := 0, 0
	for _, dir := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := onnxio.CheckCase(dir, onnxio.DefaultTolerance); err != nil {
			failed++
			fmt.Fprintf(env.stdout, "FAIL %s: %s\n", dir, strings.ReplaceAll(err.Error(), "\n", "; "))
			continue
		}
		passed++
	}
	fmt.Fprintf(env.stdout, "%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d cases failed", failed, passed+failed)
	}
	return nil
}
