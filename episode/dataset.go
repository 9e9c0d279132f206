package episode

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Dataset is the listing of a labelled image collection: classes and the
// images in each, not yet decoded. Listing reads directories and zip central
// directories only. A Dataset opened from zip archives keeps them open until
// [Dataset.Close].
type Dataset struct {
	// Name describes where the dataset came from, for messages.
	Name string
	// Classes in a fixed order (sorted by name unless a split list gives
	// the order).
	Classes []Class
	// Pre is the preprocessing usually used with this dataset: for Omniglot
	// [OmniglotPreprocess], otherwise [MiniImageNetPreprocess]. Callers may
	// use another.
	Pre Preprocess

	closers []io.Closer
}

// Class is one label of a dataset with its images.
type Class struct {
	// Name identifies the class: the leaf folder's slash-separated path
	// relative to the dataset root (e.g. "Greek/character01"), or a split
	// list's line (e.g. "Greek/character01/rot090").
	Name  string
	Items []Item
}

// Item is one image of a class.
type Item struct {
	// Path names the image in messages: a file path, or "<zip>!<entry>" for
	// an image inside a zip archive.
	Path string
	// Rot is the number of counterclockwise quarter turns (0-3) applied to
	// the preprocessed image. It is non-zero only for classes defined as
	// rotations of other classes, such as those of the Vinyals Omniglot
	// split; rotating by an odd count needs a square Preprocess size.
	Rot int

	open func() (io.ReadCloser, error)
	// id identifies the source bytes for the decode cache: the file's path,
	// size and modification time, or the zip's together with the entry's
	// name, size and CRC-32.
	id string
}

// Open opens the image's encoded bytes for reading.
func (it Item) Open() (io.ReadCloser, error) {
	if it.open == nil {
		return nil, fmt.Errorf("episode: item %q has no source", it.Path)
	}
	return it.open()
}

// Close releases the archives the dataset reads from. Items cannot be
// opened afterwards.
func (d *Dataset) Close() error {
	var errs []error
	for _, c := range d.closers {
		errs = append(errs, c.Close())
	}
	d.closers = nil
	return errors.Join(errs...)
}

// NumItems returns the total number of images over all classes.
func (d *Dataset) NumItems() int {
	n := 0
	for _, c := range d.Classes {
		n += len(c.Items)
	}
	return n
}

// errNoFolder is wrapped when a zip lacks the folder a split names.
var errNoFolder = errors.New("no top-level folder")

// imageExts are the file name extensions treated as images when listing.
var imageExts = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true}

func isImageName(name string) bool {
	return imageExts[strings.ToLower(path.Ext(name))]
}

func isHidden(name string) bool { return strings.HasPrefix(name, ".") || name == "__MACOSX" }

// classBuilder groups image references by class folder and checks the
// layout rules shared by directories and zips: every image sits in a class
// folder below the root, and no leaf folder is empty.
type classBuilder struct {
	where   string // root, for messages
	classes map[string][]Item
	dirs    map[string]bool // every folder seen, relative, slash-separated
}

func newClassBuilder(where string) *classBuilder {
	return &classBuilder{where: where, classes: map[string][]Item{}, dirs: map[string]bool{}}
}

// addDir records folder rel and all its parents.
func (b *classBuilder) addDir(rel string) {
	for rel != "." && rel != "" && !b.dirs[rel] {
		b.dirs[rel] = true
		rel = path.Dir(rel)
	}
}

func (b *classBuilder) addImage(rel string, it Item) error {
	dir := path.Dir(rel)
	if dir == "." {
		return fmt.Errorf("episode: %s: image %q is at the top level; want <root>/<class>/<image>", b.where, rel)
	}
	b.addDir(dir)
	b.classes[dir] = append(b.classes[dir], it)
	return nil
}

// build returns the classes sorted by name, items sorted by path.
func (b *classBuilder) build() ([]Class, error) {
	parents := map[string]bool{}
	for d := range b.dirs {
		parents[path.Dir(d)] = true
	}
	var empty []string
	for d := range b.dirs {
		if !parents[d] && len(b.classes[d]) == 0 {
			empty = append(empty, d)
		}
	}
	if len(empty) > 0 {
		sort.Strings(empty)
		return nil, fmt.Errorf("episode: %s: class folder %q has no images (.png, .jpg, .jpeg, .gif)%s",
			b.where, empty[0], more(len(empty)-1))
	}
	if len(b.classes) == 0 {
		return nil, fmt.Errorf("episode: %s: no images found; want <root>/<class>/<image>", b.where)
	}
	out := make([]Class, 0, len(b.classes))
	for name, items := range b.classes {
		sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
		out = append(out, Class{Name: name, Items: items})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func more(n int) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf(" (and %d more)", n)
}

// OpenDir lists a folder of class folders. Every folder that directly holds
// images (.png, .jpg, .jpeg, .gif; case-insensitive) is a class, named by its
// slash-separated path relative to root, so both root/<class>/<image> and
// nested layouts such as Omniglot's root/<alphabet>/<character>/<image>
// work. Hidden files and folders (name starting with ".") and non-image
// files are ignored. An image directly in root, an empty leaf folder, or a
// root without images is an error.
func OpenDir(root string) (*Dataset, error) {
	st, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("episode: opening dataset: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("episode: %s is not a folder", root)
	}
	b := newClassBuilder(root)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("episode: listing %s: %w", p, err)
		}
		if p == root {
			return nil
		}
		if isHidden(d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("episode: listing %s: %w", p, err)
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			b.addDir(rel)
			return nil
		}
		if !isImageName(d.Name()) {
			return nil
		}
		// Stat follows symbolic links, so linked images are accepted.
		info, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("episode: listing %s: %w", p, err)
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("episode: %s is not a regular file", p)
		}
		return b.addImage(rel, fileItem(p, info))
	})
	if err != nil {
		return nil, err
	}
	classes, err := b.build()
	if err != nil {
		return nil, err
	}
	return &Dataset{Name: root, Classes: classes, Pre: MiniImageNetPreprocess()}, nil
}

func fileItem(p string, info fs.FileInfo) Item {
	abs, err := filepath.Abs(p)
	if err != nil {
		abs = p
	}
	return Item{
		Path: p,
		open: func() (io.ReadCloser, error) { return os.Open(p) },
		id:   fmt.Sprintf("file\x00%s\x00%d\x00%d", abs, info.Size(), info.ModTime().UnixNano()),
	}
}

// OpenZip lists a zip archive of class folders, with the same rules as
// [OpenDir] applied to the entry names. Entries whose names are absolute,
// contain a ".." element or a backslash, or name a drive are refused: the
// archive is rejected with an error naming the entry.
func OpenZip(name string) (*Dataset, error) {
	return openZip(name, "")
}

// openZip lists the entries of a zip below the folder prefix (a
// slash-terminated entry path, or "" for the whole archive); class names are
// relative to prefix.
func openZip(name, prefix string) (*Dataset, error) {
	zr, err := zip.OpenReader(name)
	if err != nil {
		return nil, fmt.Errorf("episode: opening zip %s: %w", name, err)
	}
	classes, err := zipClasses(name, zr, prefix)
	if err != nil {
		zr.Close()
		return nil, err
	}
	return &Dataset{Name: name, Classes: classes, Pre: MiniImageNetPreprocess(), closers: []io.Closer{zr}}, nil
}

func zipClasses(name string, zr *zip.ReadCloser, prefix string) ([]Class, error) {
	st, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("episode: opening zip %s: %w", name, err)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		abs = name
	}
	zipID := fmt.Sprintf("zip\x00%s\x00%d\x00%d", abs, st.Size(), st.ModTime().UnixNano())
	where := name
	if prefix != "" {
		where = name + "!" + prefix
	}
	b := newClassBuilder(where)
	found := false
	seen := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		if err := checkEntryName(f.Name); err != nil {
			return nil, fmt.Errorf("episode: zip %s: entry %q: %w", name, f.Name, err)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("episode: zip %s: entry %q appears twice", name, f.Name)
		}
		seen[f.Name] = true
		if !strings.HasPrefix(f.Name, prefix) {
			continue
		}
		found = true
		rel := strings.TrimPrefix(f.Name, prefix)
		if rel == "" {
			continue
		}
		if hiddenPath(rel) {
			continue
		}
		if strings.HasSuffix(rel, "/") {
			b.addDir(strings.TrimSuffix(rel, "/"))
			continue
		}
		if !isImageName(rel) {
			continue
		}
		if err := b.addImage(rel, zipItem(name, zipID, f)); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, fmt.Errorf("episode: zip %s: %w %q", name, errNoFolder, strings.TrimSuffix(prefix, "/"))
	}
	return b.build()
}

func hiddenPath(rel string) bool {
	for _, e := range strings.Split(rel, "/") {
		if isHidden(e) {
			return true
		}
	}
	return false
}

func zipItem(zipName, zipID string, f *zip.File) Item {
	return Item{
		Path: zipName + "!" + f.Name,
		open: f.Open,
		id:   fmt.Sprintf("%s\x00%s\x00%d\x00%08x", zipID, f.Name, f.UncompressedSize64, f.CRC32),
	}
}

// checkEntryName refuses zip entry names that could point outside the
// archive's tree if anyone ever extracted it, or that are ambiguous: these
// signal a malformed or hostile archive.
func checkEntryName(n string) error {
	switch {
	case n == "":
		return errors.New("empty entry name")
	case strings.HasPrefix(n, "/"):
		return errors.New("absolute path")
	case strings.Contains(n, `\`):
		return errors.New(`backslash in name`)
	case len(n) >= 2 && n[1] == ':':
		return errors.New("drive letter in name")
	case strings.ContainsRune(n, 0):
		return errors.New("NUL byte in name")
	}
	for _, e := range strings.Split(n, "/") {
		if e == ".." {
			return errors.New(`".." path element`)
		}
	}
	return nil
}
