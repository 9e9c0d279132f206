package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/nn"
	"github.com/fewshot-go/fewshot/onnxio"
	"github.com/fewshot-go/fewshot/train"
)

func init() {
	register(&command{
		name:    "bench",
		summary: "time an ONNX model's forward pass, or a Conv-4's forward, training and L2G steps",
		run:     runBench,
	})
}

const benchExamples = `
# inference speed of an exported model: 80 images through the embedding graph on 2 threads
fewshot bench --model omniglot-proto.onnx --batch 80 --threads 2

# where the time goes: the time of each operator type, then a CPU profile of 50 forward passes at batch 1
fewshot bench --model resnet18.onnx --batch 1 --iters 50 --ops
fewshot bench --model resnet18.onnx --batch 1 --iters 50 --cpuprofile cpu.prof && go tool pprof -top cpu.prof

# Conv-4 on mini-ImageNet-sized input: forward, training step, GFLOP/s, and the L2G pair vs ProtoNet step
fewshot bench --arch conv4 --input 3x84x84 --batch 80 --threads 2 --l2g --json`

// benchFlags are the parsed flags of the bench command.
type benchFlags struct {
	model, arch, input            string
	batch, threads, iters, warmup int
	hidden                        int
	seed                          uint64
	l2g, jsonOut, ops             bool
	ort                           string
	cpuProfile                    string
	inputShape                    []int // parsed --input, nil if not given
}

func runBench(ctx context.Context, env *cmdEnv, args []string) error {
	var f benchFlags
	fl := newFlagSet(env, "bench", "(--model FILE.onnx | --arch conv4 --input CxHxW) [flags]",
		"Times compute on this machine and prints the median over --iters iterations after --warmup\n"+
			"untimed ones, in milliseconds.\n"+
			"With --model: forward_ms, one batch of random images through the ONNX graph's first input (the\n"+
			"per-image shape comes from the graph, its fewshot metadata or --input).\n"+
			"With --arch conv4: a Conv-4 with random float32 weights; forward_ms (inference mode, no graph),\n"+
			"train_step_ms (forward in training mode and the first-order gradient of the summed output with\n"+
			"respect to every parameter) and gflops_forward (convolution FLOPs 2·N·K·C·R·S·OH·OW over the\n"+
			"forward time). --l2g adds proto_step_ms (one ProtoNet training step), l2g_pair_ms (one exact\n"+
			"second-order L2G task pair) and l2g_first_order_pair_ms on 5-way 5-shot 15-query tasks, and their\n"+
			"ratios to the ProtoNet step. When onnxruntime is installed for the interop module (node and\n"+
			"interop/ort/node_modules, see --ort), the same network, exported to ONNX, is timed in onnxruntime\n"+
			"right after on the same batch and threads: ort_forward_ms and the ratios forward_over_ort and\n"+
			"train_step_over_ort.\n"+
			"The operations timed together take turns in every iteration, so that the load of a shared\n"+
			"machine affects them alike.",
		benchExamples)
	fl.StringVar(&f.model, "model", "", "ONNX model file to time")
	fl.StringVar(&f.arch, "arch", "", "architecture to build with random weights: conv4")
	fl.StringVar(&f.input, "input", "", "per-image input shape CxHxW, such as 3x84x84 (required with --arch)")
	fl.IntVar(&f.batch, "batch", 80, "images per forward pass")
	fl.IntVar(&f.threads, "threads", 0, "compute threads (default: all CPUs)")
	fl.IntVar(&f.iters, "iters", 10, "timed iterations")
	fl.IntVar(&f.warmup, "warmup", 1, "untimed iterations first")
	fl.IntVar(&f.hidden, "hidden", 64, "--arch: channels of every convolution")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the random weights and inputs")
	fl.BoolVar(&f.l2g, "l2g", false, "--arch: also time an L2G task pair and a ProtoNet step")
	fl.BoolVar(&f.jsonOut, "json", false, "print the result as one JSON object")
	fl.BoolVar(&f.ops, "ops", false, "--model: after the timed iterations, time --iters more step by step and report the time of each\n"+
		"operator type per forward pass (ops: op, ms, steps, share), largest first; a Conv step includes what it fused")
	fl.StringVar(&f.cpuProfile, "cpuprofile", "", "write a Go CPU profile of the whole run (loading, warm-up and timed iterations;\n"+
		"not onnxruntime's) to this file, for go tool pprof; written only if the run succeeds")
	fl.StringVar(&f.ort, "ort", "auto", "--arch: folder of the interop module's onnxruntime runner (run.js and node_modules);\n"+
		"auto: interop/ort under the current folder if it is installed, else skip; off: skip")
	if err := parseFlagsNoArgs(fl, args); err != nil {
		return err
	}
	if err := f.validate(); err != nil {
		return err
	}
	threads := f.threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	defer engine.SetThreads(engine.SetThreads(threads))

	rep := map[string]any{"batch": f.batch, "threads": threads, "iters": f.iters, "warmup": f.warmup}
	run := func() error {
		if f.model != "" {
			rep["model"] = f.model
			return benchModel(ctx, &f, rep)
		}
		rep["arch"], rep["hidden"] = f.arch, f.hidden
		return benchConv4(ctx, &f, rep)
	}
	if err := runProfiled(f.cpuProfile, run); err != nil {
		return err
	}
	if f.jsonOut {
		b, err := json.Marshal(rep)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.stdout, "%s\n", b)
		return err
	}
	return printBench(env, rep)
}

// runProfiled calls run, under a CPU profile written atomically to path
// when path is not empty. A failing run leaves no profile behind.
func runProfiled(path string, run func() error) error {
	if path == "" {
		return run()
	}
	var runErr error
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		if err := pprof.StartCPUProfile(w); err != nil {
			return err
		}
		runErr = run()
		pprof.StopCPUProfile()
		return runErr
	})
	if runErr != nil {
		return runErr
	}
	if err != nil {
		return fmt.Errorf("--cpuprofile: %w", err)
	}
	return nil
}

func (f *benchFlags) validate() error {
	switch {
	case f.model == "" && f.arch == "":
		return usagef("give --model FILE.onnx or --arch conv4")
	case f.model != "" && f.arch != "":
		return usagef("--model and --arch exclude each other")
	case f.arch != "" && f.arch != "conv4":
		return usagef("unknown --arch %q (want conv4)", f.arch)
	case f.arch != "" && f.input == "":
		return usagef("--arch needs --input CxHxW, such as 3x84x84")
	case f.model != "" && f.l2g:
		return usagef("--l2g needs --arch")
	case f.arch != "" && f.ops:
		return usagef("--ops needs --model")
	case f.ort == "":
		return usagef("--ort needs a folder, auto or off")
	}
	for _, c := range []struct {
		name string
		v    int
		min  int
	}{{"batch", f.batch, 1}, {"threads", f.threads, 0}, {"iters", f.iters, 1}, {"warmup", f.warmup, 0}, {"hidden", f.hidden, 1}} {
		if c.v < c.min {
			return usagef("--%s %d, want >= %d", c.name, c.v, c.min)
		}
	}
	if f.input != "" {
		parts := strings.Split(f.input, "x")
		for _, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil || v < 1 || v > episode.MaxSide {
				break
			}
			f.inputShape = append(f.inputShape, v)
		}
		if len(parts) != 3 || len(f.inputShape) != 3 {
			return usagef("--input %q: want CxHxW with each size in 1..%d, such as 3x84x84", f.input, episode.MaxSide)
		}
	}
	return nil
}

// timing is the median and the fastest of a function's timed iterations,
// in milliseconds.
type timing struct{ median, fastest float64 }

// timeIt runs each of fns warmup times, then iters timed times, and returns
// their timings in order. The functions take turns in every iteration, so
// that a change in the machine's load affects them alike and their ratios
// stay meaningful on a shared machine. It stops early with ctx's error.
func timeIt(ctx context.Context, warmup, iters int, fns ...func() error) ([]timing, error) {
	ms := make([][]float64, len(fns))
	for it := range warmup + iters {
		for i, fn := range fns {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			start := time.Now()
			if err := fn(); err != nil {
				return nil, err
			}
			if it >= warmup {
				ms[i] = append(ms[i], float64(time.Since(start).Nanoseconds())/1e6)
			}
		}
	}
	out := make([]timing, len(fns))
	for i, v := range ms {
		slices.Sort(v)
		out[i] = timing{median: v[iters/2], fastest: v[0]}
		if iters%2 == 0 {
			out[i].median = (v[iters/2-1] + v[iters/2]) / 2
		}
	}
	return out, nil
}

// benchModel times the forward pass of an ONNX model on a random batch.
func benchModel(ctx context.Context, f *benchFlags, rep map[string]any) error {
	pm, err := onnxio.ReadFile(f.model)
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.model, err)
	}
	plan, err := onnxio.Compile(pm)
	if err != nil {
		return fmt.Errorf("compiling %s: %w", f.model, err)
	}
	ins := plan.Inputs()
	if len(ins) != 1 {
		return fmt.Errorf("%s has %d inputs; bench feeds models with exactly one", f.model, len(ins))
	}
	in := ins[0]
	if in.ElemType != onnxio.Float && in.ElemType != onnxio.Undefined {
		return fmt.Errorf("%s: input %q is %v; bench feeds float32", f.model, in.Name, in.ElemType)
	}
	shape, err := modelInputShape(pm, in, f.inputShape)
	if err != nil {
		return fmt.Errorf("%s: %w", f.model, err)
	}
	if in.HasShape && len(in.Shape) > 0 {
		if d := in.Shape[0]; d.Param == "" && d.Value > 0 && d.Value != int64(f.batch) {
			return usagef("%s fixes the batch size of input %q at %d; pass --batch %d", f.model, in.Name, d.Value, d.Value)
		}
	}
	dims := []int64{int64(f.batch)}
	n := f.batch
	for _, d := range shape {
		dims = append(dims, int64(d))
		n *= d
	}
	rng := rand.New(rand.NewPCG(f.seed, 5))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	t := onnxio.NewFloatTensor(in.Name, dims, x)
	tm, err := timeIt(ctx, f.warmup, f.iters, func() error {
		_, err := plan.RunPositional(t)
		return err
	})
	if err != nil {
		return fmt.Errorf("running %s: %w", f.model, err)
	}
	rep["input"] = shape
	rep["forward_ms"], rep["forward_ms_min"] = tm[0].median, tm[0].fastest
	rep["images_per_s"] = float64(f.batch) / (tm[0].median / 1e3)
	if f.ops {
		ops, err := opTimes(ctx, plan, t, f.iters)
		if err != nil {
			return fmt.Errorf("running %s: %w", f.model, err)
		}
		rep["ops"] = ops
	}
	return nil
}

// opTime is one operator type's share of a forward pass in --ops.
type opTime struct {
	Op    string  `json:"op"`
	MS    float64 `json:"ms"`    // per forward pass
	Steps int     `json:"steps"` // plan steps of this type per pass
	Share float64 `json:"share"` // of the steps' total
}

// opTimes runs plan iters times step by step and returns the mean time
// per pass of each operator type, largest first.
func opTimes(ctx context.Context, plan *onnxio.Plan, in *onnxio.Tensor, iters int) ([]opTime, error) {
	total := map[string]time.Duration{}
	steps := map[string]int{}
	var all time.Duration
	for i := range iters {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, times, err := plan.RunProfiled(in)
		if err != nil {
			return nil, err
		}
		for _, st := range times {
			total[st.Node.OpType] += st.Duration
			all += st.Duration
			if i == 0 {
				steps[st.Node.OpType]++
			}
		}
	}
	var out []opTime
	for op, d := range total {
		ms := d.Seconds() * 1e3 / float64(iters)
		out = append(out, opTime{Op: op, MS: ms, Steps: steps[op], Share: d.Seconds() / max(all.Seconds(), 1e-12)})
	}
	slices.SortFunc(out, func(a, b opTime) int { return cmp.Compare(b.MS, a.MS) })
	return out, nil
}

// modelInputShape returns the per-image input shape: --input if given,
// else the graph input's fixed dims, else the fewshot.input_shape
// metadata.
func modelInputShape(pm *onnxio.Model, in *onnxio.ValueInfo, flagShape []int) ([]int, error) {
	if flagShape != nil {
		if in.HasShape && len(in.Shape) != 1+len(flagShape) {
			return nil, usagef("input %q has rank %d, --input gives %d dims plus the batch", in.Name, len(in.Shape), len(flagShape))
		}
		return flagShape, nil
	}
	if in.HasShape && len(in.Shape) > 1 {
		var s []int
		for _, d := range in.Shape[1:] {
			if d.Param != "" || d.Value < 1 {
				s = nil
				break
			}
			s = append(s, int(d.Value))
		}
		if s != nil {
			return s, nil
		}
	}
	for _, e := range pm.MetadataProps {
		if e.Key == fewshot.KeyInputShape {
			var s []int
			if err := json.Unmarshal([]byte(e.Value), &s); err == nil && len(s) > 0 && !slices.ContainsFunc(s, func(d int) bool { return d < 1 }) {
				return s, nil
			}
		}
	}
	return nil, usagef("input %q has no fixed per-image shape; pass --input CxHxW", in.Name)
}

// benchConv4 times a random Conv-4's forward pass and training step and,
// with --l2g, an L2G task pair against a ProtoNet step.
func benchConv4(ctx context.Context, f *benchFlags, rep map[string]any) error {
	c, h, w := f.inputShape[0], f.inputShape[1], f.inputShape[2]
	rng := rand.New(rand.NewPCG(f.seed, 6))
	net, err := nn.NewConv4[float32](nn.Conv4Config{InChannels: c, Height: h, Width: w, Hidden: f.hidden}, rng)
	if err != nil {
		return usageError{err}
	}
	rep["input"] = f.inputShape
	rep["params"] = net.NumParams()
	x := engine.Const(engine.RandNormal[float32](rng, 1, f.batch, c, h, w))

	// Inference runs on constant weights, so no graph is recorded; the
	// training step records one and differentiates the summed output.
	consts, params := engine.DetachAll(net.Params()), net.Params()
	tm, err := timeIt(ctx, f.warmup, f.iters, func() error {
		net.Forward(x, consts, nn.Eval)
		return nil
	}, func() error {
		engine.Grad(engine.Sum(net.Forward(x, params, nn.Train)), params, false)
		return nil
	})
	if err != nil {
		return err
	}
	flops := convFLOPs(net, f.batch)
	rep["forward_ms"], rep["forward_ms_min"] = tm[0].median, tm[0].fastest
	rep["forward_gflop"] = flops / 1e9
	rep["gflops_forward"] = flops / 1e9 / (tm[0].median / 1e3)
	rep["train_step_ms"] = tm[1].median
	rep["train_step_over_forward"] = tm[1].median / tm[0].median
	if err := benchORT(ctx, f, net, rep); err != nil {
		return err
	}
	if !f.l2g {
		return nil
	}

	spec := train.Spec{Algo: "proto", InChannels: c, Height: h, Width: w, Hidden: f.hidden, Seed: f.seed}
	proto, err := train.New(spec)
	if err != nil {
		return err
	}
	spec.Algo, spec.MetaBatch = "l2g-proto", 1
	l2g, err := train.New(spec)
	if err != nil {
		return err
	}
	spec.FirstOrder = true
	l2gFirst, err := train.New(spec)
	if err != nil {
		return err
	}
	const way, shot, query = 5, 5, 15
	pair := &episode.Pair{First: randomTask(rng, way, shot, query, c, h, w), Second: randomTask(rng, way, shot, query, c, h, w)}
	tm, err = timeIt(ctx, f.warmup, f.iters, func() error {
		proto.Step(&train.Batch{Tasks: []*episode.Task{pair.First}})
		return nil
	}, func() error {
		l2g.Step(&train.Batch{Pairs: []*episode.Pair{pair}})
		return nil
	}, func() error {
		l2gFirst.Step(&train.Batch{Pairs: []*episode.Pair{pair}})
		return nil
	})
	if err != nil {
		return err
	}
	protoMS := tm[0].median
	rep["task"] = fmt.Sprintf("%d-way %d-shot %d-query", way, shot, query)
	rep["proto_step_ms"], rep["l2g_pair_ms"], rep["l2g_first_order_pair_ms"] = protoMS, tm[1].median, tm[2].median
	rep["l2g_over_proto"] = tm[1].median / protoMS
	rep["l2g_first_order_over_proto"] = tm[2].median / protoMS
	return nil
}

// benchORT times net in onnxruntime through the interop module's runner,
// when one is installed (see --ort), on a batch of f.batch on f.threads.
func benchORT(ctx context.Context, f *benchFlags, net *nn.Network[float32], rep map[string]any) error {
	dir := f.ort
	if dir == "off" {
		return nil
	}
	auto := dir == "auto"
	if auto {
		dir = filepath.Join("interop", "ort")
	}
	node, err := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node"))
	_, errRun := os.Stat(filepath.Join(dir, "run.js"))
	if err != nil || errMod != nil || errRun != nil {
		if auto {
			return nil
		}
		return fmt.Errorf("--ort %s: needs node on the PATH, %s and %s (interop/run.sh installs them)",
			dir, filepath.Join(dir, "run.js"), filepath.Join(dir, "node_modules", "onnxruntime-node"))
	}
	layers, err := export.FromNetwork(net)
	if err != nil {
		return err
	}
	in := net.InShape()
	m, err := export.Model(export.Spec{Embedding: layers, Metric: fewshot.Euclidean, Algorithm: "random",
		Preprocess: episode.Preprocess{Channels: in[0], Height: in[1], Width: in[2]}})
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fewshot-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "conv4.onnx")
	if err := export.WriteFile(file, m); err != nil {
		return err
	}
	threads := f.threads
	if threads == 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "run.js"), "--model", file,
		"--shape", fmt.Sprintf("%s=%d,%d,%d,%d", export.InputName, f.batch, in[0], in[1], in[2]),
		"--threads", strconv.Itoa(threads), "--runs", strconv.Itoa(f.iters), "--warmup", strconv.Itoa(max(f.warmup, 1)))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("onnxruntime (%s): %v: %s", filepath.Join(dir, "run.js"), err, strings.TrimSpace(stderr.String()))
	}
	var res struct {
		Median float64 `json:"median_ms"`
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Median <= 0 {
		return fmt.Errorf("onnxruntime (%s): unexpected output %q", filepath.Join(dir, "run.js"), out)
	}
	rep["ort_forward_ms"] = res.Median
	rep["forward_over_ort"] = rep["forward_ms"].(float64) / res.Median
	rep["train_step_over_ort"] = rep["train_step_ms"].(float64) / res.Median
	return nil
}

// convFLOPs counts the multiply-adds of the network's convolutions for a
// batch of n, as 2 FLOPs each: 2·N·K·(C/groups)·R·S·OH·OW per layer.
func convFLOPs(net *nn.Network[float32], n int) float64 {
	var total float64
	shape := net.InShape()
	for _, l := range net.Layers() {
		out, err := l.OutShape(shape)
		if err != nil {
			panic(err) // the network was built from these shapes
		}
		if cv, ok := l.(*nn.Conv2D[float32]); ok {
			groups := max(cv.Geometry.Groups, 1)
			total += 2 * float64(n) * float64(cv.Out) * float64(cv.In/groups) * float64(cv.KH*cv.KW) * float64(out[1]*out[2])
		}
		shape = out
	}
	return total
}

// randomTask returns a task of random images with class-major labels, as
// episode samplers lay them out.
func randomTask(rng *rand.Rand, way, shot, query, c, h, w int) *episode.Task {
	set := func(per int) episode.Set {
		n := way * per
		s := episode.Set{Data: engine.RandNormal[float32](rng, 1, n, c, h, w).Data(), Labels: make([]int, n), N: n, C: c, H: h, W: w}
		for k := range s.Labels {
			s.Labels[k] = k / per
		}
		return s
	}
	t := &episode.Task{Way: way, Shot: shot, QueryPerClass: query, Support: set(shot), Query: set(query)}
	for l := range way {
		t.Classes = append(t.Classes, fmt.Sprintf("random%d", l))
		t.ClassIndex = append(t.ClassIndex, l)
	}
	return t
}

// benchKeys orders the human-readable report.
var benchKeys = []string{"model", "arch", "hidden", "input", "params", "batch", "threads", "iters", "warmup", "forward_ms",
	"forward_ms_min", "images_per_s", "forward_gflop", "gflops_forward", "train_step_ms", "train_step_over_forward",
	"ort_forward_ms", "forward_over_ort", "train_step_over_ort", "task", "proto_step_ms", "l2g_pair_ms",
	"l2g_first_order_pair_ms", "l2g_over_proto", "l2g_first_order_over_proto"}

func printBench(env *cmdEnv, rep map[string]any) error {
	if err := printBenchKeys(env, rep); err != nil {
		return err
	}
	ops, _ := rep["ops"].([]opTime)
	for _, o := range ops {
		if _, err := fmt.Fprintf(env.stdout, "  %-25s %8.3f ms  %3d steps  %5.1f %%\n", o.Op, o.MS, o.Steps, 100*o.Share); err != nil {
			return err
		}
	}
	return nil
}

func printBenchKeys(env *cmdEnv, rep map[string]any) error {
	for _, k := range benchKeys {
		v, ok := rep[k]
		if !ok {
			continue
		}
		if x, isFloat := v.(float64); isFloat {
			v = strconv.FormatFloat(x, 'f', 3, 64)
		}
		if _, err := fmt.Fprintf(env.stdout, "%-27s %v\n", k, v); err != nil {
			return err
		}
	}
	return nil
}
