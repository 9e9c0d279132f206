package atomicfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
)

// entries returns the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteReplacesContentAndMode(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// More than the internal buffer, written in odd-sized pieces, so that
	// a missing final flush would show.
	want := make([]byte, 200_003)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	err := atomicfile.Write(path, 0o640, func(w io.Writer) error {
		for b := want; len(b) > 0; {
			n := min(len(b), 777)
			if _, err := w.Write(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %d bytes that differ from the %d written", len(got), len(want))
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o640 {
			t.Errorf("mode %v, want %v", m, fs.FileMode(0o640))
		}
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "data.bin" {
		t.Errorf("folder holds %q, want only data.bin", names)
	}
}

func TestWriteErrorKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, []byte("old contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("simulated failure")
	sawTemp := false
	err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		// The temporary is the one TempPattern describes, and the only one.
		m, err := filepath.Glob(filepath.Join(dir, atomicfile.TempPattern(path)))
		if err != nil {
			return err
		}
		sawTemp = len(m) == 1
		// Enough to reach the temporary file, not only the buffer.
		if _, err := w.Write(make([]byte, 1<<20)); err != nil {
			return err
		}
		return errDisk
	})
	if !sawTemp {
		t.Errorf("no single temporary matching %q during the write", atomicfile.TempPattern(path))
	}
	if !errors.Is(err, errDisk) {
		t.Fatalf("error %v, want one wrapping %v", err, errDisk)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name %s", err, path)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "old contents" {
		t.Errorf("file holds %q after a failed write, want the old contents", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("folder holds %q after a failed write, want only model.onnx", names)
	}
}

func TestWritePanicRemovesTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.csv")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic in write did not propagate")
			}
		}()
		atomicfile.Write(path, 0o644, func(w io.Writer) error {
			w.Write([]byte("partial"))
			panic("bug in the caller")
		})
	}()
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("folder holds %q after a panic in write, want nothing", names)
	}
}

func TestWriteMissingFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "m.onnx")
	called := false
	err := atomicfile.Write(path, 0o644, func(io.Writer) error { called = true; return nil })
	if err == nil {
		t.Fatal("writing into a missing folder: no error")
	}
	if called {
		t.Error("write was called although there is no temporary file")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want fs.ErrNotExist naming %s", err, path)
	}
}

func TestTempPattern(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{"checkpoint.fsckpt", ".checkpoint.fsckpt.tmp-*"},
		{filepath.Join("runs", "a", "best.fsckpt"), ".best.fsckpt.tmp-*"},
	} {
		if got := atomicfile.TempPattern(c.path); got != c.want {
			t.Errorf("TempPattern(%q) = %q, want %q", c.path, got, c.want)
		}
	}
	// A pattern for one file does not match another file's temporaries.
	if ok, _ := filepath.Match(atomicfile.TempPattern("best.fsckpt"), ".checkpoint.fsckpt.tmp-123"); ok {
		t.Error("best.fsckpt's pattern matches checkpoint.fsckpt's temporary")
	}
}

func ExampleWrite() {
	dir, err := os.MkdirTemp("", "atomicfile-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "labels.txt")
	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := fmt.Fprintln(w, "cat\ndog")
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	b, _ := os.ReadFile(path)
	fmt.Print(string(b))
	// Output:
	// cat
	// dog
}
