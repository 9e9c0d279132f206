package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Bin is one confidence bin of a reliability diagram.
type Bin struct {
	// Lower and Upper bound the bin's confidences.
	Lower, Upper float64
	// Count is the number of predictions in the bin; Confidence is their
	// mean confidence and Accuracy the fraction that were right.
	Count                int
	Confidence, Accuracy float64
}

// ReliabilitySeries is one set of predictions in a reliability diagram,
// such as a model before or after calibration.
type ReliabilitySeries struct {
	// Name labels the series in the legend (the ECE is a good addition).
	Name string
	Bins []Bin
}

// ReliabilityOptions adjusts a reliability diagram.
type ReliabilityOptions struct {
	// Title is printed above the plot; "" prints none.
	Title string
	// Size defaults to 640×640 pixels at 120 DPI.
	Size Size
}

// RenderReliability draws a reliability diagram to w in format f: for each
// series, the accuracy of each non-empty bin against its mean confidence,
// as a line with a point per bin, and the diagonal that a perfectly
// calibrated model follows. Points below the diagonal are overconfident.
func RenderReliability(w io.Writer, f Format, series []ReliabilitySeries, opt ReliabilityOptions) error {
	if opt.Size.DPI == 0 {
		opt.Size.DPI = 120
	}
	size, err := opt.Size.withDefaults(640, 640)
	if err != nil {
		return err
	}
	if len(series) == 0 {
		return errors.New("plot: no series to plot")
	}
	p := plot.New()
	p.Title.Text = opt.Title
	p.X.Label.Text = "confidence"
	p.Y.Label.Text = "accuracy"
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{0xdd}
	g.Horizontal.Color = color.Gray{0xdd}
	p.Add(g)
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return err
	}
	diag.Color = color.Gray{0x88}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(diag)
	p.Legend.Add("perfect calibration", diag)
	for i, s := range series {
		var xy plotter.XYs
		for j, b := range s.Bins {
			if b.Count == 0 {
				continue
			}
			for _, v := range []float64{b.Confidence, b.Accuracy} {
				if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1 {
					return fmt.Errorf("plot: series %q bin %d: confidence %v, accuracy %v, want both in [0, 1]", s.Name, j, b.Confidence, b.Accuracy)
				}
			}
			xy = append(xy, plotter.XY{X: b.Confidence, Y: b.Accuracy})
		}
		if len(xy) == 0 {
			return fmt.Errorf("plot: series %q has no non-empty bin", s.Name)
		}
		l, pts, err := plotter.NewLinePoints(xy)
		if err != nil {
			return fmt.Errorf("plot: series %q: %w", s.Name, err)
		}
		l.Color = colour(i)
		l.Width = vg.Points(1.5)
		pts.Color = colour(i)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(3)
		p.Add(l, pts)
		p.Legend.Add(s.Name, l, pts)
	}
	p.Legend.Top, p.Legend.Left = true, true
	pad := vg.Points(6)
	return render(w, f, size, func(c draw.Canvas) { p.Draw(draw.Crop(c, pad, -pad, pad, -pad)) })
}
