package interop

import (
	"os"
	"path/filepath"
	"testing"
)

// The SDK's internal/testshared package cannot be imported from this
// module, so its behaviour is repeated here: shared material is looked up in
// $FEWSHOT_SHARED or in the "shared" folder beside the checkout, tests skip
// when it is missing, and fail instead when FEWSHOT_REQUIRE_SHARED=1 (as CI
// sets).

// requireShared reports whether missing material must fail tests.
func requireShared() bool { return os.Getenv("FEWSHOT_REQUIRE_SHARED") == "1" }

// missing skips tb with msg, or fails it when shared material is required.
func missing(tb testing.TB, msg string) {
	tb.Helper()
	if requireShared() {
		tb.Fatal(msg + " (FEWSHOT_REQUIRE_SHARED=1)")
	}
	tb.Skip(msg)
}

// checkoutRoot returns the folder of the outermost go.mod above the working
// directory: the SDK checkout that holds this nested module.
func checkoutRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	root := ""
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			root = dir
		}
		if filepath.Dir(dir) == dir {
			return root
		}
	}
}

// sharedPath returns rel (slash-separated) inside the shared folder, or
// skips (fails) the test when it is not there.
func sharedPath(tb testing.TB, rel string) string {
	tb.Helper()
	dir := os.Getenv("FEWSHOT_SHARED")
	if dir == "" {
		root := checkoutRoot()
		if root == "" {
			missing(tb, "shared test material: cannot locate the checkout (no go.mod above the working directory)")
			return ""
		}
		dir = filepath.Join(filepath.Dir(root), "shared")
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		missing(tb, "shared test material missing: "+p+" (set FEWSHOT_SHARED or place the shared folder beside the checkout)")
		return ""
	}
	return p
}
