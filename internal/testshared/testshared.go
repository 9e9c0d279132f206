// Package testshared locates the project's shared test material (the
// ../shared folder beside a checkout: datasets, ONNX conformance cases and
// reference models) for tests.
//
// A user's clone usually lacks that folder, so tests that need it skip with a
// message saying what is missing. CI sets FEWSHOT_REQUIRE_SHARED=1, and then a
// missing folder or file fails the test instead, so that CI can never pass by
// skipping.
package testshared

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// EnvRequire is the environment variable that turns skips into failures.
const EnvRequire = "FEWSHOT_REQUIRE_SHARED"

// EnvDir overrides where the shared folder is looked for.
const EnvDir = "FEWSHOT_SHARED"

var (
	rootOnce sync.Once
	rootDir  string
)

// Required reports whether tests must fail rather than skip when shared
// material is absent.
func Required() bool { return os.Getenv(EnvRequire) == "1" }

// Root returns the shared folder: $FEWSHOT_SHARED if set, otherwise the
// "shared" folder beside the module root (the directory holding go.mod).
// It returns "" when neither exists.
func Root() string {
	rootOnce.Do(func() {
		if d := os.Getenv(EnvDir); d != "" {
			rootDir = d
			return
		}
		wd, err := os.Getwd()
		if err != nil {
			return
		}
		// Nested modules (interop/, bench/peers) sit inside the main module,
		// so look beside every module root on the way up, innermost first.
		for dir := wd; ; dir = filepath.Dir(dir) {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				cand := filepath.Join(filepath.Dir(dir), "shared")
				if st, err := os.Stat(cand); err == nil && st.IsDir() {
					rootDir = cand
					return
				}
			}
			if filepath.Dir(dir) == dir {
				return
			}
		}
	})
	return rootDir
}

// Path returns the path of rel (slash-separated, relative to the shared
// folder) and checks that it exists. When it does not, the test is skipped
// with a clear message, or fails if FEWSHOT_REQUIRE_SHARED=1.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	root := Root()
	if root == "" {
		missing(tb, "shared test material not found (set "+EnvDir+" or place the shared folder beside the checkout); needed: "+rel)
		return ""
	}
	p := filepath.Join(root, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		missing(tb, "shared test material missing: "+p)
		return ""
	}
	return p
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if Required() {
		tb.Fatalf("%s (%s=1, so this is a failure, not a skip)", msg, EnvRequire)
	}
	tb.Skip(msg)
}
