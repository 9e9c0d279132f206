package train

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// removeCheckpointTemps deletes exactly the temporaries that interrupted
// writes of CheckpointFile and BestFile leave behind.
func TestRemoveCheckpointTemps(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		".checkpoint.fsckpt.tmp-123456", // stale: removed
		".best.fsckpt.tmp-42",           // stale: removed
		CheckpointFile, BestFile, MetricsFile,
		".metrics.jsonl.tmp-7", // not a checkpoint temporary
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A folder with a matching name is not a file this package wrote.
	if err := os.Mkdir(filepath.Join(dir, ".best.fsckpt.tmp-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := removeCheckpointTemps(dir); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := []string{".best.fsckpt.tmp-dir", ".metrics.jsonl.tmp-7", BestFile, CheckpointFile, MetricsFile}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("folder holds %q after the cleanup, want %q", got, want)
	}
}
