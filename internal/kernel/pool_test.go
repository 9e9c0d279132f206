package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// naivePool computes max and average pooling by visiting every window tap,
// padding included, in float64.
func naivePool(p PoolShape, includePad bool, x []float64) (maxY []float64, arg []int32, avgY []float64) {
	g := p.geom("naivePool")
	maxY = make([]float64, g.planes*g.ohw)
	arg = make([]int32, len(maxY))
	avgY = make([]float64, len(maxY))
	for pl := 0; pl < g.planes; pl++ {
		for oh := 0; oh < g.oh; oh++ {
			for ow := 0; ow < g.ow; ow++ {
				best, bi := math.Inf(-1), int32(-1)
				var sum float64
				var cnt int
				for i := 0; i < p.KH; i++ {
					for j := 0; j < p.KW; j++ {
						h := oh*g.sh - p.PadTop + i*g.dh
						w := ow*g.sw - p.PadLeft + j*g.dw
						inPad := h >= -p.PadTop && h < p.H+p.PadBottom && w >= -p.PadLeft && w < p.W+p.PadRight
						if h < 0 || h >= p.H || w < 0 || w >= p.W {
							if includePad && inPad {
								cnt++
							}
							continue
						}
						v := x[pl*g.hw+h*p.W+w]
						sum += v
						cnt++
						if bi < 0 || v > best {
							best, bi = v, int32(h*p.W+w)
						}
					}
				}
				o := pl*g.ohw + oh*g.ow + ow
				maxY[o], arg[o] = best, bi
				if cnt > 0 {
					avgY[o] = sum / float64(cnt)
				}
			}
		}
	}
	return maxY, arg, avgY
}

func poolShapes() []PoolShape {
	return []PoolShape{
		{N: 1, C: 1, H: 1, W: 1, KH: 1, KW: 1},
		{N: 2, C: 3, H: 84, W: 84, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
		{N: 2, C: 3, H: 21, W: 21, KH: 2, KW: 2, StrideH: 2, StrideW: 2},
		{N: 2, C: 3, H: 21, W: 21, KH: 2, KW: 2, StrideH: 2, StrideW: 2, CeilMode: true},
		{N: 1, C: 2, H: 7, W: 8, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},
		{N: 1, C: 2, H: 7, W: 8, KH: 3, KW: 2, StrideH: 2, StrideW: 3, PadTop: 1, PadRight: 1, CeilMode: true},
		{N: 2, C: 2, H: 9, W: 10, KH: 2, KW: 3, StrideH: 4, StrideW: 5}, // stride > kernel
		{N: 1, C: 3, H: 10, W: 9, KH: 3, KW: 2, DilH: 2, DilW: 3, PadTop: 2, PadLeft: 1, PadBottom: 1, CeilMode: true},
		{N: 1, C: 1, H: 5, W: 5, KH: 5, KW: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2},
		{N: 3, C: 1, H: 6, W: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadBottom: 2, PadRight: 2, CeilMode: true},
	}
}

func TestPool(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, p := range poolShapes() {
		for _, inc := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/%v", p, inc), func(t *testing.T) {
				g := p.geom("test")
				x := randSlice[float64](rng, g.planes*g.hw)
				wantMax, wantArg, wantAvg := naivePool(p, inc, x)
				y := make([]float64, len(wantMax))
				arg := make([]int32, len(y))
				MaxPool2D(p, x, y, arg)
				assertClose(t, "MaxPool2D", y, wantMax, 0)
				for i := range arg {
					if arg[i] != wantArg[i] {
						t.Fatalf("argmax[%d] = %d, want %d", i, arg[i], wantArg[i])
					}
				}
				AvgPool2D(p, inc, x, y)
				assertClose(t, "AvgPool2D", y, wantAvg, 1e-14)

				// float32 agrees with float64.
				x32 := make([]float32, len(x))
				for i, v := range x {
					x32[i] = float32(v)
				}
				y32 := make([]float32, len(y))
				AvgPool2D(p, inc, x32, y32)
				assertClose(t, "AvgPool2D float32", y32, wantAvg, 1e-6)
				MaxPool2D(p, x32, y32, arg)
				assertClose(t, "MaxPool2D float32", y32, wantMax, 1e-7)

				// MaxPool2DValues gives the same values, in both types.
				yv := make([]float64, len(y))
				MaxPool2DValues(p, x, yv)
				assertClose(t, "MaxPool2DValues", yv, wantMax, 0)
				yv32 := make([]float32, len(y32))
				MaxPool2DValues(p, x32, yv32)
				assertClose(t, "MaxPool2DValues float32", yv32, wantMax, 1e-7)

				// MaxPoolPlane, plane by plane, gives MaxPool2D's values
				// and indices.
				mp := NewMaxPoolPlane[float32](p)
				yp, ap := make([]float32, len(y32)), make([]int32, len(arg))
				for pl := 0; pl < g.planes; pl++ {
					mp.Pool(x32[pl*g.hw:], yp[pl*g.ohw:], ap[pl*g.ohw:])
				}
				for i := range yp {
					if yp[i] != y32[i] || ap[i] != arg[i] {
						t.Fatalf("MaxPoolPlane [%d] = %v at %d, MaxPool2D %v at %d", i, yp[i], ap[i], y32[i], arg[i])
					}
				}

				// Adjoint identities: <Scatter(dy), dx> = <dy, Gather(dx)>
				// and <Avg(x), dy> = <x, AvgBackward(dy)>.
				dy := randSlice[float64](rng, len(y))
				dx := randSlice[float64](rng, len(x))
				sc := make([]float64, len(x))
				MaxPoolScatter(p, dy, wantArg, sc)
				// The adding form on a filled dx gives that plus the same.
				acc := randSlice[float64](rng, len(x))
				sum := append([]float64(nil), acc...)
				for i, v := range sc {
					sum[i] += v
				}
				MaxPoolScatterAdd(p, dy, wantArg, acc)
				assertClose(t, "MaxPoolScatterAdd", acc, sum, 1e-15)
				ga := make([]float64, len(y))
				MaxPoolGather(p, dx, wantArg, ga)
				if a, b := dot(sc, dx), dot(dy, ga); math.Abs(a-b) > 1e-12*(1+math.Abs(a)) {
					t.Fatalf("scatter/gather not adjoint: %v vs %v", a, b)
				}
				AvgPool2D(p, inc, x, y)
				AvgPool2DBackward(p, inc, dy, sc)
				if a, b := dot(y, dy), dot(x, sc); math.Abs(a-b) > 1e-12*(1+math.Abs(a)) {
					t.Fatalf("avg pool backward not adjoint: %v vs %v", a, b)
				}
			})
		}
	}
}

// TestPoolFiniteDifference checks MaxPoolScatter and AvgPool2DBackward as
// gradients of L = <pool(x), r> by central differences.
func TestPoolFiniteDifference(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	p := PoolShape{N: 2, C: 2, H: 7, W: 6, KH: 3, KW: 2, StrideH: 2, StrideW: 2, PadTop: 1, PadRight: 1, CeilMode: true}
	g := p.geom("test")
	x := randSlice[float64](rng, g.planes*g.hw)
	r := randSlice[float64](rng, g.planes*g.ohw)
	y := make([]float64, len(r))
	arg := make([]int32, len(r))
	for _, inc := range []bool{false, true} {
		for _, isMax := range []bool{false, true} {
			loss := func() float64 {
				if isMax {
					MaxPool2D(p, x, y, arg)
				} else {
					AvgPool2D(p, inc, x, y)
				}
				return dot(y, r)
			}
			loss()
			grad := make([]float64, len(x))
			if isMax {
				MaxPoolScatter(p, r, arg, grad)
			} else {
				AvgPool2DBackward(p, inc, r, grad)
			}
			const h = 1e-7 // far below the gaps between random inputs
			for i := range x {
				old := x[i]
				x[i] = old + h
				lp := loss()
				x[i] = old - h
				lm := loss()
				x[i] = old
				if fd := (lp - lm) / (2 * h); math.Abs(fd-grad[i]) > 1e-6 {
					t.Fatalf("max=%v include=%v element %d: analytic %v, finite difference %v", isMax, inc, i, grad[i], fd)
				}
			}
		}
	}
}

func TestMaxPoolNaNAndEmptyWindow(t *testing.T) {
	p := PoolShape{N: 1, C: 1, H: 1, W: 4, KH: 1, KW: 2, StrideW: 2}
	x := []float32{1, float32(math.NaN()), 3, 2}
	y := make([]float32, 2)
	arg := make([]int32, 2)
	MaxPool2D(p, x, y, arg)
	if !math.IsNaN(float64(y[0])) || arg[0] != 1 || y[1] != 3 || arg[1] != 2 {
		t.Fatalf("got y=%v argmax=%v, want [NaN 3] [1 2]", y, arg)
	}
	// The 2×2 fast path: NaN wins, ties go to the first tap, and the sign of
	// a zero maximum is the winning tap's.
	p = PoolShape{N: 1, C: 1, H: 2, W: 6, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	x = []float32{1, 2, float32(math.Copysign(0, -1)), 0, 5, 5, 3, float32(math.NaN()), -1, -2, 5, 5}
	y = make([]float32, 3)
	arg = make([]int32, 3)
	MaxPool2D(p, x, y, arg)
	if !math.IsNaN(float64(y[0])) || arg[0] != 7 || y[1] != 0 || !math.Signbit(float64(y[1])) || arg[1] != 2 || y[2] != 5 || arg[2] != 4 {
		t.Fatalf("2x2 fast path: y=%v argmax=%v, want [NaN -0 5] [7 2 4]", y, arg)
	}
	// A NaN inside a block of the vectorised row code.
	p = PoolShape{N: 1, C: 1, H: 2, W: 80, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	x = randSlice[float32](rand.New(rand.NewPCG(1, 1)), 160)
	x[80+37] = float32(math.NaN())
	want, wantArg, _ := naivePool(p, false, toF64(x))
	y = make([]float32, 40)
	arg = make([]int32, 40)
	MaxPool2D(p, x, y, arg)
	for i := range y {
		if i == 18 {
			if !math.IsNaN(float64(y[i])) || arg[i] != 80+37 {
				t.Fatalf("output 18 = %v at %d, want NaN at 117", y[i], arg[i])
			}
			continue
		}
		if float64(y[i]) != want[i] || arg[i] != wantArg[i] {
			t.Fatalf("output %d = %v at %d, want %v at %d", i, y[i], arg[i], want[i], wantArg[i])
		}
	}
	// Dilation 3 with padding 2 on a width-2 input: the middle window's taps
	// (-1 and 2) both miss the input.
	p = PoolShape{N: 1, C: 1, H: 1, W: 2, KH: 1, KW: 2, DilW: 3, PadLeft: 2, PadRight: 2}
	y = make([]float32, p.OutW())
	arg = make([]int32, len(y))
	MaxPool2D(p, []float32{5, 7}, y, arg)
	if len(y) != 3 || y[0] != 7 || !math.IsInf(float64(y[1]), -1) || y[2] != 5 || arg[0] != 1 || arg[1] != -1 || arg[2] != 0 {
		t.Fatalf("got y=%v argmax=%v, want [7 -Inf 5] [1 -1 0]", y, arg)
	}
	// MaxPool2DValues: NaN propagates, and with stride 3 and padding 3 on
	// a width-2 input the first and last windows hold padding only.
	yv := make([]float32, 2)
	MaxPool2DValues(PoolShape{N: 1, C: 1, H: 1, W: 4, KH: 1, KW: 2, StrideW: 2}, []float32{1, float32(math.NaN()), 3, 2}, yv)
	if !math.IsNaN(float64(yv[0])) || yv[1] != 3 {
		t.Fatalf("MaxPool2DValues: got %v, want [NaN 3]", yv)
	}
	pe := PoolShape{N: 1, C: 1, H: 1, W: 2, KH: 1, KW: 2, StrideW: 3, PadLeft: 3, PadRight: 3}
	yv = make([]float32, pe.OutW())
	MaxPool2DValues(pe, []float32{5, 7}, yv)
	if len(yv) != 3 || !math.IsInf(float64(yv[0]), -1) || yv[1] != 7 || !math.IsInf(float64(yv[2]), -1) {
		t.Fatalf("MaxPool2DValues with all-padding windows: got %v, want [-Inf 7 -Inf]", yv)
	}
	dx := []float32{9, 9}
	MaxPoolScatter(p, []float32{1, 2, 3}, arg, dx)
	if dx[0] != 3 || dx[1] != 1 {
		t.Fatalf("scatter gave %v, want [3 1]", dx)
	}
}

func TestPoolShapeValidate(t *testing.T) {
	p := PoolShape{N: 1, C: 1, H: 5, W: 5, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
	if err := p.Validate(); err != nil || p.OutH() != 2 {
		t.Fatalf("Validate() = %v, OutH() = %d", err, p.OutH())
	}
	p.CeilMode = true
	if p.OutH() != 3 {
		t.Fatalf("ceil OutH() = %d, want 3", p.OutH())
	}
	// Ceil mode must not start a window in the trailing padding.
	q := PoolShape{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadBottom: 1, CeilMode: true}
	if q.OutH() != 2 {
		t.Fatalf("ceil OutH() with bottom pad = %d, want 2", q.OutH())
	}
	for _, bad := range []PoolShape{
		{N: 0, C: 1, H: 5, W: 5, KH: 2, KW: 2},
		{N: 1, C: 1, H: 5, W: 5, KH: 6, KW: 2},
		{N: 1, C: 1, H: 5, W: 5, KH: 2, KW: 2, PadTop: -1},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	mustPanic(t, "len(argmax)", func() {
		MaxPool2D(p, make([]float32, 25), make([]float32, 9), make([]int32, 4))
	})
}

// TestMaxPool2x2Planes runs the 2×2 fast path on whole planes of several
// rows (odd widths leave a column out, widths past 32 take several vector
// blocks per row, ties and NaNs in some rows hand the rest of that row to
// the portable code) and compares values and argmax with the float64
// route, which is portable throughout.
func TestMaxPool2x2Planes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, hw := range [][2]int{{28, 28}, {14, 14}, {7, 7}, {3, 3}, {9, 71}, {2, 2}, {30, 34}} {
		for _, nans := range []int{0, 1, 3} {
			p := PoolShape{N: 2, C: 3, H: hw[0], W: hw[1], KH: 2, KW: 2, StrideH: 2, StrideW: 2}
			x := randSlice[float32](rng, p.N*p.C*p.H*p.W)
			for i := range x {
				x[i] = float32(math.Round(float64(x[i]) * 4)) // ties
			}
			for range nans {
				x[rng.IntN(len(x))] = float32(math.NaN())
			}
			y, arg := make([]float32, p.N*p.C*p.OutH()*p.OutW()), make([]int32, p.N*p.C*p.OutH()*p.OutW())
			y64, arg64 := make([]float64, len(y)), make([]int32, len(y))
			MaxPool2D(p, x, y, arg)
			MaxPool2D(p, toF64(x), y64, arg64)
			for i := range y {
				same := float64(y[i]) == y64[i] || (math.IsNaN(float64(y[i])) && math.IsNaN(y64[i]))
				if !same || arg[i] != arg64[i] {
					t.Fatalf("%v, %d NaNs: output %d = %v at %d, portable %v at %d", hw, nans, i, y[i], arg[i], y64[i], arg64[i])
				}
			}
		}
	}
}

// TestUnpool2x2 compares Unpool2x2 (vector code where there is some) with
// its portable twin in every mode (and a bad mode panics), on planes of even and odd sizes, with
// the argmax of a real pooling, cut outputs (negative, zero, -0) and
// garbage already in dst.
func TestUnpool2x2(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for _, hw := range [][2]int{{28, 28}, {14, 14}, {7, 7}, {3, 3}, {2, 2}, {9, 71}, {30, 34}, {5, 2}, {13, 13}} {
		h, w := hw[0], hw[1]
		p := PoolShape{N: 1, C: 1, H: h, W: w, KH: 2, KW: 2, StrideH: 2, StrideW: 2}
		n := p.OutH() * p.OutW()
		x := randSlice[float32](rng, h*w)
		pooled, arg := make([]float32, n), make([]int32, n)
		MaxPool2D(p, randSlice[float32](rng, h*w), pooled, arg)
		keep := slices.Clone(pooled)
		keep[0] = float32(math.Copysign(0, -1))
		if n > 1 {
			keep[1] = 0
		}
		g := randSlice[float32](rng, n)
		hv := randSlice[float32](rng, h*w)
		for _, mode := range []UnpoolMode{UnpoolSet, UnpoolAffine, UnpoolAddAffine, UnpoolAffine2, UnpoolAddAffine2} {
			got := randSlice[float32](rng, h*w)
			want := slices.Clone(got)
			Unpool2x2(got, x, hv, g, keep, arg, h, w, 0.7, -1.3, 0.6, 0.25, mode)
			unpool2x2Go(want, x, hv, g, keep, arg, w, h/2, w/2, 0.7, -1.3, 0.6, 0.25, mode)
			for i := range got {
				if d := math.Abs(float64(got[i] - want[i])); d > 1e-6*(1+math.Abs(float64(want[i]))) {
					t.Fatalf("%dx%d, mode %d: element %d = %v, portable %v", h, w, mode, i, got[i], want[i])
				}
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Unpool2x2 with mode 6 did not panic")
		}
	}()
	Unpool2x2(make([]float32, 4), nil, nil, make([]float32, 1), make([]float32, 1), make([]int32, 1), 2, 2, 1, 0, 0, 0, 6)
}

// TestMaxRunsVec compares the vector maximum of shifted runs with its Go
// twin for lengths around the 16-lane blocks, NaNs in the first, a middle
// and the last run, and ±0.
func TestMaxRunsVec(t *testing.T) {
	if !haveMaxRunsVec() {
		t.Skip("no vector maxRuns")
	}
	rng := rand.New(rand.NewPCG(37, 38))
	for n := 1; n <= 70; n++ {
		for _, offs := range [][]int{{0}, {0, 1, 2}, {5, 0, 17, 3, 9, 11, 2, 8, 1}} {
			p := randSlice[float32](rng, n+20)
			for k := 0; k < 3; k++ {
				p[rng.IntN(len(p))] = float32(math.NaN())
			}
			p[rng.IntN(len(p))] = float32(math.Copysign(0, -1))
			want := make([]float32, n)
			maxRunsGo(want, p, offs)
			got := randSlice[float32](rng, n+5)
			tail := append([]float32(nil), got[n:]...)
			if !maxRunsVec(got[:n], p, offs) {
				t.Fatal("no vector maxRuns")
			}
			for j := range want {
				if got[j] != want[j] && !(math.IsNaN(float64(got[j])) && math.IsNaN(float64(want[j]))) && !(got[j] == 0 && want[j] == 0) {
					t.Fatalf("n %d offs %v: [%d] = %v, want %v", n, offs, j, got[j], want[j])
				}
			}
			for j, v := range got[n:] {
				if math.Float32bits(v) != math.Float32bits(tail[j]) {
					t.Fatalf("n %d: wrote past the end at %d", n, n+j)
				}
			}
		}
	}
}

// TestMaxPoolPhasesLarge checks MaxPool2DValues on SqueezeNet's 3×3
// stride-2 ceil-mode pool of 64 planes of 111×111 against the reference
// loops, on two threads.
func TestMaxPoolPhasesLarge(t *testing.T) {
	defer SetThreads(SetThreads(2))
	rng := rand.New(rand.NewPCG(39, 40))
	checkMaxPoolValues32(t, rng, PoolShape{N: 1, C: 64, H: 111, W: 111, KH: 3, KW: 3, StrideH: 2, StrideW: 2, CeilMode: true})
}

// checkMaxPoolValues32 compares float32 MaxPool2DValues of shape p on
// random data with the reference loops.
func checkMaxPoolValues32(t *testing.T, rng *rand.Rand, p PoolShape) {
	t.Helper()
	g := p.geom("test")
	x := randSlice[float64](rng, g.planes*g.hw)
	want, _, _ := naivePool(p, false, x)
	x32 := make([]float32, len(x))
	for i, v := range x {
		x32[i] = float32(v)
	}
	got := make([]float32, len(want))
	MaxPool2DValues(p, x32, got)
	assertClose(t, "MaxPool2DValues", got, want, 1e-7)
}
