// Package gradcheck compares the engine's analytic gradients with central
// finite differences, to first and second order. Tests of every op use it,
// in float64 so that the finite differences themselves are accurate.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/fewshot-go/fewshot/engine"
)

// Func is a scalar function of some parameters, built with engine ops.
type Func func(params []*engine.Var[float64]) *engine.Var[float64]

// Options tunes a check. The zero value gives the defaults.
type Options struct {
	// Eps is the finite-difference step; default 1e-6 (first order) and
	// 1e-5 (second order).
	Eps float64
	// RelTol and AbsTol bound each coordinate: |analytic − numeric| must be
	// at most AbsTol + RelTol·max(|analytic|, |numeric|). Defaults 1e-3 and 1e-6.
	RelTol, AbsTol float64
	// MaxCoords is how many coordinates of each parameter are checked, chosen
	// at random when a parameter is larger; default 40, < 0 means all.
	MaxCoords int
	// Seed seeds the choice of coordinates and the second-order direction.
	Seed uint64
}

func (o Options) withDefaults(eps float64) Options {
	if o.Eps == 0 {
		o.Eps = eps
	}
	if o.RelTol == 0 {
		o.RelTol = 1e-3
	}
	if o.AbsTol == 0 {
		o.AbsTol = 1e-6
	}
	if o.MaxCoords == 0 {
		o.MaxCoords = 40
	}
	return o
}

// First checks the gradient of f at params against central differences.
// It also checks that the create-graph gradient equals the plain one.
// It returns an error describing the worst mismatch, or nil.
func First(f Func, params []*engine.Tensor[float64], opt Options) error {
	opt = opt.withDefaults(1e-6)
	vars := paramVars(params)
	analytic := engine.Grad(f(vars), vars, false)
	recorded := engine.Grad(f(vars), vars, true)
	for i := range params {
		a, r := analytic[i].Value().Data(), recorded[i].Value().Data()
		for j := range a {
			if a[j] != r[j] && math.Abs(a[j]-r[j]) > 1e-12*math.Max(1, math.Abs(a[j])) {
				return fmt.Errorf("param %d[%d]: create-graph gradient %.10g differs from plain gradient %.10g", i, j, r[j], a[j])
			}
		}
	}
	value := func() float64 { return f(paramVars(params)).Item() }
	return compare("first-order", params, analytic, value, opt)
}

// Second checks second derivatives: with a random direction v it forms
// h(θ) = Σ <∇f(θ), v> and compares ∇h (a Hessian-vector product, obtained by
// differentiating the create-graph gradient) with central differences of h.
func Second(f Func, params []*engine.Tensor[float64], opt Options) error {
	opt = opt.withDefaults(1e-5)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5eed))
	dirs := make([]*engine.Var[float64], len(params))
	for i, p := range params {
		dirs[i] = engine.Const(engine.RandNormal[float64](rng, 1, p.Shape()...))
	}
	h := func(vars []*engine.Var[float64], create bool) *engine.Var[float64] {
		g := engine.Grad(f(vars), vars, create)
		var s *engine.Var[float64]
		for i := range g {
			t := engine.Sum(engine.Mul(g[i], dirs[i]))
			if s == nil {
				s = t
			} else {
				s = engine.Add(s, t)
			}
		}
		return s
	}
	vars := paramVars(params)
	hv := h(vars, true)
	if !hv.Tracked() {
		return fmt.Errorf("second-order: the gradient does not depend on the parameters (f is linear?)")
	}
	analytic := engine.Grad(hv, vars, false)
	value := func() float64 { return h(paramVars(params), false).Item() }
	return compare("second-order", params, analytic, value, opt)
}

func paramVars(params []*engine.Tensor[float64]) []*engine.Var[float64] {
	vars := make([]*engine.Var[float64], len(params))
	for i, p := range params {
		vars[i] = engine.Param(p)
	}
	return vars
}

// compare perturbs chosen coordinates of params in place (restoring them) and
// compares value's central differences with the analytic gradients.
func compare(kind string, params []*engine.Tensor[float64], analytic []*engine.Var[float64], value func() float64, opt Options) error {
	rng := rand.New(rand.NewPCG(opt.Seed, 0xc0047))
	for i, p := range params {
		data := p.Data()
		coords := rng.Perm(len(data))
		if opt.MaxCoords > 0 && len(coords) > opt.MaxCoords {
			coords = coords[:opt.MaxCoords]
		}
		a := analytic[i].Value().Data()
		for _, j := range coords {
			orig := data[j]
			data[j] = orig + opt.Eps
			fp := value()
			data[j] = orig - opt.Eps
			fm := value()
			data[j] = orig
			num := (fp - fm) / (2 * opt.Eps)
			diff := math.Abs(a[j] - num)
			if !(diff <= opt.AbsTol+opt.RelTol*math.Max(math.Abs(a[j]), math.Abs(num))) {
				return fmt.Errorf("%s gradient of param %d (shape %v) at %d: analytic %.8g, numeric %.8g (|diff| %.3g)",
					kind, i, p.Shape(), j, a[j], num, diff)
			}
		}
	}
	return nil
}
