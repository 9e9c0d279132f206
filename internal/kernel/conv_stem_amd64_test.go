//go:build !purego

package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestStemAVX512 compares the stem kernel with its Go twin for every
// count of channels and pixels, 1 to 75 taps, with and without Relu, NaNs
// included, and checks that it writes nothing outside the channels' pixels.
func TestStemAVX512(t *testing.T) {
	if !haveStem {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(81, 82))
	const ldy = 40
	for rows := 1; rows <= 16; rows++ {
		for cols := 1; cols <= 16; cols++ {
			nt := []int{1, 9, 27, 75}[rng.IntN(4)]
			x := randSlice[float32](rng, 400)
			x[rng.IntN(len(x))] = float32(math.NaN())
			offs := make([]int32, nt)
			for i := range offs {
				offs[i] = int32(rng.IntN(360))
			}
			w, b := randSlice[float32](rng, 16*nt), randSlice[float32](rng, 16)
			relu := rng.IntN(2) == 0
			got := randSlice[float32](rng, 16*ldy)
			want := append([]float32(nil), got...)
			stem(got, ldy, x, offs, w, b, relu, rows, cols)
			stemGo(want, ldy, x, offs, w, b, relu, rows, cols)
			assertClose(t, "stem", got, want, 1e-5)
		}
	}
}
