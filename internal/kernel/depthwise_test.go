package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// depthwiseShapes covers the depthwise route: 1×1 planes, odd sizes,
// padding wider than 1, stride 2 on odd sizes, asymmetric strides and
// pads, 5×5 and 7×7 filters, batches and many small planes.
func depthwiseShapes() []ConvShape {
	p := func(s ConvShape, pad int) ConvShape {
		s.PadTop, s.PadLeft, s.PadBottom, s.PadRight = pad, pad, pad, pad
		return s
	}
	dw := func(n, c, h, w, r, s int) ConvShape {
		return ConvShape{N: n, C: c, K: c, Groups: c, H: h, W: w, R: r, S: s}
	}
	st := func(s ConvShape, sh, sw int) ConvShape { s.StrideH, s.StrideW = sh, sw; return s }
	return []ConvShape{
		dw(1, 1, 1, 1, 1, 1),
		p(dw(2, 3, 1, 1, 3, 3), 1),             // 1×1 plane, all taps but one in the padding
		p(dw(1, 4, 7, 9, 3, 3), 1),             // odd sizes
		p(dw(3, 5, 11, 13, 5, 5), 2),           // 5×5
		p(dw(2, 3, 9, 8, 7, 7), 3),             // 7×7
		p(dw(2, 4, 6, 5, 5, 5), 4),             // padding larger than the input on one side
		st(p(dw(2, 6, 15, 17, 3, 3), 1), 2, 2), // stride 2, odd sizes
		st(p(dw(1, 3, 13, 11, 5, 5), 2), 2, 2),
		st(p(dw(1, 3, 13, 11, 7, 7), 3), 2, 2),
		st(p(dw(2, 2, 9, 10, 3, 3), 1), 1, 2), // asymmetric strides
		st(p(dw(2, 2, 10, 9, 3, 3), 1), 3, 3),
		{N: 2, C: 4, K: 4, Groups: 4, H: 8, W: 9, R: 3, S: 2, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 1, StrideH: 2},
		p(dw(3, 40, 7, 7, 3, 3), 1), // many small planes, several per item
		p(dw(2, 8, 28, 30, 3, 3), 1),
		p(dw(2, 3, 5, 40, 3, 3), 1), // stride 1, wide
		p(dw(1, 3, 6, 33, 5, 5), 2),
		p(dw(1, 2, 6, 31, 5, 5), 0), // no padding
		st(p(dw(8, 4, 112, 112, 3, 3), 1), 2, 2),
		st(p(dw(1, 3, 9, 90, 5, 5), 2), 2, 2),  // stride 2, wide
		st(p(dw(2, 2, 16, 17, 5, 5), 2), 5, 5), // strides beyond the filter
		st(p(dw(1, 2, 12, 23, 3, 3), 1), 1, 6),
		st(p(dw(1, 3, 11, 70, 3, 3), 1), 1, 2),
		// The channel-blocked route: partial blocks of channels, 5×5,
		// stride 2, odd and asymmetric sizes and pads, rows of fewer and
		// more than 16 pixels.
		p(dw(2, 17, 7, 7, 3, 3), 1),
		p(dw(1, 72, 7, 7, 5, 5), 2),
		p(dw(2, 40, 14, 14, 5, 5), 2),
		p(dw(1, 130, 28, 27, 5, 5), 2), // 28×28-sized, nine blocks
		p(dw(1, 33, 13, 11, 5, 5), 1),
		p(dw(1, 16, 3, 19, 3, 3), 0),
		{N: 2, C: 24, K: 24, Groups: 24, H: 9, W: 6, R: 3, S: 5, PadTop: 2, PadLeft: 0, PadBottom: 1, PadRight: 3},
	}
}

func TestDepthwiseConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	blocked := 0
	for _, s := range depthwiseShapes() {
		if g := s.geom("test"); dwBlockSuits(&g) {
			blocked++
		}
	}
	if haveDWBlock && blocked < 8 {
		t.Fatalf("%d shapes take the channel-blocked route, want at least 8", blocked)
	}
	for _, nt := range []int{1, 2, 3} {
		prev := SetThreads(nt)
		for _, s := range depthwiseShapes() {
			t.Run(fmt.Sprintf("t%d/%v", nt, s), func(t *testing.T) {
				g := s.geom("test")
				if !depthwiseSuits(&g) {
					t.Fatal("shape does not take the depthwise route")
				}
				convCase[float64](t, rng, s, 1e-12)
				convCase[float32](t, rng, s, 2e-5)
			})
		}
		SetThreads(prev)
	}
}

// TestDepthwiseMatchesGEMM compares the depthwise route with the grouped
// GEMM route it replaces, on a typical MobileNet layer.
func TestDepthwiseMatchesGEMM(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range []ConvShape{
		{N: 2, C: 16, K: 16, Groups: 16, H: 28, W: 28, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 24, K: 24, Groups: 24, H: 29, W: 29, R: 5, S: 5, StrideH: 2, StrideW: 2, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
	} {
		g := s.geom("test")
		x := randSlice[float32](rng, s.N*g.xLen)
		w := randSlice[float32](rng, s.K*g.crs)
		b := randSlice[float32](rng, s.K)
		got := make([]float32, s.N*g.yLen)
		want := make([]float32, len(got))
		Conv2D(s, x, w, b, got)
		for n := 0; n < s.N; n++ {
			for c := 0; c < s.C; c++ {
				one := s
				one.N, one.C, one.K, one.Groups = 1, 1, 1, 1
				g := one.geom("test")
				conv2DGEMM(&g, x[(n*s.C+c)*g.hw:][:g.hw], w[c*g.crs:][:g.crs], b[c:c+1], want[(n*s.C+c)*g.ohw:][:g.ohw], false, nil)
			}
		}
		assertClose(t, fmt.Sprint(s), got, want, 1e-5)
	}
}

// TestConv2DReLU checks Conv2DReLU against Conv2D followed by max(y, 0) on
// every route (GEMM with and without stride, shared products, depthwise),
// with one and two threads, NaNs kept.
func TestConv2DReLU(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	shapes := append(append(convShapes(true), depthwiseShapes()...), vectorsShapes()...)
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		for _, s := range shapes {
			g := s.geom("test")
			x := randSlice[float32](rng, s.N*g.xLen)
			x[0] = float32(math.NaN())
			w := randSlice[float32](rng, s.K*g.crs)
			b := randSlice[float32](rng, s.K)
			want := make([]float32, s.N*g.yLen)
			Conv2D(s, x, w, b, want)
			for i, v := range want {
				want[i] = max(v, 0)
			}
			got := randSlice[float32](rng, len(want))
			Conv2DReLU(s, x, w, b, got)
			for i := range got {
				if got[i] != want[i] && !(math.IsNaN(float64(got[i])) && math.IsNaN(float64(want[i]))) {
					t.Fatalf("t%d %v: y[%d] = %v, want %v", nt, s, i, got[i], want[i])
				}
			}
		}
		SetThreads(prev)
	}
}

// TestPointwise checks the 1×1 route against the reference loops and the
// general stride-1 route, with bias, Relu, batches and threads.
func TestPointwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		for _, s := range []ConvShape{
			{N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, S: 1},
			{N: 1, C: 16, H: 7, W: 7, K: 96, R: 1, S: 1},
			{N: 3, C: 24, H: 17, W: 19, K: 8, R: 1, S: 1},
			{N: 2, C: 3, H: 30, W: 31, K: 70, R: 1, S: 1},
			{N: 1, C: 200, H: 14, W: 14, K: 40, R: 1, S: 1},
			{N: 8, C: 70, H: 7, W: 7, K: 20, R: 1, S: 1}, // small planes of a batch
			{N: 5, C: 9, H: 4, W: 4, K: 33, R: 1, S: 1},
		} {
			g := s.geom("test")
			if !pointwiseSuits(&g) {
				t.Fatalf("%v does not take the pointwise route", s)
			}
			convCase[float64](t, rng, s, 1e-12)
			convCase[float32](t, rng, s, 2e-5)
			x := randSlice[float32](rng, s.N*g.xLen)
			w := randSlice[float32](rng, s.K*g.crs)
			b := randSlice[float32](rng, s.K)
			got, want := make([]float32, s.N*g.yLen), make([]float32, s.N*g.yLen)
			Conv2DReLU(s, x, w, b, got)
			conv2DGEMM(&g, x, w, b, want, true, nil)
			assertClose(t, fmt.Sprint(s), got, want, 1e-5)
		}
		SetThreads(prev)
	}
}

// vectorsShapes are 1×1 convolutions of 1×1 planes (the vectors route:
// squeeze-and-excitation layers) for a few batch sizes and channel counts
// that are and are not multiples of the dot products' 64.
func vectorsShapes() []ConvShape {
	return []ConvShape{
		{N: 1, C: 64, K: 5, H: 1, W: 1, R: 1, S: 1, Groups: 1},
		{N: 1, C: 144, K: 576, H: 1, W: 1, R: 1, S: 1, Groups: 1},
		{N: 3, C: 100, K: 33, H: 1, W: 1, R: 1, S: 1, Groups: 1},
		{N: 32, C: 70, K: 17, H: 1, W: 1, R: 1, S: 1, Groups: 1},
	}
}

// TestVectorsRoute checks the vectors route against the reference loops
// at one and two threads (TestConv2DReLU covers its Relu).
func TestVectorsRoute(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		for _, s := range vectorsShapes() {
			g := s.geom("test")
			if !vectorsSuits[float32](&g) {
				t.Fatalf("%v does not take the vectors route", s)
			}
			convCase[float32](t, rng, s, 2e-5)
		}
		SetThreads(prev)
	}
}

// TestPhasesFitFallback checks that geometries whose phase planes would be
// far larger than their input and output (strides and padding much larger
// than the filter, as a hostile model file may give) take the other
// routes, and that those compute the same convolution.
func TestPhasesFitFallback(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for _, s := range []ConvShape{
		{N: 1, C: 2, K: 3, Groups: 1, H: 3, W: 3, R: 3, S: 3, StrideH: 30, StrideW: 30, PadTop: 40, PadLeft: 40, PadBottom: 40, PadRight: 40},
		{N: 2, C: 3, K: 3, Groups: 3, H: 4, W: 5, R: 2, S: 2, StrideH: 25, StrideW: 31, PadTop: 30, PadLeft: 35, PadBottom: 30, PadRight: 35},
	} {
		g := s.geom("test")
		if phasesFit(&g) || depthwiseSuits(&g) {
			t.Fatalf("%v: phase planes of %d×%d×%d×%d accepted for a %d×%d input", s, g.strH, g.strW, g.oh, g.ow, g.H, g.W)
		}
		convCase[float64](t, rng, s, 1e-12)
		convCase[float32](t, rng, s, 2e-5)
	}
	checkMaxPoolValues32(t, rng, PoolShape{N: 1, C: 2, H: 5, W: 5, KH: 3, KW: 3, StrideH: 40, StrideW: 40, PadTop: 2, PadLeft: 2, PadBottom: 60, PadRight: 60})
}

// TestConvWeightsDepthwise runs depthwise weights packed by NewConvWeights
// (no GEMM panels; the channel-blocked layout) on the blocked, the plane
// and, dilated, the GEMM route, against Conv2D with the plain weights.
func TestConvWeightsDepthwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, s := range []ConvShape{
		{N: 2, C: 40, K: 40, Groups: 40, H: 7, W: 7, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
		{N: 1, C: 24, K: 24, Groups: 24, H: 30, W: 28, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, StrideH: 2, StrideW: 2},
		{N: 1, C: 20, K: 20, Groups: 20, H: 9, W: 9, R: 3, S: 3, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2, DilH: 2, DilW: 2},
	} {
		g := s.geom("test")
		x := randSlice[float32](rng, s.N*g.xLen)
		w := randSlice[float32](rng, s.K*g.crs)
		b := randSlice[float32](rng, s.K)
		got, want := make([]float32, s.N*g.yLen), make([]float32, s.N*g.yLen)
		NewConvWeights(s.K, 1, s.R, s.S, s.Groups, w).Conv2D(s, x, b, got, true)
		Conv2DReLU(s, x, w, b, want)
		assertClose(t, fmt.Sprint(s), got, want, 1e-5)
	}
}
