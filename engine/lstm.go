package engine

import (
	"fmt"
	"math"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// LSTMCell is one step of a standard LSTM cell for a batch of n rows. pre
// [n, 4H] holds the gate pre-activations in the order i, f, g, o (one row
// of x·W_ihᵀ + h·W_hhᵀ + b per row), state [n, 2H] the previous hidden and
// cell states side by side (h | c), or nil for zeros. It returns the next
// state [n, 2H]:
//
//	c' = σ(i)·tanh(g) + σ(f)·c,  h' = σ(o)·tanh(c').
//
// It is one op: a pass over pre and state where the composition of
// slices, sigmoids, tanhs and products makes about a dozen, and a recorded
// graph holds pre, state and the result only. Its derivatives are those of
// the composition, to any order (the backward pass is fused only when no
// graph is recorded). The previous hidden state enters only
// through pre, so the gradient of state's h half is zero. In float32 the
// gates use kernel.Sigmoid32 (tanh x = 2σ(2x) − 1), within 1e-6 of the
// exact functions; float64 uses math.Exp.
func LSTMCell[T Float](pre, state *Var[T]) *Var[T] {
	ps := pre.value.shape
	if len(ps) != 2 || ps[1]%4 != 0 || ps[1] == 0 {
		panic(fmt.Sprintf("engine.LSTMCell: pre %v is not [n, 4H]", ps))
	}
	n, h := ps[0], ps[1]/4
	var prev []T
	inputs := []*Var[T]{pre}
	if state != nil {
		if ss := state.value.shape; len(ss) != 2 || ss[0] != n || ss[1] != 2*h {
			panic(fmt.Sprintf("engine.LSTMCell: state %v does not fit pre %v: want [%d, %d]", ss, ps, n, 2*h))
		}
		prev = state.value.data
		inputs = append(inputs, state)
	}
	out := newOverwritten[T](n, 2*h)
	lstmCellForward(out.data, pre.value.data, prev, n, h)
	return record("LSTMCell", out, lstmCellBackward[T], inputs...)
}

// lstmCellBackward is the backward pass of LSTMCell: fused on constants,
// with elementary ops when a graph is being recorded.
func lstmCellBackward[T Float](g, out *Var[T], in []*Var[T], _ []bool) []*Var[T] {
	tracked := g.tracked || out.tracked
	for _, v := range in {
		tracked = tracked || v.tracked
	}
	if tracked {
		return lstmCellGradGraph(g, out, in)
	}
	pre := in[0].value
	n, h := pre.shape[0], pre.shape[1]/4
	dpre := newOverwritten[T](n, 4*h)
	var prev, dprev []T
	var dstate *Tensor[T]
	if len(in) > 1 {
		prev = in[1].value.data
		dstate = newOverwritten[T](n, 2*h)
		dprev = dstate.data
	}
	lstmCellGrad(dpre.data, dprev, g.value.data, pre.data, prev, out.value.data, n, h)
	res := []*Var[T]{freshConst(dpre)}
	if dstate != nil {
		res = append(res, freshConst(dstate))
	}
	return res
}

// lstmCellGradGraph is the backward pass of LSTMCell with elementary ops
// (the formulas of lstmCellGrad), recorded when a graph is: its own
// derivatives are then those of the composition.
func lstmCellGradGraph[T Float](g, out *Var[T], in []*Var[T]) []*Var[T] {
	pre := in[0]
	n, h := pre.value.shape[0], pre.value.shape[1]/4
	gate := func(k int) *Var[T] { return Slice(pre, 1, k*h, (k+1)*h) }
	one := func(v *Var[T]) *Var[T] { return AddScalar(Neg(v), 1) } // 1 − v
	si, tg, so := Sigmoid(gate(0)), Tanh(gate(2)), Sigmoid(gate(3))
	tc := Tanh(Slice(out, 1, h, 2*h))
	gh := Slice(g, 1, 0, h)
	dc := Add(Slice(g, 1, h, 2*h), Mul(Mul(gh, so), one(Square(tc))))
	di := Mul(Mul(dc, tg), Mul(si, one(si)))
	dg := Mul(Mul(dc, si), one(Square(tg)))
	do := Mul(Mul(gh, tc), Mul(so, one(so)))
	if len(in) == 1 {
		return []*Var[T]{Concat(1, di, Const(New[T](n, h)), dg, do)}
	}
	sf := Sigmoid(gate(1))
	df := Mul(Mul(dc, Slice(in[1], 1, h, 2*h)), Mul(sf, one(sf)))
	return []*Var[T]{Concat(1, di, df, dg, do), Concat(1, Const(New[T](n, h)), Mul(dc, sf))}
}

// lstmRows is the number of rows an LSTMCell pass handles at a time: its
// activations (5H values a row) stay in the level-1 cache.
const lstmRows = 32

// lstmCellForward writes the next state out [n, 2H] from pre [n, 4H] and
// the previous state prev [n, 2H] (nil: zeros).
func lstmCellForward[T Float](out, pre, prev []T, n, h int) {
	kernel.ParallelRange(n, 4*lstmRows, func(lo, hi int) {
		act := make([]T, lstmRows*4*h)
		tc := make([]T, lstmRows*h)
		for r0 := lo; r0 < hi; r0 += lstmRows {
			rows := min(lstmRows, hi-r0)
			a := act[:rows*4*h]
			lstmGates(a, pre[r0*4*h:(r0+rows)*4*h], h)
			for r := range rows {
				ar, or := a[r*4*h:(r+1)*4*h], out[(r0+r)*2*h:(r0+r+1)*2*h]
				c := or[h:]
				for j := range h {
					c[j] = ar[j] * ar[2*h+j]
				}
				if prev != nil {
					pc := prev[(r0+r)*2*h+h : (r0+r+1)*2*h]
					for j := range h {
						c[j] += ar[h+j] * pc[j]
					}
				}
			}
			t := tc[:rows*h]
			lstmTanhCells(t, out[r0*2*h:(r0+rows)*2*h], h)
			for r := range rows {
				ar, or := a[r*4*h:(r+1)*4*h], out[(r0+r)*2*h:(r0+r+1)*2*h]
				for j := range h {
					or[j] = ar[3*h+j] * t[r*h+j]
				}
			}
		}
	})
}

// lstmCellGrad writes the gradients of LSTMCell's inputs, dpre [n, 4H] and
// (if prev is not nil) dprev [n, 2H], from the gradient g [n, 2H] of its
// output out, recomputing the gates from pre:
//
//	dc = g_c + g_h·σ(o)·(1 − tanh²c'),
//	d i = dc·tanh(g)·σ(i)(1 − σ(i)),  d f = dc·c·σ(f)(1 − σ(f)),
//	d g = dc·σ(i)·(1 − tanh²g),  d o = g_h·tanh(c')·σ(o)(1 − σ(o)),
//	d c = dc·σ(f),  d h = 0.
func lstmCellGrad[T Float](dpre, dprev, g, pre, prev, out []T, n, h int) {
	kernel.ParallelRange(n, 4*lstmRows, func(lo, hi int) {
		act := make([]T, lstmRows*4*h)
		tc := make([]T, lstmRows*h)
		for r0 := lo; r0 < hi; r0 += lstmRows {
			rows := min(lstmRows, hi-r0)
			a := act[:rows*4*h]
			lstmGates(a, pre[r0*4*h:(r0+rows)*4*h], h)
			t := tc[:rows*h]
			lstmTanhCells(t, out[r0*2*h:(r0+rows)*2*h], h)
			for r := range rows {
				row := r0 + r
				ar, tr := a[r*4*h:(r+1)*4*h], t[r*h:(r+1)*h]
				gr := g[row*2*h : (row+1)*2*h]
				dr := dpre[row*4*h : (row+1)*4*h]
				var pc, dc []T
				if prev != nil {
					pc = prev[row*2*h+h : (row+1)*2*h]
					dh := dprev[row*2*h : (row+1)*2*h]
					clear(dh[:h])
					dc = dh[h:]
				}
				for j := range h {
					si, sf, tg, so, t := ar[j], ar[h+j], ar[2*h+j], ar[3*h+j], tr[j]
					gh := gr[j]
					d := gr[h+j] + gh*so*(1-t*t)
					dr[j] = d * tg * si * (1 - si)
					dr[2*h+j] = d * si * (1 - tg*tg)
					dr[3*h+j] = gh * t * so * (1 - so)
					if pc != nil {
						dr[h+j] = d * pc[j] * sf * (1 - sf)
						dc[j] = d * sf
					} else {
						dr[h+j] = 0
					}
				}
			}
		}
	})
}

// lstmGates sets act (rows of 4H) to σ(i), σ(f), tanh(g), σ(o) of the rows
// of pre.
func lstmGates[T Float](act, pre []T, h int) {
	switch a := any(act).(type) {
	case []float32:
		p := any(pre).([]float32)
		// tanh x = 2σ(2x) − 1: double the g columns, one sigmoid pass.
		for r := 0; r < len(a); r += 4 * h {
			copy(a[r:r+2*h], p[r:r+2*h])
			for j := 2 * h; j < 3*h; j++ {
				a[r+j] = 2 * p[r+j]
			}
			copy(a[r+3*h:r+4*h], p[r+3*h:r+4*h])
		}
		kernel.Sigmoid32(a, a)
		for r := 0; r < len(a); r += 4 * h {
			for j := 2 * h; j < 3*h; j++ {
				a[r+j] = 2*a[r+j] - 1
			}
		}
	default:
		for r := 0; r < len(act); r += 4 * h {
			for j := range 4 * h {
				v := float64(pre[r+j])
				if j >= 2*h && j < 3*h {
					act[r+j] = T(math.Tanh(v))
				} else {
					act[r+j] = T(sigmoid64(v))
				}
			}
		}
	}
}

// lstmTanhCells sets t (rows of H) to tanh of the cell halves of the state
// rows st (rows of 2H).
func lstmTanhCells[T Float](t, st []T, h int) {
	rows := len(t) / h
	switch tt := any(t).(type) {
	case []float32:
		s := any(st).([]float32)
		for r := range rows {
			for j := range h {
				tt[r*h+j] = 2 * s[r*2*h+h+j]
			}
		}
		kernel.Sigmoid32(tt, tt)
		for i, v := range tt {
			tt[i] = 2*v - 1
		}
	default:
		for r := range rows {
			for j := range h {
				t[r*h+j] = T(math.Tanh(float64(st[r*2*h+h+j])))
			}
		}
	}
}

// sigmoid64 is 1/(1 + e^−x), through e^−|x| so that neither branch
// overflows.
func sigmoid64(v float64) float64 {
	if v >= 0 {
		return 1 / (1 + math.Exp(-v))
	}
	e := math.Exp(v)
	return e / (1 + e)
}
