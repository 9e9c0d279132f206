package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// defaultChunk is the copy buffer size; the context is checked between
// chunks, so a cancelled copy of a large file stops quickly.
const defaultChunk = 1 << 20

// maxSuffix bounds the search for a free name (name-1.png, name-2.png, ...).
const maxSuffix = 100000

// tempPattern names the temporary copies. The leading dot hides them from
// fewshot.LoadExamplesDir and from the unsorted-folder listing, should a
// killed run leave one behind.
const tempPattern = ".imagesort-*.tmp"

// placer puts files into their folders without ever replacing a file.
type placer struct {
	mode   Mode
	dryRun bool
	// planned holds the destinations a dry run has handed out, since it
	// creates nothing that later name checks would see.
	planned map[string]bool
	hooks   testHooks
}

// crossDeviceError reports a hard link across filesystems.
type crossDeviceError struct {
	src, dir string
	err      error
}

func (e *crossDeviceError) Error() string {
	return fmt.Sprintf("cannot hard-link %s into %s: they are on different filesystems; use --copy or --move, or an output folder on the same filesystem", e.src, e.dir)
}

func (e *crossDeviceError) Unwrap() error { return e.err }

// linkError turns the failure to hard-link src into dir into a
// *crossDeviceError when the two are on different filesystems. (Windows
// reports that case with its own error, which is passed on as it is.)
func linkError(src, dir string, err error) error {
	if errors.Is(err, syscall.EXDEV) {
		return &crossDeviceError{src: src, dir: dir, err: err}
	}
	return err
}

// place puts src into the folder dir under its own name, or the first free
// name-N variant of it, and returns the path it used.
func (p *placer) place(ctx context.Context, src, dir string) (string, error) {
	name := filepath.Base(src)
	if p.dryRun {
		for i := range maxSuffix {
			dst := filepath.Join(dir, suffixed(name, i))
			if _, err := os.Lstat(dst); errors.Is(err, fs.ErrNotExist) && !p.planned[dst] {
				p.planned[dst] = true
				return dst, nil
			}
		}
		return "", fmt.Errorf("no free name for %s in %s", name, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if p.mode == Link {
		return claim(dir, name, func(dst string) error { return os.Link(src, dst) }, func(err error) error {
			return linkError(src, dir, err)
		})
	}

	// Only --move needs the copy on disk before going on: with --copy
	// the original stays, and skipping two fsyncs per file makes large
	// folders several times faster.
	durable := p.mode == Move
	tmp, err := p.copyToTemp(ctx, src, dir, durable)
	if err != nil {
		return "", err
	}
	dst, err := claim(dir, name, func(dst string) error { return publish(tmp, dst) }, nil)
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	if p.mode == Move {
		// The new directory entry must be durable before the original goes.
		if err := syncDir(dir); err != nil {
			return dst, fmt.Errorf("copied to %s, but syncing that folder failed: %w", dst, err)
		}
		if p.hooks.beforeRemove != nil {
			p.hooks.beforeRemove(src, dst)
		}
		if err := os.Remove(src); err != nil {
			return dst, fmt.Errorf("copied to %s, but removing the original failed: %w", dst, err)
		}
	}
	return dst, nil
}

// claim calls put with dir/name, then dir/name-1, dir/name-2, ... until it
// succeeds or fails other than with "file exists", and returns the path
// that worked. fail, if not nil, rewrites the final error.
func claim(dir, name string, put func(dst string) error, fail func(error) error) (string, error) {
	for i := range maxSuffix {
		dst := filepath.Join(dir, suffixed(name, i))
		err := put(dst)
		if err == nil {
			return dst, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			if fail != nil {
				err = fail(err)
			}
			return "", err
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", name, dir)
}

// publish gives the complete file tmp the name dst, failing with an error
// that wraps fs.ErrExist if dst exists. A hard link does this atomically:
// dst appears with its full content or not at all. On filesystems without
// hard links, dst is reserved with an exclusive create and then replaced by
// tmp.
func publish(tmp, dst string) error {
	lerr := os.Link(tmp, dst)
	if lerr == nil || errors.Is(lerr, fs.ErrExist) {
		if lerr == nil {
			os.Remove(tmp)
		}
		return lerr
	}
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return err
		}
		return fmt.Errorf("%w (and hard-linking failed too: %v)", err, lerr)
	}
	f.Close()
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(dst)
		return err
	}
	return nil
}

// suffixed returns name for i == 0, otherwise name with "-i" before its
// extension: photo.png, photo-1.png, photo-2.png, ...
func suffixed(name string, i int) string {
	if i == 0 {
		return name
	}
	ext := filepath.Ext(name)
	return strings.TrimSuffix(name, ext) + "-" + strconv.Itoa(i) + ext
}

// copyToTemp copies src into a new hidden file in dir, flushes it to disk
// if durable, and returns its path. On any failure, cancellation included,
// the temporary file is removed.
func (p *placer) copyToTemp(ctx context.Context, src, dir string, durable bool) (path string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return "", err
	}
	out, err := os.CreateTemp(dir, tempPattern)
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(out.Name())
		}
	}()
	buf := make([]byte, defaultChunk)
	if p.hooks.chunk > 0 {
		buf = buf[:p.hooks.chunk]
	}
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, err := out.Write(buf[:n]); err != nil {
				return "", err
			}
			if p.hooks.afterChunk != nil {
				p.hooks.afterChunk()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return "", rerr
		}
	}
	if err := out.Chmod(st.Mode().Perm()); err != nil && runtime.GOOS != "windows" {
		return "", err
	}
	if durable {
		if err := out.Sync(); err != nil {
			return "", err
		}
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	// Keep the original's modification time, as photo tools expect.
	if err := os.Chtimes(out.Name(), st.ModTime(), st.ModTime()); err != nil {
		return "", err
	}
	return out.Name(), nil
}

// syncDir flushes the entries of dir to disk. Windows cannot open a
// folder for syncing, and makes renames durable on its own.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
