package episode

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var fixtureClasses = []string{
	"Greek/character01", "Greek/character02", "Greek/character03",
	"Latin/character01", "Latin/character02", "Latin/character03",
}

func classNames(d *Dataset) []string {
	var out []string
	for _, c := range d.Classes {
		out = append(out, c.Name)
	}
	return out
}

func TestOpenDirNested(t *testing.T) {
	ds, err := OpenDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if got := classNames(ds); !slices.Equal(got, fixtureClasses) {
		t.Fatalf("classes %v, want %v", got, fixtureClasses)
	}
	for _, c := range ds.Classes {
		if len(c.Items) != 5 {
			t.Fatalf("class %s has %d items, want 5", c.Name, len(c.Items))
		}
	}
	if ds.NumItems() != 30 {
		t.Fatalf("NumItems %d, want 30", ds.NumItems())
	}
}

// The same images read from a folder and from a zip decode identically.
func TestOpenZipMatchesDir(t *testing.T) {
	zp := filepath.Join(t.TempDir(), "fixtures.zip")
	zipTree(t, zp, fixtures, ".", "")
	dz, err := OpenZip(zp)
	if err != nil {
		t.Fatal(err)
	}
	defer dz.Close()
	dd, err := OpenDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(classNames(dz), classNames(dd)) {
		t.Fatalf("zip classes %v, dir classes %v", classNames(dz), classNames(dd))
	}
	if !strings.Contains(dz.Classes[0].Items[0].Path, "fixtures.zip!Greek/character01/0394_01.png") {
		t.Fatalf("zip item path %q", dz.Classes[0].Items[0].Path)
	}
	pre := OmniglotPreprocess()
	a, err := Decode(context.Background(), dz, pre, DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Decode(context.Background(), dd, pre, DecodeOptions{NoCache: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	for c := range a.NumClasses() {
		for i := range a.ClassLen(c) {
			if !slices.Equal(a.Image(c, i), b.Image(c, i)) {
				t.Fatalf("class %d image %d differs between zip and folder", c, i)
			}
		}
	}
}

// Decoded images and Preprocess.DecodeBytes are one code path: identical
// floats for the same file.
func TestDecodedEqualsPreprocess(t *testing.T) {
	ds, err := OpenDir(fixtures)
	if err != nil {
		t.Fatal(err)
	}
	pre := OmniglotPreprocess()
	pre.Mean, pre.Std = []float32{0.1}, []float32{0.3}
	d, err := Decode(context.Background(), ds, pre, DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	for c, cl := range ds.Classes {
		for i, it := range cl.Items {
			b, err := os.ReadFile(it.Path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := pre.DecodeBytes(it.Path, b)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Image(c, i), want) {
				t.Fatalf("%s: Decoded.Image differs from Preprocess.DecodeBytes", it.Path)
			}
		}
	}
}

func TestOmniglotSplits(t *testing.T) {
	dir := fakeOmniglot(t)
	bg, err := Load(dir, "background")
	if err != nil {
		t.Fatal(err)
	}
	defer bg.Close()
	if got := classNames(bg); !slices.Equal(got, fixtureClasses[:3]) {
		t.Fatalf("background classes %v", got)
	}
	if bg.Pre.String() != OmniglotPreprocess().String() {
		t.Fatalf("Omniglot default preprocess %s", bg.Pre)
	}
	ev, err := OpenOmniglot(dir, "evaluation")
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Close()
	if got := classNames(ev); !slices.Equal(got, fixtureClasses[3:]) {
		t.Fatalf("evaluation classes %v", got)
	}
	tv, err := Load(dir, "vinyals-trainval")
	if err != nil {
		t.Fatal(err)
	}
	defer tv.Close()
	if len(tv.Classes) != 12 || tv.Classes[1].Name != "Greek/character01/rot090" || tv.Classes[5].Name != "Latin/character01/rot090" {
		t.Fatalf("vinyals-trainval classes %v", classNames(tv))
	}
	for i, c := range tv.Classes {
		if len(c.Items) != 5 || c.Items[0].Rot != i%4 {
			t.Fatalf("class %s: %d items, rotation %d", c.Name, len(c.Items), c.Items[0].Rot)
		}
	}
	// A rotated class's image is the unrotated one turned counterclockwise.
	d, err := Decode(context.Background(), tv, OmniglotPreprocess(), DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	base := d.Image(0, 2)
	for q := 1; q < 4; q++ {
		src := make([]uint8, 28*28)
		for i, v := range base {
			src[i] = uint8(v*255 + 0.5)
		}
		rot := make([]uint8, 28*28)
		rotateCHW(rot, src, 1, 28, q)
		got := d.Image(q, 2)
		for i := range got {
			if uint8(got[i]*255+0.5) != rot[i] {
				t.Fatalf("rotation %d: pixel %d = %v, want %v", q, i, got[i], rot[i])
			}
		}
	}
	if _, err := Load(dir, ""); err == nil || !strings.Contains(err.Error(), "unknown Omniglot split") {
		t.Fatalf("Omniglot without split: %v", err)
	}
}

func TestOmniglotSplitListErrors(t *testing.T) {
	dir := fakeOmniglot(t)
	list := filepath.Join(dir, "splits", "vinyals", "test.txt")
	cases := map[string]string{
		"Greek/character01/rot000\nKlingon/character07/rot090\n": `test.txt:2: class "Klingon/character07" not found`,
		"Greek/character01/rot045\n":                             `test.txt:1: "Greek/character01/rot045" does not end in`,
		"Greek/character01/rot000\nGreek/character01/rot000\n":   `test.txt:2: class "Greek/character01/rot000" listed twice`,
		"\n\n": "lists no classes",
	}
	for content, want := range cases {
		writeFile(t, list, []byte(content))
		if _, err := OpenOmniglot(dir, "vinyals-test"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("list %q: got %v, want %q", content, err, want)
		}
	}
	os.Remove(list)
	if _, err := OpenOmniglot(dir, "vinyals-test"); err == nil || !strings.Contains(err.Error(), "test.txt") {
		t.Errorf("missing list: %v", err)
	}
}

// fakeMini writes a mini-ImageNet-shaped folder: <split>.zip with entries
// <split>/<wnid>/<file>.jpg and splits/<split>.csv.
func fakeMini(t *testing.T, manifest string) string {
	dir := t.TempDir()
	var names []string
	data := map[string][]byte{}
	for c, wnid := range []string{"n01", "n02"} {
		for i := range 3 {
			n := fmt.Sprintf("train/%s/%s%08d.jpg", wnid, wnid, i)
			names = append(names, n)
			data[n] = encodeAs(t, "jpg", codeImage(c, i))
		}
	}
	writeZip(t, filepath.Join(dir, "train.zip"), names, data)
	writeFile(t, filepath.Join(dir, "splits", "train.csv"), []byte(manifest))
	return dir
}

func TestMiniImageNet(t *testing.T) {
	full := "filename,label\nn0100000000.jpg,n01\nn0100000001.jpg,n01\nn0100000002.jpg,n01\nn0200000000.jpg,n02\nn0200000001.jpg,n02\nn0200000002.jpg,n02\n"
	dir := fakeMini(t, full)
	ds, err := Load(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if got := classNames(ds); !slices.Equal(got, []string{"n01", "n02"}) || ds.NumItems() != 6 {
		t.Fatalf("classes %v, %d items", got, ds.NumItems())
	}
	if ds.Pre.Channels != 3 || ds.Pre.Width != 84 {
		t.Fatalf("mini-ImageNet default preprocess %s", ds.Pre)
	}
	// The manifest is authoritative: a shorter one selects fewer images.
	short := fakeMini(t, "filename,label\nn0100000001.jpg,n01\n")
	ds2, err := OpenMiniImageNet(short, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer ds2.Close()
	if ds2.NumItems() != 1 || !strings.HasSuffix(ds2.Classes[0].Items[0].Path, "train/n01/n0100000001.jpg") {
		t.Fatalf("short manifest gave %v", ds2.Classes)
	}
	bad := map[string]string{
		"filename,label\nn0100000000.jpg,n01\nn0900000000.jpg,n09\n": "train.csv:3: image n0900000000.jpg of class n09 is not in",
		"file,class\n":                 `header "file,class"`,
		"filename,label\na,b,c\n":      "wrong number of fields",
		"filename,label\n":             "lists no images",
		full + "n0100000000.jpg,n01\n": "listed twice",
	}
	for m, want := range bad {
		if _, err := OpenMiniImageNet(fakeMini(t, m), "train"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("manifest %q: got %v, want %q", m, err, want)
		}
	}
	if _, err := OpenMiniImageNet(dir, "extra"); err == nil || !strings.Contains(err.Error(), "unknown mini-ImageNet split") {
		t.Errorf("bad split: %v", err)
	}
}

// tiered-ImageNet's <root>/<split>/<wnid>/<image>, on a synthetic tree.
func TestTieredLayout(t *testing.T) {
	root := t.TempDir()
	for _, split := range []string{"train", "test"} {
		for c := range 3 {
			for i := range 4 {
				p := filepath.Join(root, split, fmt.Sprintf("n%08d", c+10*len(split)), fmt.Sprintf("img%d.JPEG", i))
				writeFile(t, p, encodeAs(t, "jpg", codeImage(c, i)))
			}
		}
	}
	for _, open := range []func() (*Dataset, error){
		func() (*Dataset, error) { return OpenTiered(root, "test") },
		func() (*Dataset, error) { return Load(root, "test") },
	} {
		ds, err := open()
		if err != nil {
			t.Fatal(err)
		}
		if got := classNames(ds); !slices.Equal(got, []string{"n00000040", "n00000041", "n00000042"}) || ds.NumItems() != 12 {
			t.Fatalf("tiered classes %v, %d items", got, ds.NumItems())
		}
	}
	if _, err := Load(root, "val"); err == nil || !strings.Contains(err.Error(), `no split "val"`) {
		t.Fatalf("missing split: %v", err)
	}
	if _, err := OpenTiered(root, "../x"); err == nil {
		t.Fatal("split with a path separator accepted")
	}
}

func TestLoadZipWithSplitFolder(t *testing.T) {
	dir := t.TempDir()
	zp := filepath.Join(dir, "data.zip")
	zipTree(t, zp, fixtures, "Greek", "train/")
	ds, err := Load(zp, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if got := classNames(ds); !slices.Equal(got, fixtureClasses[:3]) {
		t.Fatalf("classes %v", got)
	}
	whole, err := Load(zp, "")
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	if whole.Classes[0].Name != "train/Greek/character01" {
		t.Fatalf("whole-zip class %q", whole.Classes[0].Name)
	}
	if _, err := Load(zp, "val"); err == nil || !strings.Contains(err.Error(), `no top-level folder "val"`) {
		t.Fatalf("missing folder: %v", err)
	}
	// A folder holding <split>.zip without a manifest.
	zipTree(t, filepath.Join(dir, "test.zip"), fixtures, "Latin", "test/")
	ds2, err := Load(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer ds2.Close()
	if got := classNames(ds2); !slices.Equal(got, fixtureClasses[3:]) {
		t.Fatalf("classes %v", got)
	}
}

func TestLayoutErrors(t *testing.T) {
	png := pngBytes(t, codeImage(1, 1))

	top := t.TempDir()
	writeFile(t, filepath.Join(top, "a", "x.png"), png)
	writeFile(t, filepath.Join(top, "stray.png"), png)
	if _, err := OpenDir(top); err == nil || !strings.Contains(err.Error(), `image "stray.png" is at the top level`) {
		t.Errorf("top-level image: %v", err)
	}

	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "a", "x.png"), png)
	writeFile(t, filepath.Join(empty, "b", "notes.txt"), []byte("no images"))
	os.MkdirAll(filepath.Join(empty, ".git", "objects"), 0o755) // hidden: ignored
	if _, err := OpenDir(empty); err == nil || !strings.Contains(err.Error(), `class folder "b" has no images`) {
		t.Errorf("empty class: %v", err)
	}

	if _, err := OpenDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no images found") {
		t.Errorf("empty root: %v", err)
	}
	if _, err := Load(filepath.Join(top, "a", "x.png"), ""); err == nil || !strings.Contains(err.Error(), "neither a folder nor a .zip") {
		t.Errorf("png as dataset: %v", err)
	}
	if _, err := Load(filepath.Join(top, "missing"), ""); err == nil {
		t.Error("missing path accepted")
	}

	for name, want := range map[string]string{
		"../evil/x.png":      `".." path element`,
		"a/../../x.png":      `".." path element`,
		"/etc/cls/x.png":     "absolute path",
		`cls\x.png`:          "backslash",
		"C:/cls/x.png":       "drive letter",
		"a/b/../../../x.png": `".." path element`,
	} {
		zp := filepath.Join(t.TempDir(), "bad.zip")
		writeZip(t, zp, []string{"ok/a.png", name}, map[string][]byte{"ok/a.png": png, name: png})
		_, err := OpenZip(zp)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) {
			t.Errorf("zip entry %q: got %v, want %q naming the entry", name, err, want)
		}
	}
	dup := filepath.Join(t.TempDir(), "dup.zip")
	writeZip(t, dup, []string{"ok/a.png", "ok/a.png"}, map[string][]byte{"ok/a.png": png})
	if _, err := OpenZip(dup); err == nil || !strings.Contains(err.Error(), `entry "ok/a.png" appears twice`) {
		t.Errorf("duplicate zip entry: %v", err)
	}
	zp := filepath.Join(t.TempDir(), "emptyclass.zip")
	writeZip(t, zp, []string{"ok/a.png", "hollow/"}, map[string][]byte{"ok/a.png": png})
	if _, err := OpenZip(zp); err == nil || !strings.Contains(err.Error(), `class folder "hollow" has no images`) {
		t.Errorf("empty zip class: %v", err)
	}
	notZip := filepath.Join(t.TempDir(), "x.zip")
	writeFile(t, notZip, []byte("PK but not really"))
	if _, err := OpenZip(notZip); err == nil || !strings.Contains(err.Error(), "x.zip") {
		t.Errorf("corrupt zip: %v", err)
	}
}
