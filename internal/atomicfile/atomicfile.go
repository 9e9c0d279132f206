// Package atomicfile writes files so that a reader, or a process that
// starts after a crash, sees either the previous file or the complete new
// one, never a partly written file.
//
// The new content goes to a hidden temporary file in the destination's
// folder, is flushed to stable storage and is then renamed over the
// destination. Rename within one folder is atomic on POSIX systems and on
// Windows (NTFS). A process killed in the middle leaves the temporary file
// behind; [TempPattern] names such files so that a program can remove them
// when it next starts.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// bufferSize is the size of the buffer in front of the temporary file:
// large enough that callers writing many small pieces make few system calls.
const bufferSize = 64 << 10

// TempPattern returns the [os.CreateTemp] pattern of the temporary file
// that [Write] uses for path: "." + the base name of path + ".tmp-*". The
// leading dot hides the file from directory listings that skip dot files.
// A program can match stale temporaries with [filepath.Match] against this
// pattern, provided the base name has no Match metacharacters (*?[\).
func TempPattern(path string) string {
	return "." + filepath.Base(path) + ".tmp-*"
}

// Write creates or replaces path so that readers see either the old file
// (or none) or the complete new one, never a partial file, also if the
// process or the machine stops in the middle.
//
// write is called once with a buffered writer onto a temporary file in the
// folder of path; Write flushes it, gives the file exactly the mode perm
// (the umask does not apply), syncs it to stable storage, closes it and
// renames it over path. Afterwards the folder is synced where the system
// allows it, so that the rename itself survives a power loss.
//
// On any error, from write or from the file system, the temporary file is
// removed and path is left as it was. The error names path and wraps the
// cause, so [errors.Is] and [errors.As] see through it. The folder of path
// must exist.
func Write(path string, perm fs.FileMode, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPattern(path))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	done := false
	defer func() {
		// Also runs when write panics, so no temporary is left behind.
		if !done {
			f.Close() // may already be closed; the first error is the one to report
			os.Remove(tmp)
		}
		if err != nil {
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}()
	bw := bufio.NewWriterSize(f, bufferSize)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file private (0600).
	if err := f.Chmod(perm); err != nil {
		return err
	}
	// Sync before the rename: otherwise a crash can leave path naming a
	// file whose data never reached the disk.
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	done = true
	syncDir(dir)
	return nil
}

// syncDir makes a rename in dir durable. It is best effort: some systems
// (Windows, some network file systems) cannot sync a folder, and the new
// file is complete either way.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
