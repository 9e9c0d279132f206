package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/train"
)

// buildFewshot compiles this command into a temporary folder and returns
// the binary's path. Without a go tool the test is skipped, or fails when
// FEWSHOT_REQUIRE_SHARED=1 (as in CI, where every test must run).
func buildFewshot(t *testing.T) string {
	t.Helper()
	goTool := ""
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			goTool = p
		}
	}
	if goTool == "" {
		p, err := exec.LookPath("go")
		if err != nil {
			if os.Getenv("FEWSHOT_REQUIRE_SHARED") == "1" {
				t.Fatalf("no go tool to build the fewshot binary (GOROOT unset and go not in PATH): %v", err)
			}
			t.Skipf("skipping: no go tool to build the fewshot binary (GOROOT unset and go not in PATH): %v", err)
		}
		goTool = p
	}
	bin := filepath.Join(t.TempDir(), "fewshot")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// metricsLines returns the number of complete lines in the metrics log in
// dir (0 if it does not exist yet).
func metricsLines(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(b, []byte("\n"))
}

// readMetrics parses the metrics log in dir.
func readMetrics(t *testing.T, dir string) []train.Metrics {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, train.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	var ms []train.Metrics
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m train.Metrics
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s line %d %q: %v", dir, i+1, line, err)
		}
		ms = append(ms, m)
	}
	return ms
}

// checkpointEpisode returns the episode of the checkpoint in dir, 0 if
// there is none yet.
func checkpointEpisode(t *testing.T, dir string) int {
	t.Helper()
	c, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatalf("after a kill: %v", err)
	}
	return c.Progress.Episode
}

// TestTrainSurvivesSIGKILL trains in a child process, kills it with SIGKILL
// three times at random moments (each once the metrics log has reached a
// random length, plus a random delay, so kills land inside episodes,
// metrics writes and checkpoint writes alike), resumes it each time, and
// checks that the metrics log (all but wall time) and the final weights are
// bit-identical to those of an uninterrupted run: no episode is lost or
// logged twice, and the stale lines a kill leaves past the last checkpoint
// are dropped on resume.
func TestTrainSurvivesSIGKILL(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("skipping: needs POSIX SIGKILL")
	}
	const episodes = 90
	bin := buildFewshot(t)
	cache := t.TempDir()
	args := func(out string, resume bool) []string {
		a := []string{"train", "--algo", "proto", "--data", filepath.Join("..", "..", "testdata", "omniglot"), "--split", "",
			"--val-split", "none", "--way", "3", "--shot", "1", "--query", "2", "--hidden", "4",
			"--episodes", strconv.Itoa(episodes), "--checkpoint-every", "3", "--log-every", "1", "--threads", "1",
			"--seed", "7", "--cache-dir", cache, "--out", out}
		if resume {
			a = append(a, "--resume")
		}
		return a
	}

	ref := t.TempDir()
	if out, err := exec.Command(bin, args(ref, false)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill schedule seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	// Each kill waits for a line count in its own window, far enough
	// apart that a resumed session is always short of the next target
	// and far enough from the end that the kill lands mid-run.
	for k, win := range [][2]int{{2, 15}, {22, 36}, {44, 60}} {
		target := win[0] + rng.IntN(win[1]-win[0]+1)
		delay := time.Duration(rng.Int64N(int64(5 * time.Millisecond)))
		if k == 2 {
			// A half-written checkpoint temporary, as a kill inside a
			// checkpoint write leaves it: it must not disturb the resume
			// and must be cleaned up.
			stale := strings.Replace(atomicfile.TempPattern(train.CheckpointFile), "*", "123456", 1)
			if err := os.WriteFile(filepath.Join(dir, stale), []byte("FSCKPT\x00\x01garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		killAt(t, k+1, exec.Command(bin, args(dir, k > 0)...), dir, target, delay)
		ck, lines := checkpointEpisode(t, dir), metricsLines(t, dir)
		if ck >= episodes || lines >= episodes {
			t.Fatalf("kill %d landed after the run finished (checkpoint %d, %d lines)", k+1, ck, lines)
		}
		t.Logf("kill %d after %d lines + %v: checkpoint at episode %d, %d metrics lines (%d past it)", k+1, target, delay, ck, lines, lines-ck)
	}
	if out, err := exec.Command(bin, args(dir, true)...).CombinedOutput(); err != nil {
		t.Fatalf("final resume: %v\n%s", err, out)
	}

	want, got := readMetrics(t, ref), readMetrics(t, dir)
	if len(want) != episodes {
		t.Fatalf("uninterrupted run logged %d lines, want %d", len(want), episodes)
	}
	for i := range max(len(want), len(got)) {
		if i >= len(got) || i >= len(want) {
			t.Fatalf("killed run logged %d lines, uninterrupted %d", len(got), len(want))
		}
		w, g := want[i], got[i]
		if g.Episode != i+1 || g.Episode != w.Episode || g.Loss != w.Loss || g.Acc != w.Acc || g.LR != w.LR {
			t.Fatalf("metrics line %d: killed run %+v, uninterrupted %+v", i+1, g, w)
		}
	}

	a, b := loadNets(t, ref), loadNets(t, dir)
	if len(a) != len(b) {
		t.Fatalf("killed run has %d networks, uninterrupted %d", len(b), len(a))
	}
	for i := range a {
		for j := range a[i] {
			for k := range a[i][j] {
				if math.Float32bits(a[i][j][k]) != math.Float32bits(b[i][j][k]) {
					t.Fatalf("network %d tensor %d element %d: killed run %v, uninterrupted %v", i, j, k, b[i][j][k], a[i][j][k])
				}
			}
		}
	}

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left in the output folder", e.Name())
		}
	}
}

// killAt runs cmd, waits until the metrics log in dir has target lines,
// waits delay longer and kills the process with SIGKILL. It fails if the
// process ends by itself first.
func killAt(t *testing.T, kill int, cmd *exec.Cmd, dir string, target int, delay time.Duration) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Never leave the child running when the test stops early.
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-done
		}
	}()
	for metricsLines(t, dir) < target {
		select {
		case err := <-done:
			t.Fatalf("kill %d: the run ended (%v) before its metrics log reached %d lines\n%s", kill, err, target, stderr.String())
		case <-time.After(time.Millisecond):
		}
	}
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %d: %v", kill, err)
	}
	<-done
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("kill %d: the run ended with %v, not by SIGKILL\n%s", kill, cmd.ProcessState, stderr.String())
	}
}

// loadNets returns the parameter and batch-norm state values of every
// network in dir's final checkpoint, after checking it is at the last
// episode.
func loadNets(t *testing.T, dir string) [][][]float32 {
	t.Helper()
	c, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Algorithm()
	if err != nil {
		t.Fatal(err)
	}
	var nets [][][]float32
	for _, n := range a.Networks() {
		var ts [][]float32
		for _, p := range n.Params() {
			ts = append(ts, p.Value().Data())
		}
		for _, s := range n.State() {
			ts = append(ts, s.Data())
		}
		nets = append(nets, ts)
	}
	if len(nets) == 0 || len(nets[0]) == 0 {
		t.Fatalf("%s: checkpoint holds no parameters", dir)
	}
	return nets
}
