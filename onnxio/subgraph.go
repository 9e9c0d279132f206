package onnxio

import (
	"errors"
	"fmt"
	"slices"
)

// ExtractSubgraph returns a model whose graph computes only the named
// tensors: they become its outputs, in the order given, and everything
// that none of them depends on is left out. The result keeps
//
//   - the nodes the outputs depend on, in their original order;
//   - the initializers those nodes read (the others are dropped);
//   - the graph inputs they read (an input the outputs do not depend on is
//     dropped, so a model cut above a second input loses that input);
//   - the value_info entries of the tensors that remain, other than the
//     graph inputs and outputs.
//
// A name may be any node output, graph input or initializer of m's graph.
// An output's type and shape come from the graph's inputs, outputs or
// value_info, or from the initializer of that name; when the graph does not
// record them the output has no type (callers that know it, for instance
// from running the graph, fill in the returned ValueInfo).
//
// The header of m (IR version, opset imports, producer, doc string,
// metadata) is copied. The returned model has its own Graph, Node and
// ValueInfo structs, so renaming its nodes or outputs leaves m unchanged,
// but it shares the initializer tensors and the attributes with m: treat
// those as read-only. Nodes with graph-valued attributes (If, Loop, Scan)
// keep the outer tensors their bodies refer to.
//
// ExtractSubgraph reports an error for a name that is not in the graph, a
// name given twice, and a graph in which a needed tensor has no producer or
// two producers.
func ExtractSubgraph(m *Model, outputs ...string) (*Model, error) {
	if m == nil || m.Graph == nil {
		return nil, errors.New("model has no graph")
	}
	if len(outputs) == 0 {
		return nil, errors.New("no output tensor named")
	}
	g := m.Graph
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return nil, fmt.Errorf("tensor %q is produced by both %s and %s", o, g.Nodes[j], n)
			}
			producer[o] = i
		}
	}
	inits := map[string]*Tensor{}
	for _, t := range g.Initializer {
		inits[t.Name] = t
	}
	isInput := map[string]bool{}
	for _, vi := range g.Inputs {
		isInput[vi.Name] = true
	}
	known := func(name string) bool {
		_, p := producer[name]
		return p || isInput[name] || inits[name] != nil
	}

	seen := map[string]bool{}
	for _, o := range outputs {
		if o == "" {
			return nil, errors.New("empty output tensor name")
		}
		if seen[o] {
			return nil, fmt.Errorf("tensor %q is named twice", o)
		}
		seen[o] = true
		if !known(o) {
			return nil, fmt.Errorf("tensor %q is not in the graph (no node output, graph input or initializer has that name)", o)
		}
	}

	// Walk back from the outputs, marking the tensors and nodes needed.
	needed := map[string]bool{}
	keep := make([]bool, len(g.Nodes))
	stack := slices.Clone(outputs)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if needed[name] {
			continue
		}
		needed[name] = true
		i, ok := producer[name]
		if !ok || keep[i] {
			continue
		}
		keep[i] = true
		n := g.Nodes[i]
		for _, in := range n.Inputs {
			if in == "" || needed[in] {
				continue
			}
			if !known(in) {
				return nil, fmt.Errorf("%s: input %q is not a graph input, initializer or node output", n, in)
			}
			stack = append(stack, in)
		}
		// Bodies of control-flow nodes may read outer tensors by name.
		for _, a := range n.Attributes {
			for _, sg := range attrGraphs(a) {
				for _, ref := range outerRefs(sg) {
					if !needed[ref] && known(ref) {
						stack = append(stack, ref)
					}
				}
			}
		}
	}

	ng := &Graph{Name: g.Name, DocString: g.DocString}
	for i, n := range g.Nodes {
		if keep[i] {
			c := *n
			c.Inputs = slices.Clone(n.Inputs)
			c.Outputs = slices.Clone(n.Outputs)
			c.Attributes = slices.Clone(n.Attributes)
			ng.Nodes = append(ng.Nodes, &c)
		}
	}
	for _, t := range g.Initializer {
		if needed[t.Name] {
			ng.Initializer = append(ng.Initializer, t)
		}
	}
	for _, vi := range g.Inputs {
		if needed[vi.Name] {
			ng.Inputs = append(ng.Inputs, cloneValueInfo(vi))
		}
	}
	info := map[string]*ValueInfo{}
	for _, list := range [][]*ValueInfo{g.ValueInfo, g.Inputs, g.Outputs} {
		for _, vi := range list {
			info[vi.Name] = vi
		}
	}
	for _, o := range outputs {
		vi, ok := info[o]
		switch {
		case ok:
			vi = cloneValueInfo(vi)
		case inits[o] != nil:
			t := inits[o]
			vi = NewValueInfo(o, t.DataType, t.Dims)
		default:
			vi = &ValueInfo{Name: o}
		}
		ng.Outputs = append(ng.Outputs, vi)
	}
	for _, vi := range g.ValueInfo {
		if needed[vi.Name] && !seen[vi.Name] && !isInput[vi.Name] {
			ng.ValueInfo = append(ng.ValueInfo, cloneValueInfo(vi))
		}
	}

	nm := *m
	nm.OpsetImport = slices.Clone(m.OpsetImport)
	nm.MetadataProps = slices.Clone(m.MetadataProps)
	nm.Graph = ng
	return &nm, nil
}

func cloneValueInfo(vi *ValueInfo) *ValueInfo {
	c := *vi
	c.Shape = slices.Clone(vi.Shape)
	return &c
}

func attrGraphs(a *Attribute) []*Graph {
	gs := slices.Clone(a.Graphs)
	if a.G != nil {
		gs = append(gs, a.G)
	}
	return gs
}

// outerRefs returns the tensor names that graph g (a control-flow body),
// or a body nested in it, reads without defining them itself.
func outerRefs(g *Graph) []string {
	defined := map[string]bool{}
	for _, vi := range g.Inputs {
		defined[vi.Name] = true
	}
	for _, t := range g.Initializer {
		defined[t.Name] = true
	}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	var refs []string
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in != "" && !defined[in] {
				refs = append(refs, in)
			}
		}
		for _, a := range n.Attributes {
			for _, sg := range attrGraphs(a) {
				for _, r := range outerRefs(sg) {
					if !defined[r] {
						refs = append(refs, r)
					}
				}
			}
		}
	}
	for _, vi := range g.Outputs {
		if !defined[vi.Name] {
			refs = append(refs, vi.Name)
		}
	}
	return refs
}
