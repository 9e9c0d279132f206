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

// Point is one embedded image in a scatter plot.
type Point struct {
	X, Y float64
	// Class indexes the class names given with the points.
	Class int
	// Support marks a support (labelled) image, drawn as a star; queries
	// are drawn as dots.
	Support bool
}

// ScatterOptions adjusts a scatter plot.
type ScatterOptions struct {
	// Title is printed above the plot; "" prints none.
	Title string
	// Size defaults to 1050×750 pixels at 144 DPI.
	Size Size
}

// RenderScatter draws the scatter plot of points (see [WriteScatter]) to w
// in format f.
func RenderScatter(w io.Writer, f Format, classes []string, points []Point, opt ScatterOptions) error {
	size, paint, err := scatter(classes, points, opt)
	if err != nil {
		return err
	}
	return render(w, f, size, paint)
}

// WriteScatter draws points, coloured by class (classes[p.Class] names the
// class of p in the legend), supports as stars over queries as dots, and
// writes the plot as prefix.png and prefix.svg, returning the paths
// written. The axes are hidden: t-SNE coordinates have no units, only
// neighbourhoods mean something.
func WriteScatter(prefix string, classes []string, points []Point, opt ScatterOptions) ([]string, error) {
	size, paint, err := scatter(classes, points, opt)
	if err != nil {
		return nil, err
	}
	return writeAll(prefix, size, paint)
}

func scatter(classes []string, points []Point, opt ScatterOptions) (Size, func(draw.Canvas), error) {
	size, err := opt.Size.withDefaults(1050, 750)
	if err != nil {
		return size, nil, err
	}
	if len(points) == 0 {
		return size, nil, errors.New("plot: no points to plot")
	}
	// One scatter per class and kind, so each gets its own glyph style.
	queries := make([]plotter.XYs, len(classes))
	supports := make([]plotter.XYs, len(classes))
	for i, p := range points {
		if p.Class < 0 || p.Class >= len(classes) {
			return size, nil, fmt.Errorf("plot: point %d has class %d, want 0..%d", i, p.Class, len(classes)-1)
		}
		if math.IsNaN(p.X) || math.IsInf(p.X, 0) || math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
			return size, nil, fmt.Errorf("plot: point %d is at (%v, %v)", i, p.X, p.Y)
		}
		xy := plotter.XY{X: p.X, Y: p.Y}
		if p.Support {
			supports[p.Class] = append(supports[p.Class], xy)
		} else {
			queries[p.Class] = append(queries[p.Class], xy)
		}
	}

	p := plot.New()
	p.HideAxes()
	// Queries first so the fewer, larger support stars stay visible on top.
	for _, layer := range []struct {
		sets  []plotter.XYs
		style func(color.RGBA) draw.GlyphStyle
	}{{queries, queryStyle}, {supports, supportStyle}} {
		for c, xy := range layer.sets {
			if len(xy) == 0 {
				continue
			}
			s, err := plotter.NewScatter(xy)
			if err != nil {
				return size, nil, fmt.Errorf("plot: class %s: %w", classes[c], err)
			}
			s.GlyphStyle = layer.style(colour(c))
			p.Add(s)
		}
	}

	legend := plot.NewLegend()
	legend.Top, legend.Left = true, true
	legend.Padding = vg.Points(2)
	for c, name := range classes {
		legend.Add(name, glyphThumb(queryStyle(colour(c))))
	}
	grey := color.RGBA{0x55, 0x55, 0x55, 0xff}
	legend.Add("")
	legend.Add("support", glyphThumb(supportStyle(grey)))
	legend.Add("query", glyphThumb(queryStyle(grey)))

	paint := func(c draw.Canvas) {
		c = drawTitle(c, opt.Title)
		pad := vg.Points(10)
		// The legend takes a strip on the right, at most 40 % of the
		// width; long class names (Omniglot's alphabet/character/rotation)
		// get a smaller font rather than being cut off.
		avail := (c.Max.X - c.Min.X) * 0.4
		lw := legend.Rectangle(c).Size().X + pad
		if lw > avail {
			size := legend.TextStyle.Font.Size * (avail - pad) / (lw - pad)
			legend.TextStyle.Font.Size = max(size, vg.Points(6))
			lw = min(legend.Rectangle(c).Size().X+pad, avail)
		}
		area := draw.Crop(c, pad, -lw-pad, pad, -pad)
		equalAspect(p, area)
		p.Draw(area)
		legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-lw, 0, pad, -pad))
	}
	return size, paint, nil
}

// equalAspect widens one axis range of p so that a data unit is as long
// on both axes in c: distances in a t-SNE layout mean the same in every
// direction, and stretching would suggest structure that is not there.
func equalAspect(p *plot.Plot, c draw.Canvas) {
	xr, yr := p.X.Max-p.X.Min, p.Y.Max-p.Y.Min
	w, h := float64(c.Max.X-c.Min.X), float64(c.Max.Y-c.Min.Y)
	if xr <= 0 || yr <= 0 || w <= 0 || h <= 0 {
		return
	}
	if xr/w < yr/h {
		grow := (yr*w/h - xr) / 2
		p.X.Min, p.X.Max = p.X.Min-grow, p.X.Max+grow
	} else {
		grow := (xr*h/w - yr) / 2
		p.Y.Min, p.Y.Max = p.Y.Min-grow, p.Y.Max+grow
	}
}

func queryStyle(c color.RGBA) draw.GlyphStyle {
	return draw.GlyphStyle{Color: withAlpha(c, 0.8), Radius: vg.Points(2.6), Shape: draw.CircleGlyph{}}
}

func supportStyle(c color.RGBA) draw.GlyphStyle {
	return draw.GlyphStyle{Color: c, Radius: vg.Points(7), Shape: starGlyph{}}
}

// glyphThumb draws a glyph as a legend thumbnail.
type glyphThumb draw.GlyphStyle

func (g glyphThumb) Thumbnail(c *draw.Canvas) {
	c.DrawGlyphNoClip(draw.GlyphStyle(g), c.Center())
}

// starGlyph is a filled five-pointed star with a thin dark outline, which
// keeps light colours visible on white and over dots of the same colour.
type starGlyph struct{}

// DrawGlyph implements draw.GlyphDrawer.
func (starGlyph) DrawGlyph(c *draw.Canvas, sty draw.GlyphStyle, pt vg.Point) {
	var path vg.Path
	for k := range 10 {
		r := sty.Radius
		if k%2 == 1 {
			r *= 0.45 // inner vertices; about the proportion of a regular star
		}
		a := math.Pi/2 + float64(k)*math.Pi/5
		v := vg.Point{X: pt.X + r*vg.Length(math.Cos(a)), Y: pt.Y + r*vg.Length(math.Sin(a))}
		if k == 0 {
			path.Move(v)
		} else {
			path.Line(v)
		}
	}
	path.Close()
	c.SetColor(sty.Color)
	c.Fill(path)
	c.SetLineWidth(vg.Points(0.6))
	c.SetColor(color.Gray{0x30})
	c.Stroke(path)
}
