package engine

import "fmt"

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

// GradSeed is the general form of Grad: it returns the gradients of
// Σ_k <ys[k], seeds[k]> with respect to wrt (a vector-Jacobian product).
// Each seed must have its output's shape.
func GradSeed[T Float](ys, seeds []*Var[T], wrt []*Var[T], createGraph bool) []*Var[T] {
	if len(ys) != len(seeds) {
		panic(fmt.Sprintf("engine.GradSeed: %d outputs but %d seeds", len(ys), len(seeds)))
	}
	target := make(map[*Var[T]]bool, len(wrt))
	for _, w := range wrt {
		target[w] = true
	}
	order, needed := topoOrder(ys, target)

	grads := make(map[*Var[T]]*Var[T], len(order))
	// owned holds the sums that accumulate allocated itself. Without a graph
	// to record, later contributions are added into them in place instead of
	// allocating a new sum each time. A value only receives contributions
	// before it is propagated (reverse topological order), so no other
	// gradient can alias an owned sum while it is still being written.
	owned := map[*Var[T]]bool{}
	accumulate := func(v, g *Var[T]) {
		if !sameShape(v.value.shape, g.value.shape) {
			panic(fmt.Sprintf("engine: gradient of shape %v for value of shape %v (op %q)", g.value.shape, v.value.shape, v.Op()))
		}
		old, ok := grads[v]
		switch {
		case !ok:
			grads[v] = g
		case owned[old]:
			addInto(old.value.data, g.value.data)
		default:
			s := Add(old, g)
			grads[v] = s
			if !createGraph {
				owned[s] = true
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
		g, ok := grads[v]
		if !ok || v.fn == nil {
			continue
		}
		if !target[v] {
			delete(grads, v) // intermediate: free it once propagated
		}
		fn := v.fn
		need := make([]bool, len(fn.inputs))
		any := false
		for j, in := range fn.inputs {
			need[j] = in.tracked && needed[in]
			any = any || need[j]
		}
		if !any {
			continue
		}
		in, out := fn.inputs, v
		if !createGraph {
			in = DetachAll(fn.inputs)
			out = Detach(v)
			g = Detach(g)
		}
		ing := fn.backward(g, out, in, need)
		for j, gj := range ing {
			if need[j] && gj != nil {
				accumulate(fn.inputs[j], gj)
			}
		}
	}

	res := make([]*Var[T], len(wrt))
	for i, w := range wrt {
		if g, ok := grads[w]; ok {
			res[i] = g
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
		visited[y] = true
		stack := []frame{{v: y}}
		for len(stack) > 0 {
			top := &stack[len(stack)-1]
			if top.v.fn != nil && top.next < len(top.v.fn.inputs) {
				in := top.v.fn.inputs[top.next]
				top.next++
				if in.tracked && !visited[in] {
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

// addInto adds src to dst element-wise; they have the same length.
func addInto[T Float](dst, src []T) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}
