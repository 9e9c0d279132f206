package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ConvergenceOptions adjusts a convergence figure.
type ConvergenceOptions struct {
	// Title is printed above the panels; "" prints none.
	Title string
	// Smooth is the width, in logged points, of the trailing moving
	// average applied to training loss (and training accuracy); 0 or 1
	// plots the raw values. Validation points are never smoothed.
	Smooth int
	// TrainAcc also draws each run's training accuracy, dashed, in the
	// accuracy panel.
	TrainAcc bool
	// Size defaults to 1500×600 pixels at 144 DPI.
	Size Size
}

// RenderConvergence draws the convergence figure of runs (see
// [WriteConvergence]) to w in format f.
func RenderConvergence(w io.Writer, f Format, runs []*Run, opt ConvergenceOptions) error {
	size, paint, err := convergence(runs, opt)
	if err != nil {
		return err
	}
	return render(w, f, size, paint)
}

// WriteConvergence draws the convergence figure of runs and writes it as
// prefix.png and prefix.svg, returning the paths written. The figure has a
// panel of training loss against episodes and a panel of validation
// accuracy (in percent, with a shaded 95 % interval where the log gives
// one) against episodes, each with one line per run named in the legend. A
// panel no run has data for is left out; it is an error if both are.
func WriteConvergence(prefix string, runs []*Run, opt ConvergenceOptions) ([]string, error) {
	size, paint, err := convergence(runs, opt)
	if err != nil {
		return nil, err
	}
	return writeAll(prefix, size, paint)
}

func convergence(runs []*Run, opt ConvergenceOptions) (Size, func(draw.Canvas), error) {
	size, err := opt.Size.withDefaults(1500, 600)
	if err != nil {
		return size, nil, err
	}
	if opt.Smooth < 0 {
		return size, nil, fmt.Errorf("plot: smoothing window %d, want >= 0", opt.Smooth)
	}
	if len(runs) == 0 {
		return size, nil, errors.New("plot: no runs to plot")
	}
	var panels []*plot.Plot
	loss, err := lossPanel(runs, opt.Smooth)
	if err != nil {
		return size, nil, err
	}
	if loss != nil {
		panels = append(panels, loss)
	}
	acc, err := accPanel(runs, opt)
	if err != nil {
		return size, nil, err
	}
	if acc != nil {
		panels = append(panels, acc)
	}
	if len(panels) == 0 {
		names := make([]string, len(runs))
		for i, r := range runs {
			names[i] = r.Path
			if names[i] == "" {
				names[i] = r.Name
			}
		}
		return size, nil, fmt.Errorf("plot: no episode with a loss or val_acc value in %s", strings.Join(names, ", "))
	}
	paint := func(c draw.Canvas) {
		c = drawTitle(c, opt.Title)
		tiles := draw.Tiles{
			Rows: 1, Cols: len(panels),
			PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(10),
			PadX: vg.Points(24),
		}
		cells := plot.Align([][]*plot.Plot{panels}, tiles, c)
		for i, p := range panels {
			p.Draw(cells[0][i])
		}
	}
	return size, paint, nil
}

func newPanel(title, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "episode"
	p.Y.Label.Text = ylabel
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{0xdd}
	g.Horizontal.Color = color.Gray{0xdd}
	p.Add(g)
	return p
}

// lossPanel plots the runs' smoothed training loss, or returns nil if no
// run has any.
func lossPanel(runs []*Run, smooth int) (*plot.Plot, error) {
	label := "loss"
	if smooth > 1 {
		label = fmt.Sprintf("loss (moving average of %d)", smooth)
	}
	p := newPanel("Training loss", label)
	p.Legend.Top = true
	has := false
	for i, r := range runs {
		if len(r.Loss) == 0 {
			continue
		}
		has = true
		l, err := plotter.NewLine(movingAverage(r.Loss, smooth, 1))
		if err != nil {
			return nil, fmt.Errorf("plot: run %s: loss: %w", r.Name, err)
		}
		l.Color = colour(i)
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(r.Name, l)
	}
	if !has {
		return nil, nil
	}
	return p, nil
}

// accPanel plots the runs' validation accuracy (and training accuracy if
// asked), or returns nil if there is nothing to plot.
func accPanel(runs []*Run, opt ConvergenceOptions) (*plot.Plot, error) {
	p := newPanel("Validation accuracy", "accuracy (%)")
	has := false
	for i, r := range runs {
		c := colour(i)
		if len(r.Val) > 0 {
			has = true
			scale := percentScale(len(r.Val), func(k int) float64 { return r.Val[k].Acc })
			xy := make(plotter.XYs, len(r.Val))
			var upper, lower plotter.XYs
			for k, v := range r.Val {
				xy[k] = plotter.XY{X: v.Episode, Y: v.Acc * scale}
				if v.CI95 > 0 {
					upper = append(upper, plotter.XY{X: v.Episode, Y: (v.Acc + v.CI95) * scale})
					lower = append(lower, plotter.XY{X: v.Episode, Y: (v.Acc - v.CI95) * scale})
				}
			}
			if len(upper) > 1 {
				// The band is one polygon: along the upper edge, back
				// along the lower one.
				ring := append(upper, reversed(lower)...)
				band, err := plotter.NewPolygon(ring)
				if err != nil {
					return nil, fmt.Errorf("plot: run %s: val_ci95: %w", r.Name, err)
				}
				band.Color = withAlpha(c, 0.18)
				band.LineStyle.Width = 0
				p.Add(band)
			}
			line, pts, err := plotter.NewLinePoints(xy)
			if err != nil {
				return nil, fmt.Errorf("plot: run %s: val_acc: %w", r.Name, err)
			}
			line.Color = c
			line.Width = vg.Points(1.5)
			pts.Color = c
			pts.Shape = draw.CircleGlyph{}
			pts.Radius = vg.Points(2.2)
			p.Add(line, pts)
			p.Legend.Add(r.Name, line, pts)
		}
		if opt.TrainAcc && len(r.Acc) > 0 {
			has = true
			scale := percentScale(len(r.Acc), func(k int) float64 { return r.Acc[k].Value })
			l, err := plotter.NewLine(movingAverage(r.Acc, opt.Smooth, scale))
			if err != nil {
				return nil, fmt.Errorf("plot: run %s: acc: %w", r.Name, err)
			}
			l.Color = c
			l.Width = vg.Points(1)
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			p.Add(l)
			p.Legend.Add(r.Name+" (training)", l)
		}
	}
	if !has {
		return nil, nil
	}
	return p, nil
}

// percentScale returns 100 when every accuracy is a fraction (<= 1), the
// way train logs them, and 1 when some value is above 1, i.e. the log
// already holds percentages.
func percentScale(n int, at func(int) float64) float64 {
	for k := range n {
		if at(k) > 1 {
			return 1
		}
	}
	return 100
}

// movingAverage returns the samples as points, each value replaced by the
// mean of it and the window-1 values before it (fewer at the start), and
// multiplied by scale.
func movingAverage(s []Sample, window int, scale float64) plotter.XYs {
	window = max(window, 1)
	xy := make(plotter.XYs, len(s))
	sum := 0.0
	for i, v := range s {
		sum += v.Value
		if i >= window {
			sum -= s[i-window].Value
		}
		xy[i] = plotter.XY{X: v.Episode, Y: sum / float64(min(i+1, window)) * scale}
	}
	return xy
}

func reversed(xy plotter.XYs) plotter.XYs {
	out := make(plotter.XYs, len(xy))
	for i, p := range xy {
		out[len(xy)-1-i] = p
	}
	return out
}
