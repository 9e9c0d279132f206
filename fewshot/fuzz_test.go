package fewshot_test

import (
	"bytes"
	"image"
	"slices"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
)

var tinyGray = episode.Preprocess{Width: 8, Height: 8, Channels: 1}

// FuzzReadPrototypes feeds arbitrary bytes to ReadPrototypes for a
// Euclidean and a Cosine model. Nothing may panic; what reads back must
// save and read again to the same classes and counts, and must predict.
func FuzzReadPrototypes(f *testing.F) {
	var cs []*fewshot.Classifier
	for i, metric := range []fewshot.Metric{fewshot.Euclidean, fewshot.Cosine} {
		c := newClassifier(f, modelBytes(f, uint64(40+i), tinyGray, metric, 1, 4))
		cs = append(cs, c)
		sup, _ := task(41, 3, 2, 8, 8)
		p, err := c.Fit(sup)
		if err != nil {
			f.Fatal(err)
		}
		var buf bytes.Buffer
		if err := p.Save(&buf); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
		f.Add(buf.Bytes()[:buf.Len()/2])
		var empty bytes.Buffer
		if err := c.NewPrototypes().Save(&empty); err != nil {
			f.Fatal(err)
		}
		f.Add(empty.Bytes())
	}
	query := []image.Image{blob(8, 8, 2, 2, 3)}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range cs {
			p, err := c.ReadPrototypes(bytes.NewReader(data))
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			if err := p.Save(&buf); err != nil {
				t.Fatal(err)
			}
			q, err := c.ReadPrototypes(&buf)
			if err != nil {
				t.Fatalf("saved prototypes do not read back: %v", err)
			}
			if !slices.Equal(p.Classes(), q.Classes()) {
				t.Fatalf("classes %v became %v", p.Classes(), q.Classes())
			}
			for _, l := range p.Classes() {
				if p.Count(l) != q.Count(l) || p.Count(l) < 1 {
					t.Fatalf("class %q: count %d became %d", l, p.Count(l), q.Count(l))
				}
			}
			if len(p.Classes()) > 0 {
				_, _ = p.Predict(query)
			}
		}
	})
}
