package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small file that decompresses to far more than a checkpoint of its size
// could hold is refused before the whole expansion is allocated.
func TestLoadCheckpointRefusesDecompressionBomb(t *testing.T) {
	bomb := wrapCheckpoint(t, make([]byte, 80<<20)) // 80 MiB of zeros
	if len(bomb) > 1<<20 {
		t.Fatalf("test bomb is %d bytes; expected a tiny file", len(bomb))
	}
	path := filepath.Join(t.TempDir(), "bomb.fsckpt")
	if err := os.WriteFile(path, bomb, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCheckpoint(path)
	if err == nil || !strings.Contains(err.Error(), "decompresses to more than") || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadCheckpoint(bomb) = %v; want a decompression-limit error naming the file", err)
	}
}
