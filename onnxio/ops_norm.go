package onnxio

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Normalizations over trailing axes (BatchNormalization, which normalizes
// per channel, lives with Conv, into which it is fused).

func init() {
	opTable["LayerNormalization"] = opDef{compile: compileLayerNorm, attrs: []string{"axis", "epsilon", "stash_type"}}
}

// compileLayerNorm builds LayerNormalization-17: each run of the trailing
// axes from axis on is normalized to zero mean and unit variance, then
// scaled and shifted by Scale and B (broadcast to those axes). The optional
// Mean and InvStdDev outputs keep X's leading dims and 1 elsewhere.
func compileLayerNorm(c *nodeCtx) (opFunc, error) {
	if c.opset < 17 {
		return nil, fmt.Errorf("LayerNormalization needs opset 17 (model opset %d)", c.opset)
	}
	if err := c.nIn(2, 3); err != nil {
		return nil, err
	}
	axis, err1 := c.int("axis", -1)
	eps, err2 := c.float("epsilon", 1e-5)
	stash, err3 := c.int("stash_type", 1)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, err
	}
	if stash != int64(Float) {
		// Statistics are computed in float64 and returned as float32.
		return nil, fmt.Errorf("stash_type %d is not supported (only 1, float32)", stash)
	}
	if len(c.node.Outputs) > 3 {
		return nil, fmt.Errorf("has %d outputs, want at most 3", len(c.node.Outputs))
	}
	wantStats := len(c.node.Outputs) > 1
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x, scale := in[0], in[1]
		var bias *value
		if len(in) > 2 {
			bias = in[2]
		}
		rank := len(x.shape)
		ax, err := normAxis(int(axis), rank)
		if err != nil {
			return nil, err
		}
		inner := x.shape[ax:]
		n, rows := shapeSize(inner), shapeSize(x.shape[:ax])
		for _, p := range []*value{scale, bias} {
			if p == nil {
				continue
			}
			if p.dt != x.dt {
				return nil, fmt.Errorf("Scale and B must have X's type %v, got %v", x.dt, p.dt)
			}
			if b, err := broadcastShapes(inner, p.shape); err != nil || !shapeEq(b, inner) {
				return nil, fmt.Errorf("Scale/B shape %v does not broadcast to the normalized shape %v", p.shape, inner)
			}
		}
		if err := rc.charge(mulSat(x.len(), 4)); err != nil {
			return nil, err
		}
		out, err := rc.alloc(x.dt, x.shape)
		if err != nil {
			return nil, err
		}
		var mean, inv *value
		if wantStats {
			sshape := slices.Clone(x.shape)
			for i := ax; i < rank; i++ {
				sshape[i] = 1
			}
			if mean, err = rc.alloc(Float, sshape); err == nil {
				inv, err = rc.alloc(Float, sshape)
			}
			if err != nil {
				rc.release(out)
				rc.release(mean)
				return nil, err
			}
		}
		var ms, is []float32
		if wantStats {
			ms, is = mean.f32(), inv.f32()
		}
		sc, bs := expandParam(scale, inner, n, 1), expandParam(bias, inner, n, 0)
		switch xs := x.data.(type) {
		case []float32:
			layerNormT(xs, out.f32(), rows, n, float64(eps), sc, bs, ms, is)
		case []float64:
			layerNormT(xs, out.data.([]float64), rows, n, float64(eps), sc, bs, ms, is)
		default:
			rc.release(out)
			rc.release(mean)
			rc.release(inv)
			return nil, fmt.Errorf("data type %v is not supported", x.dt)
		}
		outs := []*value{out, mean, inv}
		return outs[:len(c.node.Outputs)], nil
	}, nil
}

// expandParam returns p broadcast to the normalized shape as n float64
// values, or n copies of def when p is absent.
func expandParam(p *value, inner []int, n int, def float64) []float64 {
	out := make([]float64, n)
	if p == nil {
		for i := range out {
			out[i] = def
		}
		return out
	}
	src := p.float64s()
	if len(src) == n {
		return src
	}
	bcast(out, inner, out, inner, src, p.shape, func(_, s float64) float64 { return s })
	return out
}

// layerNormT normalizes rows of n elements. Mean and variance are
// computed in float64 with two passes, which avoids the cancellation of
// E[x²]−E[x]² on inputs with a large mean.
func layerNormT[T float](x, y []T, rows, n int, eps float64, scale, bias []float64, means, invs []float32) {
	if n == 0 {
		return
	}
	for r := range rows {
		xr, yr := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
		m := 0.0
		for _, v := range xr {
			m += float64(v)
		}
		m /= float64(n)
		vr := 0.0
		for _, v := range xr {
			d := float64(v) - m
			vr += d * d
		}
		inv := 1 / math.Sqrt(vr/float64(n)+eps)
		for j, v := range xr {
			yr[j] = T((float64(v)-m)*inv*scale[j] + bias[j])
		}
		if means != nil {
			means[r], invs[r] = float32(m), float32(inv)
		}
	}
}
