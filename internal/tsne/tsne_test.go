package tsne

import (
	"math"
	"math/rand/v2"
	"testing"
)

// clusters returns k Gaussian blobs of m points each in dim dimensions,
// with unit spread and centres about sep apart, and the blob of each point.
func clusters(k, m, dim int, sep float64, seed uint64) ([][]float32, []int) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var x [][]float32
	var lab []int
	for c := range k {
		centre := make([]float64, dim)
		for d := range centre {
			centre[d] = sep / math.Sqrt(2) * rng.NormFloat64()
		}
		for range m {
			row := make([]float32, dim)
			for d := range row {
				row[d] = float32(centre[d] + rng.NormFloat64())
			}
			x = append(x, row)
			lab = append(lab, c)
		}
	}
	return x, lab
}

func TestClustersStaySeparated(t *testing.T) {
	x, lab := clusters(3, 40, 50, 10, 7)
	res, err := Embed(x, Options{Seed: 1, Perplexity: 15})
	if err != nil {
		t.Fatal(err)
	}
	y := res.Y
	if len(y) != len(x) || len(y[0]) != 2 {
		t.Fatalf("got %d×%d output, want %d×2", len(y), len(y[0]), len(x))
	}
	// Nearest neighbour in the layout has the same cluster.
	agree := 0
	for i := range y {
		best, bj := math.Inf(1), -1
		for j := range y {
			if j != i {
				if d := dist(y[i], y[j]); d < best {
					best, bj = d, j
				}
			}
		}
		if lab[bj] == lab[i] {
			agree++
		}
	}
	if frac := float64(agree) / float64(len(y)); frac < 0.95 {
		t.Errorf("nearest-neighbour label agreement %.3f, want >= 0.95", frac)
	}
	// Centroids are far apart compared with the clusters' spread.
	cent := make([][]float64, 3)
	count := make([]float64, 3)
	for i, p := range y {
		if cent[lab[i]] == nil {
			cent[lab[i]] = make([]float64, 2)
		}
		cent[lab[i]][0] += p[0]
		cent[lab[i]][1] += p[1]
		count[lab[i]]++
	}
	for c := range cent {
		cent[c][0] /= count[c]
		cent[c][1] /= count[c]
	}
	spread := 0.0
	for i, p := range y {
		spread = max(spread, dist(p, cent[lab[i]]))
	}
	for a := range 3 {
		for b := a + 1; b < 3; b++ {
			if d := dist(cent[a], cent[b]); d < 3*spread {
				t.Errorf("centroids %d and %d are %.3g apart, want >= 3 × the largest radius %.3g", a, b, d, spread)
			}
		}
	}
	if !(res.KL > 0 && res.KL < 1) {
		t.Errorf("final KL = %v, want in (0, 1) for well-separated clusters", res.KL)
	}
	t.Logf("KL %.4f, radius %.3g", res.KL, spread)
}

func dist(a, b []float64) float64 {
	s := 0.0
	for k := range a {
		s += (a[k] - b[k]) * (a[k] - b[k])
	}
	return math.Sqrt(s)
}

func TestCalibrateHitsPerplexity(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, perp := range []float64{2, 5, 30} {
		for _, scale := range []float64{1e-4, 1, 1e4} {
			n := 100
			row := make([]float64, n)
			for j := range row {
				row[j] = scale * rng.ExpFloat64()
			}
			self := 17
			out := make([]float64, n)
			beta, h := calibrate(row, self, math.Log(perp), out)
			// Recompute the entropy from out itself.
			got, sum := 0.0, 0.0
			for j, p := range out {
				sum += p
				if p > 0 {
					got -= p * math.Log(p)
				}
				if j == self && p != 0 {
					t.Errorf("p[self] = %v, want 0", p)
				}
			}
			if math.Abs(sum-1) > 1e-12 {
				t.Errorf("perplexity %v scale %v: row sums to %v", perp, scale, sum)
			}
			if math.Abs(got-math.Log(perp)) > 1e-8 || math.Abs(h-got) > 1e-9 {
				t.Errorf("perplexity %v scale %v: entropy %v (reported %v), want %v (beta %v)",
					perp, scale, got, h, math.Log(perp), beta)
			}
		}
	}
}

func TestJointPSymmetricNormalised(t *testing.T) {
	x, _ := clusters(2, 10, 5, 3, 9)
	n := len(x)
	p := jointP(sqDistances(x), n, 5)
	sum := 0.0
	for i := range n {
		if p[i*n+i] != 0 {
			t.Fatalf("p[%d][%d] = %v, want 0", i, i, p[i*n+i])
		}
		for j := range n {
			if p[i*n+j] != p[j*n+i] {
				t.Fatalf("p not symmetric at %d,%d", i, j)
			}
			sum += p[i*n+j]
		}
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("P sums to %v, want 1", sum)
	}
}

// TestGradientFiniteDifference checks ∂KL/∂y against central differences,
// for the 2-D fast path and the general one.
func TestGradientFiniteDifference(t *testing.T) {
	x, _ := clusters(2, 6, 4, 3, 11)
	n := len(x)
	p := jointP(sqDistances(x), n, 3)
	for _, dims := range []int{1, 2, 3} {
		rng := rand.New(rand.NewPCG(5, uint64(dims)))
		y := make([]float64, n*dims)
		for i := range y {
			y[i] = rng.NormFloat64()
		}
		grad := make([]float64, n*dims)
		num := make([]float64, n*n)
		scratch := make([]float64, n*dims)
		gradient(p, y, n, dims, 1, grad, num)
		const h = 1e-6
		for k := range y {
			orig := y[k]
			y[k] = orig + h
			up := divergence(p, num, n, gradient(p, y, n, dims, 1, scratch, num))
			y[k] = orig - h
			down := divergence(p, num, n, gradient(p, y, n, dims, 1, scratch, num))
			y[k] = orig
			fd := (up - down) / (2 * h)
			if math.Abs(fd-grad[k]) > 1e-6*max(1, math.Abs(fd)) {
				t.Errorf("dims %d coordinate %d: analytic %.9g, finite difference %.9g", dims, k, grad[k], fd)
			}
		}
	}
}

// TestGradient2MatchesGeneral checks the unrolled 2-D path against the
// general one, with exaggeration.
func TestGradient2MatchesGeneral(t *testing.T) {
	x, _ := clusters(3, 7, 5, 4, 13)
	n := len(x)
	p := jointP(sqDistances(x), n, 4)
	rng := rand.New(rand.NewPCG(8, 9))
	y := make([]float64, 2*n)
	for i := range y {
		y[i] = rng.NormFloat64()
	}
	g1, g2 := make([]float64, 2*n), make([]float64, 2*n)
	num := make([]float64, n*n)
	z1 := gradient2(p, y, n, 12, g1, num)
	z2 := gradientN(p, y, n, 2, 12, g2, num)
	if math.Abs(z1-z2) > 1e-12*z2 {
		t.Errorf("Z: %v vs %v", z1, z2)
	}
	for k := range g1 {
		if math.Abs(g1[k]-g2[k]) > 1e-12*max(1, math.Abs(g2[k])) {
			t.Errorf("coordinate %d: %v vs %v", k, g1[k], g2[k])
		}
	}
}

func TestDeterministic(t *testing.T) {
	x, _ := clusters(2, 15, 10, 5, 2)
	opt := Options{Seed: 42, Iterations: 300, Perplexity: 5}
	a, err := Embed(x, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Embed(x, opt)
	for i := range a.Y {
		for k := range a.Y[i] {
			if a.Y[i][k] != b.Y[i][k] {
				t.Fatalf("runs differ at point %d: %v vs %v", i, a.Y[i], b.Y[i])
			}
		}
	}
	opt.Seed = 43
	c, _ := Embed(x, opt)
	if c.Y[0][0] == a.Y[0][0] && c.Y[0][1] == a.Y[0][1] {
		t.Error("a different seed gave the same layout")
	}
}

func TestFloat64InputAndDims(t *testing.T) {
	x := [][]float64{{0, 0}, {0, 1}, {10, 10}, {10, 11}, {20, 0}}
	res, err := Embed(x, Options{Dims: 3, Iterations: 200})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Y) != 5 || len(res.Y[0]) != 3 {
		t.Fatalf("shape %d×%d, want 5×3", len(res.Y), len(res.Y[0]))
	}
	if res.Perplexity != 4.0/3 {
		t.Errorf("effective perplexity %v, want 4/3 for 5 points", res.Perplexity)
	}
	for _, row := range res.Y {
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("non-finite output %v", res.Y)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	for name, x := range map[string][][]float64{
		"one point": {{1, 2}},
		"no coords": {{}, {}},
		"ragged":    {{1, 2}, {1}},
		"NaN":       {{1, 2}, {math.NaN(), 0}},
	} {
		if _, err := Embed(x, Options{}); err == nil {
			t.Errorf("%s: no error", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := Embed(make([][]float64, MaxPoints+1), Options{}); err == nil {
		t.Error("too many points: no error")
	}
	ok := [][]float64{{0}, {1}, {2}}
	for name, o := range map[string]Options{
		"dims":       {Dims: -1},
		"perplexity": {Perplexity: 0.5},
		"iterations": {Iterations: -1},
		"lr":         {LearningRate: math.Inf(1)},
		"exag":       {EarlyExaggeration: 0.5},
	} {
		if _, err := Embed(ok, o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkEmbed300 lays out 300 points of 64-D (a 20-way 5-shot
// 10-query episode), 1000 iterations.
func BenchmarkEmbed300(b *testing.B) {
	x, _ := clusters(20, 15, 64, 8, 1)
	for b.Loop() {
		if _, err := Embed(x, Options{Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
