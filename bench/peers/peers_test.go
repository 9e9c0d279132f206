package peers

import (
	"math"
	"testing"

	"gorgonia.org/tensor"
)

// small is a Conv-4 small enough to test quickly.
func small(bn, training bool) Conv4Config {
	return Conv4Config{Batch: 4, InChannels: 3, Height: 16, Width: 16, Channels: 8, Blocks: 4,
		BatchNorm: bn, Training: training}
}

func TestConv4Shapes(t *testing.T) {
	for _, bn := range []bool{false, true} {
		n, err := NewConv4(small(bn, false), 1)
		if err != nil {
			t.Fatalf("bn=%v: %v", bn, err)
		}
		if got := n.OutputShape(); !got.Eq(tensor.Shape{4, 8}) {
			t.Errorf("bn=%v: output shape %v, want (4, 8)", bn, got)
		}
		if _, err := n.Step(); err != nil {
			t.Errorf("bn=%v: forward: %v", bn, err)
		}
		n.Close()
	}
	n, err := NewConv4(StandardConv4(false), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if got := n.OutputShape(); !got.Eq(tensor.Shape{80, 1600}) {
		t.Errorf("standard Conv-4 output shape %v, want (80, 1600)", got)
	}
}

// TestConv4InferenceBN checks that BatchNorm runs in inference form: with
// running mean 0, variance 1, scale 1 and shift 0 each BN divides by
// sqrt(1+eps), and ReLU, max-pool and the next convolution are positively
// homogeneous, so the output is the BN-free network's (zero conv bias,
// same weights) times (1+eps)^(-blocks/2).
func TestConv4InferenceBN(t *testing.T) {
	var outs [2][]float32
	for i, bn := range []bool{false, true} {
		n, err := NewConv4(small(bn, false), 4)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.Step(); err != nil {
			t.Fatal(err)
		}
		outs[i] = n.Output()
		n.Close()
	}
	scale := math.Pow(1+1e-5, -2)
	for i, v := range outs[0] {
		want := float64(v) * scale
		if got := float64(outs[1][i]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("output %d: with BN %g, want %g", i, got, want)
		}
	}
}

// TestConv4TrainingLowersLoss checks that the training step really descends:
// the loss is a mean of squares, so SGD on it must shrink it.
func TestConv4TrainingLowersLoss(t *testing.T) {
	for _, bn := range []bool{false, true} {
		cfg := small(bn, true)
		cfg.LearnRate = 0.05
		n, err := NewConv4(cfg, 2)
		if err != nil {
			t.Fatalf("bn=%v: %v", bn, err)
		}
		first, err := n.Step()
		if err != nil {
			t.Fatalf("bn=%v: step: %v", bn, err)
		}
		var last float64
		for i := 0; i < 5; i++ {
			if last, err = n.Step(); err != nil {
				t.Fatalf("bn=%v: step %d: %v", bn, i, err)
			}
		}
		t.Logf("bn=%v: loss %g -> %g after 5 SGD steps", bn, first, last)
		if math.IsNaN(last) || !(last < first) {
			t.Errorf("bn=%v: loss went from %g to %g, want it lower", bn, first, last)
		}
		n.Close()
	}
}

func TestGonumSgemm(t *testing.T) {
	const n = 5
	a, b := MatMulOperands(n, 3)
	c := make([]float32, n*n)
	GonumSgemm(n, a.Data().([]float32), b.Data().([]float32), c)
	ad, bd := a.Data().([]float32), b.Data().([]float32)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			var want float64
			for k := 0; k < n; k++ {
				want += float64(ad[i*n+k]) * float64(bd[k*n+j])
			}
			if got := float64(c[i*n+j]); math.Abs(got-want) > 1e-5 {
				t.Fatalf("c[%d,%d] = %g, want %g", i, j, got, want)
			}
		}
	}
	tc, err := a.MatMul(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range tc.Data().([]float32) {
		if math.Abs(float64(v-c[i])) > 1e-5 {
			t.Fatalf("tensor.MatMul[%d] = %g, gonum gives %g", i, v, c[i])
		}
	}
}
