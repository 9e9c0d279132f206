package main

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/nn"
)

// benchJSON runs bench with --json and returns its report.
func benchJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	code, out, errOut := invoke(t, append([]string{"bench", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("bench %v: exit %d, stderr %s", args, code, errOut)
	}
	var rep map[string]any
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rep); err != nil || dec.More() {
		t.Fatalf("bench output %q is not one JSON object: %v", out, err)
	}
	return rep
}

func checkPositive(t *testing.T, rep map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if v, ok := rep[k].(float64); !ok || !(v > 0) {
			t.Errorf("%s = %v, want a positive number (report %v)", k, rep[k], rep)
		}
	}
}

func TestBenchConv4(t *testing.T) {
	rep := benchJSON(t, "--arch", "conv4", "--input", "1x28x28", "--batch", "4", "--iters", "1", "--threads", "1")
	checkPositive(t, rep, "forward_ms", "train_step_ms", "gflops_forward")
	if _, ok := rep["l2g_pair_ms"]; ok {
		t.Error("l2g_pair_ms reported without --l2g")
	}
	// Conv-4 on 1×28×28 with 64 filters: blocks at 28², 14², 7², 3²
	// output pixels, 2·K·C·R·S FLOPs each.
	want := 4 * 2.0 * 64 * 9 * (1*28*28 + 64*14*14 + 64*7*7 + 64*3*3) / 1e9
	if got := rep["forward_gflop"]; got != want {
		t.Errorf("forward_gflop %v, want %v", got, want)
	}
	if g, ms := rep["gflops_forward"].(float64), rep["forward_ms"].(float64); abs(g-want/(ms/1e3)) > 1e-9*g {
		t.Errorf("gflops_forward %v, want forward_gflop / forward time = %v", g, want/(ms/1e3))
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestBenchL2G(t *testing.T) {
	rep := benchJSON(t, "--arch", "conv4", "--input", "1x16x16", "--hidden", "4", "--batch", "2", "--iters", "1", "--warmup", "0", "--l2g")
	checkPositive(t, rep, "proto_step_ms", "l2g_pair_ms", "l2g_over_proto", "l2g_first_order_pair_ms", "l2g_first_order_over_proto")
	if r, want := rep["l2g_first_order_over_proto"].(float64), rep["l2g_first_order_pair_ms"].(float64)/rep["proto_step_ms"].(float64); abs(r-want) > 1e-9*want {
		t.Errorf("l2g_first_order_over_proto %v, want %v", r, want)
	}
	if rep["task"] != "5-way 5-shot 15-query" {
		t.Errorf("task %v", rep["task"])
	}
}

// TestBenchORT times the network in onnxruntime when the interop module
// has it installed (interop/run.sh), and otherwise checks that --ort names
// what is missing.
func TestBenchORT(t *testing.T) {
	code, _, errOut := invoke(t, "bench", "--arch", "conv4", "--input", "1x16x16", "--batch", "2", "--iters", "1", "--ort", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "run.js") || !strings.Contains(errOut, "node_modules") {
		t.Errorf("--ort on an empty folder: exit %d, stderr %q; want 1 and a message naming run.js and node_modules", code, errOut)
	}
	if rep := benchJSON(t, "--arch", "conv4", "--input", "1x16x16", "--batch", "2", "--iters", "1", "--ort", "off"); rep["ort_forward_ms"] != nil {
		t.Errorf("--ort off reported ort_forward_ms %v", rep["ort_forward_ms"])
	}
	dir := filepath.Join("..", "..", "interop", "ort")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "onnxruntime-node")); err != nil {
		t.Skipf("onnxruntime is not installed for the interop module (interop/run.sh installs it): %v", err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not on the PATH")
	}
	rep := benchJSON(t, "--arch", "conv4", "--input", "3x16x16", "--batch", "2", "--iters", "1", "--ort", dir)
	checkPositive(t, rep, "ort_forward_ms", "forward_over_ort", "train_step_over_ort")
}

func TestConvFLOPs(t *testing.T) {
	net, err := nn.NewConv4[float32](nn.Conv4Config{InChannels: 3, Height: 84, Width: 84}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// The usual count for Conv-4 on 84×84×3: ≈ 0.195 GFLOP per image
	// (2 × 97.4 M multiply-adds).
	want := 2.0 * 64 * 9 * (3*84*84 + 64*42*42 + 64*21*21 + 64*10*10)
	if got := convFLOPs(net, 1); got != want {
		t.Errorf("Conv-4 84×84×3: %v FLOPs, want %v", got, want)
	}
	if got := convFLOPs(net, 80); got != 80*want {
		t.Errorf("batch 80: %v FLOPs, want %v", got, 80*want)
	}
}

func TestBenchModel(t *testing.T) {
	model := writeRandomModel(t, episode.Preprocess{Width: 16, Height: 16, Channels: 1}, 4, 9)
	rep := benchJSON(t, "--model", model, "--batch", "3", "--iters", "2", "--threads", "1")
	checkPositive(t, rep, "forward_ms", "forward_ms_min", "images_per_s")
	if in, _ := json.Marshal(rep["input"]); string(in) != "[1,16,16]" {
		t.Errorf("input %s, want the graph's [1,16,16]", in)
	}
	code, out, errOut := invoke(t, "bench", "--model", model, "--batch", "3", "--iters", "1")
	if code != 0 || !strings.Contains(out, "forward_ms") {
		t.Errorf("human bench output: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// --ops: the operator types of the plan's steps, their shares adding
	// up to 1, largest first.
	rep = benchJSON(t, "--model", model, "--batch", "3", "--iters", "2", "--threads", "1", "--ops")
	var ops []opTime
	b, _ := json.Marshal(rep["ops"])
	if err := json.Unmarshal(b, &ops); err != nil || len(ops) == 0 {
		t.Fatalf("ops %s (%v)", b, err)
	}
	share, convs := 0.0, 0
	for i, o := range ops {
		share += o.Share
		if o.Op == "Conv" {
			convs = o.Steps
		}
		if o.MS < 0 || o.Steps < 1 || (i > 0 && o.MS > ops[i-1].MS) {
			t.Errorf("ops[%d] = %+v (after %+v)", i, o, ops[max(i-1, 0)])
		}
	}
	if math.Abs(share-1) > 1e-9 || convs != 4 {
		t.Errorf("ops %s: shares add to %v, %d Conv steps; want 1 and the Conv-4's 4", b, share, convs)
	}
	code, out, errOut = invoke(t, "bench", "--model", model, "--batch", "3", "--iters", "1", "--ops")
	if code != 0 || !strings.Contains(out, "Conv") || !strings.Contains(out, "steps") {
		t.Errorf("human --ops output: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestBenchErrors(t *testing.T) {
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench"}, 2, "--model FILE.onnx or --arch"},
		{[]string{"bench", "--arch", "resnet"}, 2, "unknown --arch"},
		{[]string{"bench", "--arch", "conv4"}, 2, "needs --input"},
		{[]string{"bench", "--arch", "conv4", "--input", "3x84"}, 2, "CxHxW"},
		{[]string{"bench", "--arch", "conv4", "--input", "3x0x84"}, 2, "CxHxW"},
		{[]string{"bench", "--arch", "conv4", "--input", "1x8x8"}, 2, "Conv-4 for 1×8×8 input"},
		{[]string{"bench", "--arch", "conv4", "--input", "1x28x28", "--iters", "0"}, 2, "--iters 0"},
		{[]string{"bench", "--model", "m.onnx", "--arch", "conv4"}, 2, "exclude each other"},
		{[]string{"bench", "--model", "m.onnx", "--l2g"}, 2, "--l2g needs --arch"},
		{[]string{"bench", "--arch", "conv4", "--input", "1x28x28", "--ops"}, 2, "--ops needs --model"},
		{[]string{"bench", "--model", "no/such/model.onnx"}, 1, "no/such/model.onnx"},
	}
	for _, c := range cases {
		code, _, errOut := invoke(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and a message containing %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// --cpuprofile writes a pprof profile (gzip-compressed protobuf) of a
// successful run, and nothing when the run fails or the folder is missing.
func TestBenchCPUProfile(t *testing.T) {
	model := writeRandomModel(t, episode.Preprocess{Width: 16, Height: 16, Channels: 1}, 4, 9)
	dir := t.TempDir()
	prof := filepath.Join(dir, "cpu.prof")
	benchJSON(t, "--model", model, "--batch", "2", "--iters", "3", "--threads", "1", "--cpuprofile", prof)
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("%s: %d bytes, not a gzip-compressed pprof profile", prof, len(b))
	}

	failed := filepath.Join(dir, "failed.prof")
	if code, _, errOut := invoke(t, "bench", "--model", filepath.Join(dir, "missing.onnx"), "--cpuprofile", failed); code == 0 || !strings.Contains(errOut, "missing.onnx") {
		t.Errorf("bench of a missing model: exit %d, stderr %q", code, errOut)
	}
	if _, err := os.Stat(failed); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind (stat: %v)", failed, err)
	}
	nodir := filepath.Join(dir, "no", "such", "cpu.prof")
	if code, _, errOut := invoke(t, "bench", "--model", model, "--batch", "2", "--iters", "1", "--cpuprofile", nodir); code == 0 || !strings.Contains(errOut, nodir) {
		t.Errorf("--cpuprofile into a missing folder: exit %d, stderr %q", code, errOut)
	}
}
