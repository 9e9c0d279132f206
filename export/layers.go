package export

import (
	"fmt"
	"math"
)

// Layer is one stage of a sequential network: *[Conv], *[BatchNorm],
// [ReLU], [Sigmoid], *[MaxPool], [Flatten] or *[Linear]. Shapes are per
// example (no batch dimension): [C, H, W] for images and feature maps, [D]
// after Flatten.
type Layer interface {
	// outShape checks the layer's fields against an input of shape in
	// and returns the output shape.
	outShape(in []int) ([]int, error)
}

// Conv is a 2-D convolution with weights [Out, In/Groups, KH, KW] (row-major)
// and an optional bias [Out]. Zero strides, dilations and groups mean 1.
type Conv struct {
	Weight                               []float32
	Bias                                 []float32 // nil for none
	In, Out, KH, KW                      int
	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	DilH, DilW                           int
	Groups                               int
}

// BatchNorm is inference-mode batch normalisation per channel:
// y = Gamma·(x − Mean)/√(Var + Eps) + Beta, with the running statistics
// as Mean and Var. Eps 0 means 1e-5.
type BatchNorm struct {
	Gamma, Beta, Mean, Var []float32
	Eps                    float64
}

// ReLU is max(x, 0).
type ReLU struct{}

// Sigmoid is 1/(1 + e^−x).
type Sigmoid struct{}

// MaxPool is 2-D max pooling with a KH×KW window; zero strides mean the
// window size (non-overlapping windows). CeilMode rounds the output size up.
type MaxPool struct {
	KH, KW                               int
	StrideH, StrideW                     int
	PadTop, PadLeft, PadBottom, PadRight int
	CeilMode                             bool
}

// Flatten turns each example into a vector.
type Flatten struct{}

// Linear is y = x·Wᵀ + b with Weight [Out, In] (row-major) and an optional
// Bias [Out]; its input must be a vector (put a Flatten before it).
type Linear struct {
	Weight  []float32
	Bias    []float32 // nil for none
	In, Out int
}

func one(v int) int { return max(v, 1) }

func (c *Conv) outShape(in []int) ([]int, error) {
	g := one(c.Groups)
	switch {
	case c.In < 1 || c.Out < 1 || c.KH < 1 || c.KW < 1:
		return nil, fmt.Errorf("conv sizes In %d, Out %d, kernel %dx%d must be positive", c.In, c.Out, c.KH, c.KW)
	case c.In%g != 0 || c.Out%g != 0:
		return nil, fmt.Errorf("conv channels %d→%d not divisible by %d groups", c.In, c.Out, g)
	case len(in) != 3 || in[0] != c.In:
		return nil, fmt.Errorf("conv takes [%d, H, W], got %v", c.In, in)
	case len(c.Weight) != c.Out*c.In/g*c.KH*c.KW:
		return nil, fmt.Errorf("conv weight has %d values, want %d×%d×%d×%d", len(c.Weight), c.Out, c.In/g, c.KH, c.KW)
	case c.Bias != nil && len(c.Bias) != c.Out:
		return nil, fmt.Errorf("conv bias has %d values, want %d", len(c.Bias), c.Out)
	case min(c.StrideH, c.StrideW, c.DilH, c.DilW, c.Groups, c.PadTop, c.PadLeft, c.PadBottom, c.PadRight) < 0:
		return nil, fmt.Errorf("conv has a negative stride, dilation, group count or pad")
	}
	oh := (in[1]+c.PadTop+c.PadBottom-one(c.DilH)*(c.KH-1)-1)/one(c.StrideH) + 1
	ow := (in[2]+c.PadLeft+c.PadRight-one(c.DilW)*(c.KW-1)-1)/one(c.StrideW) + 1
	if in[1]+c.PadTop+c.PadBottom < one(c.DilH)*(c.KH-1)+1 || in[2]+c.PadLeft+c.PadRight < one(c.DilW)*(c.KW-1)+1 {
		return nil, fmt.Errorf("conv kernel %dx%d larger than the padded input %v", c.KH, c.KW, in)
	}
	return []int{c.Out, oh, ow}, nil
}

func (b *BatchNorm) outShape(in []int) ([]int, error) {
	c := len(b.Gamma)
	if len(in) == 0 || in[0] != c {
		return nil, fmt.Errorf("batch norm has %d channels, input is %v", c, in)
	}
	if len(b.Beta) != c || len(b.Mean) != c || len(b.Var) != c {
		return nil, fmt.Errorf("batch norm gamma, beta, mean, var have %d, %d, %d, %d values", c, len(b.Beta), len(b.Mean), len(b.Var))
	}
	for i, v := range b.Var {
		if !(float64(v)+b.eps() > 0) {
			return nil, fmt.Errorf("batch norm variance[%d] = %v is not > -eps", i, v)
		}
	}
	return in, nil
}

func (b *BatchNorm) eps() float64 {
	if b.Eps == 0 {
		return 1e-5
	}
	return b.Eps
}

func (ReLU) outShape(in []int) ([]int, error)    { return in, nil }
func (Sigmoid) outShape(in []int) ([]int, error) { return in, nil }

func (p *MaxPool) outShape(in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("max pool takes [C, H, W], got %v", in)
	}
	if p.KH < 1 || p.KW < 1 || min(p.StrideH, p.StrideW, p.PadTop, p.PadLeft, p.PadBottom, p.PadRight) < 0 {
		return nil, fmt.Errorf("max pool window %dx%d, strides and pads must be positive", p.KH, p.KW)
	}
	if p.PadTop >= p.KH || p.PadBottom >= p.KH || p.PadLeft >= p.KW || p.PadRight >= p.KW {
		return nil, fmt.Errorf("max pool pads must be smaller than the %dx%d window", p.KH, p.KW)
	}
	size := func(n, k, s, lo, hi int) int {
		span := n + lo + hi - k
		if span < 0 {
			return 0
		}
		o := span/s + 1
		if p.CeilMode && span%s != 0 {
			o++
			// A window starting inside the bottom or right padding is
			// dropped, as ONNX and PyTorch do.
			if (o-1)*s >= n+lo {
				o--
			}
		}
		return o
	}
	oh := size(in[1], p.KH, p.strideH(), p.PadTop, p.PadBottom)
	ow := size(in[2], p.KW, p.strideW(), p.PadLeft, p.PadRight)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("max pool window %dx%d larger than the input %v", p.KH, p.KW, in)
	}
	return []int{in[0], oh, ow}, nil
}

func (p *MaxPool) strideH() int {
	if p.StrideH == 0 {
		return p.KH
	}
	return p.StrideH
}

func (p *MaxPool) strideW() int {
	if p.StrideW == 0 {
		return p.KW
	}
	return p.StrideW
}

func (Flatten) outShape(in []int) ([]int, error) {
	n := 1
	for _, d := range in {
		n *= d
	}
	return []int{n}, nil
}

func (l *Linear) outShape(in []int) ([]int, error) {
	switch {
	case l.In < 1 || l.Out < 1:
		return nil, fmt.Errorf("linear sizes %d→%d must be positive", l.In, l.Out)
	case len(in) != 1 || in[0] != l.In:
		return nil, fmt.Errorf("linear takes [%d], got %v (add a Flatten before it)", l.In, in)
	case len(l.Weight) != l.Out*l.In:
		return nil, fmt.Errorf("linear weight has %d values, want %d×%d", len(l.Weight), l.Out, l.In)
	case l.Bias != nil && len(l.Bias) != l.Out:
		return nil, fmt.Errorf("linear bias has %d values, want %d", len(l.Bias), l.Out)
	}
	return []int{l.Out}, nil
}

// finite reports the first NaN or Inf in v.
func finite(name string, v []float32) error {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%s[%d] = %v", name, i, x)
		}
	}
	return nil
}
