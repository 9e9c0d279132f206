package kernel

import "math"

// The filter gradient of a 3×3 stride-1 convolution through Winograd
// F(4×4, 3×3). The forward pass computes each 4×4 output tile as
// Aᵀ·M·A with M = Σ_c U_c ⊙ V_c, U = G·g·Gᵀ and V = Bᵀ·d·B. Differentiating
// that identity, with e the tile's output gradient (zero past the output's
// edge):
//
//	∂L/∂M = A·e·Aᵀ =: E           (6×6, the adjoint of the output transform)
//	∂L/∂U_kc = Σ_tiles E_k ⊙ V_c  (36 matrix products, K×C, over the tiles)
//	∂L/∂g_kc = Gᵀ·(∂L/∂U_kc)·G
//
// The middle step is 36 products with the tiles as their inner dimension:
// 36·K·C multiply-adds per tile where the direct correlation needs
// 16·9·K·C, 4× fewer. The inputs are transformed by the forward pass's
// vector code; E is written straight into the micro-kernel's packed B
// layout, and V's rows (one per channel, a block's tiles contiguous) are
// packed as A panels, so the products accumulate ∂L/∂Uᵀ (C×K).

// WinogradBackwardFilterSuits reports whether the filter gradient of s is
// computed faster by WinogradBackwardFilter than by Conv2DBackwardFilter: a
// geometry Winograd handles with at least 16 input and output channels.
// BenchmarkWinogradBackwardFilter: Conv-4's 64-channel layers at batch 80
// take 1.4–2 × less time, its 3-channel first layer 1.3 × more (the
// products are too thin to pay for the transforms).
func WinogradBackwardFilterSuits(s ConvShape) bool {
	return winogradShape(s) && s.C >= 16 && s.K >= 16
}

// WinogradBackwardFilter computes dw ([K, C, 3, 3]), the gradient of the
// convolution s with respect to its weights, from its input x and output
// gradient dy ([N, K, OutH, OutW]), summed over the batch; it overwrites dw.
// s must be a float32 3×3 convolution with unit strides and dilations and
// one group (see WinogradSuits). Like the forward Winograd convolution it
// rounds a little worse than a direct sum.
//
// The batch's tile blocks are cut into one fixed run per thread, each summed
// on its own and the runs added in order, so a given thread count always
// gives the same bits.
//
// It panics if s does not fit or a slice is too short.
func WinogradBackwardFilter(s ConvShape, x, dy, dw []float32) {
	if !winogradShape(s) {
		panic("kernel: WinogradBackwardFilter: needs a valid 3×3 convolution with unit stride and dilation and one group")
	}
	oh, ow := s.OutH(), s.OutW()
	need("WinogradBackwardFilter", "x", len(x), s.N*s.C*s.H*s.W)
	need("WinogradBackwardFilter", "dy", len(dy), s.N*s.K*oh*ow)
	need("WinogradBackwardFilter", "dw", len(dw), s.K*s.C*9)
	if int64(s.C)*int64(s.H*s.W)*2 > math.MaxInt32 || int64(s.K)*int64(oh*ow)*2 > math.MaxInt32 {
		panic("kernel: WinogradBackwardFilter: images too large for 32-bit lane offsets")
	}
	g := winoGeom{s: s, oh: oh, ow: ow, yh: oh, yw: ow}
	g.th, g.tw = (oh+3)/4, (ow+3)/4
	g.tiles = s.N * g.th * g.tw
	blocks := (g.tiles + winoBlock - 1) / winoBlock
	p := newWinoGradPlan(s.C, s.K)

	runs := min(Threads(), blocks)
	acc := make([][]float32, runs)
	holders := make([]*scratch, runs)
	for r := range acc {
		holders[r], acc[r] = getScratch[float32](p.accLen)
		clear(acc[r])
	}
	defer func() {
		for _, sp := range holders {
			putScratch(sp)
		}
	}()
	bufs := newBatchBufs[float32](runs, p.bufLen)
	defer bufs.release()
	parallelFor(runs, runs, func(r, worker int) {
		buf, used := bufs.get(worker)
		if !used {
			// E's padding columns (channels K .. kPad) are never written:
			// zero once, so that the padded products stay finite.
			clear(buf)
		}
		for b := blocks * r / runs; b < blocks*(r+1)/runs; b++ {
			p.block(&g, b*winoBlock, x, dy, acc[r], buf)
		}
	})
	p.filters(acc, dw)
}

// winoGradPlan holds the sizes of the filter gradient's buffers.
type winoGradPlan struct {
	c, k       int
	uk         *microKernel[float32]
	cPad, kPad int // c rounded up to mr, k to nr
	vXi, eXi   int // distances between the block's 36 V and E matrices
	accLen     int // 36 accumulated C×K products, row stride kPad
	bufLen     int // V, E and one packed A block
}

func newWinoGradPlan(c, k int) *winoGradPlan {
	uk := sgemmKernel
	p := &winoGradPlan{c: c, k: k, uk: uk}
	p.cPad = (c + uk.mr - 1) / uk.mr * uk.mr
	p.kPad = (k + uk.nr - 1) / uk.nr * uk.nr
	p.vXi = c*winoBlock + winoSkew
	p.eXi = p.kPad*winoBlock + winoSkew
	p.accLen = 36 * p.cPad * p.kPad
	p.bufLen = 36*p.vXi + 36*p.eXi + p.cPad*winoBlock
	return p
}

// block adds the products of the winoBlock tiles from tile t0 to acc.
func (p *winoGradPlan) block(g *winoGeom, t0 int, x, dy, acc, buf []float32) {
	s := &g.s
	uk := p.uk
	mr, nr := uk.mr, uk.nr
	v := buf[:36*p.vXi]
	e := buf[36*p.vXi : 36*p.vXi+36*p.eXi]
	pa := buf[36*p.vXi+36*p.eXi:]
	n0 := t0 / (g.th * g.tw)
	xb := x[n0*s.C*s.H*s.W:]
	dyb := dy[n0*s.K*g.oh*g.ow:]
	groups := min(winoBlock/16, (g.tiles-t0+15)/16)
	var l winoLanes
	for gi := 0; gi < groups; gi++ {
		g.lanes(&l, t0+16*gi, n0)
		// One panel winoBlock wide: V_ξ is a plain C×winoBlock matrix.
		winoInput(v, p.vXi, 16*gi, winoBlock, s.C, xb, &l, s.H*s.W, s.W)
		winoOutputAdjoint(e, p.eXi, 16*gi, nr, dyb, &l, s.K, g.oh*g.ow, g.ow)
	}
	// Lanes past the last tile hold zeros in both V and E; the depth
	// stops at the last lane group.
	depth := 16 * groups
	lastCols := p.k - (p.kPad - nr) // columns of the last panel that matter
	for xi := 0; xi < 36; xi++ {
		packA(pa, uk, v[xi*p.vXi:], winoBlock, false, 0, s.C, 0, depth)
		ex := e[xi*p.eXi:]
		ax := acc[xi*p.cPad*p.kPad:]
		for ip := 0; ip < p.cPad; ip += mr {
			a := pa[ip*depth : (ip+mr)*depth]
			for jp := 0; jp < p.kPad; jp += nr {
				b := ex[jp*winoBlock : jp*winoBlock+depth*nr]
				c := ax[ip*p.kPad+jp:]
				if jp+nr == p.kPad && lastCols < nr && lastCols%16 == 0 && uk.narrow != nil {
					uk.narrow(lastCols, depth, a, b, c, p.kPad, 1, 1)
				} else {
					uk.fn(depth, a, b, c, p.kPad, 1, 1)
				}
			}
		}
	}
}

// filters adds the runs' accumulated ∂L/∂Uᵀ in order and writes
// dw[k][c] = Gᵀ·(∂L/∂U_kc)·G, in float64.
func (p *winoGradPlan) filters(acc [][]float32, dw []float32) {
	stride := p.cPad * p.kPad
	for c := 0; c < p.c; c++ {
		for k := 0; k < p.k; k++ {
			var du [6][6]float64
			for xi := 0; xi < 36; xi++ {
				var sum float64
				for _, a := range acc {
					sum += float64(a[xi*stride+c*p.kPad+k])
				}
				du[xi/6][xi%6] = sum
			}
			var t [3][6]float64 // Gᵀ·dU
			for i := 0; i < 3; i++ {
				for q := 0; q < 6; q++ {
					var sum float64
					for r := 0; r < 6; r++ {
						sum += winoG[r][i] * du[r][q]
					}
					t[i][q] = sum
				}
			}
			out := dw[(k*p.c+c)*9 : (k*p.c+c)*9+9]
			for i := 0; i < 3; i++ {
				for j := 0; j < 3; j++ {
					var sum float64
					for q := 0; q < 6; q++ {
						sum += t[i][q] * winoG[q][j]
					}
					out[i*3+j] = float32(sum)
				}
			}
		}
	}
}

// eIndex is the position in a block's packed E matrices (B panels nr wide,
// winoBlock deep) of output channel k and block column t.
func eIndex(t, k, nr int) int { return (k/nr)*winoBlock*nr + t*nr + k%nr }

// winoAdjointA returns A·e for one column e of an output-gradient tile: the
// adjoint of winoAT.
func winoAdjointA(e [4]float32) [6]float32 {
	p, q := e[0]+e[2], e[1]+e[3]
	r, s := e[0]+4*e[2], 2*e[1]+8*e[3]
	return [6]float32{e[0], p + q, p - q, r + s, r - s, e[3]}
}

// winoOutputAdjointGo writes E = A·e·Aᵀ for the 16 tiles of l and output
// channels [0, nk): e is lane ℓ's 4×4 tile of dy, element (a, b) at
// dy[l.out[ℓ] + k*plane + a*w + b] where l.outMask allows it and zero
// elsewhere; element ξ of E goes to e[ξ*eXi + eIndex(col0+ℓ, k, nr)].
// Lanes without a tile get zeros.
func winoOutputAdjointGo(e []float32, eXi, col0, nr int, dy []float32, l *winoLanes, nk, plane, w int) {
	for k := 0; k < nk; k++ {
		for lane := 0; lane < 16; lane++ {
			bit := uint16(1) << lane
			base := int(l.out[lane]) + k*plane
			var h [4][6]float32 // rows of e times Aᵀ
			for a := 0; a < 4; a++ {
				var row [4]float32
				for b := 0; b < 4; b++ {
					if l.outMask[a*4+b]&bit != 0 {
						row[b] = dy[base+a*w+b]
					}
				}
				h[a] = winoAdjointA(row)
			}
			at := eIndex(col0+lane, k, nr)
			for q := 0; q < 6; q++ {
				col := winoAdjointA([4]float32{h[0][q], h[1][q], h[2][q], h[3][q]})
				for r := 0; r < 6; r++ {
					e[(r*6+q)*eXi+at] = col[r]
				}
			}
		}
	}
}
