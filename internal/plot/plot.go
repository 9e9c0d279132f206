// Package plot draws the project's figures with gonum.org/v1/plot:
// convergence curves read from the metrics logs that training writes (loss
// and validation accuracy against episodes, one line per run), and scatter
// plots of embeddings laid out by t-SNE (supports as stars, queries as dots,
// one colour per class), and reliability diagrams of a classifier's
// calibration (accuracy against confidence per bin).
//
// Every figure can be rendered to a writer as PNG or SVG, or written as a
// pair of files PREFIX.png and PREFIX.svg; files are replaced atomically, so
// a reader never sees half a figure.
package plot

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
)

// Format is an output file format.
type Format string

// The formats figures are written in.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// Formats lists the formats that Write functions produce, in order.
var Formats = []Format{PNG, SVG}

// Size is a figure's size in PNG pixels. The SVG has the same proportions
// and physical size (Width/DPI inches), so fonts look alike in both.
type Size struct {
	Width, Height int
	// DPI is the PNG resolution; fonts are sized in points, so a higher
	// DPI gives larger, sharper text for the same pixel size. 0 means 144.
	DPI int
}

func (s Size) withDefaults(w, h int) (Size, error) {
	if s.Width == 0 {
		s.Width = w
	}
	if s.Height == 0 {
		s.Height = h
	}
	if s.DPI == 0 {
		s.DPI = 144
	}
	const maxSide = 20000
	if s.Width < 16 || s.Height < 16 || s.Width > maxSide || s.Height > maxSide || s.DPI < 1 {
		return s, fmt.Errorf("plot: size %d×%d pixels at %d DPI, want 16 to %d pixels a side and DPI >= 1",
			s.Width, s.Height, s.DPI, maxSide)
	}
	return s, nil
}

// lengths converts the pixel size to the vg lengths that give exactly that
// many pixels at s.DPI.
func (s Size) lengths() (w, h vg.Length) {
	return vg.Length(s.Width) * vg.Inch / vg.Length(s.DPI), vg.Length(s.Height) * vg.Inch / vg.Length(s.DPI)
}

// render draws a figure with paint onto a canvas of format and size and
// writes it to w.
func render(w io.Writer, format Format, size Size, paint func(draw.Canvas)) error {
	width, height := size.lengths()
	var c vg.CanvasWriterTo
	switch format {
	case PNG:
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(size.DPI))}
	case SVG:
		c = vgsvg.New(width, height)
	default:
		return fmt.Errorf("plot: unknown format %q (want png or svg)", format)
	}
	paint(draw.New(c))
	_, err := c.WriteTo(w)
	return err
}

// writeAll renders the figure in every format and writes prefix.<format>
// for each. Everything is rendered before any file is touched, and each
// file is replaced atomically.
func writeAll(prefix string, size Size, paint func(draw.Canvas)) ([]string, error) {
	if prefix == "" {
		return nil, errors.New("plot: empty output prefix")
	}
	bufs := make([]bytes.Buffer, len(Formats))
	for i, f := range Formats {
		if err := render(&bufs[i], f, size, paint); err != nil {
			return nil, fmt.Errorf("plot: rendering %s: %w", f, err)
		}
	}
	paths := make([]string, len(Formats))
	for i, f := range Formats {
		paths[i] = prefix + "." + string(f)
		// A figure is meant to be shared, hence 0644.
		err := atomicfile.Write(paths[i], 0o644, func(w io.Writer) error {
			_, err := bufs[i].WriteTo(w)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
	}
	return paths, nil
}

// palette is a qualitative palette with ten well-separated hues (the
// "Tableau 10" colours); series beyond ten reuse it.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x7f, 0x7f, 0x7f, 0xff}, // grey
	{0xbc, 0xbd, 0x22, 0xff}, // olive
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// colour returns series i's colour.
func colour(i int) color.RGBA { return palette[i%len(palette)] }

// withAlpha returns c at opacity a (0..1), premultiplied as color.RGBA
// requires.
func withAlpha(c color.RGBA, a float64) color.RGBA {
	return color.RGBA{
		R: uint8(float64(c.R) * a), G: uint8(float64(c.G) * a), B: uint8(float64(c.B) * a),
		A: uint8(255 * a),
	}
}

// titleStyle is the style of a figure's overall title: the plot title
// style, a little larger.
func titleStyle() text.Style {
	s := plot.New().Title.TextStyle
	s.Font = font.From(plot.DefaultFont, 14)
	return s
}

// drawTitle writes title at the top of c and returns the canvas below it.
func drawTitle(c draw.Canvas, title string) draw.Canvas {
	if title == "" {
		return c
	}
	sty := titleStyle()
	pad := vg.Points(6)
	c.FillText(sty, vg.Point{X: c.Center().X, Y: c.Max.Y - pad}, title)
	return draw.Crop(c, 0, 0, 0, -(sty.Height(title) + 2*pad))
}
