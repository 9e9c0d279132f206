//go:build linux

package onnxio

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestClaimedElementsPeakRSS decodes and compiles models claiming 10^12
// elements in a fresh process and checks that its peak resident memory
// stays under 100 MB: limits are checked before anything is allocated.
//
// The child reads its own high-water mark from /proc/self/status: the
// rusage of a child started by os/exec includes the parent's RSS at the
// time of the fork, which says nothing about the child's work.
func TestClaimedElementsPeakRSS(t *testing.T) {
	if os.Getenv("ONNXIO_RSS_CHILD") == "1" {
		tensor := tensorBytes([]int64{1000000, 1000000}, Float, make([]byte, 16))
		if _, err := DecodeBytes(forgedModel(tensor)); err == nil {
			t.Fatal("forged initializer decoded")
		}
		m := constModel(map[string][]int64{"y": {1000000, 1000000}}, nil)
		if _, err := Compile(m); err == nil {
			t.Fatal("ConstantOfShape of 1e12 elements compiled")
		}
		m = constModel(map[string][]int64{"x": {1, 1, 1, 1}, "w": {1, 1, 2, 2}},
			[]*Node{NewNode("Conv", "dilated", []string{"x", "w"}, []string{"y"},
				AttrInts("dilations", 1<<20, 1<<20), AttrInts("pads", 1<<19, 1<<19, 1<<19, 1<<19))})
		if _, err := Compile(m); err == nil {
			t.Fatal("dilated conv compiled")
		}
		hwm, err := highWaterMark()
		if err != nil {
			t.Skip(err)
		}
		fmt.Printf("peak-rss %d\n", hwm)
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestClaimedElementsPeakRSS$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "ONNXIO_RSS_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var peak int64 = -1
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "peak-rss "); ok {
			peak, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if peak < 0 {
		t.Skipf("child did not report its peak RSS:\n%s", out)
	}
	t.Logf("child peak RSS %.1f MB", float64(peak)/1e6)
	if peak > 100e6 {
		t.Errorf("peak RSS %d bytes, want < 100 MB", peak)
	}
}

// highWaterMark returns the process's peak resident set size (VmHWM).
func highWaterMark() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
