package onnxio

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

func init() {
	opTable["Conv"] = opDef{compile: compileConv, attrs: []string{"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"}}
	opTable["BatchNormalization"] = opDef{compile: compileBatchNorm, attrs: []string{"epsilon", "momentum", "is_test", "spatial", "training_mode", "consumed_inputs"}}
}

// convFusion records what a Conv step absorbed from its successors.
type convFusion struct {
	bn   *Node // BatchNormalization with constant parameters folded into the weights
	relu bool  // apply max(0, x) to the output
	pool *Node // MaxPool applied to the conv output (before the Relu)
	// act, if not nil, is an activation applied to the float32 output in
	// place (see activationFusion); never with relu or pool.
	act func(y []float32)
}

// window holds the per-spatial-axis geometry shared by Conv and pooling.
type window struct {
	kernel, strides, dils []int
	autoPad               string
	pads                  []int // begin pads then end pads; nil with auto_pad
}

func readWindow(c *nodeCtx, needKernel bool) (*window, error) {
	w := &window{}
	var err error
	var ok bool
	if w.kernel, ok, err = c.ints("kernel_shape"); err != nil {
		return nil, err
	} else if !ok && needKernel {
		return nil, errors.New("missing kernel_shape attribute")
	}
	if w.strides, _, err = c.ints("strides"); err != nil {
		return nil, err
	}
	if w.dils, _, err = c.ints("dilations"); err != nil {
		return nil, err
	}
	if w.pads, _, err = c.ints("pads"); err != nil {
		return nil, err
	}
	if w.autoPad, err = c.str("auto_pad", "NOTSET"); err != nil {
		return nil, err
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, fmt.Errorf("auto_pad %q is not supported", w.autoPad)
	}
	return w, nil
}

// geometry is a window resolved for a concrete input.
// maxWindow bounds each kernel, stride and dilation value.
const maxWindow = 1 << 24

type geometry struct {
	in, k, stride, dil, padB, padE, out []int
}

// resolve computes pads and output sizes for spatial input dims in.
func (w *window) resolve(in, kernelFromW []int, ceil bool) (*geometry, error) {
	nd := len(in)
	g := &geometry{in: in, k: w.kernel}
	if g.k == nil {
		g.k = kernelFromW
	} else if kernelFromW != nil && !slices.Equal(g.k, kernelFromW) {
		// The weights decide the kernel; a kernel_shape that disagrees would
		// make the kernels read past the weights.
		return nil, fmt.Errorf("kernel_shape %v does not match the weights' spatial dims %v", g.k, kernelFromW)
	}
	if len(g.k) != nd {
		return nil, fmt.Errorf("kernel_shape %v does not match %d spatial dims", g.k, nd)
	}
	ones := func(v []int, name string) ([]int, error) {
		if v == nil {
			v = make([]int, nd)
			for i := range v {
				v[i] = 1
			}
		}
		if len(v) != nd {
			return nil, fmt.Errorf("%s %v does not match %d spatial dims", name, v, nd)
		}
		for _, x := range v {
			if x < 1 {
				return nil, fmt.Errorf("%s %v must be positive", name, v)
			}
		}
		return v, nil
	}
	var err error
	if g.stride, err = ones(w.strides, "strides"); err != nil {
		return nil, err
	}
	if g.dil, err = ones(w.dils, "dilations"); err != nil {
		return nil, err
	}
	g.padB, g.padE, g.out = make([]int, nd), make([]int, nd), make([]int, nd)
	for i := range nd {
		if g.k[i] < 1 {
			return nil, fmt.Errorf("kernel_shape %v must be positive", g.k)
		}
		// Bounding the window keeps the size arithmetic below from
		// overflowing; real kernels, strides and dilations are far smaller.
		if g.k[i] > maxWindow || g.stride[i] > maxWindow || g.dil[i] > maxWindow {
			return nil, fmt.Errorf("kernel_shape %v, strides %v or dilations %v exceed %d", g.k, g.stride, g.dil, maxWindow)
		}
		span := g.dil[i]*(g.k[i]-1) + 1
		switch w.autoPad {
		case "SAME_UPPER", "SAME_LOWER":
			out := (in[i] + g.stride[i] - 1) / g.stride[i]
			total := max(0, (out-1)*g.stride[i]+span-in[i])
			small := total / 2
			if w.autoPad == "SAME_UPPER" {
				g.padB[i], g.padE[i] = small, total-small
			} else {
				g.padB[i], g.padE[i] = total-small, small
			}
		case "NOTSET":
			if w.pads != nil {
				if len(w.pads) != 2*nd {
					return nil, fmt.Errorf("pads %v do not match %d spatial dims", w.pads, nd)
				}
				g.padB[i], g.padE[i] = w.pads[i], w.pads[nd+i]
				if g.padB[i] < 0 || g.padE[i] < 0 {
					return nil, fmt.Errorf("negative pads %v", w.pads)
				}
			}
		}
		// Pads at least as wide as the window only add empty windows; ONNX
		// runtimes reject them, and so bounding them bounds the work.
		if g.padB[i] >= span || g.padE[i] >= span {
			return nil, fmt.Errorf("pads %d,%d on axis %d are not smaller than the window %d", g.padB[i], g.padE[i], i, span)
		}
		avail := in[i] + g.padB[i] + g.padE[i] - span
		if avail < 0 {
			return nil, fmt.Errorf("window %v does not fit input %v", g.k, in)
		}
		if ceil {
			g.out[i] = (avail+g.stride[i]-1)/g.stride[i] + 1
			// The last window must start inside the input or its leading pad.
			if (g.out[i]-1)*g.stride[i] >= in[i]+g.padB[i] {
				g.out[i]--
			}
		} else {
			g.out[i] = avail/g.stride[i] + 1
		}
	}
	return g, nil
}

func compileConv(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(2, 3); err != nil {
		return nil, err
	}
	w, err := readWindow(c, false)
	if err != nil {
		return nil, err
	}
	group, err := c.int("group", 1)
	if err != nil {
		return nil, err
	}
	if group < 1 {
		return nil, fmt.Errorf("group %d must be positive", group)
	}
	// Fold BatchNormalization into constant weights at plan time.
	var fw, fb *value
	var pool opFunc
	var poolWin *window
	var poolCeil int64
	relu := false
	var act func(y []float32)
	if f := c.fuse; f != nil {
		relu, act = f.relu, f.act
		if f.bn != nil {
			if fw, fb, err = foldBN(c, f.bn); err != nil {
				return nil, err
			}
		}
		if f.pool != nil {
			pc := &nodeCtx{node: f.pool, opset: c.opset, pb: c.pb}
			if err := pc.checkAttrs(opTable["MaxPool"].attrs); err != nil {
				return nil, err
			}
			if pool, err = compilePool(true)(pc); err != nil {
				return nil, fmt.Errorf("%s: %w", f.pool, err)
			}
			poolWin, _ = readWindow(pc, true)
			poolCeil, _ = pc.int("ceil_mode", 0)
		}
	}
	wino := winogradFilter(c, w, fw, group)
	packed := packedWeights(c, fw, group)
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x, wt, b := in[0], in[1], in[2:]
		var bias *value
		if len(b) > 0 {
			bias = b[0]
		}
		if fw != nil {
			wt, bias = fw, fb
		}
		if x.dt != wt.dt || (bias != nil && bias.dt != x.dt) {
			return nil, fmt.Errorf("input types %v, %v differ", x.dt, wt.dt)
		}
		nd := len(x.shape) - 2
		if nd < 1 || nd > 3 || len(wt.shape) != nd+2 {
			return nil, fmt.Errorf("input shape %v and weight shape %v: only 1-D to 3-D convolutions are supported", x.shape, wt.shape)
		}
		n, ch, k := x.shape[0], x.shape[1], wt.shape[0]
		g := int(group)
		if ch%g != 0 || k%g != 0 || wt.shape[1] != ch/g {
			return nil, fmt.Errorf("input %v, weight %v and group %d do not match", x.shape, wt.shape, g)
		}
		if bias != nil && bias.len() != k {
			return nil, fmt.Errorf("bias has %d values for %d output channels", bias.len(), k)
		}
		geo, err := w.resolve(x.shape[2:], wt.shape[2:], false)
		if err != nil {
			return nil, err
		}
		oshape := append([]int{n, k}, geo.out...)
		if err := chargeConv(rc, geo, n, k, ch/g); err != nil {
			return nil, err
		}
		// The Winograd filter was made from these same constant weights.
		var wf *kernel.WinogradFilter
		if x.dt == Float && nd == 2 && wino != nil && kernel.WinogradSuits(convShape(geo, n, ch, k, g)) {
			wf = wino
		}
		if xs, ok := x.data.([]float32); ok && pool != nil && nd == 2 {
			if pg, err := poolWin.resolve(geo.out, nil, poolCeil != 0); err == nil && isPlain2x2(pg) {
				if wino != nil && kernel.WinogradPooledSuits(convShape(geo, n, ch, k, g)) {
					wf = wino
				}
				if wf != nil {
					out, err := rc.alloc(Float, []int{n, k, pg.out[0], pg.out[1]})
					if err != nil {
						return nil, err
					}
					wf.Conv2D(convShape(geo, n, ch, k, g), xs, biasData[float32](bias), out.f32(),
						kernel.WinogradFuse{MaxPool2x2: true, ReLU: relu})
					return []*value{out}, nil
				}
				return convPool2x2(rc, geo, pg, n, ch, k, g, xs, wt.f32(), biasData[float32](bias), relu)
			}
		}
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		switch xs := x.data.(type) {
		case []float32:
			if wf != nil && pool == nil {
				wf.Conv2D(convShape(geo, n, ch, k, g), xs, biasData[float32](bias), out.f32(), kernel.WinogradFuse{ReLU: relu})
				break
			}
			if packed != nil && len(geo.in) == 2 && len(wt.shape) == 4 && wt.shape[2] == geo.k[0] && wt.shape[3] == geo.k[1] {
				// The weights packed at plan time are these constant ones.
				packed.Conv2D(convShape(geo, n, ch, k, g), xs, biasData[float32](bias), out.f32(), relu && pool == nil)
				break
			}
			convT(geo, n, ch, k, g, xs, wt.data.([]float32), biasData[float32](bias), out.data.([]float32), relu && pool == nil)
		case []float64:
			convT(geo, n, ch, k, g, xs, wt.data.([]float64), biasData[float64](bias), out.data.([]float64), relu && pool == nil)
		default:
			return nil, fmt.Errorf("data type %v is not supported", x.dt)
		}
		if pool != nil {
			pooled, err := pool(rc, []*value{out})
			rc.release(out)
			if err != nil {
				return nil, fmt.Errorf("fused %s: %w", c.fuse.pool, err)
			}
			out = pooled[0]
		}
		if act != nil {
			y, ok := out.data.([]float32)
			if !ok {
				return nil, fmt.Errorf("fused activation: data type %v is not supported", out.dt)
			}
			kernel.ParallelRange(len(y), elemPart, func(lo, hi int) { act(y[lo:hi]) })
		}
		if relu && pool != nil { // otherwise fused into the convolution
			switch yd := out.data.(type) {
			case []float32:
				reluF32(yd, yd)
			case []float64:
				mapT(yd, yd, func(v float64) float64 { return max(v, 0) })
			}
		}
		return []*value{out}, nil
	}, nil
}

// chargeConv charges a convolution's multiply-adds and checks the scratch
// the kernel package will allocate for it: the padded input planes of a
// stride-1 convolution, or the patch matrix of a strided one. Dilation and
// padding let a tiny file ask for either to be huge.
func chargeConv(rc *runCtx, geo *geometry, n, k, cg int) error {
	taps, outs := mulSat(geo.k...), mulSat(geo.out...)
	padded := int64(cg) // padded input planes of one group
	unit := true
	for i := range geo.in {
		padded = mulSat64(padded, int64(geo.out[i]+geo.dil[i]*(geo.k[i]-1)))
		unit = unit && geo.stride[i] == 1
	}
	if err := rc.charge(mulSat64(mulSat(n, k, cg), mulSat64(taps, outs))); err != nil {
		return err
	}
	if len(geo.in) > 2 {
		return nil // 3-D convolutions run direct loops without scratch
	}
	scratch := mulSat64(mulSat64(int64(cg), taps), outs)
	if unit {
		scratch = padded
	}
	if scratch > rc.lim.MaxTensorElements {
		return fmt.Errorf("convolution needs %d elements of scratch, limit is %d (Limits.MaxTensorElements)", scratch, rc.lim.MaxTensorElements)
	}
	return nil
}

// convPool2x2 runs a 2-D float32 convolution followed by 2×2 max-pooling
// (and Relu) a few images at a time, so the full-size conv output of one
// chunk stays in cache and the batch's never has to be allocated.
func convPool2x2(rc *runCtx, geo, pg *geometry, n, ch, k, groups int, x, w, bias []float32, relu bool) ([]*value, error) {
	out, err := rc.alloc(Float, []int{n, k, pg.out[0], pg.out[1]})
	if err != nil {
		return nil, err
	}
	chunk := max(1, kernel.Threads())
	inSize := ch * shapeSize(geo.in)
	convSize := k * shapeSize(geo.out)
	poolSize := k * shapeSize(pg.out)
	tmp := getF32(chunk * convSize)
	defer putF32(tmp)
	// The kernel's pooling has a vector path for this window; the argmax
	// it also writes is not needed here.
	argmax := make([]int32, chunk*poolSize)
	y := out.f32()
	for b := 0; b < n; b += chunk {
		nb := min(chunk, n-b)
		convT(geo, nb, ch, k, groups, x[b*inSize:(b+nb)*inSize], w, bias, tmp.f[:nb*convSize], false)
		ps := kernel.PoolShape{N: nb, C: k, H: geo.out[0], W: geo.out[1], KH: 2, KW: 2, StrideH: 2, StrideW: 2}
		kernel.MaxPool2D(ps, tmp.f[:nb*convSize], y[b*poolSize:(b+nb)*poolSize], argmax)
	}
	if relu {
		reluF32(y, y)
	}
	return []*value{out}, nil
}

func biasData[T float](b *value) []T {
	if b == nil {
		return nil
	}
	return b.data.([]T)
}

// winogradFilter returns the Winograd transform of a Conv node's weights
// when they are constant float32 3×3 filters of a unit-stride, undilated,
// ungrouped convolution, computed once at plan time; nil otherwise. fw are
// the weights with a BatchNormalization folded in, if any. Whether the
// input's geometry suits Winograd is decided again at run time.
func winogradFilter(c *nodeCtx, w *window, fw *value, group int64) *kernel.WinogradFilter {
	wv := fw
	if wv == nil {
		wv = c.constInput(1)
	}
	if wv == nil || wv.dt != Float || len(wv.shape) != 4 || group != 1 {
		return nil
	}
	for _, v := range [][]int{w.strides, w.dils} {
		if v != nil && !slices.Equal(v, []int{1, 1}) {
			return nil
		}
	}
	k, ch, r, q := wv.shape[0], wv.shape[1], wv.shape[2], wv.shape[3]
	s := kernel.ConvShape{N: 1, C: ch, K: k, H: r, W: q, R: r, S: q}
	if !kernel.WinogradPooledSuits(s) { // the wider test: fused with a pooling, or not
		return nil
	}
	return kernel.NewWinogradFilter(k, ch, wv.f32())
}

// packedWeights returns the constant float32 weights of a 2-D convolution
// (fw, with a BatchNormalization folded in, when given) packed once for the
// GEMM micro-kernel, or nil when they are not constant. The packed copy is
// about the size of the weights, which the initializer limit bounds.
func packedWeights(c *nodeCtx, fw *value, group int64) *kernel.ConvWeights {
	wv := fw
	if wv == nil {
		wv = c.constInput(1)
	}
	if wv == nil || wv.dt != Float || len(wv.shape) != 4 || group < 1 {
		return nil
	}
	k, cg, r, q := wv.shape[0], wv.shape[1], wv.shape[2], wv.shape[3]
	if k < 1 || cg < 1 || r < 1 || q < 1 || int64(k)%group != 0 {
		return nil // the run reports the bad shape
	}
	return kernel.NewConvWeights(k, cg, r, q, int(group), wv.f32())
}

// convShape is the kernel geometry of a resolved 1-D or 2-D convolution
// (1-D as H=1).
func convShape(g *geometry, n, c, k, groups int) kernel.ConvShape {
	s := kernel.ConvShape{N: n, C: c, K: k, Groups: groups, H: 1, R: 1, StrideH: 1, DilH: 1}
	last := len(g.in) - 1
	if last == 1 {
		s.H, s.R, s.StrideH, s.DilH, s.PadTop, s.PadBottom = g.in[0], g.k[0], g.stride[0], g.dil[0], g.padB[0], g.padE[0]
	}
	s.W, s.S, s.StrideW, s.DilW, s.PadLeft, s.PadRight = g.in[last], g.k[last], g.stride[last], g.dil[last], g.padB[last], g.padE[last]
	return s
}

// convT runs a 1-D or 2-D convolution on the kernel package (1-D as H=1)
// and a 3-D one with direct loops; relu applies max(y, 0) after it (fused
// into the kernel's output passes in 1-D and 2-D).
func convT[T float](g *geometry, n, c, k, groups int, x, w, bias, y []T, relu bool) {
	if len(g.in) <= 2 {
		if relu {
			kernel.Conv2DReLU(convShape(g, n, c, k, groups), x, w, bias, y)
		} else {
			kernel.Conv2D(convShape(g, n, c, k, groups), x, w, bias, y)
		}
		return
	}
	conv3D(g, n, c, k, groups, x, w, bias, y)
	if relu {
		for i, v := range y {
			y[i] = max(v, 0)
		}
	}
}

// conv3D is a direct 3-D convolution; the conformance cases that need it
// are small.
func conv3D[T float](g *geometry, n, c, k, groups int, x, w, bias, y []T) {
	cg, kg := c/groups, k/groups
	id, ih, iw := g.in[0], g.in[1], g.in[2]
	kd, kh, kw := g.k[0], g.k[1], g.k[2]
	od, oh, ow := g.out[0], g.out[1], g.out[2]
	yi := 0
	for b := range n {
		for oc := range k {
			grp := oc / kg
			var b0 T
			if bias != nil {
				b0 = bias[oc]
			}
			for z := range od {
				for r := range oh {
					for s := range ow {
						acc := float64(b0)
						for ic := range cg {
							xc := x[((b*c)+grp*cg+ic)*id*ih*iw:]
							wc := w[(oc*cg+ic)*kd*kh*kw:]
							for a := range kd {
								zz := z*g.stride[0] - g.padB[0] + a*g.dil[0]
								if zz < 0 || zz >= id {
									continue
								}
								for p := range kh {
									rr := r*g.stride[1] - g.padB[1] + p*g.dil[1]
									if rr < 0 || rr >= ih {
										continue
									}
									for q := range kw {
										ss := s*g.stride[2] - g.padB[2] + q*g.dil[2]
										if ss < 0 || ss >= iw {
											continue
										}
										acc += float64(xc[(zz*ih+rr)*iw+ss]) * float64(wc[(a*kh+p)*kw+q])
									}
								}
							}
						}
						y[yi] = T(acc)
						yi++
					}
				}
			}
		}
	}
}

// bnParams reads BatchNormalization's epsilon after checking that the node
// is in inference form.
func bnEpsilon(n *Node) float64 {
	if a := n.Attr("epsilon"); a != nil {
		return float64(a.F)
	}
	return 1e-5
}

// foldBN returns conv weights and bias with the following inference-mode
// BatchNormalization folded in: w' = w*s, b' = (b-mean)*s + beta with
// s = scale/sqrt(var+eps), computed in float64.
func foldBN(c *nodeCtx, bn *Node) (*value, *value, error) {
	w := c.constInput(1)
	if w == nil || w.dt != Float {
		return nil, nil, errors.New("internal: BatchNormalization fusion needs constant float32 weights")
	}
	var b *value
	if len(c.node.Inputs) > 2 && c.node.Inputs[2] != "" {
		if b = c.constInput(2); b == nil {
			return nil, nil, errors.New("internal: BatchNormalization fusion needs a constant bias")
		}
	}
	k := w.shape[0]
	p := make([][]float32, 4)
	for i := range p {
		v := c.pb.constOf(bn.Inputs[i+1])
		if v.len() != k {
			return nil, nil, fmt.Errorf("%s: parameter %q has %d values for %d channels", bn, bn.Inputs[i+1], v.len(), k)
		}
		p[i] = v.f32()
	}
	scale, beta, mean, vr := p[0], p[1], p[2], p[3]
	eps := bnEpsilon(bn)
	per := w.len() / k
	nw := make([]float32, w.len())
	nb := make([]float32, k)
	ws := w.f32()
	for o := range k {
		s := float64(scale[o]) / math.Sqrt(float64(vr[o])+eps)
		for j := range per {
			nw[o*per+j] = float32(float64(ws[o*per+j]) * s)
		}
		b0 := 0.0
		if b != nil {
			b0 = float64(b.f32()[o])
		}
		nb[o] = float32((b0-float64(mean[o]))*s + float64(beta[o]))
	}
	return &value{dt: Float, shape: w.shape, data: nw}, &value{dt: Float, shape: []int{k}, data: nb}, nil
}

func compileBatchNorm(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(5, 5); err != nil {
		return nil, err
	}
	eps := bnEpsilon(c.node)
	momentum, err := c.float("momentum", 0.9)
	if err != nil {
		return nil, err
	}
	if sp, err := c.int("spatial", 1); err != nil || sp != 1 {
		return nil, errors.Join(err, errors.New("spatial=0 is not supported"))
	}
	training := false
	if c.opset < 7 {
		isTest, err := c.int("is_test", 0)
		if err != nil {
			return nil, err
		}
		// Legacy exports in eval mode set is_test=1; without it the node
		// would compute batch statistics.
		training = isTest == 0 && len(c.node.Outputs) > 1
	} else if c.opset >= 14 {
		tm, err := c.int("training_mode", 0)
		if err != nil {
			return nil, err
		}
		training = tm != 0
	}
	relu := c.fuse != nil && c.fuse.relu // a Relu absorbed by bnReluFusion
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		if len(x.shape) < 2 {
			return nil, fmt.Errorf("input shape %v needs a channel dim", x.shape)
		}
		ch := x.shape[1]
		for i := 1; i < 5; i++ {
			if in[i].len() != ch || in[i].dt != x.dt {
				return nil, fmt.Errorf("parameter %d has %d %v values, want %d %v", i, in[i].len(), in[i].dt, ch, x.dt)
			}
		}
		switch {
		case x.dt == Float && !training:
			return batchNormInfer32(rc, in, eps, relu)
		case x.dt == Float:
			return batchNormT[float32](rc, in, eps, float64(momentum), training)
		case x.dt == Double:
			outs, err := batchNormT[float64](rc, in, eps, float64(momentum), training)
			if err == nil && relu {
				ys := outs[0].data.([]float64)
				for i, v := range ys {
					ys[i] = max(v, 0)
				}
			}
			return outs, err
		}
		return nil, fmt.Errorf("data type %v is not supported", x.dt)
	}, nil
}

// batchNormInfer32 is inference-mode BatchNormalization of float32 data,
// followed by Relu if relu is set: each (image, channel) plane is one
// fused multiply-add pass with the channel's scale and shift (worked out
// in float64, then rounded), the planes spread over the threads.
func batchNormInfer32(rc *runCtx, in []*value, eps float64, relu bool) ([]*value, error) {
	x := in[0]
	n, ch := x.shape[0], x.shape[1]
	inner := shapeSize(x.shape[2:])
	scale, beta := in[1].f32(), in[2].f32()
	mean, vr := in[3].f32(), in[4].f32()
	s, sh := make([]float32, ch), make([]float32, ch)
	for c := range ch {
		k := float64(scale[c]) / math.Sqrt(float64(vr[c])+eps)
		s[c], sh[c] = float32(k), float32(float64(beta[c])-float64(mean[c])*k)
	}
	y, err := unaryOut(rc, in)
	if err != nil {
		return nil, err
	}
	xs, ys := x.f32(), y.f32()
	kernel.ParallelRange(n*ch, max(1, 1<<14/max(inner, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			c := p % ch
			src, dst := xs[p*inner:(p+1)*inner], ys[p*inner:(p+1)*inner]
			if relu {
				kernel.ScaleShiftReLU32(dst, src, s[c], sh[c])
			} else {
				kernel.ScaleShift32(dst, src, s[c], sh[c])
			}
		}
	})
	return []*value{y}, nil
}

func batchNormT[T float](rc *runCtx, in []*value, eps, momentum float64, training bool) ([]*value, error) {
	x := in[0]
	n, ch := x.shape[0], x.shape[1]
	inner := shapeSize(x.shape[2:])
	xs := x.data.([]T)
	scale, beta := in[1].data.([]T), in[2].data.([]T)
	mean, vr := in[3].data.([]T), in[4].data.([]T)
	useMean, useVar := make([]float64, ch), make([]float64, ch)
	for c := range ch {
		useMean[c], useVar[c] = float64(mean[c]), float64(vr[c])
	}
	var outs []*value
	if training {
		cnt := float64(n * inner)
		for c := range ch {
			var s, ss float64
			for b := range n {
				for _, v := range xs[(b*ch+c)*inner : (b*ch+c+1)*inner] {
					s += float64(v)
					ss += float64(v) * float64(v)
				}
			}
			m := s / cnt
			useMean[c], useVar[c] = m, ss/cnt-m*m
		}
		rm, err := rc.alloc(x.dt, []int{ch})
		if err != nil {
			return nil, err
		}
		rv, err := rc.alloc(x.dt, []int{ch})
		if err != nil {
			return nil, err
		}
		for c := range ch {
			rm.data.([]T)[c] = T(float64(mean[c])*momentum + useMean[c]*(1-momentum))
			rv.data.([]T)[c] = T(float64(vr[c])*momentum + useVar[c]*(1-momentum))
		}
		outs = []*value{nil, rm, rv}
	}
	y, err := unaryOut(rc, in)
	if err != nil {
		return nil, err
	}
	ys := y.data.([]T)
	for c := range ch {
		s := float64(scale[c]) / math.Sqrt(useVar[c]+eps)
		sh := float64(beta[c]) - useMean[c]*s
		for b := range n {
			o := (b*ch + c) * inner
			for i, v := range xs[o : o+inner] {
				ys[o+i] = T(float64(v)*s + sh)
			}
		}
	}
	if outs == nil {
		return []*value{y}, nil
	}
	outs[0] = y
	return outs, nil
}
