package kernel

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkDepthwise runs typical depthwise layers of MobileNet-style
// networks on 2 threads, at batch 1 and 8, with weights packed once as
// onnxio keeps a model's.
func BenchmarkDepthwise(b *testing.B) {
	layers := []struct {
		name string
		s    ConvShape
	}{
		{"3x3s1_32x112", ConvShape{C: 32, H: 112, W: 112, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"3x3s2_48x112", ConvShape{C: 48, H: 112, W: 112, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"5x5s1_480x14", ConvShape{C: 480, H: 14, W: 14, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		{"3x3s2_96x28", ConvShape{C: 96, H: 28, W: 28, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"5x5s2_72x56", ConvShape{C: 72, H: 56, W: 56, R: 5, S: 5, StrideH: 2, StrideW: 2, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		{"5x5s1_576x7", ConvShape{C: 576, H: 7, W: 7, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		{"3x3s1_960x7", ConvShape{C: 960, H: 7, W: 7, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"5x5s1_240x28", ConvShape{C: 240, H: 28, W: 28, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		{"5x5s1_80x28", ConvShape{C: 80, H: 28, W: 28, R: 5, S: 5, PadTop: 2, PadLeft: 2, PadBottom: 2, PadRight: 2}},
		{"3x3s1_384x14", ConvShape{C: 384, H: 14, W: 14, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	}
	prev := SetThreads(2)
	defer SetThreads(prev)
	for _, l := range layers {
		for _, n := range []int{1, 8} {
			s := l.s
			s.N, s.K, s.Groups = n, s.C, s.C
			b.Run(fmt.Sprintf("%s/batch=%d", l.name, n), func(b *testing.B) { benchConvWeights(b, s) })
		}
	}
}

// benchConv2D times Conv2D of shape s on random data, with its GFLOP/s.
func benchConv2D(b *testing.B, s ConvShape) {
	g := s.geom("bench")
	rng := rand.New(rand.NewPCG(1, 2))
	x := randSlice[float32](rng, s.N*g.xLen)
	w := randSlice[float32](rng, s.K*g.crs)
	bias := randSlice[float32](rng, s.K)
	y := make([]float32, s.N*g.yLen)
	fm := startFlops(b, convFlops(s))
	for b.Loop() {
		Conv2D(s, x, w, bias, y)
	}
	fm.stop()
}

// benchConvWeights is benchConv2D with the weights packed once by
// NewConvWeights, as onnxio runs a model's convolutions.
func benchConvWeights(b *testing.B, s ConvShape) {
	g := s.geom("bench")
	rng := rand.New(rand.NewPCG(1, 2))
	x := randSlice[float32](rng, s.N*g.xLen)
	cw := NewConvWeights(s.K, g.cg, s.R, s.S, g.groups, randSlice[float32](rng, s.K*g.crs))
	bias := randSlice[float32](rng, s.K)
	y := make([]float32, s.N*g.yLen)
	fm := startFlops(b, convFlops(s))
	for b.Loop() {
		cw.Conv2D(s, x, bias, y, false)
	}
	fm.stop()
}

// BenchmarkPointwise compares the 1×1 route with the general stride-1
// route on typical expansion and projection layers, 2 threads.
func BenchmarkPointwise(b *testing.B) {
	layers := []struct {
		name string
		s    ConvShape
	}{
		{"16to48_112", ConvShape{C: 16, K: 48, H: 112, W: 112, R: 1, S: 1}},
		{"48to24_56", ConvShape{C: 48, K: 24, H: 56, W: 56, R: 1, S: 1}},
		{"240to480_14", ConvShape{C: 240, K: 480, H: 14, W: 14, R: 1, S: 1}},
		{"576to96_7", ConvShape{C: 576, K: 96, H: 7, W: 7, R: 1, S: 1}},
	}
	prev := SetThreads(2)
	defer SetThreads(prev)
	for _, l := range layers {
		for _, n := range []int{1, 8} {
			s := l.s
			s.N = n
			g := s.geom("bench")
			for _, route := range []string{"dispatch", "gemm"} {
				b.Run(fmt.Sprintf("%s/batch=%d/%s", l.name, n, route), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(1, 2))
					x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
					w := randSlice[float32](rng, s.K*s.C)
					bias := randSlice[float32](rng, s.K)
					y := make([]float32, s.N*s.K*s.H*s.W)
					fm := startFlops(b, convFlops(s))
					for b.Loop() {
						if route == "gemm" {
							conv2DGEMM(&g, x, w, bias, y, true, nil)
						} else {
							conv2D(&g, x, w, bias, y, true, nil)
						}
					}
					fm.stop()
				})
			}
		}
	}
}

// BenchmarkStem runs strided convolutions: the first layers of ImageNet
// networks (three input channels, stride 2) and ResNet's downsampling
// layers, on 2 threads at batch 1 and 8.
func BenchmarkStem(b *testing.B) {
	layers := []struct {
		name string
		s    ConvShape
	}{
		{"3x3s2_3to16", ConvShape{C: 3, K: 16, H: 224, W: 224, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"3x3s2_3to32", ConvShape{C: 3, K: 32, H: 224, W: 224, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"7x7s2_3to64", ConvShape{C: 3, K: 64, H: 224, W: 224, R: 7, S: 7, StrideH: 2, StrideW: 2, PadTop: 3, PadLeft: 3, PadBottom: 3, PadRight: 3}},
		// ResNet's downsampling layers, for comparison.
		{"3x3s2_128to256x28", ConvShape{C: 128, K: 256, H: 28, W: 28, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"3x3s2_256to512x14", ConvShape{C: 256, K: 512, H: 14, W: 14, R: 3, S: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
		{"1x1s2_64to128x56", ConvShape{C: 64, K: 128, H: 56, W: 56, R: 1, S: 1, StrideH: 2, StrideW: 2}},
	}
	prev := SetThreads(2)
	defer SetThreads(prev)
	for _, l := range layers {
		for _, n := range []int{1, 8} {
			s := l.s
			s.N, s.Groups = n, 1
			b.Run(fmt.Sprintf("%s/batch=%d", l.name, n), func(b *testing.B) { benchConvWeights(b, s) })
		}
	}
}

// BenchmarkMaxPool runs the 3×3 stride-2 max pools of SqueezeNet (ceil
// mode) and ResNet (padding 1) on 2 threads at batch 1 and 8.
func BenchmarkMaxPool(b *testing.B) {
	layers := []struct {
		name string
		p    PoolShape
	}{
		{"squeezenet_64x111", PoolShape{C: 64, H: 111, W: 111, KH: 3, KW: 3, StrideH: 2, StrideW: 2, CeilMode: true}},
		{"resnet_64x112", PoolShape{C: 64, H: 112, W: 112, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}},
	}
	prev := SetThreads(2)
	defer SetThreads(prev)
	for _, l := range layers {
		for _, n := range []int{1, 8} {
			p := l.p
			p.N = n
			b.Run(fmt.Sprintf("%s/batch=%d", l.name, n), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(1, 2))
				x := randSlice[float32](rng, p.N*p.C*p.H*p.W)
				y := make([]float32, p.N*p.C*p.OutH()*p.OutW())
				for b.Loop() {
					MaxPool2DValues(p, x, y)
				}
			})
		}
	}
}
