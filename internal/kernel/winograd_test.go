package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// winoShapes are 3×3 unit-stride geometries: odd and even planes, pads 0
// and 1 (also uneven), channel counts that are not multiples of 16 or of
// the micro-kernel's tile, batches that leave the last tile block partial,
// and more channels than one packed slice holds.
func winoShapes(short bool) []ConvShape {
	p1 := func(s ConvShape) ConvShape {
		s.PadTop, s.PadLeft, s.PadBottom, s.PadRight = 1, 1, 1, 1
		return s
	}
	ss := []ConvShape{
		{N: 1, C: 1, H: 3, W: 3, K: 1, R: 3, S: 3},
		p1(ConvShape{N: 1, C: 1, H: 1, W: 1, K: 1, R: 3, S: 3}),
		p1(ConvShape{N: 2, C: 3, H: 5, W: 6, K: 4, R: 3, S: 3}),
		{N: 3, C: 5, H: 9, W: 7, K: 7, R: 3, S: 3},
		p1(ConvShape{N: 2, C: 8, H: 10, W: 10, K: 8, R: 3, S: 3}),
		p1(ConvShape{N: 5, C: 17, H: 11, W: 13, K: 9, R: 3, S: 3}),
		{N: 4, C: 16, H: 8, W: 12, K: 20, R: 3, S: 3, PadTop: 1, PadRight: 1},
		{N: 3, C: 6, H: 7, W: 8, K: 33, R: 3, S: 3, PadLeft: 1, PadBottom: 1},
		p1(ConvShape{N: 7, C: 64, H: 5, W: 5, K: 64, R: 3, S: 3}),
		p1(ConvShape{N: 2, C: 300, H: 6, W: 7, K: 10, R: 3, S: 3}), // channels split in packed slices
		p1(ConvShape{N: 1, C: 3, H: 84, W: 84, K: 16, R: 3, S: 3}),
		p1(ConvShape{N: 3, C: 1, H: 28, W: 28, K: 16, R: 3, S: 3}), // Omniglot's first layer (pooled: WinogradPooledSuits)
	}
	if !short {
		ss = append(ss,
			p1(ConvShape{N: 3, C: 64, H: 21, W: 21, K: 64, R: 3, S: 3}),
			p1(ConvShape{N: 2, C: 64, H: 42, W: 42, K: 64, R: 3, S: 3}))
	}
	return ss
}

// refConvFused is Conv2D in float64 followed by fuse.
func refConvFused(s ConvShape, x, w, bias []float64, fuse WinogradFuse) []float64 {
	y := naiveConv(s, x, w, bias)
	oh, ow := s.OutH(), s.OutW()
	if fuse.MaxPool2x2 {
		ph, pw := oh/2, ow/2
		p := make([]float64, s.N*s.K*ph*pw)
		for nk := 0; nk < s.N*s.K; nk++ {
			for a := 0; a < ph; a++ {
				for b := 0; b < pw; b++ {
					r0 := y[nk*oh*ow+2*a*ow+2*b:]
					r1 := y[nk*oh*ow+(2*a+1)*ow+2*b:]
					p[(nk*ph+a)*pw+b] = max(r0[0], r0[1], r1[0], r1[1])
				}
			}
		}
		y = p
	}
	if fuse.ReLU {
		for i, v := range y {
			y[i] = max(v, 0)
		}
	}
	return y
}

// TestWinogradMatchesDirect compares the Winograd convolution, with every
// fusion, against the direct float64 loops. Winograd F(4×4, 3×3) rounds a
// little worse than a direct sum: the tolerance is 1e-5 relative to the
// largest |x|·|w| sum of a window, which bounds every output.
func TestWinogradMatchesDirect(t *testing.T) {
	// Two threads: most shapes here have few blocks, so this checks the
	// within-block split; TestWinogradThreads compares it with one thread.
	defer SetThreads(SetThreads(2))
	rng := rand.New(rand.NewPCG(1, 2))
	fuses := []WinogradFuse{{}, {ReLU: true}, {MaxPool2x2: true}, {MaxPool2x2: true, ReLU: true}}
	for _, s := range winoShapes(testing.Short()) {
		x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
		w := randSlice[float32](rng, s.K*s.C*9)
		bias := randSlice[float32](rng, s.K)
		f := NewWinogradFilter(s.K, s.C, w)
		scale := float64(9*s.C) + 1 // |x|, |w|, |bias| ≤ 1
		for _, fuse := range fuses {
			oh, ow := s.OutH(), s.OutW()
			if fuse.MaxPool2x2 {
				oh, ow = oh/2, ow/2
				if oh == 0 || ow == 0 {
					continue
				}
			}
			for _, b := range [][]float32{bias, nil} {
				t.Run(fmt.Sprintf("%+v/%+v/bias=%v", s, fuse, b != nil), func(t *testing.T) {
					var b64 []float64
					if b != nil {
						b64 = toF64(b)
					}
					want := refConvFused(s, toF64(x), toF64(w), b64, fuse)
					y := randSlice[float32](rng, s.N*s.K*oh*ow) // garbage to be overwritten
					f.Conv2D(s, x, b, y, fuse)
					worst := 0.0
					for i := range y {
						worst = max(worst, math.Abs(float64(y[i])-want[i]))
					}
					if worst > 1e-5*scale {
						t.Fatalf("max error %g, above %g", worst, 1e-5*scale)
					}
				})
			}
		}
	}
}

// TestWinogradThreads checks that any thread count gives the same bits as
// one thread, both when threads share out whole blocks and when they split
// the steps of each block (few blocks): neither split changes any sum.
func TestWinogradThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pad := func(s ConvShape) ConvShape {
		s.PadTop, s.PadLeft, s.PadBottom, s.PadRight = 1, 1, 1, 1
		return s
	}
	for _, s := range []ConvShape{
		pad(ConvShape{N: 5, C: 12, H: 19, W: 17, K: 24, R: 3, S: 3}),          // 3 blocks
		pad(ConvShape{N: 40, C: 5, H: 19, W: 17, K: 11, R: 3, S: 3}),          // 21 blocks
		pad(ConvShape{N: 1, C: 3, H: 30, W: 29, K: 17, R: 3, S: 3}),           // 1 block, 3 channels
		pad(ConvShape{N: 1, C: 64, H: 10, W: 10, K: 64, R: 3, S: 3}),          // Conv-4's last layer
		{N: 2, C: 7, H: 44, W: 44, K: 9, R: 3, S: 3, PadLeft: 1, PadRight: 1}, // 9 blocks
	} {
		x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
		w := randSlice[float32](rng, s.K*s.C*9)
		bias := randSlice[float32](rng, s.K)
		f := NewWinogradFilter(s.K, s.C, w)
		for _, fuse := range []WinogradFuse{{}, {MaxPool2x2: true, ReLU: true}} {
			size := s.N * s.K * s.OutH() * s.OutW()
			if fuse.MaxPool2x2 {
				size = s.N * s.K * (s.OutH() / 2) * (s.OutW() / 2)
			}
			one := make([]float32, size)
			prev := SetThreads(1)
			f.Conv2D(s, x, bias, one, fuse)
			for _, threads := range []int{2, 3, 4} {
				got := randSlice[float32](rng, size)
				SetThreads(threads)
				f.Conv2D(s, x, bias, got, fuse)
				for i := range one {
					if one[i] != got[i] {
						t.Fatalf("%+v, %+v: element %d: %v with 1 thread, %v with %d", s, fuse, i, one[i], got[i], threads)
					}
				}
			}
			SetThreads(prev)
		}
	}
}

func TestWinogradSuits(t *testing.T) {
	base := ConvShape{N: 1, C: 64, H: 10, W: 10, K: 64, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	if !WinogradSuits(base) {
		t.Errorf("%+v: want Winograd", base)
	}
	for _, mod := range []func(*ConvShape){
		func(s *ConvShape) { s.StrideH = 2 },
		func(s *ConvShape) { s.DilW = 2 },
		func(s *ConvShape) { s.Groups = 2 },
		func(s *ConvShape) { s.R = 5 },
		func(s *ConvShape) { s.C = 2 },
		func(s *ConvShape) { s.H = 0 },
	} {
		s := base
		mod(&s)
		if WinogradSuits(s) {
			t.Errorf("%+v: want no Winograd", s)
		}
	}
}

func TestWinogradPanics(t *testing.T) {
	w := make([]float32, 4*3*9)
	f := NewWinogradFilter(4, 3, w)
	s := ConvShape{N: 1, C: 3, H: 4, W: 4, K: 4, R: 3, S: 3}
	x := make([]float32, 3*16)
	y := make([]float32, 4*4)
	mustPanic(t, "must be positive", func() { NewWinogradFilter(0, 3, w) })
	mustPanic(t, "len(w)", func() { NewWinogradFilter(4, 4, w) })
	bad := s
	bad.StrideW = 2
	mustPanic(t, "unit stride", func() { f.Conv2D(bad, x, nil, y, WinogradFuse{}) })
	bad = s
	bad.C = 2
	mustPanic(t, "the filter has C = 3", func() { f.Conv2D(bad, x, nil, y, WinogradFuse{}) })
	mustPanic(t, "len(x)", func() { f.Conv2D(s, x[:10], nil, y, WinogradFuse{}) })
	mustPanic(t, "len(y)", func() { f.Conv2D(s, x, nil, y[:3], WinogradFuse{}) })
	mustPanic(t, "too small for 2×2 pooling", func() {
		f.Conv2D(ConvShape{N: 1, C: 3, H: 3, W: 4, K: 4, R: 3, S: 3}, x, nil, y, WinogradFuse{MaxPool2x2: true})
	})
}

// BenchmarkWinogradLayer times the Winograd convolution of each Conv-4
// layer (batch 80 and batch 1, 1 and 2 threads) with the 2×2 max pooling and
// ReLU fused. The GFLOP figures count the direct convolution's operations,
// so they compare with BenchmarkConv4Layer's forward pass.
func BenchmarkWinogradLayer(b *testing.B) {
	for _, batch := range []int{80, 1} {
		net := newConv4Net(batch)
		for _, threads := range []int{2, 1} {
			for i, s := range net.layers {
				f := NewWinogradFilter(s.K, s.C, net.w[i])
				b.Run(fmt.Sprintf("batch%d/threads%d/L%d", batch, threads, i+1), func(b *testing.B) {
					defer SetThreads(SetThreads(threads))
					fm := startFlops(b, convFlops(s))
					for b.Loop() {
						f.Conv2D(s, net.x[i], nil, net.p[i], WinogradFuse{MaxPool2x2: true, ReLU: true})
					}
					fm.stop()
				})
				// Unfused, as a training step's convolutions run: the
				// full-size output is written.
				full := make([]float32, s.N*s.K*s.OutH()*s.OutW())
				b.Run(fmt.Sprintf("batch%d/threads%d/L%d/full", batch, threads, i+1), func(b *testing.B) {
					defer SetThreads(SetThreads(threads))
					fm := startFlops(b, convFlops(s))
					for b.Loop() {
						f.Conv2D(s, net.x[i], nil, full, WinogradFuse{})
					}
					fm.stop()
				})
			}
		}
	}
}

// BenchmarkWinogradOrDirect times the 3×3 unit-stride convolutions of a
// ResNet (64 channels at 56×56 down to 512 at 7×7, batch 1 and 8) both
// ways: Winograd and the packed-weight direct GEMM that ONNX inference
// falls back to: with blocks multiplying only their tiles' columns,
// Winograd is the faster at every tile count there.
func BenchmarkWinogradOrDirect(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, batch := range []int{1, 2, 4, 8} {
		for _, l := range []struct{ c, hw int }{{64, 56}, {128, 28}, {256, 14}, {512, 7}, {128, 7}, {64, 12}} {
			s := ConvShape{N: batch, C: l.c, H: l.hw, W: l.hw, K: l.c, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
			x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
			w := randSlice[float32](rng, s.K*s.C*9)
			y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
			wf := NewWinogradFilter(s.K, s.C, w)
			cw := NewConvWeights(s.K, s.C, 3, 3, 1, w)
			name := fmt.Sprintf("batch%d/c%d/%dx%d", batch, l.c, l.hw, l.hw)
			b.Run(name+"/winograd", func(b *testing.B) {
				fm := startFlops(b, convFlops(s))
				for b.Loop() {
					wf.Conv2D(s, x, nil, y, WinogradFuse{})
				}
				fm.stop()
			})
			b.Run(name+"/direct", func(b *testing.B) {
				fm := startFlops(b, convFlops(s))
				for b.Loop() {
					cw.Conv2D(s, x, nil, y, false)
				}
				fm.stop()
			})
		}
	}
}

// TestWinogradBatchInvariant checks that an image's output does not depend
// on the batch around it: a batch whose tiles fill part of a block (narrow
// products) and the same images one by one give the same bits.
func TestWinogradBatchInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, s := range []ConvShape{
		{N: 5, C: 16, H: 7, W: 7, K: 24, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},   // 4 tiles an image
		{N: 3, C: 32, H: 12, W: 12, K: 16, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}, // 9
		{N: 4, C: 8, H: 16, W: 16, K: 8, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1},   // 16
	} {
		for _, fuse := range []WinogradFuse{{}, {MaxPool2x2: true, ReLU: true}} {
			x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
			w := randSlice[float32](rng, s.K*s.C*9)
			bias := randSlice[float32](rng, s.K)
			f := NewWinogradFilter(s.K, s.C, w)
			oh, ow := s.OutH(), s.OutW()
			if fuse.MaxPool2x2 {
				oh, ow = oh/2, ow/2
			}
			per := s.K * oh * ow
			all := make([]float32, s.N*per)
			f.Conv2D(s, x, bias, all, fuse)
			one := s
			one.N = 1
			for n := 0; n < s.N; n++ {
				y := make([]float32, per)
				f.Conv2D(one, x[n*s.C*s.H*s.W:(n+1)*s.C*s.H*s.W], bias, y, fuse)
				for i := range y {
					if math.Float32bits(y[i]) != math.Float32bits(all[n*per+i]) {
						t.Fatalf("%+v %+v: image %d alone gives y[%d] = %g, in the batch %g", s, fuse, n, i, y[i], all[n*per+i])
					}
				}
			}
		}
	}
}

// TestWinogradConv2DSum compares conv(x, w) + conv(x2, w2) in one output
// transform with the direct float64 convolution of the two inputs stacked
// along the channels (and the filters with them).
func TestWinogradConv2DSum(t *testing.T) {
	defer SetThreads(SetThreads(2))
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range winoShapes(true) {
		x, x2 := randSlice[float32](rng, s.N*s.C*s.H*s.W), randSlice[float32](rng, s.N*s.C*s.H*s.W)
		w, w2 := randSlice[float32](rng, s.K*s.C*9), randSlice[float32](rng, s.K*s.C*9)
		bias := randSlice[float32](rng, s.K)
		stacked := s
		stacked.C = 2 * s.C
		img, taps := s.C*s.H*s.W, s.C*9
		xs, ws := make([]float64, 2*len(x)), make([]float64, 2*len(w))
		for n := range s.N {
			copy(xs[2*n*img:], toF64(x[n*img:(n+1)*img]))
			copy(xs[(2*n+1)*img:], toF64(x2[n*img:(n+1)*img]))
		}
		for k := range s.K {
			copy(ws[2*k*taps:], toF64(w[k*taps:(k+1)*taps]))
			copy(ws[(2*k+1)*taps:], toF64(w2[k*taps:(k+1)*taps]))
		}
		f, f2 := NewWinogradFilter(s.K, s.C, w), NewWinogradFilter(s.K, s.C, w2)
		scale := float64(18*s.C) + 1
		for _, fuse := range []WinogradFuse{{}, {MaxPool2x2: true, ReLU: true}} {
			oh, ow := s.OutH(), s.OutW()
			if fuse.MaxPool2x2 {
				oh, ow = oh/2, ow/2
				if oh == 0 || ow == 0 {
					continue
				}
			}
			want := refConvFused(stacked, xs, ws, toF64(bias), fuse)
			y := randSlice[float32](rng, s.N*s.K*oh*ow)
			f.Conv2DSum(s, x, f2, x2, bias, y, fuse)
			worst := 0.0
			for i := range y {
				worst = max(worst, math.Abs(float64(y[i])-want[i]))
			}
			if worst > 1e-5*scale {
				t.Errorf("%+v %+v: max error %g, above %g", s, fuse, worst, 1e-5*scale)
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Conv2DSum with filters of different shapes did not panic")
		}
	}()
	s := ConvShape{N: 1, C: 2, H: 4, W: 4, K: 3, R: 3, S: 3}
	NewWinogradFilter(3, 2, make([]float32, 54)).Conv2DSum(s, make([]float32, 32), NewWinogradFilter(2, 2, make([]float32, 36)), make([]float32, 32), nil, make([]float32, 12), WinogradFuse{})
}
