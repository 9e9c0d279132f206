//go:build !purego

package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gridLanes puts 16 output tiles of side×side at distinct grid positions of
// an h×w plane (the last row and column may hang over), as the convolution
// does: scatters of different lanes then never collide.
func gridLanes(rng *rand.Rand, h, w, side int) (offs [16]int32, masks []uint16) {
	masks = make([]uint16, side*side)
	th, tw := (h+side-1)/side, (w+side-1)/side
	cells := rng.Perm(th * tw)
	for lane := 0; lane < 16; lane++ {
		y0, x0 := cells[lane]/tw*side, cells[lane]%tw*side
		offs[lane] = int32(y0*w + x0)
		if lane != 3 { // one unused lane
			setMasks(masks, lane, y0, x0, h, w, side)
		}
	}
	return offs, masks
}

func setMasks(masks []uint16, lane, y0, x0, h, w, side int) {
	for i := 0; i < side; i++ {
		for j := 0; j < side; j++ {
			if y0+i >= 0 && y0+i < h && x0+j >= 0 && x0+j < w {
				masks[i*side+j] |= 1 << lane
			}
		}
	}
}

// unpooledGeom is the geometry Conv2D uses for s without pooling.
func unpooledGeom(s ConvShape) winoGeom {
	g := winoGeom{s: s, oh: s.OutH(), ow: s.OutW()}
	g.yh, g.yw = g.oh, g.ow
	g.th, g.tw = (g.oh+3)/4, (g.ow+3)/4
	g.tiles = s.N * g.th * g.tw
	return g
}

// TestWinogradInputAsm compares the AVX-512 input transform with its
// portable twin, which uses the same operation order: the results must be
// identical. The lanes come from real geometries, with tiles that run over
// tile rows, images, the image border and the end of the batch.
func TestWinogradInputAsm(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range []ConvShape{
		{N: 2, C: 1, H: 6, W: 6, K: 1, R: 3, S: 3},
		{N: 3, C: 3, H: 7, W: 9, K: 1, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 2, C: 17, H: 12, W: 5, K: 1, R: 3, S: 3, PadLeft: 1, PadBottom: 1},
		{N: 1, C: 5, H: 3, W: 70, K: 1, R: 3, S: 3, PadTop: 1, PadRight: 1},
		{N: 4, C: 64, H: 10, W: 10, K: 1, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	} {
		g := unpooledGeom(s)
		x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
		plane := s.H * s.W
		for t0 := 0; t0 < g.tiles+16; t0 += 1 + rng.IntN(7) {
			t.Run(fmt.Sprintf("%+v/t0=%d", s, t0), func(t *testing.T) {
				var l winoLanes
				n0 := min(t0, g.tiles-1) / (g.th * g.tw)
				g.lanes(&l, t0, n0)
				xb := x[n0*s.C*plane:]
				vXi := s.C*winoBlock + winoSkew
				col0 := 16 * rng.IntN(3)
				got := randSlice[float32](rng, 36*vXi)
				want := append([]float32(nil), got...)
				winoInput(got, vXi, col0, 48, s.C, xb, &l, plane, s.W)
				winoInputGo(want, vXi, col0, 48, s.C, xb, &l, plane, s.W)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("v[%d] = %v, portable code gives %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// TestWinogradOutputAsm compares the AVX-512 output transform, with each
// fusion and with and without bias, against its portable twin.
func TestWinogradOutputAsm(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, nk := range []int{1, 5, 64} {
		for _, fuse := range []WinogradFuse{{}, {ReLU: true}, {MaxPool2x2: true}, {MaxPool2x2: true, ReLU: true}} {
			for _, withBias := range []bool{false, true} {
				t.Run(fmt.Sprintf("k=%d/%+v/bias=%v", nk, fuse, withBias), func(t *testing.T) {
					h, w, side := 17, 19, 4
					if fuse.MaxPool2x2 {
						side = 2
					}
					var l winoLanes
					out, masks := gridLanes(rng, h, w, side)
					l.out = out
					copy(l.outMask[:], masks)
					l.fillStore(side)
					mK, mXi := winoBlock, nk*winoBlock+7
					m := randSlice[float32](rng, 36*mXi)
					var bias []float32
					if withBias {
						bias = randSlice[float32](rng, nk)
					}
					got := randSlice[float32](rng, nk*h*w)
					want := append([]float32(nil), got...)
					winoOutput(got, &l, m, mK, mXi, nk, h*w, w, bias, fuse)
					winoOutputGo(want, &l, m, mK, mXi, nk, h*w, w, bias, fuse)
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("y[%d] = %v, portable code gives %v", i, got[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestWinogradOutputAdjointAsm compares the AVX-512 adjoint of the output
// transform with its portable twin on real geometries (tiles over the
// output's edge, lanes past the end of the batch, channel counts that are
// not multiples of 16): the results must be identical for every channel;
// past the channels the vector code leaves zeros.
func TestWinogradOutputAdjointAsm(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(29, 30))
	for _, s := range []ConvShape{
		{N: 2, C: 1, H: 6, W: 6, K: 1, R: 3, S: 3},
		{N: 3, C: 1, H: 7, W: 9, K: 5, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 2, C: 1, H: 12, W: 5, K: 17, R: 3, S: 3, PadLeft: 1, PadBottom: 1},
		{N: 4, C: 1, H: 10, W: 10, K: 64, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
	} {
		g := unpooledGeom(s)
		plane := g.oh * g.ow
		dy := randSlice[float32](rng, s.N*s.K*plane)
		for _, nr := range []int{16, 48} {
			kPad := (s.K + nr - 1) / nr * nr
			eXi := kPad*winoBlock + 5
			for t0 := 0; t0 < g.tiles+16; t0 += 1 + rng.IntN(7) {
				t.Run(fmt.Sprintf("%+v/nr=%d/t0=%d", s, nr, t0), func(t *testing.T) {
					var l winoLanes
					n0 := min(t0, g.tiles-1) / (g.th * g.tw)
					g.lanes(&l, t0, n0)
					dyb := dy[n0*s.K*plane:]
					col0 := 16 * rng.IntN(3)
					got := randSlice[float32](rng, 36*eXi)
					want := append([]float32(nil), got...)
					winoOutputAdjoint(got, eXi, col0, nr, dyb, &l, s.K, plane, g.ow)
					winoOutputAdjointGo(want, eXi, col0, nr, dyb, &l, s.K, plane, g.ow)
					for xi := 0; xi < 36; xi++ {
						for lane := 0; lane < 16; lane++ {
							for k := 0; k < (s.K+15)/16*16; k++ {
								i := xi*eXi + eIndex(col0+lane, k, nr)
								w := want[i]
								if k >= s.K {
									w = 0
								}
								if got[i] != w {
									t.Fatalf("ξ %d, lane %d, channel %d: %v, portable code gives %v", xi, lane, k, got[i], w)
								}
							}
						}
					}
				})
			}
		}
	}
}
