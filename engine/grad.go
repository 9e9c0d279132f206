package engine

import (
	"fmt"
	"sync"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

// Grad returns the gradients of the scalar y with respect to each variable in
// wrt, in order. A variable that y does not depend on gets a zero gradient.
//
// With createGraph false the backward pass runs on detached values and the
// gradients are constants: cheap, for first-order training. With createGraph
// true the backward pass is recorded, so the gradients are tracked values
// that can be differentiated again (Hessian-vector products, MAML, L2G).
//
// It panics if y does not hold exactly one element.
func Grad[T Float](y *Var[T], wrt []*Var[T], createGraph bool) []*Var[T] {
	if y.value.Len() != 1 {
		panic(fmt.Sprintf("engine.Grad: output must be a scalar, got shape %v", y.value.shape))
	}
	return GradSeed([]*Var[T]{y}, []*Var[T]{Const(Full[T](1, y.value.shape...))}, wrt, createGraph)
}

// GradFree returns the same gradients as Grad(y, wrt, false), and releases
// the graph behind y while it goes: once the backward pass has passed a
// value, the record of how it was computed is dropped, so the tensors that
// only the graph still held can be collected before the pass ends. Use it
// for the last gradient taken of a graph, as training steps do: the peak
// memory of a step is then the graph plus a few gradients, not the graph
// plus every gradient of the pass.
//
// Afterwards y and every tracked value between y and wrt (the variables in
// wrt excepted) keep their values but can no longer be differentiated:
// a later Grad through them panics instead of returning wrong gradients.
// Values that y does not depend on are not touched. Since it changes the
// graph, no other goroutine may use the graph meanwhile.
func GradFree[T Float](y *Var[T], wrt []*Var[T]) []*Var[T] {
	if y.value.Len() != 1 {
		panic(fmt.Sprintf("engine.GradFree: output must be a scalar, got shape %v", y.value.shape))
	}
	return gradSeed([]*Var[T]{y}, []*Var[T]{Const(Full[T](1, y.value.shape...))}, wrt, false, true)
}

// GradSeed is the general form of Grad: it returns the gradients of
// Σ_k <ys[k], seeds[k]> with respect to wrt (a vector-Jacobian product).
// Each seed must have its output's shape.
func GradSeed[T Float](ys, seeds []*Var[T], wrt []*Var[T], createGraph bool) []*Var[T] {
	return gradSeed(ys, seeds, wrt, createGraph, false)
}

// gradSeed is GradSeed; with free (never with createGraph) it releases each
// value's node once the value has been propagated (see GradFree).
func gradSeed[T Float](ys, seeds []*Var[T], wrt []*Var[T], createGraph, free bool) []*Var[T] {
	if len(ys) != len(seeds) {
		panic(fmt.Sprintf("engine.GradSeed: %d outputs but %d seeds", len(ys), len(seeds)))
	}
	target := make(map[*Var[T]]bool, len(wrt))
	for _, w := range wrt {
		target[w] = true
	}
	order, needed := topoOrder(ys, target)

	grads := make(map[*Var[T]]*Var[T], len(order))
	// owned holds the gradient sums whose tensors belong to this pass: sums
	// that accumulate allocated itself, and fresh or deferred contributions
	// (see Var.fresh and Var.deposit) it took over. Without a graph to
	// record, later contributions are added into them in place instead of
	// allocating a new sum each time. A value only receives contributions
	// before it is propagated (reverse topological order), so no other
	// gradient can alias an owned sum while it is still being written.
	owned := map[*Var[T]]bool{}
	accumulate := func(v, g *Var[T]) {
		if !sameShape(v.value.shape, g.value.shape) {
			panic(fmt.Sprintf("engine: gradient of shape %v for value of shape %v (op %q)", g.value.shape, v.value.shape, v.Op()))
		}
		old, ok := grads[v]
		if ok && !createGraph && old.pooled != nil && g.pooled != nil {
			if m := old.pooled.merge(g.pooled); m != nil {
				grads[v] = m.deferred(v.value.shape)
				return
			}
		}
		if ok && !createGraph && old.wino != nil && g.wino != nil {
			if m := old.wino.merge(g.wino); m != nil {
				grads[v] = winoDeferred[T](m, v.value.shape)
				return
			}
		}
		if ok && old.deposit != nil {
			// A contribution kept deferred as the whole gradient (see
			// below) gets company: from now on it is a sum like others,
			// added in place into a fresh newcomer if there is one, or
			// into a convolution's output (which cannot add in place).
			if !createGraph && old.wino == nil && g.wino != nil && g.wino.f != nil {
				g = materialize(g)
			}
			if !createGraph && g.fresh {
				old.deposit(g.value.data, false)
				g.planeSums = addPlaneSums(g.planeSums, old.planeSums)
				grads[v] = g
				owned[g] = true
				return
			}
			old = materialize(old)
			grads[v] = old
			owned[old] = true
		}
		if createGraph {
			g = materialize(g)
			if ok {
				g = Add(ensure(old), ensure(g))
			}
			grads[v] = g
			return
		}
		switch {
		case ok && owned[old]:
			if g.deposit != nil {
				g.deposit(old.value.data, false)
			} else {
				addInto(old.value.data, g.value.data)
			}
			old.planeSums = addPlaneSums(old.planeSums, g.planeSums)
		case !ok && g.deposit != nil:
			// Kept deferred: if it stays the only contribution, an
			// imagewise backward function consumes it an image at a
			// time (see Var.depositImage); if a fresh one follows, it
			// is added into that.
			grads[v] = g
		case g.fresh || g.deposit != nil:
			g = materialize(g)
			if ok {
				addInto(g.value.data, old.value.data)
				g.planeSums = addPlaneSums(g.planeSums, old.planeSums)
			}
			grads[v] = g
			owned[g] = true
		case !ok:
			grads[v] = g
		default:
			s := Add(old, g)
			grads[v] = s
			owned[s] = true
		}
	}
	// propagate passes v's gradient, if it has one, to v's inputs.
	propagate := func(v *Var[T]) {
		g, ok := grads[v]
		if !ok || v.fn == nil {
			return
		}
		if !target[v] {
			// An intermediate: free it once propagated (owned too, which
			// would otherwise keep every sum until the pass ends).
			delete(grads, v)
			delete(owned, g)
		}
		fn := v.fn
		need := make([]bool, len(fn.inputs))
		any := false
		for j, in := range fn.inputs {
			need[j] = in.tracked && needed[in]
			any = any || need[j]
		}
		if !any {
			return
		}
		in, out := fn.inputs, v
		if g.deposit != nil && (!fn.imagewise || g.depositImage == nil) {
			g = materialize(g)
		}
		if g.lazy != nil && !fn.imagewise {
			ensure(g)
		}
		if !createGraph {
			in = DetachAll(fn.inputs)
			out = Detach(v)
			if g.deposit == nil {
				sums := g.planeSums
				g = Detach(g)
				g.planeSums = sums
			}
		}
		ing := fn.backward(g, out, in, need)
		// A fresh tensor returned for two different inputs must not become
		// the owned sum of either: adding into one would change the other.
		for j, gj := range ing {
			for k := j + 1; gj != nil && gj.fresh && k < len(ing); k++ {
				if ing[k] == gj && fn.inputs[k] != fn.inputs[j] {
					gj.fresh = false
				}
			}
		}
		for j, gj := range ing {
			if need[j] && gj != nil {
				accumulate(fn.inputs[j], gj)
			}
		}
	}
	for k, y := range ys {
		if !sameShape(y.value.shape, seeds[k].value.shape) {
			panic(fmt.Sprintf("engine.GradSeed: seed %d has shape %v, output has %v", k, seeds[k].value.shape, y.value.shape))
		}
		if y.tracked && needed[y] {
			s := seeds[k]
			if !createGraph {
				s = Detach(s)
			}
			accumulate(y, s)
		}
	}

	for i := len(order) - 1; i >= 0; i-- {
		v := order[i]
		propagate(v)
		if free {
			// Every consumer of v comes later in order and has been
			// propagated, so nothing needs v's node any more. Dropping
			// it (and order's and needed's references to v) lets the
			// inputs that only this graph held be collected.
			order[i] = nil
			delete(needed, v)
			if v.fn != nil && !target[v] {
				v.releasedOp, v.fn, v.released = v.fn.op, nil, true
			}
		}
	}

	res := make([]*Var[T], len(wrt))
	for i, w := range wrt {
		if g, ok := grads[w]; ok {
			res[i] = ensure(materialize(g))
		} else {
			res[i] = Const(New[T](w.value.shape...))
		}
	}
	return res
}

// topoOrder returns the tracked values reachable from ys in an order where
// every value comes after its inputs, and which of them lie on a path to a
// target (only those need gradients).
func topoOrder[T Float](ys []*Var[T], target map[*Var[T]]bool) ([]*Var[T], map[*Var[T]]bool) {
	type frame struct {
		v    *Var[T]
		next int
	}
	visited := map[*Var[T]]bool{}
	needed := map[*Var[T]]bool{}
	var order []*Var[T]
	for _, y := range ys {
		if !y.tracked || visited[y] {
			continue
		}
		checkNotReleased(y)
		visited[y] = true
		stack := []frame{{v: y}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.v.fn != nil && top.next < len(top.v.fn.inputs) {
				in := top.v.fn.inputs[top.next]
				top.next++
				if in.tracked && !visited[in] {
					checkNotReleased(in)
					visited[in] = true
					stack = append(stack, frame{v: in})
				}
				continue
			}
			v := top.v
			stack = stack[:len(stack)-1]
			need := target[v]
			if v.fn != nil {
				for _, in := range v.fn.inputs {
					need = need || needed[in]
				}
			}
			if need {
				needed[v] = true
			}
			order = append(order, v)
		}
	}
	return order, needed
}

// checkNotReleased panics if GradFree has released v's graph: a gradient
// through v would silently miss everything v was computed from.
func checkNotReleased[T Float](v *Var[T]) {
	if v.released {
		panic(fmt.Sprintf("engine: differentiating through a value of op %q whose graph GradFree released", v.releasedOp))
	}
}

// addInto adds src to dst element-wise; they have the same length. Large
// sums, such as the gradients of a first layer, are split into one block
// per thread.
func addInto[T Float](dst, src []T) {
	src = src[:len(dst)]
	const grain = 1 << 16
	if blocks := min(kernel.Threads(), len(dst)/grain); blocks > 1 {
		var wg sync.WaitGroup
		step := (len(dst) + blocks - 1) / blocks
		for lo := 0; lo < len(dst); lo += step {
			hi := min(lo+step, len(dst))
			wg.Add(1)
			go func() {
				defer wg.Done()
				addRun(dst[lo:hi], src[lo:hi])
			}()
		}
		wg.Wait()
		return
	}
	addRun(dst, src)
}

// addRun is addInto on one thread.
func addRun[T Float](dst, src []T) {
	if d32, ok := any(dst).([]float32); ok {
		// 1·dst + 1·src + 0 rounds once, as dst + src does; vectorised.
		kernel.Axpbyc32(d32, d32, any(src).([]float32), 1, 1, 0)
		return
	}
	for i, v := range src {
		dst[i] += v
	}
}
