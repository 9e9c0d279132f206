package onnxio

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestArithRows compares the direct loops of element-wise arithmetic with
// the general broadcasting loop, for every operator, both operand orders
// and the shapes they take (same shape, scalar, per-channel, per-row, and
// repeating along the leading dims).
func TestArithRows(t *testing.T) {
	for _, os := range [][]int{{2, 3, 4, 5}, {2, 3, 8, 20}} { // the second has rows long enough for the vector kernels
		checkArithRows(t, os)
	}
}

func checkArithRows(t *testing.T, os []int) {
	rng := rand.New(rand.NewPCG(31, 32))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN())}
	cases := [][2][]int{
		{os, os}, {os, {1}}, {os, {}}, {os, {2, 3, 1, 1}}, {os, {3, 1, 1}}, {os, {2, 3, os[2], 1}},
		{os, {1, 3, 1, 1}},                                                 // broadcast on a leading dim: general loop only
		{os, {os[3]}}, {os, {1, 1, os[2], os[3]}}, {os, {3, os[2], os[3]}}, // repeating along the leading dims
		{os, {1, 1, os[2], 1}}, // neither: general loop only
	}
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		for _, c := range cases {
			for _, swap := range []bool{false, true} {
				as, bs := c[0], c[1]
				if swap {
					as, bs = bs, as
				}
				a := make([]float32, max(1, shapeSize(as)))
				b := make([]float32, max(1, shapeSize(bs)))
				for i := range a {
					a[i] = float32(rng.Float64() - 0.5)
					if rng.IntN(8) == 0 {
						a[i] = specials[rng.IntN(len(specials))]
					}
				}
				for i := range b {
					b[i] = float32(rng.Float64() - 0.5)
					if rng.IntN(8) == 0 {
						b[i] = specials[rng.IntN(len(specials))]
					}
				}
				n := shapeSize(os)
				got, want := make([]float32, n), make([]float32, n)
				bcast(want, os, a, as, b, bs, arithFunc[float32](op))
				if err := arithT(op, got, a, as, b, bs, os); err != nil {
					t.Fatal(err)
				}
				for i := range got {
					// Bit for bit: signed zeros and NaNs included.
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
						t.Fatalf("%s %v %v: out[%d] = %v, want %v", op, as, bs, i, got[i], want[i])
					}
				}
			}
		}
	}
}
