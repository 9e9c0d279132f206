package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestLinkAcrossDevicesStops hard-links from /dev/shm (a tmpfs) into the
// test's temporary folder; when the two are on different filesystems the
// run must stop with a crossDeviceError and leave every image in place.
func TestLinkAcrossDevicesStops(t *testing.T) {
	shm, err := os.MkdirTemp("/dev/shm", "imagesort-test-")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(shm) })
	f := newFixture(t, 1)
	var a, b syscall.Stat_t
	if syscall.Stat(shm, &a) != nil || syscall.Stat(filepath.Dir(f.out), &b) != nil || a.Dev == b.Dev {
		t.Skip("/dev/shm is on the same filesystem as the test's temporary folder")
	}
	in := filepath.Join(shm, "unsorted")
	if err := os.Rename(f.in, in); err != nil {
		// Renaming across filesystems fails; copy instead.
		mustMkdir(t, in)
		for name, data := range tree(t, f.in) {
			writeFile(t, filepath.Join(in, name), data)
		}
	}
	before := tree(t, in)
	cfg := f.config(testModel(t, 1))
	cfg.In, cfg.Mode, cfg.MinConfidence = in, Link, 0
	sum, err := sortImages(context.Background(), cfg)
	var xdev *crossDeviceError
	if !errors.As(err, &xdev) {
		t.Fatalf("err = %v, want a crossDeviceError", err)
	}
	if len(tree(t, f.out)) != 0 || !equalTrees(before, tree(t, in)) || sum.Failed != 0 {
		t.Errorf("a failed --link changed files (failed %d)", sum.Failed)
	}
}
