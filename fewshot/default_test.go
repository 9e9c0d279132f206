package fewshot_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/fewshot-go/fewshot/fewshot"
)

// The built-in models are copies of the published ones in the repository's
// top-level models/ folder (go:embed cannot reach outside the package);
// this keeps the two from drifting apart.
func TestDefaultModelsMatchPublishedFiles(t *testing.T) {
	for file, m := range map[string]*fewshot.Model{
		"omniglot-proto.onnx":            fewshot.DefaultModel(),
		"mini-imagenet-proto-20way.onnx": fewshot.DefaultPhotoModel(),
	} {
		b, err := os.ReadFile(filepath.Join("..", "models", file))
		if m.Err() != nil {
			if err == nil {
				t.Errorf("models/%s exists but is not built in: %v", file, m.Err())
			}
			continue
		}
		if err != nil {
			t.Errorf("built-in %s has no published copy: %v", file, err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != m.Fingerprint() {
			t.Errorf("models/%s (sha256 %s) differs from the built-in copy (%s)", file, got, m.Fingerprint())
		}
	}
}
