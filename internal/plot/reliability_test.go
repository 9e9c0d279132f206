package plot

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"
)

func TestRenderReliability(t *testing.T) {
	s := []ReliabilitySeries{
		{Name: "before", Bins: []Bin{{Lower: 0.4, Upper: 0.5, Count: 3, Confidence: 0.45, Accuracy: 0.3}, {Lower: 0.5, Upper: 0.6}}},
		{Name: "after", Bins: []Bin{{Lower: 0.8, Upper: 0.9, Count: 1, Confidence: 0.85, Accuracy: 1}}},
	}
	var buf bytes.Buffer
	if err := RenderReliability(&buf, PNG, s, ReliabilityOptions{Title: "t", Size: Size{Width: 300, Height: 300}}); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil || img.Bounds().Dx() != 300 {
		t.Fatalf("PNG: %v, %v", img, err)
	}
	buf.Reset()
	if err := RenderReliability(&buf, SVG, s, ReliabilityOptions{}); err != nil || !strings.Contains(buf.String(), "<svg") {
		t.Fatalf("SVG: %v", err)
	}
	for _, bad := range [][]ReliabilitySeries{nil, {{Name: "empty", Bins: []Bin{{Count: 0}}}},
		{{Name: "nan", Bins: []Bin{{Count: 1, Confidence: math.NaN()}}}}, {{Name: "big", Bins: []Bin{{Count: 1, Accuracy: 2}}}}} {
		if err := RenderReliability(&bytes.Buffer{}, PNG, bad, ReliabilityOptions{}); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}
