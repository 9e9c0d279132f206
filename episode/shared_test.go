package episode

import (
	"context"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/internal/testshared"
)

// Class and image counts of the shared data against the published numbers.
// Listing reads zip directories only, so these run in about a second.
func TestSharedOmniglotCounts(t *testing.T) {
	dir := testshared.Path(t, "data/omniglot")
	for _, c := range []struct {
		split            string
		classes, perClas int
		alphabets        int
	}{
		{"background", 964, 20, 30},
		{"evaluation", 659, 20, 20},
		{"vinyals-train", 4112, 20, 0},
		{"vinyals-val", 688, 20, 0},
		{"vinyals-trainval", 4800, 20, 0},
		{"vinyals-test", 1692, 20, 0},
	} {
		ds, err := Load(dir, c.split)
		if err != nil {
			t.Fatal(err)
		}
		alphabets := map[string]bool{}
		for _, cl := range ds.Classes {
			if len(cl.Items) != c.perClas {
				t.Errorf("%s: class %s has %d images, want %d", c.split, cl.Name, len(cl.Items), c.perClas)
			}
			alphabets[strings.SplitN(cl.Name, "/", 2)[0]] = true
		}
		if len(ds.Classes) != c.classes || ds.NumItems() != c.classes*c.perClas {
			t.Errorf("%s: %d classes, %d images; want %d × %d", c.split, len(ds.Classes), ds.NumItems(), c.classes, c.perClas)
		}
		if c.alphabets != 0 && len(alphabets) != c.alphabets {
			t.Errorf("%s: %d alphabets, want %d", c.split, len(alphabets), c.alphabets)
		}
		ds.Close()
	}
}

func TestSharedMiniImageNetCounts(t *testing.T) {
	dir := testshared.Path(t, "data/mini-imagenet")
	for _, c := range []struct {
		split            string
		classes, perClas int
	}{{"train", 64, 300}, {"val", 16, 300}, {"test", 10, 600}} {
		ds, err := Load(dir, c.split)
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range ds.Classes {
			if len(cl.Items) != c.perClas || !strings.HasPrefix(cl.Name, "n") || len(cl.Name) != 9 {
				t.Errorf("%s: class %q has %d images, want a WordNet id with %d", c.split, cl.Name, len(cl.Items), c.perClas)
			}
		}
		if len(ds.Classes) != c.classes {
			t.Errorf("%s: %d classes, want %d", c.split, len(ds.Classes), c.classes)
		}
		ds.Close()
	}
}

// Decoding a subset of the real files: every image decodes, with the
// expected ranges.
func TestSharedDecodeSubset(t *testing.T) {
	omni := testshared.Path(t, "data/omniglot")
	ds, err := Load(omni, "vinyals-test")
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	sub := &Dataset{Name: ds.Name, Classes: ds.Classes[:40]}
	d, err := Decode(context.Background(), sub, ds.Pre, DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	for c := range d.NumClasses() {
		for i := range d.ClassLen(c) {
			x := d.Image(c, i)
			if x[0] != 0 || mean(x) < 0.02 || mean(x) > 0.4 {
				t.Fatalf("%s image %d: corner %v, mean ink %v", d.ClassName(c), i, x[0], mean(x))
			}
		}
	}
	if _, err := d.Episode(Fixed(20, 5, 15), 1, 0); err != nil {
		t.Fatal(err)
	}
	if testing.Short() {
		t.Skip("-short: skipping mini-ImageNet JPEG decoding")
	}
	mini := testshared.Path(t, "data/mini-imagenet")
	ms, err := Load(mini, "val")
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	msub := &Dataset{Name: ms.Name, Classes: ms.Classes[:3]}
	md, err := Decode(context.Background(), msub, ms.Pre, DecodeOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	c, h, w := md.Shape()
	if c != 3 || h != 84 || w != 84 || md.NumImages() != 900 {
		t.Fatalf("mini-ImageNet subset %dx%dx%d, %d images", c, h, w, md.NumImages())
	}
	// ImageNet normalisation leaves natural images roughly centred.
	sum := 0.0
	for i := range 900 {
		sum += mean(md.Image(i/300, i%300))
	}
	if m := sum / 900; m < -1 || m > 1 {
		t.Fatalf("mean normalised value %v", m)
	}
}

// benchTasks measures task assembly from a fully decoded split, loaded from
// the default cache (the first run fills it).
func benchTasks(b *testing.B, rel, split string, cfg Config) {
	dir := testshared.Path(b, rel)
	ds, err := Load(dir, split)
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	d, err := Decode(context.Background(), ds, ds.Pre, DecodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if d.Cache.Err != nil {
		b.Logf("cache: %v", d.Cache.Err)
	}
	s := NewSampler(d, 1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Task(cfg); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "episodes/s")
}

func BenchmarkOmniglot60Way5Shot5Query(b *testing.B) {
	benchTasks(b, "data/omniglot", "background", Fixed(60, 5, 5))
}

func BenchmarkMiniImageNet5Way5Shot15Query(b *testing.B) {
	benchTasks(b, "data/mini-imagenet", "train", Fixed(5, 5, 15))
}

// BenchmarkDecodeOmniglotCold measures decoding without a cache (both
// cores): images per second for Omniglot background at 28×28.
func BenchmarkDecodeOmniglotCold(b *testing.B) {
	dir := testshared.Path(b, "data/omniglot")
	ds, err := Load(dir, "background")
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	for b.Loop() {
		if _, err := Decode(context.Background(), ds, ds.Pre, DecodeOptions{NoCache: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*ds.NumItems())/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkDecodeWarm measures a second run's start: listing mini-ImageNet
// train and loading its 19,200 decoded images from the default cache.
func BenchmarkDecodeWarm(b *testing.B) {
	dir := testshared.Path(b, "data/mini-imagenet")
	for b.Loop() {
		ds, err := Load(dir, "train")
		if err != nil {
			b.Fatal(err)
		}
		d, err := Decode(context.Background(), ds, ds.Pre, DecodeOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ds.Close()
		if !d.Cache.Hit {
			b.Logf("cache miss (first run fills it): %+v", d.Cache)
		}
	}
}
