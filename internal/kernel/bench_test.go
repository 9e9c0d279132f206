package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// flopMeter reports GFLOP/s (wall clock) and GFLOP per CPU-second for a
// benchmark doing a fixed number of floating-point operations per iteration.
// The second metric stays meaningful when other processes share the cores:
// for t threads on an idle machine, wall GFLOP/s ≈ t × GFLOP/cpu-s.
type flopMeter struct {
	b     *testing.B
	flops float64
	cpu0  time.Duration
}

func startFlops(b *testing.B, flops float64) *flopMeter {
	b.ResetTimer()
	return &flopMeter{b: b, flops: flops, cpu0: processCPU()}
}

func (m *flopMeter) stop() {
	total := m.flops * float64(m.b.N)
	m.b.ReportMetric(total/m.b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu := processCPU() - m.cpu0; cpu > 0 {
		m.b.ReportMetric(total/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

func benchGemm(b *testing.B, m, n, k, nt int) {
	prev := SetThreads(nt)
	defer SetThreads(prev)
	rng := rand.New(rand.NewPCG(1, 1))
	a := randSlice[float32](rng, m*k)
	bm := randSlice[float32](rng, k*n)
	c := make([]float32, m*n)
	fm := startFlops(b, 2*float64(m)*float64(n)*float64(k))
	for b.Loop() {
		Gemm(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
	}
	fm.stop()
}

func BenchmarkGemm1024(b *testing.B) {
	for _, nt := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", nt), func(b *testing.B) { benchGemm(b, 1024, 1024, 1024, nt) })
	}
}

// conv4Layers are the four 3×3 convolutions of the Conv-4 backbone on
// 84×84 RGB images (each followed by 2×2 max pooling).
func conv4Layers(batch int) []ConvShape {
	var ls []ConvShape
	c, hw := 3, 84
	for range 4 {
		ls = append(ls, ConvShape{N: batch, C: c, H: hw, W: hw, K: 64, R: 3, S: 3,
			PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1})
		c, hw = 64, hw/2
	}
	return ls
}

func convFlops(s ConvShape) float64 {
	return 2 * float64(s.N*s.K*s.OutH()*s.OutW()*s.C/orOne(s.Groups)*s.R*s.S)
}

func poolAfter(s ConvShape) PoolShape {
	return PoolShape{N: s.N, C: s.K, H: s.OutH(), W: s.OutW(), KH: 2, KW: 2, StrideH: 2, StrideW: 2}
}

// conv4Net holds activations for a Conv-4 forward/backward benchmark.
type conv4Net struct {
	layers             []ConvShape
	x, w, y, p, dy, dx [][]float32
	arg                [][]int32
}

func newConv4Net(batch int) *conv4Net {
	rng := rand.New(rand.NewPCG(2, 2))
	n := &conv4Net{layers: conv4Layers(batch)}
	in := randSlice[float32](rng, batch*3*84*84)
	for _, s := range n.layers {
		ps := poolAfter(s)
		y := make([]float32, s.N*s.K*s.OutH()*s.OutW())
		n.x = append(n.x, in)
		n.w = append(n.w, randSlice[float32](rng, s.K*s.C*s.R*s.S))
		n.y = append(n.y, y)
		n.dy = append(n.dy, randSlice[float32](rng, len(y)))
		n.dx = append(n.dx, make([]float32, len(in)))
		n.arg = append(n.arg, make([]int32, ps.N*ps.C*ps.OutH()*ps.OutW()))
		in = make([]float32, len(n.arg[len(n.arg)-1]))
		n.p = append(n.p, in)
	}
	return n
}

func (n *conv4Net) forward() {
	for i, s := range n.layers {
		Conv2D(s, n.x[i], n.w[i], nil, n.y[i])
		MaxPool2D(poolAfter(s), n.y[i], n.p[i], n.arg[i])
	}
}

func (n *conv4Net) flops() float64 {
	var f float64
	for _, s := range n.layers {
		f += convFlops(s)
	}
	return f
}

// BenchmarkConv4Forward runs the four convolutions and max pools of Conv-4
// on a batch of 80 84×84 images (random data), per thread count.
func BenchmarkConv4Forward(b *testing.B) {
	net := newConv4Net(80)
	for _, nt := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", nt), func(b *testing.B) {
			prev := SetThreads(nt)
			defer SetThreads(prev)
			fm := startFlops(b, net.flops())
			for b.Loop() {
				net.forward()
			}
			fm.stop()
		})
	}
}

// BenchmarkConv4Backward runs data and filter gradients of the four
// convolutions plus the max-pool scatters (batch 80, 2 threads).
func BenchmarkConv4Backward(b *testing.B) {
	net := newConv4Net(80)
	net.forward()
	dw := make([][]float32, len(net.layers))
	for i := range net.w {
		dw[i] = make([]float32, len(net.w[i]))
	}
	prev := SetThreads(2)
	defer SetThreads(prev)
	fm := startFlops(b, 2*net.flops())
	for b.Loop() {
		for i := len(net.layers) - 1; i >= 0; i-- {
			s := net.layers[i]
			MaxPoolScatter(poolAfter(s), net.p[i], net.arg[i], net.y[i])
			Conv2DBackwardFilter(s, net.x[i], net.y[i], dw[i])
			Conv2DBackwardData(s, net.y[i], net.w[i], net.dx[i])
		}
	}
	fm.stop()
}

// BenchmarkConv4Layer times each convolution alone, forward and both
// backward passes (batch 80, 2 threads).
func BenchmarkConv4Layer(b *testing.B) {
	net := newConv4Net(80)
	dw := make([]float32, 64*64*9)
	prev := SetThreads(2)
	defer SetThreads(prev)
	for i, s := range net.layers {
		b.Run(fmt.Sprintf("L%d/forward", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				Conv2D(s, net.x[i], net.w[i], nil, net.y[i])
			}
			fm.stop()
		})
		b.Run(fmt.Sprintf("L%d/backdata", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				Conv2DBackwardData(s, net.dy[i], net.w[i], net.dx[i])
			}
			fm.stop()
		})
		b.Run(fmt.Sprintf("L%d/backfilter", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				Conv2DBackwardFilter(s, net.x[i], net.dy[i], dw)
			}
			fm.stop()
		})
	}
}

// BenchmarkMicroKernel measures each float32 micro-kernel alone on
// L1-resident panels (kc = 128): the ceiling for the blocked product.
func BenchmarkMicroKernel(b *testing.B) {
	for _, uk := range sgemmKernels() {
		b.Run(uk.name, func(b *testing.B) {
			const kc = 128
			spA, a := getScratch[float32](kc * uk.mr)
			defer putScratch(spA)
			spB, bb := getScratch[float32](kc * uk.nr)
			defer putScratch(spB)
			clear(a)
			clear(bb)
			c := make([]float32, uk.mr*uk.nr)
			fm := startFlops(b, float64(2*kc*uk.mr*uk.nr))
			for b.Loop() {
				uk.fn(kc, a, bb, c, uk.nr, 1, 0)
			}
			fm.stop()
		})
	}
}

// BenchmarkConv4Omniglot times each convolution of Conv-4 on a 60-way
// 5-shot 5-query Omniglot episode (600 images of 28×28×1) on one thread,
// forward and both backward passes: the shapes of ProtoNet training, where
// the small planes (7×7, 3×3) make per-image products inefficient.
func BenchmarkConv4Omniglot(b *testing.B) {
	const batch = 600
	rng := rand.New(rand.NewPCG(3, 3))
	prev := SetThreads(1)
	defer SetThreads(prev)
	c, hw := 1, 28
	for i := range 4 {
		s := ConvShape{N: batch, C: c, H: hw, W: hw, K: 64, R: 3, S: 3,
			PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
		x := randSlice[float32](rng, batch*c*hw*hw)
		w := randSlice[float32](rng, 64*c*9)
		dy := randSlice[float32](rng, batch*64*hw*hw)
		y := make([]float32, len(dy))
		dw := make([]float32, len(w))
		b.Run(fmt.Sprintf("L%d/forward", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				Conv2D(s, x, w, nil, y)
			}
			fm.stop()
		})
		if i > 0 { // training never needs the input gradient of the first layer
			b.Run(fmt.Sprintf("L%d/backdata", i+1), func(b *testing.B) {
				fm := startFlops(b, convFlops(s))
				for b.Loop() {
					Conv2DBackwardData(s, dy, w, x)
				}
				fm.stop()
			})
		}
		b.Run(fmt.Sprintf("L%d/backfilter", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				Conv2DBackwardFilter(s, x, dy, dw)
			}
			fm.stop()
		})
		c, hw = 64, hw/2
	}
}

// BenchmarkGemmSubnormal multiplies a 256×256 matrix of subnormal floats
// (as softmax gradients of confidently separated classes are) by a normal
// one. With the assembly kernels it runs as fast as normal data; without
// flush-to-zero (the pure-Go kernel) x86 takes a microcode assist per
// operation.
func BenchmarkGemmSubnormal(b *testing.B) {
	const n = 256
	for _, uk := range sgemmKernels() {
		b.Run(uk.name, func(b *testing.B) {
			a, bm, c := make([]float32, n*n), make([]float32, n*n), make([]float32, n*n)
			for i := range a {
				a[i] = math.Float32frombits(uint32(0x100 + i%1000))
				bm[i] = 1 + float32(i%7)
			}
			withKernel(uk, func() {
				prev := SetThreads(1)
				defer SetThreads(prev)
				for b.Loop() {
					Gemm(false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
				}
			})
		})
	}
}
