package interop

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// ORT runs models in onnxruntime (CPU) through the Node.js script run.js in
// Dir, which needs `npm install --ignore-scripts` to have been run there
// (see [ORT.Available]).
type ORT struct {
	// Dir is the folder holding run.js and node_modules/onnxruntime-node.
	Dir string
	// Threads is onnxruntime's intra-op thread count; 0 means 1.
	Threads int
}

// Name returns "onnxruntime".
func (ORT) Name() string { return "onnxruntime" }

// Available reports why o cannot run, or nil when the node binary is on
// PATH and the onnxruntime-node package is installed under o.Dir.
func (o ORT) Available() error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("node is not on PATH: %w", err)
	}
	pkg := filepath.Join(o.Dir, "node_modules", "onnxruntime-node", "package.json")
	if _, err := os.Stat(pkg); err != nil {
		return fmt.Errorf("onnxruntime-node is not installed (run `npm ci --ignore-scripts` in %s): %w", o.Dir, err)
	}
	return nil
}

// ioEntry is one tensor in the inputs.json / outputs.json files that
// run.js reads and writes.
type ioEntry struct {
	Name string `json:"name"`
	Dims []int  `json:"dims"`
	Type string `json:"type,omitempty"`
	File string `json:"file"`
}

// Run implements [Runner]: it writes the inputs as raw little-endian
// float32 files to a temporary folder, runs run.js there and reads back its
// outputs.
func (o ORT) Run(modelPath string, inputs []Tensor) ([]Tensor, error) {
	script, err := filepath.Abs(filepath.Join(o.Dir, "run.js"))
	if err != nil {
		return nil, err
	}
	model, err := filepath.Abs(modelPath)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "fewshot-ort-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	inDir, outDir := filepath.Join(tmp, "in"), filepath.Join(tmp, "out")
	if err := os.Mkdir(inDir, 0o755); err != nil {
		return nil, err
	}
	list := make([]ioEntry, len(inputs))
	for k, in := range inputs {
		list[k] = ioEntry{Name: in.Name, Dims: in.Dims, File: "input_" + strconv.Itoa(k) + ".bin"}
		if err := os.WriteFile(filepath.Join(inDir, list[k].File), float32Bytes(in.Data), 0o644); err != nil {
			return nil, err
		}
	}
	js, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(inDir, "inputs.json"), js, 0o644); err != nil {
		return nil, err
	}
	threads := max(o.Threads, 1)
	cmd := exec.Command("node", script, "--model", model, "--threads", strconv.Itoa(threads),
		"--in", inDir, "--out", outDir)
	// run.js resolves onnxruntime-node from its own folder.
	cmd.Dir = filepath.Dir(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("node run.js: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return readOutputs(outDir)
}

// readOutputs reads the outputs.json listing and float32 files run.js wrote.
func readOutputs(dir string) ([]Tensor, error) {
	js, err := os.ReadFile(filepath.Join(dir, "outputs.json"))
	if err != nil {
		return nil, err
	}
	var list []ioEntry
	if err := json.Unmarshal(js, &list); err != nil {
		return nil, fmt.Errorf("outputs.json: %w", err)
	}
	outs := make([]Tensor, len(list))
	for k, e := range list {
		if e.Type != "float32" {
			return nil, fmt.Errorf("output %q is %s; only float32 outputs are compared", e.Name, e.Type)
		}
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(e.File)))
		if err != nil {
			return nil, err
		}
		if len(b)%4 != 0 {
			return nil, fmt.Errorf("output %q: %d bytes is not a whole number of float32 values", e.Name, len(b))
		}
		t := Tensor{Name: e.Name, Dims: e.Dims, Data: make([]float32, len(b)/4)}
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		if err := t.check(); err != nil {
			return nil, fmt.Errorf("output: %w", err)
		}
		outs[k] = t
	}
	if len(outs) == 0 {
		return nil, errors.New("run.js wrote no outputs")
	}
	return outs, nil
}

func float32Bytes(data []float32) []byte {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}
