//go:build !purego

package kernel

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestDWPlaneAVX512 compares the assembly plane kernel with its Go twin
// (dwRowGo's long row, compacted, then Relu) on planes of every width up
// to 40 and several heights, 1 to 49 taps at random offsets, with and
// without Relu, NaNs included: the same outputs, and nothing written
// past the plane.
func TestDWPlaneAVX512(t *testing.T) {
	if !haveDWPlane {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for ow := 1; ow <= 40; ow++ {
		for _, oh := range []int{1, 2, 7, 13} {
			for _, junk := range []int{0, 2, 4} {
				pw := ow + junk
				n := (oh-1)*pw + ow
				nt := []int{1, 3, 9, 25, 49}[rng.IntN(5)]
				relu := rng.IntN(2) == 0
				p := randSlice[float32](rng, n+300)
				p[rng.IntN(len(p))] = float32(math.NaN())
				offs := make([]int, nt)
				for i := range offs {
					offs[i] = rng.IntN(301)
				}
				w := randSlice[float32](rng, nt)
				b := float32(rng.Float64() - 0.5)
				long := make([]float32, n)
				dwRowGo(long, p, offs, w, b)
				want := make([]float32, oh*ow)
				for y := range oh {
					copy(want[y*ow:(y+1)*ow], long[y*pw:])
				}
				if relu {
					reluInPlace(want)
				}
				got := randSlice[float32](rng, oh*ow+40)
				after := append([]float32(nil), got[oh*ow:]...)
				if !dwPlaneVec(got[:oh*ow], p, offs, w, b, relu, newDWPlane(oh, ow, pw)) {
					t.Fatal("dwPlaneVec declined with AVX-512")
				}
				name := "dwPlane " + itoa(oh) + "x" + itoa(ow) + " pw " + itoa(pw)
				assertClose(t, name, got[:oh*ow], want, 1e-5)
				for i, v := range got[oh*ow:] {
					if v != after[i] {
						t.Fatalf("%s: wrote element %d past the plane", name, i)
					}
				}
			}
		}
	}
}

// TestDeinterleave2Vec checks the vector pair split at every length up to
// a few blocks, with runs of unequal lengths: the pairs it reports done
// are right, and nothing past them is written, in the slices or beyond.
func TestDeinterleave2Vec(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(27, 28))
	for m := 1; m <= 70; m++ {
		for _, lens := range [][3]int{{2 * m, m, m}, {2*m + 1, m + 1, m}, {2 * m, m + 3, m + 1}, {2*m + 5, m, m + 2}} {
			src := randSlice[float32](rng, lens[0])
			even := randSlice[float32](rng, lens[1]+20)
			odd := randSlice[float32](rng, lens[2]+20)
			even0, odd0 := append([]float32(nil), even...), append([]float32(nil), odd...)
			n := deinterleave2Vec(even[:lens[1]], odd[:lens[2]], src)
			if n != m {
				t.Fatalf("lengths %v: %d pairs done, want %d", lens, n, m)
			}
			for ph, got := range [][]float32{even, odd} {
				before := [][]float32{even0, odd0}[ph]
				for k := range got {
					want := before[k]
					if k < n {
						want = src[2*k+ph]
					}
					if got[k] != want {
						t.Fatalf("lengths %v: phase %d element %d is %v, want %v", lens, ph, k, got[k], want)
					}
				}
			}
		}
	}
}

// TestDeinterleave2RowsVec checks the row loop of the pair split: rows
// of src lds apart into rows of even and odd ldd apart, nothing written
// between the rows or after the last.
func TestDeinterleave2RowsVec(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(33, 34))
	for _, c := range []struct{ n, rows, ldd, lds int }{{7, 14, 9, 28}, {16, 3, 20, 33}, {35, 5, 35, 70}, {1, 4, 2, 3}} {
		src := randSlice[float32](rng, (c.rows-1)*c.lds+2*c.n)
		even := randSlice[float32](rng, (c.rows-1)*c.ldd+c.n+8)
		odd := randSlice[float32](rng, len(even))
		even0, odd0 := append([]float32(nil), even...), append([]float32(nil), odd...)
		if !deinterleave2RowsVec(even, odd, c.ldd, src, c.lds, c.n, c.rows) {
			t.Fatal("no vector split")
		}
		for i := range even {
			r, k := i/c.ldd, i%c.ldd
			we, wo := even0[i], odd0[i]
			if r < c.rows && k < c.n {
				we, wo = src[r*c.lds+2*k], src[r*c.lds+2*k+1]
			}
			if even[i] != we || odd[i] != wo {
				t.Fatalf("%+v: element %d is (%v, %v), want (%v, %v)", c, i, even[i], odd[i], we, wo)
			}
		}
	}
}

// TestReluVec compares the AVX-512 Relu with the builtin max, NaNs and
// lengths that are not multiples of 16 included.
func TestReluVec(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for n := 0; n <= 70; n++ {
		x := randSlice[float32](rng, n)
		if n > 3 {
			x[3] = float32(math.NaN())
			x[1] = float32(math.Inf(-1))
		}
		want := make([]float32, n)
		for i, v := range x {
			want[i] = max(v, 0)
		}
		reluInPlace(x)
		for i := range x {
			if x[i] != want[i] && !(math.IsNaN(float64(x[i])) && math.IsNaN(float64(want[i]))) {
				t.Fatalf("n=%d: x[%d] = %v, want %v", n, i, x[i], want[i])
			}
		}
	}
}

// TestDWBlockKernels compares the channel-blocked depthwise kernels with
// their Go twins: the transposes exactly (partial rows and columns, and
// nothing written where they must not write), the per-pixel sums within
// a few roundings, with and without Relu, NaNs included.
func TestDWBlockKernels(t *testing.T) {
	if !haveDWBlock {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(51, 52))
	for rows := 1; rows <= 16; rows++ {
		for cols := 1; cols <= 16; cols++ {
			const ld = 37
			src := randSlice[float32](rng, (rows-1)*ld+cols)
			tab := make([]int32, 16)
			for j := range tab {
				tab[j] = int32(16 * ((j*7 + rows) % 16)) // a permutation of the 16 slots
			}
			got, want := randSlice[float32](rng, 256), make([]float32, 256)
			copy(want, got)
			dwGather(got, tab, src, ld, rows, cols)
			dwGatherGo(want, tab, src, ld, rows, cols)
			assertClose(t, "dwGather", got, want, 0)

			o := randSlice[float32](rng, 256)
			dst := randSlice[float32](rng, (rows-1)*ld+cols+40)
			ref := append([]float32(nil), dst...)
			dwScatter(dst[:(rows-1)*ld+cols], ld, o, rows, cols)
			dwScatterGo(ref, ld, o, rows, cols)
			assertClose(t, "dwScatter", dst, ref, 0)
		}
	}
	for _, nq := range []int{1, 3, 4, 5, 49, 196} {
		for _, nt := range []int{1, 9, 25} {
			tbuf := randSlice[float32](rng, 16*300)
			tbuf[77] = float32(math.NaN())
			bases := make([]int32, nq)
			for q := range bases {
				bases[q] = int32(16 * rng.IntN(200))
			}
			offs := make([]int32, nt)
			for k := range offs {
				offs[k] = int32(16 * rng.IntN(100))
			}
			w, b := randSlice[float32](rng, 16*nt), randSlice[float32](rng, 16)
			for _, relu := range []bool{false, true} {
				got, want := make([]float32, 16*nq+32), make([]float32, 16*nq+32)
				dwBlock(got, tbuf, bases, offs, w, b, relu)
				dwBlockGo(want, tbuf, bases, offs, w, b, relu)
				assertClose(t, "dwBlock", got, want, 1e-5) // also: nothing past 16·nq written
			}
		}
	}
}
