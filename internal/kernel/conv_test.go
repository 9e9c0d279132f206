package kernel

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

// naiveConv is the direct 7-deep loop in float64.
func naiveConv(s ConvShape, x, w, bias []float64) []float64 {
	g := s.geom("naiveConv")
	y := make([]float64, s.N*g.yLen)
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			grp := k / g.kg
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					var sum float64
					if bias != nil {
						sum = bias[k]
					}
					for c := 0; c < g.cg; c++ {
						for r := 0; r < s.R; r++ {
							for q := 0; q < s.S; q++ {
								h := oh*g.strH - s.PadTop + r*g.dilH
								ww := ow*g.strW - s.PadLeft + q*g.dilW
								if h < 0 || h >= s.H || ww < 0 || ww >= s.W {
									continue
								}
								xv := x[((n*s.C+grp*g.cg+c)*s.H+h)*s.W+ww]
								sum += xv * w[((k*g.cg+c)*s.R+r)*s.S+q]
							}
						}
					}
					y[((n*s.K+k)*g.oh+oh)*g.ow+ow] = sum
				}
			}
		}
	}
	return y
}

// naiveConvBackward returns the gradients of <conv(x, w), dy> with respect
// to x and w by the direct loops.
func naiveConvBackward(s ConvShape, x, w, dy []float64) (dx, dw []float64) {
	g := s.geom("naiveConvBackward")
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < s.N; n++ {
		for k := 0; k < s.K; k++ {
			grp := k / g.kg
			for oh := 0; oh < g.oh; oh++ {
				for ow := 0; ow < g.ow; ow++ {
					d := dy[((n*s.K+k)*g.oh+oh)*g.ow+ow]
					for c := 0; c < g.cg; c++ {
						for r := 0; r < s.R; r++ {
							for q := 0; q < s.S; q++ {
								h := oh*g.strH - s.PadTop + r*g.dilH
								ww := ow*g.strW - s.PadLeft + q*g.dilW
								if h < 0 || h >= s.H || ww < 0 || ww >= s.W {
									continue
								}
								xi := ((n*s.C+grp*g.cg+c)*s.H+h)*s.W + ww
								wi := ((k*g.cg+c)*s.R+r)*s.S + q
								dx[xi] += d * w[wi]
								dw[wi] += d * x[xi]
							}
						}
					}
				}
			}
		}
	}
	return dx, dw
}

func convShapes(short bool) []ConvShape {
	ss := []ConvShape{
		{N: 1, C: 1, H: 1, W: 1, K: 1, R: 1, S: 1},
		{N: 2, C: 3, H: 5, W: 6, K: 4, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 3, C: 4, H: 7, W: 5, K: 6, R: 2, S: 3, StrideH: 2, StrideW: 1, PadTop: 0, PadLeft: 2, PadBottom: 1, PadRight: 0},
		{N: 2, C: 6, H: 9, W: 8, K: 4, R: 3, S: 3, Groups: 2, DilH: 2, DilW: 1, PadTop: 2, PadBottom: 1},
		{N: 1, C: 4, H: 10, W: 10, K: 4, R: 3, S: 3, Groups: 4, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 2, C: 2, H: 11, W: 9, K: 3, R: 2, S: 2, StrideH: 4, StrideW: 3},                             // stride > kernel
		{N: 1, C: 3, H: 6, W: 7, K: 5, R: 1, S: 1, PadTop: 1, PadRight: 2},                              // 1x1 with pads
		{N: 2, C: 4, H: 12, W: 13, K: 8, R: 5, S: 3, DilH: 2, DilW: 3, StrideH: 2, PadLeft: 3},          // dilation both
		{N: 4, C: 3, H: 20, W: 20, K: 16, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, // Conv-4 layer 1 style
		{N: 1, C: 8, H: 4, W: 4, K: 8, R: 4, S: 4, Groups: 8},                                           // depthwise, full window
		{N: 5, C: 6, H: 9, W: 9, K: 9, R: 3, S: 2, Groups: 3, StrideW: 2, PadBottom: 3, DilH: 3},
		{N: 2, C: 8, H: 7, W: 9, K: 10, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 2, PadRight: 1, DilW: 2}, // >48 taps
		// Fewer taps than output channels (direct output without junk
		// columns), with wide and narrow rows.
		{N: 2, C: 2, H: 9, W: 50, K: 20, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 1, H: 10, W: 5, K: 12, R: 2, S: 2, PadTop: 1, DilW: 2},
		{N: 2, C: 12, H: 6, W: 6, K: 1, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, // same, input gradient
		// Small planes: several images share one product, the last batch
		// partial; with groups, and with padding that crops in the input
		// gradient.
		{N: 45, C: 16, H: 5, W: 5, K: 8, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 13, C: 8, H: 3, W: 4, K: 8, R: 3, S: 3, Groups: 2, PadTop: 1, PadLeft: 2, PadRight: 1},
		{N: 30, C: 9, H: 4, W: 4, K: 9, R: 3, S: 3, PadTop: 3, PadLeft: 2, PadRight: 1, DilW: 2},
		// Stride-2 stems: rows split into even and odd columns (by the
		// vector code past 32 columns), odd widths, odd left pads, and a
		// patch matrix large enough to be filled on several threads.
		{N: 2, C: 3, H: 21, W: 67, K: 8, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 3, H: 40, W: 40, K: 16, R: 7, S: 7, StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3},
		{N: 1, C: 2, H: 9, W: 35, K: 4, R: 2, S: 4, StrideW: 2, PadLeft: 2, PadRight: 3},
		// Strided without dilation (phase planes): grouped, a 1×1
		// projection, stride 3 with padding past the filter's reach.
		{N: 2, C: 6, H: 13, W: 12, K: 4, R: 3, S: 3, Groups: 2, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 3, C: 8, H: 14, W: 14, K: 16, R: 1, S: 1, StrideH: 2, StrideW: 2},
		{N: 1, C: 3, H: 8, W: 9, K: 5, R: 3, S: 3, StrideH: 3, StrideW: 3, PadTop: 4, PadLeft: 4, PadBottom: 4, PadRight: 4},
	}
	if !short {
		ss = append(ss, ConvShape{N: 3, C: 32, H: 21, W: 21, K: 64, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
			// A MobileNet first layer at full size.
			ConvShape{N: 1, C: 3, H: 224, W: 224, K: 16, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1})
	}
	return ss
}

func convCase[T Float](t *testing.T, rng *rand.Rand, s ConvShape, tol float64) {
	t.Helper()
	g := s.geom("test")
	x := randSlice[T](rng, s.N*g.xLen)
	w := randSlice[T](rng, s.K*g.crs)
	bias := randSlice[T](rng, s.K)
	dy := randSlice[T](rng, s.N*g.yLen)
	y := randSlice[T](rng, s.N*g.yLen) // garbage that must be overwritten
	Conv2D(s, x, w, bias, y)
	assertClose(t, "Conv2D", y, naiveConv(s, toF64(x), toF64(w), toF64(bias)), tol)
	// Conv2DEach: the same output, each image handed over once, and
	// already final when it is.
	ref := slices.Clone(y)
	ye := randSlice[T](rng, len(y))
	seen := make([]atomic.Int32, s.N)
	var stale atomic.Bool
	Conv2DEach(s, x, w, bias, ye, func(n0, n1 int) {
		for n := n0; n < n1; n++ {
			seen[n].Add(1)
		}
		if !slices.Equal(ye[n0*g.yLen:n1*g.yLen], ref[n0*g.yLen:n1*g.yLen]) {
			stale.Store(true)
		}
	})
	if !slices.Equal(ye, ref) || stale.Load() {
		t.Errorf("Conv2DEach: output differs from Conv2D's (while handed over: %v)", stale.Load())
	}
	for n := range seen {
		if c := seen[n].Load(); c != 1 {
			t.Errorf("Conv2DEach handed image %d over %d times", n, c)
		}
	}
	Conv2D(s, x, w, nil, y)
	assertClose(t, "Conv2D without bias", y, naiveConv(s, toF64(x), toF64(w), nil), tol)
	if x32, ok := any(x).([]float32); ok {
		// The same with the weights packed once, with and without ReLU.
		cw := NewConvWeights(s.K, g.cg, s.R, s.S, max(s.Groups, 1), any(w).([]float32))
		y32 := any(y).([]float32)
		want := naiveConv(s, toF64(x), toF64(w), toF64(bias))
		for _, relu := range []bool{false, true} {
			cw.Conv2D(s, x32, any(bias).([]float32), y32, relu)
			wantR := want
			if relu {
				wantR = make([]float64, len(want))
				for i, v := range want {
					wantR[i] = max(v, 0)
				}
			}
			assertClose(t, "ConvWeights.Conv2D", y32, wantR, tol)
		}
	}

	wantDx, wantDw := naiveConvBackward(s, toF64(x), toF64(w), toF64(dy))
	dx := randSlice[T](rng, len(x))
	Conv2DBackwardData(s, dy, w, dx)
	assertClose(t, "Conv2DBackwardData", dx, wantDx, tol)
	dw := randSlice[T](rng, len(w))
	Conv2DBackwardFilter(s, x, dy, dw)
	assertClose(t, "Conv2DBackwardFilter", dw, wantDw, tol)

	// The same sums with dy handed over an image at a time: the same bits,
	// each image asked for once.
	var calls atomic.Int64
	dwf := randSlice[T](rng, len(w))
	Conv2DBackwardFilterFunc(s, x, func(n int, dst []T) {
		calls.Add(1)
		copy(dst, dy[n*g.yLen:(n+1)*g.yLen])
	}, dwf)
	if !slices.Equal(dwf, dw) {
		t.Errorf("Conv2DBackwardFilterFunc differs from Conv2DBackwardFilter")
	}
	if c := calls.Load(); c != int64(s.N) {
		t.Errorf("Conv2DBackwardFilterFunc asked for %d images, the batch has %d", c, s.N)
	}
}

func TestConv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		for _, s := range convShapes(testing.Short() || raceEnabled) {
			t.Run(fmt.Sprintf("t%d/%v", nt, s), func(t *testing.T) {
				convCase[float64](t, rng, s, 1e-12)
				for _, uk := range testKernels() {
					withKernel(uk, func() { convCase[float32](t, rng, s, 2e-5) })
					if t.Failed() {
						t.Fatalf("kernel %s", uk.name)
					}
				}
			})
		}
		SetThreads(prev)
	}
}

// TestConvAdjoint checks <conv(x,w), dy> = <x, BackwardData(dy,w)> =
// <w, BackwardFilter(x,dy)>, which ties the three passes together without
// any reference implementation.
func TestConvAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, s := range convShapes(true) {
		g := s.geom("test")
		x := randSlice[float64](rng, s.N*g.xLen)
		w := randSlice[float64](rng, s.K*g.crs)
		dy := randSlice[float64](rng, s.N*g.yLen)
		y := make([]float64, len(dy))
		dx := make([]float64, len(x))
		dw := make([]float64, len(w))
		Conv2D(s, x, w, nil, y)
		Conv2DBackwardData(s, dy, w, dx)
		Conv2DBackwardFilter(s, x, dy, dw)
		a, b, c := dot(y, dy), dot(x, dx), dot(w, dw)
		if d := max(abs(a-b), abs(a-c)); d > 1e-10*(1+abs(a)) {
			t.Errorf("%+v: <y,dy>=%v <x,dx>=%v <w,dw>=%v", s, a, b, c)
		}
	}
}

// TestConvFiniteDifference checks the gradients of L = <conv(x,w)+b, r>
// against central differences.
func TestConvFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	s := ConvShape{N: 2, C: 4, H: 6, W: 5, K: 4, R: 3, S: 2, Groups: 2, StrideH: 2, PadTop: 1, PadRight: 1, DilW: 2}
	g := s.geom("test")
	x := randSlice[float64](rng, s.N*g.xLen)
	w := randSlice[float64](rng, s.K*g.crs)
	r := randSlice[float64](rng, s.N*g.yLen)
	y := make([]float64, len(r))
	loss := func() float64 { Conv2D(s, x, w, nil, y); return dot(y, r) }
	dx := make([]float64, len(x))
	dw := make([]float64, len(w))
	Conv2DBackwardData(s, r, w, dx)
	Conv2DBackwardFilter(s, x, r, dw)
	const h = 1e-6
	for _, v := range []struct {
		p    []float64
		grad []float64
	}{{x, dx}, {w, dw}} {
		for i := range v.p {
			old := v.p[i]
			v.p[i] = old + h
			lp := loss()
			v.p[i] = old - h
			lm := loss()
			v.p[i] = old
			if fd := (lp - lm) / (2 * h); abs(fd-v.grad[i]) > 1e-6 {
				t.Fatalf("element %d: analytic %v, finite difference %v", i, v.grad[i], fd)
			}
		}
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

func TestConvShapeValidate(t *testing.T) {
	good := ConvShape{N: 1, C: 4, H: 5, W: 5, K: 2, R: 3, S: 3, Groups: 2}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid shape rejected: %v", err)
	}
	if good.OutH() != 3 || good.OutW() != 3 {
		t.Fatalf("OutH, OutW = %d, %d, want 3, 3", good.OutH(), good.OutW())
	}
	for name, mod := range map[string]func(*ConvShape){
		"N = 0":         func(s *ConvShape) { s.N = 0 },
		"R = -1":        func(s *ConvShape) { s.R = -1 },
		"StrideH = -2":  func(s *ConvShape) { s.StrideH = -2 },
		"PadLeft = -1":  func(s *ConvShape) { s.PadLeft = -1 },
		"divisible":     func(s *ConvShape) { s.Groups = 3 },
		"does not fit":  func(s *ConvShape) { s.R = 6 },
		"does not fit ": func(s *ConvShape) { s.DilW = 3 },
	} {
		s := good
		mod(&s)
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), strings.TrimSpace(name)) {
			t.Errorf("%s: Validate() = %v", name, err)
		}
	}
	mustPanic(t, "len(w)", func() {
		Conv2D(good, make([]float32, 25*4), make([]float32, 3), nil, make([]float32, 18))
	})
	mustPanic(t, "Groups", func() {
		s := good
		s.Groups = 3
		Conv2D(s, nil, nil, nil, []float32(nil))
	})
}

// TestConvBackwardFilterChunks checks that with two threads the filter
// gradient is the sum, in order, of the gradients of the batch's two
// halves, each taken on one thread: the partial sums follow fixed chunks
// of images, not whichever worker took an image, so a training run rounds
// the same way every time. One shape per route: few taps, stride 1, and
// the general patch-matrix route.
func TestConvBackwardFilterChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	shapes := map[string]ConvShape{
		"fewTaps": {N: 10, C: 1, H: 9, W: 8, K: 4, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		"stride1": {N: 10, C: 8, H: 9, W: 8, K: 16, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		"general": {N: 10, C: 3, H: 9, W: 8, K: 8, R: 3, S: 3, StrideH: 2, StrideW: 2},
	}
	defer SetThreads(SetThreads(1))
	for name, s := range shapes {
		x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
		dy := randSlice[float32](rng, s.N*s.K*s.OutH()*s.OutW())
		wLen := s.K * s.C * s.R * s.S
		half := s
		half.N = s.N / 2
		xl, yl := half.N*s.C*s.H*s.W, half.N*s.K*s.OutH()*s.OutW()
		SetThreads(1)
		want, second := make([]float32, wLen), make([]float32, wLen)
		Conv2DBackwardFilter(half, x[:xl], dy[:yl], want)
		Conv2DBackwardFilter(half, x[xl:], dy[yl:], second)
		for i, v := range second {
			want[i] += v
		}
		SetThreads(2)
		for run := 0; run < 5; run++ {
			got := make([]float32, wLen)
			Conv2DBackwardFilter(s, x, dy, got)
			if !slices.Equal(got, want) {
				t.Fatalf("%s, run %d: two threads differ from the ordered sum of the halves", name, run)
			}
		}
	}
}

// TestConvPatchGram checks the patch Gram matrix and sums against the
// filter gradient of the convolution's own output: Σ y·P = w·gram +
// bias·sums, for float64 (tight) and float32 (rounded), on padded, strided
// and dilated shapes (the few-taps route and the patch-matrix one) and on
// one and two threads.
func TestConvPatchGram(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	shapes := []ConvShape{
		{N: 6, C: 1, H: 9, W: 8, K: 5, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 5, C: 3, H: 7, W: 9, K: 4, R: 3, S: 3, PadTop: 1, PadLeft: 2, PadRight: 1},
		{N: 3, C: 2, H: 9, W: 9, K: 3, R: 3, S: 2, StrideH: 2, StrideW: 1, DilH: 2},
		{N: 4, C: 1, H: 8, W: 9, K: 2, R: 3, S: 3, DilH: 2, PadTop: 2, PadBottom: 1, PadLeft: 1},
	}
	defer SetThreads(SetThreads(1))
	for _, nt := range []int{1, 2} {
		SetThreads(nt)
		for _, s := range shapes {
			gramCase[float64](t, rng, s, 1e-10)
			gramCase[float32](t, rng, s, 1e-4)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("ConvPatchGram with groups did not panic")
		}
	}()
	s := ConvShape{N: 1, C: 2, H: 3, W: 3, K: 2, R: 1, S: 1, Groups: 2}
	ConvPatchGram(s, make([]float32, 18), make([]float64, 1), make([]float64, 1))
}

func gramCase[T Float](t *testing.T, rng *rand.Rand, s ConvShape, tol float64) {
	t.Helper()
	g := s.geom("test")
	x := randSlice[T](rng, s.N*g.xLen)
	w := randSlice[T](rng, s.K*g.crs)
	bias := randSlice[T](rng, s.K)
	gram, sums := make([]float64, g.crs*g.crs), make([]float64, g.crs)
	ConvPatchGram(s, x, gram, sums)
	y := naiveConv(s, toF64(x), toF64(w), toF64(bias))
	_, want := naiveConvBackward(s, toF64(x), toF64(w), y)
	got := make([]float64, len(want))
	for k := range s.K {
		for q := range g.crs {
			v := float64(bias[k]) * sums[q]
			for p := range g.crs {
				v += float64(w[k*g.crs+p]) * gram[p*g.crs+q]
			}
			got[k*g.crs+q] = v
		}
	}
	assertClose(t, fmt.Sprintf("ConvPatchGram %v", s), got, want, tol)
}
