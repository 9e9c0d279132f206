package export

import (
	"fmt"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/nn"
)

// FromNetwork converts a trained nn network into export layers: its own
// parameters ([nn.Network.Params]) become the weights and each batch-norm
// layer's running statistics its Mean and Var, so the exported graph
// computes the network's [nn.Eval] forward pass. float64 weights are
// rounded to float32. Layer types export cannot express are an error.
func FromNetwork[T engine.Float](net *nn.Network[T]) ([]Layer, error) {
	params := net.Params()
	var out []Layer
	for i, l := range net.Layers() {
		n := len(l.Specs())
		if n > len(params) {
			return nil, fmt.Errorf("export: layer %d (%T) needs %d parameters, %d left", i, l, n, len(params))
		}
		p := make([][]float32, n)
		for k := range p {
			p[k] = toFloat32(params[k].Value().Data())
		}
		params = params[n:]
		switch l := l.(type) {
		case *nn.Conv2D[T]:
			g := l.Geometry
			c := &Conv{Weight: p[0], In: l.In, Out: l.Out, KH: l.KH, KW: l.KW,
				StrideH: g.StrideH, StrideW: g.StrideW, PadTop: g.PadTop, PadLeft: g.PadLeft, PadBottom: g.PadBottom, PadRight: g.PadRight,
				DilH: g.DilH, DilW: g.DilW, Groups: g.Groups}
			if l.Bias {
				c.Bias = p[1]
			}
			out = append(out, c)
		case *nn.BatchNorm2D[T]:
			out = append(out, &BatchNorm{Gamma: p[0], Beta: p[1],
				Mean: toFloat32(l.State.RunningMean.Data()), Var: toFloat32(l.State.RunningVar.Data()), Eps: l.State.Eps})
		case nn.ReLU[T]:
			out = append(out, ReLU{})
		case nn.Sigmoid[T]:
			out = append(out, Sigmoid{})
		case nn.Flatten[T]:
			out = append(out, Flatten{})
		case nn.MaxPool2D[T]:
			w := l.Window
			if max(w.DilH, w.DilW) > 1 {
				return nil, fmt.Errorf("export: layer %d: dilated max pooling is not supported", i)
			}
			out = append(out, &MaxPool{KH: w.KH, KW: w.KW, StrideH: w.StrideH, StrideW: w.StrideW,
				PadTop: w.PadTop, PadLeft: w.PadLeft, PadBottom: w.PadBottom, PadRight: w.PadRight, CeilMode: w.CeilMode})
		case *nn.Linear[T]:
			lin := &Linear{Weight: p[0], In: l.In, Out: l.Out}
			if l.Bias {
				lin.Bias = p[1]
			}
			out = append(out, lin)
		default:
			return nil, fmt.Errorf("export: layer %d: unsupported layer type %T", i, l)
		}
	}
	return out, nil
}

func toFloat32[T engine.Float](v []T) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
