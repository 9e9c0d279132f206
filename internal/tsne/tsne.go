// Package tsne embeds high-dimensional points in two (or a few) dimensions
// with exact t-distributed stochastic neighbour embedding (van der Maaten &
// Hinton, "Visualizing Data using t-SNE", JMLR 2008).
//
// The method: for every point a Gaussian kernel over its neighbours, whose
// width is found by binary search so that the neighbour distribution has
// the requested perplexity; the conditional distributions symmetrised into
// joint probabilities P; a Student-t (one degree of freedom) kernel over the
// low-dimensional points giving Q; and gradient descent with momentum,
// per-coordinate adaptive gains and early exaggeration on KL(P‖Q).
//
// Cost is O(n²) time and memory per iteration, which suits the few hundred
// embeddings of one few-shot episode; it is not meant for tens of thousands
// of points. Results are deterministic: on one platform the same input and
// Options give bit-identical output (compilers for some architectures fuse
// multiply-adds, so other platforms may differ in the last bits).
package tsne

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Options adjusts [Embed]. Zero fields take the defaults listed.
type Options struct {
	// Dims is the output dimension; default 2.
	Dims int
	// Perplexity is the effective number of neighbours each point's
	// Gaussian kernel covers; default 30. It is lowered to (n-1)/3 (but
	// not below 1) for small inputs, as larger values cannot be met.
	Perplexity float64
	// Iterations is the number of gradient steps; default 1000.
	Iterations int
	// LearningRate is the step size; default max(n/EarlyExaggeration/4, 50),
	// which scales with the number of points.
	LearningRate float64
	// EarlyExaggeration multiplies P during the first
	// ExaggerationIterations steps so that clusters form early; defaults
	// 12 and 250. Momentum is 0.5 during that phase and 0.8 after it.
	EarlyExaggeration      float64
	ExaggerationIterations int
	// Seed seeds the random initial layout.
	Seed uint64
}

// Result is an embedding.
type Result struct {
	// Y holds one row of Dims coordinates per input point, in input order.
	Y [][]float64
	// KL is the final Kullback-Leibler divergence KL(P‖Q) in nats; lower
	// means the layout keeps the neighbourhoods better.
	KL float64
	// Perplexity is the perplexity actually used (see Options.Perplexity).
	Perplexity float64
}

// MaxPoints is the most points [Embed] accepts: exact t-SNE keeps three
// n×n float64 matrices, 600 MB at this size.
const MaxPoints = 5000

// Embed computes a t-SNE embedding of the rows of x, which must all have the
// same, non-zero length and hold finite values. It needs 2 to [MaxPoints]
// points.
func Embed[T float32 | float64](x [][]T, opt Options) (*Result, error) {
	n := len(x)
	if n < 2 || n > MaxPoints {
		return nil, fmt.Errorf("tsne: need 2 to %d points, got %d", MaxPoints, n)
	}
	d := len(x[0])
	if d == 0 {
		return nil, errors.New("tsne: points have no coordinates")
	}
	for i, row := range x {
		if len(row) != d {
			return nil, fmt.Errorf("tsne: point %d has %d coordinates, point 0 has %d", i, len(row), d)
		}
		for k, v := range row {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("tsne: point %d coordinate %d is %v", i, k, f)
			}
		}
	}
	opt, err := withDefaults(opt, n)
	if err != nil {
		return nil, err
	}

	p := jointP(sqDistances(x), n, opt.Perplexity)

	// Initial layout: tiny Gaussian noise, as in the paper, so that no
	// structure is imposed before the gradient acts.
	rng := rand.New(rand.NewPCG(opt.Seed, 0x75_6e_e0_75_6e))
	dims := opt.Dims
	y := make([]float64, n*dims)
	for i := range y {
		y[i] = 1e-4 * rng.NormFloat64()
	}
	step := make([]float64, n*dims)
	gains := make([]float64, n*dims)
	for i := range gains {
		gains[i] = 1
	}
	grad := make([]float64, n*dims)
	num := make([]float64, n*n)
	for it := 0; it < opt.Iterations; it++ {
		exag, momentum := 1.0, 0.8
		if it < opt.ExaggerationIterations {
			exag, momentum = opt.EarlyExaggeration, 0.5
		}
		gradient(p, y, n, dims, exag, grad, num)
		for k := range y {
			// Delta-bar-delta gains: grow a coordinate's step while the
			// gradient keeps pushing the way it already moves, shrink it
			// when the direction flips.
			if (grad[k] > 0) != (step[k] > 0) {
				gains[k] += 0.2
			} else {
				gains[k] *= 0.8
			}
			gains[k] = max(gains[k], 0.01)
			step[k] = momentum*step[k] - opt.LearningRate*gains[k]*grad[k]
			y[k] += step[k]
		}
		center(y, n, dims)
	}
	kl := divergence(p, num, n, gradient(p, y, n, dims, 1, grad, num))

	out := make([][]float64, n)
	for i := range out {
		out[i] = y[i*dims : (i+1)*dims : (i+1)*dims]
	}
	return &Result{Y: out, KL: kl, Perplexity: opt.Perplexity}, nil
}

func withDefaults(o Options, n int) (Options, error) {
	if o.Dims == 0 {
		o.Dims = 2
	}
	if o.Perplexity == 0 {
		o.Perplexity = 30
	}
	if o.Iterations == 0 {
		o.Iterations = 1000
	}
	if o.EarlyExaggeration == 0 {
		o.EarlyExaggeration = 12
	}
	if o.ExaggerationIterations == 0 {
		o.ExaggerationIterations = 250
	}
	switch {
	case o.Dims < 1:
		return o, fmt.Errorf("tsne: Dims %d, want >= 1", o.Dims)
	case !(o.Perplexity >= 1) || math.IsInf(o.Perplexity, 0):
		return o, fmt.Errorf("tsne: Perplexity %v, want a finite value >= 1", o.Perplexity)
	case o.Iterations < 0:
		return o, fmt.Errorf("tsne: Iterations %d, want >= 0", o.Iterations)
	case !(o.EarlyExaggeration >= 1) || math.IsInf(o.EarlyExaggeration, 0):
		return o, fmt.Errorf("tsne: EarlyExaggeration %v, want a finite value >= 1", o.EarlyExaggeration)
	case o.ExaggerationIterations < 0:
		return o, fmt.Errorf("tsne: ExaggerationIterations %d, want >= 0", o.ExaggerationIterations)
	case o.LearningRate < 0 || math.IsNaN(o.LearningRate) || math.IsInf(o.LearningRate, 0):
		return o, fmt.Errorf("tsne: LearningRate %v, want a finite value >= 0", o.LearningRate)
	}
	o.Perplexity = min(o.Perplexity, max(1, float64(n-1)/3))
	if o.LearningRate == 0 {
		o.LearningRate = max(float64(n)/o.EarlyExaggeration/4, 50)
	}
	return o, nil
}

// sqDistances returns the n×n squared Euclidean distances, row-major.
func sqDistances[T float32 | float64](x [][]T) []float64 {
	n := len(x)
	d := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			s := 0.0
			for k, v := range x[i] {
				t := float64(v) - float64(x[j][k])
				s += t * t
			}
			d[i*n+j], d[j*n+i] = s, s
		}
	}
	return d
}

// jointP turns squared distances into the symmetric joint probabilities
// p_ij = (p_j|i + p_i|j) / 2n, each conditional row calibrated to
// perplexity. It reuses dist's memory.
func jointP(dist []float64, n int, perplexity float64) []float64 {
	cond := make([]float64, n*n)
	target := math.Log(perplexity)
	for i := range n {
		calibrate(dist[i*n:(i+1)*n], i, target, cond[i*n:(i+1)*n])
	}
	p := dist
	for i := range n {
		p[i*n+i] = 0
		for j := i + 1; j < n; j++ {
			// A floor keeps log p finite in the KL and stops isolated
			// pairs from having exactly zero attraction.
			v := max((cond[i*n+j]+cond[j*n+i])/(2*float64(n)), 1e-12)
			p[i*n+j], p[j*n+i] = v, v
		}
	}
	return p
}

// calibrate finds the precision beta = 1/(2σ²) of point self's Gaussian
// kernel over the squared distances row (row[self] is ignored) such that
// the conditional distribution written to out has entropy target (nats),
// by bisection on beta. It returns beta and the entropy reached.
func calibrate(row []float64, self int, target float64, out []float64) (beta, h float64) {
	// Shifting by the nearest distance leaves the normalised distribution
	// unchanged and keeps the largest term at exp(0) = 1, so nothing
	// underflows to an all-zero row.
	dmin, mean := math.Inf(1), 0.0
	for j, v := range row {
		if j != self {
			dmin = min(dmin, v)
			mean += v
		}
	}
	mean = mean/float64(len(row)-1) - dmin
	beta = 1
	if mean > 0 {
		beta = 1 / mean // a starting width on the scale of the data
	}
	lo, hi := 0.0, math.Inf(1)
	for range 200 {
		h = entropy(row, self, dmin, beta, out)
		diff := h - target
		if math.Abs(diff) < 1e-10 {
			break
		}
		if diff > 0 { // too flat: narrow the kernel
			lo = beta
			if math.IsInf(hi, 1) {
				beta *= 2
			} else {
				beta = (beta + hi) / 2
			}
		} else {
			hi = beta
			beta = (beta + lo) / 2
		}
	}
	return beta, h
}

// entropy writes p_j ∝ exp(-beta (row[j]-shift)) for j ≠ self to out
// (out[self] = 0) and returns its Shannon entropy in nats.
func entropy(row []float64, self int, shift, beta float64, out []float64) float64 {
	sum, dot := 0.0, 0.0
	for j, v := range row {
		if j == self {
			out[j] = 0
			continue
		}
		e := math.Exp(-beta * (v - shift))
		out[j] = e
		sum += e
		dot += (v - shift) * e
	}
	for j := range out {
		out[j] /= sum
	}
	// H = -Σ p log p with log p_j = -beta (d_j - shift) - log sum.
	return math.Log(sum) + beta*dot/sum
}

// gradient writes to grad the t-SNE gradient for the layout y (n points
// of dims coordinates) with P multiplied by exag: with exag = 1 it is
// exactly ∂KL(P‖Q)/∂y, during early exaggeration it is the paper's
// heuristic. num (n×n) receives the Student-t kernel 1/(1+|y_i-y_j|²);
// gradient returns its sum Z over i ≠ j, so q_ij = num_ij / Z.
func gradient(p, y []float64, n, dims int, exag float64, grad, num []float64) (z float64) {
	if dims == 2 {
		return gradient2(p, y, n, exag, grad, num)
	}
	return gradientN(p, y, n, dims, exag, grad, num)
}

// gradientN is gradient for any dims.
func gradientN(p, y []float64, n, dims int, exag float64, grad, num []float64) (z float64) {
	for i := range n {
		yi := y[i*dims : (i+1)*dims]
		num[i*n+i] = 0
		for j := i + 1; j < n; j++ {
			yj := y[j*dims : (j+1)*dims]
			s := 0.0
			for k := range yi {
				t := yi[k] - yj[k]
				s += t * t
			}
			q := 1 / (1 + s)
			num[i*n+j], num[j*n+i] = q, q
			z += 2 * q
		}
	}
	invZ := 1 / z
	for i := range n {
		yi := y[i*dims : (i+1)*dims]
		gi := grad[i*dims : (i+1)*dims]
		clear(gi)
		pi, qi := p[i*n:(i+1)*n], num[i*n:(i+1)*n]
		// ∂KL/∂y_i = 4 Σ_j (p_ij - q_ij)(1+|y_i-y_j|²)⁻¹ (y_i - y_j); the
		// j = i term is 0 because p_ii = num_ii = 0.
		for j, q := range qi {
			m := (exag*pi[j] - q*invZ) * q
			yj := y[j*dims : (j+1)*dims]
			for k := range gi {
				gi[k] += m * (yi[k] - yj[k])
			}
		}
		for k := range gi {
			gi[k] *= 4
		}
	}
	return z
}

// gradient2 is gradient for the usual 2-D layout, with the coordinate loops
// unrolled; it is where t-SNE spends its time.
func gradient2(p, y []float64, n int, exag float64, grad, num []float64) (z float64) {
	y = y[:2*n]
	for i := range n {
		x0, x1 := y[2*i], y[2*i+1]
		row := num[i*n : (i+1)*n]
		row[i] = 0
		for j := i + 1; j < n; j++ {
			d0, d1 := x0-y[2*j], x1-y[2*j+1]
			q := 1 / (1 + d0*d0 + d1*d1)
			row[j] = q
			num[j*n+i] = q
			z += 2 * q
		}
	}
	invZ := 1 / z
	for i := range n {
		x0, x1 := y[2*i], y[2*i+1]
		pi, qi := p[i*n:(i+1)*n], num[i*n:(i+1)*n]
		pi = pi[:len(qi)]
		var g0, g1 float64
		for j, q := range qi {
			m := (exag*pi[j] - q*invZ) * q
			g0 += m * (x0 - y[2*j])
			g1 += m * (x1 - y[2*j+1])
		}
		grad[2*i], grad[2*i+1] = 4*g0, 4*g1
	}
	return z
}

// divergence returns KL(P‖Q) = Σ p_ij log(p_ij / q_ij) from the kernel num
// and its sum z left by [gradient].
func divergence(p, num []float64, n int, z float64) float64 {
	kl := 0.0
	for i := range n {
		for j := range n {
			if j != i {
				kl += p[i*n+j] * math.Log(p[i*n+j]*z/num[i*n+j])
			}
		}
	}
	return kl
}

// center moves the layout's mean to the origin; t-SNE's objective does not
// see translations, so this only keeps the numbers tidy.
func center(y []float64, n, dims int) {
	for k := range dims {
		m := 0.0
		for i := range n {
			m += y[i*dims+k]
		}
		m /= float64(n)
		for i := range n {
			y[i*dims+k] -= m
		}
	}
}
