package episode

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// OmniglotSplits are the split names [OpenOmniglot] accepts: the standard
// background/evaluation alphabets and the Vinyals et al. (2016) character
// split with four rotations per character.
var OmniglotSplits = []string{"background", "evaluation", "vinyals-train", "vinyals-val", "vinyals-trainval", "vinyals-test"}

// MiniImageNetSplits are the split names [OpenMiniImageNet] accepts.
var MiniImageNetSplits = []string{"train", "val", "test"}

// OpenOmniglot lists Omniglot from a folder holding background.zip and
// evaluation.zip (entries <alphabet>/<characterNN>/<image>.png) and, for the
// Vinyals splits, splits/vinyals/{train,val,trainval,test}.txt.
//
// Split "background" or "evaluation" gives one class per character, named
// "<alphabet>/<characterNN>". A "vinyals-*" split reads both archives and
// gives one class per line of the list file, a character at a rotation,
// named by the line ("<alphabet>/<characterNN>/rot090") and with
// [Item.Rot] set; a line naming a character found in neither archive, an
// unknown rotation or a repeated line is an error naming the file and line.
// The dataset's Pre is [OmniglotPreprocess].
func OpenOmniglot(dir, split string) (*Dataset, error) {
	switch split {
	case "background", "evaluation":
		d, err := openZip(filepath.Join(dir, split+".zip"), "")
		if err != nil {
			return nil, err
		}
		d.Name = "omniglot " + split + " (" + dir + ")"
		d.Pre = OmniglotPreprocess()
		return d, nil
	case "vinyals-train", "vinyals-val", "vinyals-trainval", "vinyals-test":
	default:
		return nil, fmt.Errorf("episode: unknown Omniglot split %q (want one of %s)", split, strings.Join(OmniglotSplits, ", "))
	}
	d := &Dataset{Name: "omniglot " + split + " (" + dir + ")", Pre: OmniglotPreprocess()}
	chars := map[string][]Item{}
	for _, z := range []string{"background", "evaluation"} {
		part, err := openZip(filepath.Join(dir, z+".zip"), "")
		if err != nil {
			d.Close()
			return nil, err
		}
		d.closers = append(d.closers, part.closers...)
		for _, c := range part.Classes {
			chars[c.Name] = c.Items
		}
	}
	list := filepath.Join(dir, "splits", "vinyals", strings.TrimPrefix(split, "vinyals-")+".txt")
	classes, err := readRotationList(list, chars)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.Classes = classes
	return d, nil
}

// readRotationList reads a Vinyals split file: one "<alphabet>/<character>/
// rotNNN" per line, NNN in {000, 090, 180, 270}.
func readRotationList(list string, chars map[string][]Item) ([]Class, error) {
	f, err := os.Open(list)
	if err != nil {
		return nil, fmt.Errorf("episode: opening split list: %w", err)
	}
	defer f.Close()
	var classes []Class
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		char, rot := path.Split(s)
		char = strings.TrimSuffix(char, "/")
		var q int
		switch rot {
		case "rot000":
			q = 0
		case "rot090":
			q = 1
		case "rot180":
			q = 2
		case "rot270":
			q = 3
		default:
			return nil, fmt.Errorf("episode: %s:%d: %q does not end in /rot000, /rot090, /rot180 or /rot270", list, line, s)
		}
		items, ok := chars[char]
		if !ok {
			return nil, fmt.Errorf("episode: %s:%d: class %q not found in background.zip or evaluation.zip", list, line, char)
		}
		if seen[s] {
			return nil, fmt.Errorf("episode: %s:%d: class %q listed twice", list, line, s)
		}
		seen[s] = true
		rotated := make([]Item, len(items))
		for i, it := range items {
			it.Rot = q
			rotated[i] = it
		}
		classes = append(classes, Class{Name: s, Items: rotated})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("episode: reading %s: %w", list, err)
	}
	if len(classes) == 0 {
		return nil, fmt.Errorf("episode: %s lists no classes", list)
	}
	return classes, nil
}

// OpenMiniImageNet lists mini-ImageNet from a folder holding
// <split>.zip (entries <split>/<wnid>/<image>.jpg) and, optionally, the
// manifest splits/<split>.csv ("filename,label" rows, label = WordNet id).
// Classes are named by WordNet id. When the manifest exists it is
// authoritative: the dataset holds exactly its rows, and a row whose image is
// not in the archive is an error naming the manifest line. The dataset's Pre
// is [MiniImageNetPreprocess].
func OpenMiniImageNet(dir, split string) (*Dataset, error) {
	if !slices.Contains(MiniImageNetSplits, split) {
		return nil, fmt.Errorf("episode: unknown mini-ImageNet split %q (want one of %s)", split, strings.Join(MiniImageNetSplits, ", "))
	}
	zipName := filepath.Join(dir, split+".zip")
	d, err := openZip(zipName, split+"/")
	if err != nil {
		return nil, err
	}
	d.Name = "mini-ImageNet " + split + " (" + dir + ")"
	manifest := filepath.Join(dir, "splits", split+".csv")
	if _, err := os.Stat(manifest); errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	classes, err := applyManifest(manifest, zipName, d.Classes)
	if err != nil {
		d.Close()
		return nil, err
	}
	d.Classes = classes
	return d, nil
}

// applyManifest keeps the listed images of classes, in class-name order.
func applyManifest(manifest, zipName string, classes []Class) ([]Class, error) {
	f, err := os.Open(manifest)
	if err != nil {
		return nil, fmt.Errorf("episode: opening manifest: %w", err)
	}
	defer f.Close()
	byName := map[string]Item{}
	for _, c := range classes {
		for _, it := range c.Items {
			byName[c.Name+"/"+path.Base(it.Path)] = it
		}
	}
	r := csv.NewReader(f)
	r.FieldsPerRecord = 2
	kept := map[string][]Item{}
	seen := map[string]bool{}
	for row := 0; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("episode: manifest %s: %w", manifest, err)
		}
		line, _ := r.FieldPos(0)
		if row == 0 {
			if rec[0] != "filename" || rec[1] != "label" {
				return nil, fmt.Errorf("episode: %s:%d: header %q, want \"filename,label\"", manifest, line, strings.Join(rec, ","))
			}
			continue
		}
		key := rec[1] + "/" + rec[0]
		it, ok := byName[key]
		if !ok {
			return nil, fmt.Errorf("episode: %s:%d: image %s of class %s is not in %s", manifest, line, rec[0], rec[1], zipName)
		}
		if seen[key] {
			return nil, fmt.Errorf("episode: %s:%d: image %s of class %s listed twice", manifest, line, rec[0], rec[1])
		}
		seen[key] = true
		kept[rec[1]] = append(kept[rec[1]], it)
	}
	if len(kept) == 0 {
		return nil, fmt.Errorf("episode: manifest %s lists no images", manifest)
	}
	out := make([]Class, 0, len(kept))
	for name, items := range kept {
		sort.Slice(items, func(i, j int) bool { return items[i].Path < items[j].Path })
		out = append(out, Class{Name: name, Items: items})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// OpenTiered lists tiered-ImageNet in its common folder layout,
// <root>/<split>/<wnid>/<image> (split usually "train", "val" or "test"),
// with the rules of [OpenDir]. The dataset's Pre is
// [MiniImageNetPreprocess].
func OpenTiered(root, split string) (*Dataset, error) {
	if split == "" || strings.ContainsAny(split, `/\`) || split == "." || split == ".." {
		return nil, fmt.Errorf("episode: tiered-ImageNet split %q must be a plain folder name", split)
	}
	d, err := OpenDir(filepath.Join(root, split))
	if err != nil {
		return nil, err
	}
	d.Name = "tiered-ImageNet " + split + " (" + root + ")"
	return d, nil
}

// Load opens a dataset from a path and an optional split name; it is the one
// dataset specification that command-line tools accept.
//
//   - A folder holding background.zip and evaluation.zip is Omniglot; split
//     is required and is one of [OmniglotSplits].
//   - A folder holding <split>.zip and splits/<split>.csv is mini-ImageNet
//     ([OpenMiniImageNet]).
//   - A folder with split "" is a folder of class folders ([OpenDir]).
//   - A folder with a subfolder named split is that subfolder's class folders
//     (tiered-ImageNet's <root>/<split>/<wnid>/<image>, [OpenTiered]).
//   - A folder holding <split>.zip is that zip's class folders; if the zip
//     has a top-level folder named split, that folder is the root.
//   - A .zip file is a zip of class folders ([OpenZip]); a non-empty split
//     selects the top-level folder of that name inside it.
func Load(p, split string) (*Dataset, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("episode: opening dataset: %w", err)
	}
	if !st.IsDir() {
		if !strings.EqualFold(filepath.Ext(p), ".zip") {
			return nil, fmt.Errorf("episode: %s is neither a folder nor a .zip file", p)
		}
		if split == "" {
			return OpenZip(p)
		}
		if err := plainName(split); err != nil {
			return nil, err
		}
		return openZip(p, split+"/")
	}
	if isFile(filepath.Join(p, "background.zip")) && isFile(filepath.Join(p, "evaluation.zip")) {
		return OpenOmniglot(p, split)
	}
	if split == "" {
		return OpenDir(p)
	}
	if err := plainName(split); err != nil {
		return nil, err
	}
	zipName := filepath.Join(p, split+".zip")
	if isFile(zipName) && isFile(filepath.Join(p, "splits", split+".csv")) {
		return OpenMiniImageNet(p, split)
	}
	if st, err := os.Stat(filepath.Join(p, split)); err == nil && st.IsDir() {
		return OpenTiered(p, split)
	}
	if isFile(zipName) {
		d, err := openZip(zipName, split+"/")
		if errors.Is(err, errNoFolder) {
			return OpenZip(zipName)
		}
		return d, err
	}
	return nil, fmt.Errorf("episode: %s has no split %q (looked for folder %s and archive %s)", p, split, filepath.Join(p, split), zipName)
}

func plainName(split string) error {
	if strings.ContainsAny(split, `/\`) || split == "." || split == ".." {
		return fmt.Errorf("episode: split %q must be a plain folder name", split)
	}
	return nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
