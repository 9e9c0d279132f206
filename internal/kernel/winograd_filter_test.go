package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestWinogradBackwardFilterMatchesDirect compares the Winograd filter
// gradient with the direct float64 loops on every Winograd test shape. Each
// weight's gradient is a sum of |x|·|dy| ≤ 1 terms over the batch's output
// pixels; the tolerance is relative to that count.
func TestWinogradBackwardFilterMatchesDirect(t *testing.T) {
	defer SetThreads(SetThreads(2))
	rng := rand.New(rand.NewPCG(21, 22))
	for _, s := range winoShapes(testing.Short()) {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
			dy := randSlice[float32](rng, s.N*s.K*s.OutH()*s.OutW())
			_, want := naiveConvBackward(s, toF64(x), make([]float64, s.K*s.C*9), toF64(dy))
			dw := randSlice[float32](rng, s.K*s.C*9) // garbage to be overwritten
			WinogradBackwardFilter(s, x, dy, dw)
			terms := float64(s.N*s.OutH()*s.OutW()) + 1
			worst := 0.0
			for i := range dw {
				worst = max(worst, math.Abs(float64(dw[i])-want[i]))
			}
			if tol := 2e-6 * terms; worst > tol {
				t.Fatalf("max error %g, above %g", worst, tol)
			}
		})
	}
}

// TestWinogradBackwardFilterThreads checks that a thread count always gives
// the same bits, and that counts differ only by the rounding of the runs'
// sums.
func TestWinogradBackwardFilterThreads(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	s := ConvShape{N: 9, C: 12, H: 19, W: 17, K: 20, R: 3, S: 3, PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1}
	x := randSlice[float32](rng, s.N*s.C*s.H*s.W)
	dy := randSlice[float32](rng, s.N*s.K*s.OutH()*s.OutW())
	defer SetThreads(SetThreads(1))
	one := make([]float32, s.K*s.C*9)
	WinogradBackwardFilter(s, x, dy, one)
	for _, threads := range []int{2, 3} {
		SetThreads(threads)
		a := make([]float32, len(one))
		b := make([]float32, len(one))
		WinogradBackwardFilter(s, x, dy, a)
		WinogradBackwardFilter(s, x, dy, b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("%d threads: dw[%d] is %v, then %v", threads, i, a[i], b[i])
			}
			if d := math.Abs(float64(a[i] - one[i])); d > 2e-6*float64(s.N*s.OutH()*s.OutW()) {
				t.Fatalf("%d threads: dw[%d] = %v, one thread %v", threads, i, a[i], one[i])
			}
		}
	}
}

// TestWinogradOutputAdjoint checks the E transform against its definition:
// <E, M> = <e, Aᵀ·M·A> for every M, the property the gradient rests on.
func TestWinogradOutputAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	var e [4][4]float32
	var m [6][6]float32
	for i := range e {
		for j := range e[i] {
			e[i][j] = float32(rng.NormFloat64())
		}
	}
	for i := range m {
		for j := range m[i] {
			m[i][j] = float32(rng.NormFloat64())
		}
	}
	// Aᵀ·M·A through the forward helpers.
	var t1 [6][4]float32
	for i := 0; i < 6; i++ {
		t1[i] = winoAT(m[i])
	}
	var y [4][4]float32
	for b := 0; b < 4; b++ {
		col := winoAT([6]float32{t1[0][b], t1[1][b], t1[2][b], t1[3][b], t1[4][b], t1[5][b]})
		for a := 0; a < 4; a++ {
			y[a][b] = col[a]
		}
	}
	var h [4][6]float32
	for a := 0; a < 4; a++ {
		h[a] = winoAdjointA(e[a])
	}
	var lhs, rhs float64
	for q := 0; q < 6; q++ {
		col := winoAdjointA([4]float32{h[0][q], h[1][q], h[2][q], h[3][q]})
		for r := 0; r < 6; r++ {
			lhs += float64(col[r]) * float64(m[r][q])
		}
	}
	for a := 0; a < 4; a++ {
		for b := 0; b < 4; b++ {
			rhs += float64(e[a][b]) * float64(y[a][b])
		}
	}
	if math.Abs(lhs-rhs) > 1e-3*(math.Abs(rhs)+1) {
		t.Fatalf("<A·e·Aᵀ, M> = %g, <e, Aᵀ·M·A> = %g", lhs, rhs)
	}
}

func TestWinogradBackwardFilterPanics(t *testing.T) {
	s := ConvShape{N: 1, C: 3, H: 4, W: 4, K: 4, R: 3, S: 3}
	x := make([]float32, 3*16)
	dy := make([]float32, 4*4)
	dw := make([]float32, 4*3*9)
	bad := s
	bad.StrideH = 2
	mustPanic(t, "unit stride", func() { WinogradBackwardFilter(bad, x, dy, dw) })
	mustPanic(t, "len(x)", func() { WinogradBackwardFilter(s, x[:5], dy, dw) })
	mustPanic(t, "len(dy)", func() { WinogradBackwardFilter(s, x, dy[:3], dw) })
	mustPanic(t, "len(dw)", func() { WinogradBackwardFilter(s, x, dy, dw[:9]) })
}

// BenchmarkWinogradBackwardFilter times the filter gradient of Conv-4's
// layers at batch 80 (84×84×3 input) both ways: Winograd and the direct
// route the engine used before. GFLOP counts the direct operations.
func BenchmarkWinogradBackwardFilter(b *testing.B) {
	net := newConv4Net(80)
	rng := rand.New(rand.NewPCG(27, 28))
	for i, s := range net.layers {
		dy := randSlice[float32](rng, s.N*s.K*s.OutH()*s.OutW())
		dw := make([]float32, s.K*s.C*9)
		b.Run(fmt.Sprintf("L%d/winograd", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				WinogradBackwardFilter(s, net.x[i], dy, dw)
			}
			fm.stop()
		})
		b.Run(fmt.Sprintf("L%d/direct", i+1), func(b *testing.B) {
			fm := startFlops(b, convFlops(s))
			for b.Loop() {
				Conv2DBackwardFilter(s, net.x[i], dy, dw)
			}
			fm.stop()
		})
	}
}
