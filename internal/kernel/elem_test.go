package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// elemLens cover empty slices, pure tails, whole vector blocks and blocks
// plus a tail.
var elemLens = []int{0, 1, 15, 16, 17, 33, 784, 1000}

// TestMaskPositive32 compares the vector path with the portable loop bit for
// bit, including signed zeros, infinities and NaNs of both signs in x.
func TestMaskPositive32(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 9))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00000), 1e-45, -1e-45}
	for _, n := range elemLens {
		v, x := randSlice[float32](rng, n), randSlice[float32](rng, n)
		for i := range x {
			if i%5 == 0 {
				x[i] = specials[i%len(specials)]
			}
			if i%7 == 0 {
				v[i] = float32(math.Copysign(0, -1))
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		for i := range got {
			got[i] = 42 // every element must be written
		}
		MaskPositive32(got, v, x)
		maskPositiveGo(want, v, x)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: z[%d] = %v (x %v, v %v), want %v", n, i, got[i], x[i], v[i], want[i])
			}
			if want[i] != 0 && !(x[i] > 0 || math.IsNaN(float64(x[i]))) {
				t.Fatalf("n=%d: portable loop passed v at x = %v", n, x[i])
			}
		}
	}
	// In place (z = v = x) is how ReLU runs.
	x := []float32{-1, 2, -3, 4, 5, -6, 7, 8, 9, 10, -11, 12, 13, 14, -15, 16, -17}
	MaskPositive32(x, x, x)
	for i, v := range x {
		if v < 0 || (v == 0) != (i == 0 || i == 2 || i == 5 || i == 10 || i == 14 || i == 16) {
			t.Fatalf("in place: x[%d] = %v", i, v)
		}
	}
}

// TestElemReductions checks the float32 reductions against float64 sums of
// the same values; the vector path only changes the summation order.
func TestElemReductions(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	for _, n := range elemLens {
		x, g := randSlice[float32](rng, n), randSlice[float32](rng, n)
		for i := range x {
			x[i] = 3 + 2*x[i] // an offset mean, as before batch norm
		}
		const mu = 3.1
		var s, ss, sg, sgx float64
		for i := range x {
			s += float64(x[i])
			ss += (float64(x[i]) - mu) * (float64(x[i]) - mu)
			sg += float64(g[i])
			sgx += float64(g[i]) * (float64(x[i]) - mu)
		}
		check := func(what string, got, want float64) {
			t.Helper()
			if math.Abs(got-want) > 1e-12*(1+math.Abs(want)+float64(n)) {
				t.Errorf("n=%d: %s = %v, want %v", n, what, got, want)
			}
		}
		check("Sum32", Sum32(x), s)
		s1, s2 := ShiftedSums32(x, mu)
		check("ShiftedSums32 Σ(x−k)", s1, s-float64(n)*mu)
		check("ShiftedSums32 Σ(x−k)²", s2, ss)
		a, b := GradSums32(g, x, mu)
		check("GradSums32 Σg", a, sg)
		check("GradSums32 Σg(x−μ)", b, sgx)
	}
}

// TestElemAffine checks ScaleShift32, ScaleShiftReLU32 (NaNs kept) and
// Axpbyc32 against float64
// arithmetic; the vector path fuses the multiply-adds, so they agree to a
// few float32 roundings.
func TestElemAffine(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 9))
	for _, n := range elemLens {
		x, g := randSlice[float32](rng, n), randSlice[float32](rng, n)
		const a, b, c = 1.7, -0.3, 0.45
		got := make([]float32, n)
		ScaleShift32(got, x, a, b)
		for i, v := range got {
			if want := a*float64(x[i]) + b; math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("ScaleShift32 n=%d: [%d] = %v, want %v", n, i, v, want)
			}
		}
		if n > 2 {
			x[n/2] = float32(math.NaN())
		}
		ScaleShiftReLU32(got, x, a, b)
		for i, v := range got {
			want := max(a*float64(x[i])+b, 0)
			if math.IsNaN(float64(x[i])) != math.IsNaN(float64(v)) || math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("ScaleShiftReLU32 n=%d: [%d] = %v, want %v", n, i, v, want)
			}
		}
		Axpbyc32(got, g, x, a, b, c)
		for i, v := range got {
			if math.IsNaN(float64(x[i])) {
				continue
			}
			if want := a*float64(g[i]) + b*float64(x[i]) + c; math.Abs(float64(v)-want) > 1e-6 {
				t.Fatalf("Axpbyc32 n=%d: [%d] = %v, want %v", n, i, v, want)
			}
		}
	}
}

// TestDiv32 checks the vector divisions bit for bit against Go's float32
// division, zeros, infinities and NaNs among the operands.
func TestDiv32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	for _, n := range elemLens {
		a, b := randSlice[float32](rng, n), randSlice[float32](rng, n)
		for i, v := range []float32{0, float32(math.Inf(1)), float32(math.NaN()), float32(math.Copysign(0, -1))} {
			if 2*i+1 < n {
				a[2*i], b[2*i+1] = v, v
			}
		}
		got := make([]float32, n)
		same := func(what string, i int, v, want float32) {
			if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
				t.Fatalf("%s n=%d: [%d] = %v, want %v", what, n, i, v, want)
			}
		}
		Div32(got, a, b)
		for i, v := range got {
			same("Div32", i, v, a[i]/b[i])
		}
		for _, c := range []float32{1.4142135, -3, 0} {
			DivBy32(got, a, c)
			for i, v := range got {
				same("DivBy32", i, v, a[i]/c)
			}
		}
	}
}

func TestElemShortArgsPanic(t *testing.T) {
	for name, f := range map[string]func(){
		"MaskPositive32": func() { MaskPositive32(make([]float32, 3), make([]float32, 2), make([]float32, 3)) },
		"GradSums32":     func() { GradSums32(make([]float32, 3), make([]float32, 2), 0) },
		"GatherGradSums32": func() {
			GatherGradSums32(make([]float32, 3), make([]float32, 3), make([]float32, 9), make([]int32, 2), 0)
		},
		"ScaleShift32":     func() { ScaleShift32(make([]float32, 3), make([]float32, 2), 1, 0) },
		"ScaleShiftReLU32": func() { ScaleShiftReLU32(make([]float32, 3), make([]float32, 2), 1, 0) },
		"Div32":            func() { Div32(make([]float32, 3), make([]float32, 3), make([]float32, 2)) },
		"DivBy32":          func() { DivBy32(make([]float32, 3), make([]float32, 2), 1) },
		"Axpbyc32":         func() { Axpbyc32(make([]float32, 3), make([]float32, 3), make([]float32, 2), 1, 1, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic on a short argument", name)
				}
			}()
			f()
		}()
	}
}

// TestDotShifts compares dotShifts (the vector code where there is one)
// with its portable twin and with float64 sums, accumulating onto out.
func TestDotShifts(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 9))
	for _, n := range []int{64, 128, 832} {
		dy := randSlice[float32](rng, n)
		p := randSlice[float32](rng, 3*n)
		offs := []int{0, 1, 5, n - 3, n, 2 * n}
		got := randSlice[float32](rng, len(offs))
		twin := append([]float32(nil), got...)
		want := toF64(got)
		dotShifts(dy, p, offs, got)
		dotShiftsGo(dy, p, offs, twin)
		for k, o := range offs {
			for j, v := range dy {
				want[k] += float64(v) * float64(p[o+j])
			}
		}
		assertClose(t, "dotShifts", got, want, 1e-5)
		assertClose(t, "dotShiftsGo", twin, want, 1e-5)
	}
}

// TestDotShiftsRows compares dotShiftsRows (4×4 blocks in vector code
// where there is one, the leftover rows and taps one by one) with its
// portable twin and with float64 sums, on row and tap counts around the
// block size, and checks that nothing between the output rows is written.
func TestDotShiftsRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 10))
	for _, c := range []struct{ rows, taps, n int }{{4, 4, 64}, {64, 9, 896}, {5, 3, 128}, {7, 13, 192}, {1, 16, 64}, {3, 1, 64}} {
		ld, ldo := c.n+64, c.taps+3
		dy := randSlice[float32](rng, (c.rows-1)*ld+c.n)
		p := randSlice[float32](rng, 3*c.n)
		offs := make([]int, c.taps)
		for i := range offs {
			offs[i] = rng.IntN(2*c.n + 1)
		}
		got := randSlice[float32](rng, c.rows*ldo)
		twin := append([]float32(nil), got...)
		want := toF64(got)
		dotShiftsRows(dy, ld, c.rows, c.n, p, offs, got, ldo)
		dotShiftsRowsGo(dy, ld, c.rows, c.n, p, offs, twin, ldo)
		for r := range c.rows {
			for k, o := range offs {
				for j := range c.n {
					want[r*ldo+k] += float64(dy[r*ld+j]) * float64(p[o+j])
				}
			}
		}
		name := fmt.Sprintf("%d rows × %d taps × %d", c.rows, c.taps, c.n)
		assertClose(t, name, got, want, 1e-5)
		assertClose(t, name+" (Go)", twin, want, 1e-5)
	}
}

// TestCopyRows compares copyRows with its portable twin on strided rows
// whose lengths are below, at and above the vector width, with and without
// a bias, and checks that nothing between the rows is written.
func TestCopyRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for _, n := range []int{1, 3, 15, 16, 17, 40} {
		for _, withBias := range []bool{false, true} {
			const rows = 5
			ldd, lds := n+3, n+7
			src := randSlice[float32](rng, rows*lds)
			var bias []float32
			if withBias {
				bias = randSlice[float32](rng, rows)
			}
			got := randSlice[float32](rng, rows*ldd)
			want := append([]float32(nil), got...)
			copyRows(got, src, n, rows, ldd, lds, bias)
			copyRowsGo(want, src, n, rows, ldd, lds, bias)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("n=%d bias=%v: dst[%d] = %v, want %v", n, withBias, i, got[i], want[i])
				}
			}
		}
	}
}

// TestSigmoid32 checks Sigmoid32 (vector code and tail) and its Go twin
// against the float64 logistic function over [−100, 100], around the
// clamps, and on NaN and infinities.
func TestSigmoid32(t *testing.T) {
	var xs []float32
	for x := -100.0; x <= 100; x += 0.0007 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), -88, -87.99999, 87, 87.00001, 88.5, -88.5,
		99, 101, -101, 1e6, -1e6, math.MaxFloat32, -math.MaxFloat32, 1e-30, -1e-30,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3) // odd length: a tail
	check := func(name string, got []float32) {
		t.Helper()
		worst := 0.0
		for i, x := range xs {
			want := 1 / (1 + math.Exp(-float64(x)))
			g := float64(got[i])
			if math.IsNaN(want) {
				if !math.IsNaN(g) {
					t.Fatalf("%s(NaN) = %v", name, g)
				}
				continue
			}
			err := math.Abs(g - want)
			// Relative error, except below float32's smallest normal number.
			if want > 1e-37 {
				err /= want
			} else if err < 1e-37 {
				err = 0
			}
			worst = max(worst, err)
			if err > 3e-7 {
				t.Fatalf("%s(%g) = %g, want %g (error %.2g)", name, x, g, want, err)
			}
		}
		t.Logf("%s: largest relative error %.3g over %d inputs", name, worst, len(xs))
	}
	got := make([]float32, len(xs))
	Sigmoid32(got, xs)
	check("Sigmoid32", got)
	sigmoidGo(got, xs)
	check("sigmoidGo", got)
	if n := sigmoidVec(got, xs); n != 0 {
		check("sigmoidVec", got) // the vector code alone, on its prefix
		if n != len(xs)/16*16 {
			t.Errorf("sigmoidVec did %d of %d elements", n, len(xs))
		}
	}
}

// TestGatherGradSums checks GatherGradSums32 against float64 arithmetic
// and against its portable twin, over lengths with and without a vector
// part, with keep holding positive and negative values, ±0, ±Inf and NaNs
// of both signs.
func TestGatherGradSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 11))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), -float32(math.NaN()), 1e-40, -1e-40}
	for _, n := range elemLens {
		g, keep := randSlice[float32](rng, n), randSlice[float32](rng, n)
		for i := range keep {
			if rng.IntN(4) == 0 {
				keep[i] = specials[rng.IntN(len(specials))]
			}
		}
		x := randSlice[float32](rng, 4*n+1)
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(rng.IntN(len(x)))
		}
		const mu = -0.7
		var sg, sgx float64
		for i := range g {
			if b := int32(math.Float32bits(keep[i])); b > 0 {
				sg += float64(g[i])
				sgx += float64(g[i]) * (float64(x[idx[i]]) - mu)
			}
		}
		a, b := GatherGradSums32(g, keep, x, idx, mu)
		if tol := 1e-12 * (1 + float64(n)); math.Abs(a-sg) > tol || math.Abs(b-sgx) > tol*(1+math.Abs(sgx)) {
			t.Errorf("n=%d: GatherGradSums32 = %v, %v, want %v, %v", n, a, b, sg, sgx)
		}
		ga, gb := gatherGradSumsGo(g, keep, x, idx, mu)
		if math.Abs(a-ga) > 1e-9 || math.Abs(b-gb) > 1e-9*(1+math.Abs(gb)) {
			t.Errorf("n=%d: vector and portable sums differ: %v, %v and %v, %v", n, a, b, ga, gb)
		}
	}
}

// An index outside x panics where keep counts it, wherever it is (the
// vector part must not read it), with a message naming it; where keep does
// not count it, it is never read.
func TestGatherGradSumsBadIndex(t *testing.T) {
	for _, bad := range []struct {
		at  int
		val int32
	}{{0, -1}, {5, 40}, {15, math.MaxInt32}, {17, 40}, {33, -5}} {
		g, keep, x, idx := make([]float32, 35), make([]float32, 35), make([]float32, 40), make([]int32, 35)
		for i := range keep {
			keep[i] = 1
		}
		idx[bad.at] = bad.val
		func() {
			defer func() {
				r := recover()
				if r == nil {
					t.Fatalf("index %d at %d: no panic", bad.val, bad.at)
				}
				if msg := fmt.Sprint(r); !strings.Contains(msg, "GatherGradSums32") || !strings.Contains(msg, itoa(int(bad.val))) {
					t.Errorf("index %d at %d: panic %q does not name the function and the index", bad.val, bad.at, msg)
				}
			}()
			GatherGradSums32(g, keep, x, idx, 0)
		}()
		keep[bad.at] = 0
		g[bad.at] = 1
		if sg, _ := GatherGradSums32(g, keep, x, idx, 0); sg != 0 {
			t.Errorf("index %d at %d, not kept: Σg = %v, want 0", bad.val, bad.at, sg)
		}
	}
}

// TestAxpbycVariants checks AddAxpbyc32 and GatherAxpbyc32 against float64
// arithmetic and their portable twins (the vector code fuses the
// multiply-adds, so they agree to a few float32 roundings).
func TestAxpbycVariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 12))
	const a, b, c = 1.3, -0.6, 0.25
	for _, n := range elemLens {
		g, x, d0 := randSlice[float32](rng, n), randSlice[float32](rng, n), randSlice[float32](rng, n)
		got, twin := append([]float32(nil), d0...), append([]float32(nil), d0...)
		AddAxpbyc32(got, g, x, a, b, c)
		addAxpbycGo(twin, g, x, a, b, c)
		for i := range got {
			want := float64(d0[i]) + a*float64(g[i]) + b*float64(x[i]) + c
			if math.Abs(float64(got[i])-want) > 1e-6 || math.Abs(float64(got[i]-twin[i])) > 1e-6 {
				t.Fatalf("AddAxpbyc32 n=%d: [%d] = %v, twin %v, want %v", n, i, got[i], twin[i], want)
			}
		}
		gs, xs := randSlice[float32](rng, 3*n+1), randSlice[float32](rng, 3*n+1)
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32(rng.IntN(len(gs)))
		}
		GatherAxpbyc32(got, gs, xs, idx, a, b, c)
		gatherAxpbycGo(twin, gs, xs, idx, a, b, c)
		for i := range got {
			want := a*float64(gs[idx[i]]) + b*float64(xs[idx[i]]) + c
			if math.Abs(float64(got[i])-want) > 1e-6 || math.Abs(float64(got[i]-twin[i])) > 1e-6 {
				t.Fatalf("GatherAxpbyc32 n=%d: [%d] = %v, twin %v, want %v", n, i, got[i], twin[i], want)
			}
		}
	}
}

// GatherAxpbyc32 panics on an index outside g, in the vector part (which
// must not read it) and in the tail alike.
func TestGatherAxpbycBadIndex(t *testing.T) {
	for _, at := range []int{0, 15, 17, 33} {
		for _, val := range []int32{-1, 40, math.MaxInt32} {
			dst, g, x, idx := make([]float32, 35), make([]float32, 40), make([]float32, 40), make([]int32, 35)
			idx[at] = val
			func() {
				defer func() {
					if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "GatherAxpbyc32") {
						t.Errorf("index %d at %d: recovered %v, want a panic naming GatherAxpbyc32", val, at, r)
					}
				}()
				GatherAxpbyc32(dst, g, x, idx, 1, 1, 0)
			}()
		}
	}
}

// TestKeptSums checks KeptSums32 against float64 arithmetic and its
// portable twin, with keep holding negative values, ±0, ±Inf and NaNs.
func TestKeptSums(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 14))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), -float32(math.NaN()), -1e-40}
	for _, n := range elemLens {
		g, keep := randSlice[float32](rng, n), randSlice[float32](rng, n)
		for i := range keep {
			if rng.IntN(4) == 0 {
				keep[i] = specials[rng.IntN(len(specials))]
			}
		}
		var sg, sgk float64
		for i := range g {
			if int32(math.Float32bits(keep[i])) > 0 {
				sg += float64(g[i])
				sgk += float64(g[i]) * float64(keep[i])
			}
		}
		a, b := KeptSums32(g, keep)
		ga, gb := keptSumsGo(g, keep)
		tol := 1e-12 * (1 + float64(n))
		if math.Abs(a-sg) > tol || math.Abs(b-sgk) > tol || math.Abs(a-ga) > tol || math.Abs(b-gb) > tol {
			t.Errorf("n=%d: KeptSums32 = %v, %v; twin %v, %v; want %v, %v", n, a, b, ga, gb, sg, sgk)
		}
	}
}

// TestErf32 checks Erf32 against math.Erf on a dense grid over [−5, 5],
// tiny arguments, the branch points and the special values.
func TestErf32(t *testing.T) {
	var x []float32
	for v := -5.0; v <= 5; v += 1.0 / 1024 {
		x = append(x, float32(v))
	}
	x = append(x, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-38, 1e-45, 0.49999997, 0.5, 3.9999998, 4,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()))
	got := make([]float32, len(x))
	Erf32(got, x)
	worst := 0.0
	for i, v := range x {
		want := math.Erf(float64(v))
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got[i])) {
				t.Errorf("erf(%v) = %v, want NaN", v, got[i])
			}
			continue
		}
		err := math.Abs(float64(got[i]) - want)
		if math.Abs(float64(v)) < 0.5 && got[i] != float32(want) {
			err /= math.Abs(want) // relative where erf is small (the rounded value itself is exact)
		}
		worst = max(worst, err)
		if err > 4e-7 {
			t.Errorf("erf(%v) = %v, want %v (error %.3g)", v, got[i], want, err)
		}
		if math.Signbit(float64(got[i])) != math.Signbit(want) {
			t.Errorf("erf(%v) = %v has the wrong sign", v, got[i])
		}
	}
	t.Logf("worst error %.3g", worst)
	// The portable twin, on every element the vector code did.
	for i, v := range x {
		if w := erfOne(v); math.Abs(float64(w-got[i])) > 2.5e-7 && !(w != w && got[i] != got[i]) {
			t.Errorf("erf(%v): vector %v, portable %v", v, got[i], w)
		}
	}
}

// TestClamp32 compares the vector code with its portable twin bit for bit,
// NaNs, infinities, signed zeros and crossed bounds included.
func TestClamp32(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 15))
	specials := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), -float32(math.NaN()), 6, -1e-40}
	for _, n := range elemLens {
		x := randSlice[float32](rng, n)
		for i := range x {
			x[i] *= 8
			if rng.IntN(4) == 0 {
				x[i] = specials[rng.IntN(len(specials))]
			}
		}
		for _, b := range [][2]float32{{0, 6}, {-1, 1}, {2, -2}, {float32(math.Inf(-1)), float32(math.Inf(1))}} {
			got := make([]float32, n)
			Clamp32(got, x, b[0], b[1])
			for i, v := range x {
				want := clampOne(v, b[0], b[1])
				if math.Float32bits(got[i]) != math.Float32bits(want) && !(v != v && got[i] != got[i]) {
					t.Fatalf("n=%d bounds %v: clamp(%v) = %v, twin %v", n, b, v, got[i], want)
				}
				if v == v && b[0] <= b[1] && (got[i] < b[0] || got[i] > b[1]) {
					t.Fatalf("clamp(%v) = %v is outside %v", v, got[i], b)
				}
				if b[0] > b[1] && v == v && got[i] != b[1] {
					t.Fatalf("crossed bounds %v: clamp(%v) = %v, want %v", b, v, got[i], b[1])
				}
			}
		}
	}
}

// TestMul32 compares the vector product with float32 multiplication bit
// for bit, in place too.
func TestMul32(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 17))
	for _, n := range elemLens {
		a, b := randSlice[float32](rng, n), randSlice[float32](rng, n)
		if n > 3 {
			a[0], a[1], b[2], a[3] = float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN()), 3e38
			b[3] = 10
		}
		got := make([]float32, n)
		Mul32(got, a, b)
		for i := range got {
			if want := a[i] * b[i]; math.Float32bits(got[i]) != math.Float32bits(want) && !(want != want && got[i] != got[i]) {
				t.Fatalf("n=%d: %v·%v = %v, want %v", n, a[i], b[i], got[i], want)
			}
		}
		Mul32(a, a, b)
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(got[i]) && !(a[i] != a[i] && got[i] != got[i]) {
				t.Fatalf("n=%d: in place [%d] = %v, want %v", n, i, a[i], got[i])
			}
		}
	}
}

// TestExpShiftedSum32 checks ExpShiftedSum32, its portable twin and its
// vector prefix against float64 exponentials of the same float32 argument
// x − shift, over the whole float32 range of results, at both ends, and
// for NaN and infinities; and the returned sum against the results.
func TestExpShiftedSum32(t *testing.T) {
	var xs []float32
	for x := -110.0; x <= 100; x += 0.0011 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, float32(math.Copysign(0, -1)), -87.33654, -87.3365, 88.72283, 88.72284, 88.5,
		1e6, -1e6, math.MaxFloat32, -math.MaxFloat32, 1e-30,
		float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 3) // odd length: a tail
	for _, shift := range []float32{0, 5.5, -3} {
		check := func(name string, got []float32, n int) {
			t.Helper()
			worst := 0.0
			for i, x := range xs[:n] {
				want := math.Exp(float64(x - shift))
				g := float64(got[i])
				switch {
				case math.IsNaN(want):
					if !math.IsNaN(g) {
						t.Fatalf("%s: e^(NaN) = %v", name, g)
					}
					continue
				case want > math.MaxFloat32:
					if !math.IsInf(g, 1) {
						t.Fatalf("%s: e^(%g − %g) = %g, want +Inf", name, x, shift, g)
					}
					continue
				}
				err := math.Abs(g - want)
				// Relative error, except below float32's smallest normal number.
				if want > 0x1p-126 {
					err /= want
				} else if err < 0x1p-126 {
					err = 0
				}
				worst = max(worst, err)
				if err > 3e-7 {
					t.Fatalf("%s: e^(%g − %g) = %g, want %g (error %.2g)", name, x, shift, g, want, err)
				}
			}
			t.Logf("%s, shift %g: largest relative error %.3g over %d inputs", name, shift, worst, n)
		}
		got := make([]float32, len(xs))
		sum := ExpShiftedSum32(got, xs, shift)
		check("ExpShiftedSum32", got, len(xs))
		var want float64
		for _, v := range got {
			want += float64(v)
		}
		if !(sum == want || math.Abs(sum-want) <= 1e-6*math.Abs(want)) && !(math.IsInf(sum, 1) && math.IsInf(want, 1)) && !(math.IsNaN(sum) && math.IsNaN(want)) {
			t.Errorf("shift %g: sum %g, the results add up to %g", shift, sum, want)
		}
		for i, x := range xs {
			got[i] = expOne(x - shift)
		}
		check("expOne", got, len(xs))
		if n, _ := expShiftedVec(got, xs, shift); n != 0 {
			check("expShiftedVec", got, n)
		}
	}
	finite := []float32{1, 2, 3, -1, 0.5, 7, -2, 4, 1, 1, 1, 1, 1, 1, 1, 1, 2, 3}
	dst := make([]float32, len(finite))
	sum := ExpShiftedSum32(dst, finite, 7)
	var want float64
	for _, x := range finite {
		want += math.Exp(float64(x - 7))
	}
	if math.Abs(sum-want) > 1e-6*want {
		t.Errorf("sum of a softmax row: %g, want %g", sum, want)
	}
	mustPanic(t, "len(x)", func() { ExpShiftedSum32(dst, finite[:3], 0) })
}

// TestTranspose32 checks the tiled transpose against the definition on
// sizes with and without whole 16×16 tiles, on one and two threads.
func TestTranspose32(t *testing.T) {
	for _, nt := range []int{1, 2} {
		prev := SetThreads(nt)
		for _, d := range [][2]int{{1, 1}, {16, 16}, {96, 3136}, {3136, 96}, {17, 33}, {5, 70}, {40, 16}} {
			rows, cols := d[0], d[1]
			src := make([]uint32, rows*cols)
			for i := range src {
				src[i] = uint32(i * 7)
			}
			dst := make([]uint32, rows*cols)
			Transpose32(dst, src, rows, cols)
			for i := range rows {
				for j := range cols {
					if dst[j*rows+i] != src[i*cols+j] {
						t.Fatalf("threads %d, %d×%d: dst[%d] = %d, want %d", nt, rows, cols, j*rows+i, dst[j*rows+i], src[i*cols+j])
					}
				}
			}
		}
		SetThreads(prev)
	}
}
