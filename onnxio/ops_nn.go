package onnxio

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

func init() {
	poolAttrs := []string{"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides"}
	opTable["MaxPool"] = opDef{compile: compilePool(true), attrs: append(slices.Clone(poolAttrs), "storage_order")}
	opTable["AveragePool"] = opDef{compile: compilePool(false), attrs: append(slices.Clone(poolAttrs), "count_include_pad")}
	opTable["GlobalAveragePool"] = opDef{compile: compileGlobalAveragePool}
	opTable["LRN"] = opDef{compile: compileLRN, attrs: []string{"alpha", "beta", "bias", "size"}}
	opTable["Gemm"] = opDef{compile: compileGemm, attrs: []string{"alpha", "beta", "transA", "transB", "broadcast"}}
	opTable["MatMul"] = opDef{compile: compileMatMul}
	opTable["Softmax"] = opDef{compile: compileSoftmax(false), attrs: []string{"axis"}}
	opTable["LogSoftmax"] = opDef{compile: compileSoftmax(true), attrs: []string{"axis"}}
	opTable["ReduceSum"] = opDef{compile: compileReduce(false, 13), attrs: []string{"axes", "keepdims", "noop_with_empty_axes"}}
	opTable["ReduceMean"] = opDef{compile: compileReduce(true, 18), attrs: []string{"axes", "keepdims", "noop_with_empty_axes"}}
}

func compilePool(isMax bool) func(c *nodeCtx) (opFunc, error) {
	return func(c *nodeCtx) (opFunc, error) {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
		w, err := readWindow(c, true)
		if err != nil {
			return nil, err
		}
		ceil, err := c.int("ceil_mode", 0)
		if err != nil {
			return nil, err
		}
		storage, err := c.int("storage_order", 0)
		if err != nil {
			return nil, err
		}
		cip, err := c.int("count_include_pad", 0)
		if err != nil {
			return nil, err
		}
		wantIdx := isMax && len(c.node.Outputs) > 1 && c.node.Outputs[1] != ""
		return func(rc *runCtx, in []*value) ([]*value, error) {
			x := in[0]
			if len(x.shape) < 3 {
				return nil, fmt.Errorf("input shape %v has no spatial dims", x.shape)
			}
			geo, err := w.resolve(x.shape[2:], nil, ceil != 0)
			if err != nil {
				return nil, err
			}
			oshape := append(slices.Clone(x.shape[:2]), geo.out...)
			if err := rc.charge(mulSat64(mulSat(oshape...), mulSat(geo.k...))); err != nil {
				return nil, err
			}
			out, err := rc.alloc(x.dt, oshape)
			if err != nil {
				return nil, err
			}
			planes := x.shape[0] * x.shape[1]
			if xs, ok := x.data.([]float32); ok && !wantIdx && isPlain2x2(geo) {
				pool2x2(xs, out.f32(), planes, geo.in[0], geo.in[1], geo.out[0], geo.out[1], !isMax)
				return []*value{out}, nil
			}
			// The kernel package handles float 1-D/2-D pooling without indices.
			if len(geo.in) <= 2 && !wantIdx {
				if ps, ok := kernelPool(geo, planes); ok {
					switch xs := x.data.(type) {
					case []float32:
						poolKernel(ps, isMax, cip != 0, xs, out.f32())
						return []*value{out}, nil
					case []float64:
						poolKernel(ps, isMax, cip != 0, xs, out.data.([]float64))
						return []*value{out}, nil
					}
				}
			}
			var idx []int64
			if wantIdx {
				idx = make([]int64, shapeSize(oshape))
			}
			switch xs := x.data.(type) {
			case []float32:
				poolND(geo, planes, isMax, cip != 0, xs, out.f32(), idx)
			case []float64:
				poolND(geo, planes, isMax, cip != 0, xs, out.data.([]float64), idx)
			case []uint8:
				if !isMax {
					return nil, errors.New("AveragePool on uint8 is not supported")
				}
				poolND(geo, planes, isMax, false, xs, out.data.([]uint8), idx)
			case []int8:
				if !isMax {
					return nil, errors.New("AveragePool on int8 is not supported")
				}
				poolND(geo, planes, isMax, false, xs, out.data.([]int8), idx)
			default:
				return nil, fmt.Errorf("data type %v is not supported", x.dt)
			}
			if !wantIdx {
				return []*value{out}, nil
			}
			if storage == 1 {
				colMajorIndices(idx, x.shape[2:])
			}
			return []*value{out, {dt: Int64, shape: oshape, data: idx}}, nil
		}, nil
	}
}

// isPlain2x2 reports a 2×2 window with stride 2, no padding or dilation:
// the pooling of Conv-4 style networks, which has a fast path.
func isPlain2x2(g *geometry) bool {
	if len(g.in) != 2 {
		return false
	}
	for d := range 2 {
		if g.k[d] != 2 || g.stride[d] != 2 || g.dil[d] != 1 || g.padB[d] != 0 || g.padE[d] != 0 || g.out[d] != g.in[d]/2 {
			return false
		}
	}
	return true
}

// pool2x2 is MaxPool (or AveragePool when avg is set) for isPlain2x2
// geometries, the planes over the kernel's threads. The max builtin
// propagates NaN like MaxPool. Without padding every average is of four elements, added
// in the order of the general loop (kernel.AvgPool2D) and divided by 4,
// which gives the same bits.
func pool2x2(x, y []float32, planes, h, w, oh, ow int, avg bool) {
	parallelRange(planes, oh*ow*4, func(lo, hi int) {
		for p := lo; p < hi; p++ {
			xp := x[p*h*w : (p+1)*h*w]
			yp := y[p*oh*ow : (p+1)*oh*ow]
			for r := range oh {
				r0 := xp[2*r*w : 2*r*w+2*ow]
				r1 := xp[(2*r+1)*w : (2*r+1)*w+2*ow]
				yr := yp[r*ow : (r+1)*ow]
				for c := range yr {
					if avg {
						yr[c] = (r0[2*c] + r0[2*c+1] + r1[2*c] + r1[2*c+1]) / 4
					} else {
						yr[c] = max(r0[2*c], r0[2*c+1], r1[2*c], r1[2*c+1])
					}
				}
			}
		}
	})
}

// parallelRange splits [0, n) over the kernel package's worker crew when
// the total work (n*cost element visits) is big enough to pay for it.
func parallelRange(n, cost int, fn func(lo, hi int)) {
	if n*cost < 1<<16 {
		fn(0, n)
		return
	}
	kernel.ParallelRange(n, 1, fn)
}

// kernelPool maps a 1-D or 2-D geometry onto the kernel's PoolShape.
func kernelPool(g *geometry, planes int) (kernel.PoolShape, bool) {
	p := kernel.PoolShape{N: 1, C: planes, H: 1, KH: 1, StrideH: 1, DilH: 1}
	last := len(g.in) - 1
	if last == 1 {
		p.H, p.KH, p.StrideH, p.DilH, p.PadTop, p.PadBottom = g.in[0], g.k[0], g.stride[0], g.dil[0], g.padB[0], g.padE[0]
	}
	p.W, p.KW, p.StrideW, p.DilW, p.PadLeft, p.PadRight = g.in[last], g.k[last], g.stride[last], g.dil[last], g.padB[last], g.padE[last]
	// Use the kernel only when it computes the same output size.
	ceil := p
	ceil.CeilMode = true
	for _, cand := range []kernel.PoolShape{p, ceil} {
		if cand.Validate() == nil && cand.OutW() == g.out[last] && (last == 0 || cand.OutH() == g.out[0]) {
			return cand, true
		}
	}
	return p, false
}

func poolKernel[T float](p kernel.PoolShape, isMax, countPad bool, x, y []T) {
	if isMax {
		kernel.MaxPool2DValues(p, x, y)
		return
	}
	kernel.AvgPool2D(p, countPad, x, y)
}

// poolND pools N-D planes with direct loops. idx, when non-nil, receives the
// flat input index (plane offset included) of each maximum.
func poolND[T number](g *geometry, planes int, isMax, countPad bool, x, y []T, idx []int64) {
	nd := len(g.in)
	inSize, outSize := shapeSize(g.in), shapeSize(g.out)
	pos := make([]int, nd)
	tap := make([]int, nd)
	for pl := range planes {
		xp := x[pl*inSize : (pl+1)*inSize]
		clear(pos)
		for o := range outSize {
			best, bestIdx := T(0), -1
			sum, cnt, padCnt := 0.0, 0, 0
			clear(tap)
			for {
				inside, off := true, 0
				inPad := true
				for d := range nd {
					p := pos[d]*g.stride[d] - g.padB[d] + tap[d]*g.dil[d]
					if p < 0 || p >= g.in[d] {
						inside = false
						// Taps past the end padding (ceil mode) never count.
						if p >= g.in[d]+g.padE[d] {
							inPad = false
						}
					}
					off = off*g.in[d] + p
				}
				if inside {
					v := xp[off]
					if isMax {
						if bestIdx < 0 || v > best || v != v {
							best, bestIdx = v, off
						}
					} else {
						sum += float64(v)
						cnt++
					}
				} else if inPad {
					padCnt++
				}
				d := nd - 1
				for ; d >= 0; d-- {
					if tap[d]++; tap[d] < g.k[d] {
						break
					}
					tap[d] = 0
				}
				if d < 0 {
					break
				}
			}
			switch {
			case isMax:
				if bestIdx < 0 {
					best = lowest[T]()
				}
				y[pl*outSize+o] = best
				if idx != nil {
					idx[pl*outSize+o] = int64(pl*inSize + bestIdx)
				}
			case countPad && cnt+padCnt > 0:
				y[pl*outSize+o] = T(sum / float64(cnt+padCnt))
			case cnt > 0:
				y[pl*outSize+o] = T(sum / float64(cnt))
			default:
				y[pl*outSize+o] = 0
			}
			for d := nd - 1; d >= 0; d-- {
				if pos[d]++; pos[d] < g.out[d] {
					break
				}
				pos[d] = 0
			}
		}
	}
}

func lowest[T number]() T {
	var z T
	switch any(z).(type) {
	case float32, float64:
		inf := math.Inf(-1)
		return T(inf)
	case int8:
		var m any = int8(math.MinInt8)
		return m.(T)
	}
	return 0 // unsigned
}

// colMajorIndices rewrites plane-relative row-major indices as column-major
// ones (storage_order=1), keeping the plane offset.
func colMajorIndices(idx []int64, spatial []int) {
	size := int64(shapeSize(spatial))
	for i, v := range idx {
		plane, r := v/size, v%size
		coords := make([]int64, len(spatial))
		for d := len(spatial) - 1; d >= 0; d-- {
			coords[d] = r % int64(spatial[d])
			r /= int64(spatial[d])
		}
		var cm, mul int64 = 0, 1
		for d := range spatial {
			cm += coords[d] * mul
			mul *= int64(spatial[d])
		}
		idx[i] = plane*size + cm
	}
}

func compileGlobalAveragePool(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(1, 1); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		if len(x.shape) < 3 {
			return nil, fmt.Errorf("input shape %v has no spatial dims", x.shape)
		}
		oshape := slices.Clone(x.shape)
		for i := 2; i < len(oshape); i++ {
			oshape[i] = 1
		}
		out, err := rc.alloc(x.dt, oshape)
		if err != nil {
			return nil, err
		}
		inner := shapeSize(x.shape[2:])
		switch xs := x.data.(type) {
		case []float32:
			planeMeans32(xs, out.f32(), inner)
		case []float64:
			planeMeans(xs, out.data.([]float64), inner)
		default:
			return nil, fmt.Errorf("data type %v is not supported", x.dt)
		}
		return []*value{out}, nil
	}, nil
}

// planeSums32 sets y[p] to the sum of x[p*inner:(p+1)*inner] divided by
// div (accumulated in float64, as reduceT and planeMeans do), with the kernel's vector sums, over the
// threads when there is enough to share: global pooling and ReduceMean
// over the spatial axes at the end of a network, or in its
// squeeze-and-excitation blocks.
func planeSums32(x, y []float32, inner int, div float64) {
	kernel.ParallelRange(len(y), max(1, 1<<15/max(inner, 1)), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			s := kernel.Sum32(x[p*inner : (p+1)*inner])
			if div != 1 {
				s /= div
			}
			y[p] = float32(s)
		}
	})
}

func planeMeans32(x, y []float32, inner int) { planeSums32(x, y, inner, float64(inner)) }

func planeMeans[T float](x, y []T, inner int) {
	for p := range y {
		s := 0.0
		for _, v := range x[p*inner : (p+1)*inner] {
			s += float64(v)
		}
		y[p] = T(s / float64(inner))
	}
}

func compileLRN(c *nodeCtx) (opFunc, error) {
	alpha, err1 := c.float("alpha", 1e-4)
	beta, err2 := c.float("beta", 0.75)
	bias, err3 := c.float("bias", 1)
	size, err4 := c.int("size", 0)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	if size < 1 {
		return nil, errors.New("size attribute must be positive")
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		xs, ok := x.data.([]float32)
		if !ok || len(x.shape) < 3 {
			return nil, fmt.Errorf("want float32 input with spatial dims, got %v %v", x.dt, x.shape)
		}
		if err := rc.charge(mulSat(x.len(), int(size))); err != nil {
			return nil, err
		}
		out, err := rc.alloc(Float, x.shape)
		if err != nil {
			return nil, err
		}
		n, ch, inner := x.shape[0], x.shape[1], shapeSize(x.shape[2:])
		lo, hi := int(size-1)/2, int(size)/2 // channel window [c-lo, c+hi]
		ys := out.f32()
		for b := range n {
			base := b * ch * inner
			for c := range ch {
				c0, c1 := max(0, c-lo), min(ch-1, c+hi)
				for i := range inner {
					ss := 0.0
					for cc := c0; cc <= c1; cc++ {
						v := float64(xs[base+cc*inner+i])
						ss += v * v
					}
					d := math.Pow(float64(bias)+float64(alpha)/float64(size)*ss, float64(beta))
					ys[base+c*inner+i] = float32(float64(xs[base+c*inner+i]) / d)
				}
			}
		}
		return []*value{out}, nil
	}, nil
}

func compileGemm(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(2, 3); err != nil {
		return nil, err
	}
	alpha, err1 := c.float("alpha", 1)
	beta, err2 := c.float("beta", 1)
	ta, err3 := c.int("transA", 0)
	tb, err4 := c.int("transB", 0)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		a, b := in[0], in[1]
		var cv *value
		if len(in) > 2 {
			cv = in[2]
		}
		if len(a.shape) != 2 || len(b.shape) != 2 {
			return nil, fmt.Errorf("A %v and B %v must be matrices", a.shape, b.shape)
		}
		m, k := a.shape[0], a.shape[1]
		if ta != 0 {
			m, k = k, m
		}
		kb, n := b.shape[0], b.shape[1]
		if tb != 0 {
			kb, n = n, kb
		}
		if k != kb {
			return nil, fmt.Errorf("A %v and B %v do not multiply (transA=%d, transB=%d)", a.shape, b.shape, ta, tb)
		}
		if a.dt != b.dt || (cv != nil && cv.dt != a.dt) {
			return nil, errors.New("input types differ")
		}
		if err := rc.charge(mulSat(m, n, k)); err != nil {
			return nil, err
		}
		out, err := rc.alloc(a.dt, []int{m, n})
		if err != nil {
			return nil, err
		}
		switch as := a.data.(type) {
		case []float32:
			err = gemmT(ta != 0, tb != 0, m, n, k, alpha, as, b.data.([]float32), beta, cv, out.f32())
		case []float64:
			err = gemmT(ta != 0, tb != 0, m, n, k, float64(alpha), as, b.data.([]float64), float64(beta), cv, out.data.([]float64))
		default:
			err = fmt.Errorf("data type %v is not supported", a.dt)
		}
		if err != nil {
			return nil, err
		}
		return []*value{out}, nil
	}, nil
}

func gemmT[T float](ta, tb bool, m, n, k int, alpha T, a, b []T, beta T, cv *value, y []T) error {
	lda, ldb := k, n
	if ta {
		lda = m
	}
	if tb {
		ldb = k
	}
	if cv == nil || beta == 0 {
		clear(y)
		beta = 0
	} else {
		if _, err := broadcastShapes([]int{m, n}, cv.shape); err != nil || len(cv.shape) > 2 {
			return fmt.Errorf("C %v does not broadcast to [%d %d]", cv.shape, m, n)
		}
		bcast(y, []int{m, n}, y, []int{m, n}, cv.data.([]T), cv.shape, func(_, c T) T { return c })
	}
	if m*n == 0 {
		return nil
	}
	if k == 0 {
		for i := range y {
			y[i] *= beta
		}
		return nil
	}
	kernel.Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y, n)
	return nil
}

func compileMatMul(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(2, 2); err != nil {
		return nil, err
	}
	// Constant float32 weights (a Linear layer's) are packed once for the
	// GEMM; the packed copy is about their size, which the initializer
	// limit bounds.
	var packed *kernel.PackedB
	if w := c.constInput(1); w != nil && w.dt == Float && len(w.shape) == 2 && w.shape[0] > 0 && w.shape[1] > 0 {
		packed = kernel.NewPackedB(w.shape[0], w.shape[1], w.f32(), w.shape[1])
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		a, b := in[0], in[1]
		if a.dt != b.dt {
			return nil, errors.New("input types differ")
		}
		if len(a.shape) == 0 || len(b.shape) == 0 {
			return nil, errors.New("MatMul inputs must have at least one dim")
		}
		as, bs := a.shape, b.shape
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		m, k := as[len(as)-2], as[len(as)-1]
		kb, n := bs[len(bs)-2], bs[len(bs)-1]
		if k != kb {
			return nil, fmt.Errorf("shapes %v and %v do not multiply", a.shape, b.shape)
		}
		batch, err := broadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
		if err != nil {
			return nil, err
		}
		oshape := append(slices.Clone(batch), m, n)
		// Drop the dims that were added for 1-D operands.
		final := slices.Clone(batch)
		if len(a.shape) > 1 {
			final = append(final, m)
		}
		if len(b.shape) > 1 {
			final = append(final, n)
		}
		if err := rc.charge(mulSat(shapeSize(batch), m, n, k)); err != nil {
			return nil, err
		}
		out, err := rc.alloc(a.dt, oshape)
		if err != nil {
			return nil, err
		}
		out.shape = final
		switch ad := a.data.(type) {
		case []float32:
			if packed != nil && len(b.shape) == 2 && shapeSize(as[:len(as)-2]) == shapeSize(batch) && m*n > 0 {
				// A batch of A against the one packed B: one tall product.
				packed.Gemm(shapeSize(batch)*m, ad, k, out.f32(), n)
				break
			}
			matmulT(ad, b.data.([]float32), out.f32(), as, bs, batch, m, n, k)
		case []float64:
			matmulT(ad, b.data.([]float64), out.data.([]float64), as, bs, batch, m, n, k)
		default:
			return nil, fmt.Errorf("data type %v is not supported", a.dt)
		}
		return []*value{out}, nil
	}, nil
}

// matmulT multiplies broadcast batches of matrices with the kernel GEMM.
func matmulT[T float](a, b, y []T, as, bs, batch []int, m, n, k int) {
	if m*n == 0 {
		return
	}
	if k == 0 {
		clear(y)
		return
	}
	nb := shapeSize(batch)
	// A batch of A against one B is a single tall product.
	if len(bs) == 2 && shapeSize(as[:len(as)-2]) == nb {
		kernel.Gemm(false, false, nb*m, n, k, 1, a, k, b, n, 0, y, n)
		return
	}
	sa := bcastStrides(as[:len(as)-2], batch)
	sb := bcastStrides(bs[:len(bs)-2], batch)
	idx := make([]int, len(batch))
	offA, offB, offC := make([]int, nb), make([]int, nb), make([]int, nb)
	for i := range nb {
		oa, ob := 0, 0
		for d := range batch {
			oa += idx[d] * sa[d]
			ob += idx[d] * sb[d]
		}
		offA[i], offB[i], offC[i] = oa*m*k, ob*k*n, i*m*n
		for d := len(batch) - 1; d >= 0; d-- {
			if idx[d]++; idx[d] < batch[d] {
				break
			}
			idx[d] = 0
		}
	}
	kernel.GemmBatch(m, n, k, 1, a, k, offA, b, n, offB, 0, y, n, offC)
}

func compileSoftmax(logOut bool) func(c *nodeCtx) (opFunc, error) {
	return func(c *nodeCtx) (opFunc, error) {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
		def := int64(-1)
		if c.opset < 13 {
			def = 1
		}
		axis, err := c.int("axis", def)
		if err != nil {
			return nil, err
		}
		return func(rc *runCtx, in []*value) ([]*value, error) {
			x := in[0]
			ax, err := normAxis(int(axis), len(x.shape))
			if err != nil && (len(x.shape) > 0 || c.opset >= 13) {
				// A scalar is a one-element softmax only in the coerced
				// 2-D form before opset 13; from 13 the axis must exist.
				return nil, err
			}
			var outer, n, inner int
			if c.opset < 13 {
				// Coerce to 2-D at axis: softmax over everything from axis on.
				outer, n, inner = shapeSize(x.shape[:ax]), shapeSize(x.shape[ax:]), 1
			} else {
				outer, n, inner = shapeSize(x.shape[:ax]), x.shape[ax], shapeSize(x.shape[ax+1:])
			}
			out, err := unaryOut(rc, in)
			if err != nil {
				return nil, err
			}
			switch xs := x.data.(type) {
			case []float32:
				if inner == 1 {
					softmaxRows32(xs, out.f32(), outer, n, logOut)
					break
				}
				softmaxT(xs, out.f32(), outer, n, inner, logOut)
			case []float64:
				softmaxT(xs, out.data.([]float64), outer, n, inner, logOut)
			default:
				return nil, fmt.Errorf("data type %v is not supported", x.dt)
			}
			return []*value{out}, nil
		}, nil
	}
}

// softmaxT normalizes each run of n elements spaced inner apart.
// softmaxRows32 is softmaxT for float32 rows of n contiguous elements
// (inner = 1, the usual last-axis softmax, attention's included): the
// exponentials in float32 on the vector kernel, each computed once, rows
// shared out over the threads. The sums are float64.
func softmaxRows32(x, y []float32, rows, n int, logOut bool) {
	if n == 0 {
		return
	}
	kernel.ParallelRange(rows, max(1, 16384/n), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			xr, yr := x[r*n:(r+1)*n], y[r*n:(r+1)*n]
			mx := xr[0]
			for _, v := range xr[1:] {
				mx = max(mx, v)
			}
			s := kernel.ExpShiftedSum32(yr, xr, mx)
			if logOut {
				kernel.ScaleShift32(yr, xr, 1, float32(-(float64(mx) + math.Log(s))))
			} else {
				kernel.ScaleShift32(yr, yr, float32(1/s), 0)
			}
		}
	})
}

func softmaxT[T float](x, y []T, outer, n, inner int, logOut bool) {
	for o := range outer {
		for i := range inner {
			base := o*n*inner + i
			mx := math.Inf(-1)
			for j := range n {
				mx = max(mx, float64(x[base+j*inner]))
			}
			s := 0.0
			for j := range n {
				s += math.Exp(float64(x[base+j*inner]) - mx)
			}
			ls := math.Log(s)
			for j := range n {
				v := float64(x[base+j*inner]) - mx
				if logOut {
					y[base+j*inner] = T(v - ls)
				} else {
					y[base+j*inner] = T(math.Exp(v) / s)
				}
			}
		}
	}
}

func compileReduce(mean bool, axesInputFrom int) func(c *nodeCtx) (opFunc, error) {
	return func(c *nodeCtx) (opFunc, error) {
		if err := c.nIn(1, 2); err != nil {
			return nil, err
		}
		keep, err1 := c.int("keepdims", 1)
		noop, err2 := c.int("noop_with_empty_axes", 0)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		getAxes, err := axesArg(c, axesInputFrom)
		if err != nil {
			return nil, err
		}
		return func(rc *runCtx, in []*value) ([]*value, error) {
			x := in[0]
			axes, err := getAxes(in)
			if err != nil {
				return nil, err
			}
			if len(axes) == 0 && noop != 0 {
				return []*value{rc.alias(x, x.shape)}, nil
			}
			red := make([]bool, len(x.shape))
			for _, a := range axes {
				ax, err := normAxis(a, len(x.shape))
				if err != nil {
					return nil, err
				}
				red[ax] = true
			}
			if len(axes) == 0 {
				for i := range red {
					red[i] = true
				}
			}
			kept := make([]int, len(x.shape)) // x shape with reduced dims set to 1
			var oshape []int
			for i, d := range x.shape {
				kept[i] = d
				if red[i] {
					kept[i] = 1
					if keep != 0 {
						oshape = append(oshape, 1)
					}
				} else {
					oshape = append(oshape, d)
				}
			}
			if oshape == nil {
				oshape = []int{}
			}
			out, err := rc.alloc(x.dt, oshape)
			if err != nil {
				return nil, err
			}
			cnt := 1
			for i, d := range x.shape {
				if red[i] {
					cnt *= d
				}
			}
			switch xs := x.data.(type) {
			case []float32:
				if trailingAxes(red) { // contiguous runs of cnt
					div := 1.0
					if mean {
						div = float64(cnt)
					}
					planeSums32(xs, out.f32(), cnt, div)
					break
				}
				reduceT(xs, out.f32(), x.shape, kept, cnt, mean)
			case []float64:
				reduceT(xs, out.data.([]float64), x.shape, kept, cnt, mean)
			case []int64:
				reduceT(xs, out.data.([]int64), x.shape, kept, cnt, mean)
			case []int32:
				reduceT(xs, out.data.([]int32), x.shape, kept, cnt, mean)
			default:
				return nil, fmt.Errorf("data type %v is not supported", x.dt)
			}
			return []*value{out}, nil
		}, nil
	}
}

// trailingAxes reports whether the reduced axes (red[i] for axis i) are
// the last ones of the shape.
func trailingAxes(red []bool) bool {
	for i, r := range red {
		if r && slices.Contains(red[i:], false) {
			return false
		}
	}
	return true
}

// reduceT sums (or averages) x over the dims where kept is 1 and shape is
// not, accumulating in float64.
func reduceT[T number](x, y []T, shape, kept []int, cnt int, mean bool) {
	acc := make([]float64, len(y))
	st := bcastStrides(kept, shape)
	idx := make([]int, len(shape))
	off := 0
	for _, v := range x {
		acc[off] += float64(v)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			off += st[d]
			if idx[d] < shape[d] {
				break
			}
			off -= st[d] * shape[d]
			idx[d] = 0
		}
	}
	for i, s := range acc {
		if mean {
			s /= float64(cnt)
		}
		y[i] = T(s)
	}
}
