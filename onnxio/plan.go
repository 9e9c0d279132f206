package onnxio

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Plan is a graph compiled for execution: nodes in topological order with
// constant subgraphs already evaluated, fused where it pays, and a schedule
// that frees each intermediate buffer after its last use. A Plan is
// immutable and safe for concurrent Run calls.
type Plan struct {
	lim      Limits
	inputs   []*ValueInfo // graph inputs that are not initializers, in order
	inSlots  []int
	outputs  []*ValueInfo
	outSlots []int
	consts   []*value // per slot; nil for values computed at run time
	nslots   int
	steps    []*step
}

// step is one compiled node (or fused chain of nodes).
type step struct {
	node    *Node
	in, out []int // slot per argument; -1 for an absent optional argument
	run     opFunc
	// dying[i] reports that input i is not needed after this step, so an
	// op may overwrite it when it owns the buffer.
	dying   []bool
	release []int // slots to drop after this step
}

// opFunc runs one node on its inputs (nil for absent optional ones) and
// returns its outputs (nil for outputs it does not produce).
type opFunc func(rc *runCtx, in []*value) ([]*value, error)

// runCtx is the state of one Run: slot values and the current step.
type runCtx struct {
	lim   Limits
	slots []*value
	st    *step
	// ops is the work charged to the current step (see Limits.MaxNodeOps).
	ops int64
	// fold is non-nil while Compile evaluates constant nodes.
	fold *foldBudget
}

// foldBudget is what constant folding has spent during one Compile.
type foldBudget struct {
	ops   int64 // charged so far, against Limits.MaxFoldOps
	bytes int64 // constant data so far, against Limits.MaxInitializerBytes
}

// charge records that the current step is about to do ops units of work
// and fails, before the work is done, when that exceeds a limit.
func (rc *runCtx) charge(ops int64) error {
	rc.ops = addSat(rc.ops, ops)
	if rc.ops > rc.lim.MaxNodeOps {
		return fmt.Errorf("needs more than %d operations (Limits.MaxNodeOps)", rc.lim.MaxNodeOps)
	}
	if f := rc.fold; f != nil {
		if f.ops = addSat(f.ops, ops); f.ops > rc.lim.MaxFoldOps {
			return fmt.Errorf("evaluating constant nodes needs more than %d operations (Limits.MaxFoldOps)", rc.lim.MaxFoldOps)
		}
	}
	return nil
}

// Compile builds an executable plan for the model's graph.
func Compile(m *Model, opts ...Option) (*Plan, error) {
	o := buildOptions(opts)
	if m.Graph == nil {
		return nil, errors.New("model has no graph")
	}
	opset := m.Opset()
	if opset == 0 {
		// IR files without an opset import predate opset versioning.
		opset = 1
	}
	pb := &planner{lim: o.limits, opset: int(opset), names: map[string]int{}}
	return pb.build(m.Graph)
}

// planner holds the state of one Compile.
type planner struct {
	lim    Limits
	opset  int
	names  map[string]int
	consts []*value
	// producer of each slot (-1 for graph inputs/constants) and consumers.
	consumers map[int][]*Node
	isOutput  map[int]bool
	budget    *foldBudget // what constant folding has spent
}

func (pb *planner) slot(name string) int {
	if s, ok := pb.names[name]; ok {
		return s
	}
	s := len(pb.consts)
	pb.names[name] = s
	pb.consts = append(pb.consts, nil)
	return s
}

func (pb *planner) constOf(name string) *value {
	if name == "" {
		return nil
	}
	if s, ok := pb.names[name]; ok {
		return pb.consts[s]
	}
	return nil
}

func (pb *planner) build(g *Graph) (*Plan, error) {
	p := &Plan{lim: pb.lim}
	defined := map[string]bool{}
	pb.budget = &foldBudget{}
	initBytes := &pb.budget.bytes
	for _, t := range g.Initializer {
		if t.Name == "" {
			return nil, errors.New("initializer without a name")
		}
		v, err := t.toValue(pb.lim)
		if err != nil {
			return nil, fmt.Errorf("initializer: %w", err)
		}
		*initBytes += int64(v.len() * v.dt.Size())
		if *initBytes > pb.lim.MaxInitializerBytes {
			return nil, fmt.Errorf("initializer %q: initializers exceed the %d-byte limit", t.Name, pb.lim.MaxInitializerBytes)
		}
		pb.consts[pb.slot(t.Name)] = v
		defined[t.Name] = true
	}
	for _, vi := range g.Inputs {
		if defined[vi.Name] {
			continue // an initializer listed as an input (pre-IR-4 exports)
		}
		if vi.Name == "" {
			return nil, errors.New("graph input without a name")
		}
		defined[vi.Name] = true
		p.inputs = append(p.inputs, vi)
		p.inSlots = append(p.inSlots, pb.slot(vi.Name))
	}
	if len(g.Nodes) > pb.lim.MaxNodes {
		return nil, fmt.Errorf("graph has %d nodes, limit is %d", len(g.Nodes), pb.lim.MaxNodes)
	}
	order, err := topoSort(g.Nodes, defined)
	if err != nil {
		return nil, err
	}

	for _, n := range order {
		for _, o := range n.Outputs {
			if o != "" {
				pb.slot(o)
			}
		}
	}

	// Pass 1: evaluate every node whose inputs are all constant.
	folded := make([]bool, len(order))
	for i, n := range order {
		if !pb.allConst(n) {
			continue
		}
		if err := pb.fold(n); err != nil {
			return nil, err
		}
		folded[i] = true
	}

	// Consumers of each value, for fusion decisions.
	pb.consumers = map[int][]*Node{}
	pb.isOutput = map[int]bool{}
	for i, n := range order {
		if folded[i] {
			continue
		}
		for _, in := range n.Inputs {
			if in != "" {
				s := pb.slot(in)
				pb.consumers[s] = append(pb.consumers[s], n)
			}
		}
	}
	for _, vi := range g.Outputs {
		s, ok := pb.names[vi.Name]
		if !ok {
			return nil, fmt.Errorf("graph output %q is not produced by any node, input or initializer", vi.Name)
		}
		pb.isOutput[s] = true
		p.outputs = append(p.outputs, vi)
		p.outSlots = append(p.outSlots, s)
	}

	// Pass 2: compile the remaining nodes, fusing chains where possible.
	absorbed := map[*Node]bool{}
	for i, n := range order {
		if folded[i] || absorbed[n] {
			continue
		}
		st, err := pb.compileStep(n, absorbed)
		if err != nil {
			return nil, err
		}
		p.steps = append(p.steps, st)
	}

	p.consts = pb.consts
	p.nslots = len(pb.consts)
	p.schedule()
	return p, nil
}

func (pb *planner) allConst(n *Node) bool {
	for _, in := range n.Inputs {
		if in != "" && pb.constOf(in) == nil {
			return false
		}
	}
	return true
}

// fold evaluates a node with constant inputs at compile time.
func (pb *planner) fold(n *Node) error {
	st, err := pb.compileStep(n, nil)
	if err != nil {
		return err
	}
	rc := &runCtx{lim: pb.lim, st: st, slots: pb.consts, fold: pb.budget}
	outs, err := rc.exec(st)
	if err != nil {
		return err
	}
	for i, s := range st.out {
		if s >= 0 && i < len(outs) && outs[i] != nil {
			outs[i].buf = nil // constants are never recycled or overwritten
			pb.consts[s] = outs[i]
		}
	}
	return nil
}

// compileStep compiles node n, trying to fuse its successors (recorded in
// absorbed) when absorbed is non-nil.
func (pb *planner) compileStep(n *Node, absorbed map[*Node]bool) (*step, error) {
	if n.Domain != "" && n.Domain != "ai.onnx" {
		return nil, fmt.Errorf("%s: operator domain %q is not supported", n, n.Domain)
	}
	def, ok := opTable[n.OpType]
	if !ok {
		return nil, fmt.Errorf("%s: operator %q is not supported", n, n.OpType)
	}
	if err := checkArity(n); err != nil {
		return nil, err
	}
	c := &nodeCtx{node: n, opset: pb.opset, pb: pb}
	if err := c.checkAttrs(def.attrs); err != nil {
		return nil, err
	}
	st := &step{node: n}
	for _, in := range n.Inputs {
		if in == "" {
			st.in = append(st.in, -1)
		} else {
			st.in = append(st.in, pb.slot(in))
		}
	}
	for _, out := range n.Outputs {
		if out == "" {
			st.out = append(st.out, -1)
		} else {
			st.out = append(st.out, pb.slot(out))
		}
	}
	if absorbed != nil && n.OpType == "Conv" {
		c.fuse = pb.fusion(n, absorbed, st)
	}
	if absorbed != nil && n.OpType == "BatchNormalization" {
		c.fuse = pb.bnReluFusion(n, absorbed, st)
	}
	run, err := def.compile(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n, err)
	}
	st.run = run
	return st, nil
}

// singleConsumer returns the only node consuming slot s, or nil if there
// are several or the value is a graph output.
func (pb *planner) singleConsumer(s int) *Node {
	if pb.isOutput[s] || len(pb.consumers[s]) != 1 {
		return nil
	}
	return pb.consumers[s][0]
}

// fusion looks for Conv→BatchNormalization(constant parameters)→Relu after
// conv node n, then MaxPool, or else one of the activations of
// activationFusion. It marks the absorbed nodes, redirects the step's output to
// the last fused node's output and returns what the Conv compiler must apply.
func (pb *planner) fusion(n *Node, absorbed map[*Node]bool, st *step) *convFusion {
	if len(st.out) != 1 || st.out[0] < 0 {
		return nil
	}
	f := &convFusion{}
	out := st.out[0]
	if bn := pb.singleConsumer(out); bn != nil && bn.OpType == "BatchNormalization" && bn.Inputs[0] == n.Outputs[0] && convConstFloat(n, pb) && bnFusable(bn, pb) {
		f.bn = bn
		absorbed[bn] = true
		out = pb.slot(bn.Outputs[0])
	}
	if r := pb.singleConsumer(out); r != nil && r.OpType == "Relu" && len(r.Outputs) == 1 && len(r.Inputs) == 1 && r.Outputs[0] != "" {
		f.relu = true
		absorbed[r] = true
		out = pb.slot(r.Outputs[0])
	}
	// Max-pooling commutes with Relu, so pooling first shrinks the Relu
	// pass, and the full-size conv output never leaves the step.
	if p := pb.singleConsumer(out); p != nil && p.OpType == "MaxPool" && (len(p.Outputs) == 1 || p.Outputs[1] == "") && p.Outputs[0] != "" {
		f.pool = p
		absorbed[p] = true
		out = pb.slot(p.Outputs[0])
	}
	if !f.relu && f.pool == nil && convConstFloat(n, pb) {
		var nodes []*Node
		if nodes, f.act, out = pb.activationFusion(out); f.act != nil {
			for _, a := range nodes {
				absorbed[a] = true
			}
		}
	}
	if f.bn == nil && !f.relu && f.pool == nil && f.act == nil {
		return nil
	}
	st.out[0] = out
	return f
}

// bnReluFusion lets an inference BatchNormalization that no Conv absorbed
// take the Relu after it (DenseNet's pre-activations, between a Concat and
// a Conv): one pass over the tensor instead of two. It marks the Relu
// absorbed and redirects the step's output to the Relu's.
func (pb *planner) bnReluFusion(bn *Node, absorbed map[*Node]bool, st *step) *convFusion {
	if len(st.out) == 0 || st.out[0] < 0 || !bnFusable(bn, pb) {
		return nil
	}
	r := pb.singleConsumer(st.out[0])
	if r == nil || r.OpType != "Relu" || len(r.Inputs) != 1 || len(r.Outputs) != 1 || r.Outputs[0] == "" {
		return nil
	}
	absorbed[r] = true
	st.out[0] = pb.slot(r.Outputs[0])
	return &convFusion{relu: true}
}

// convConstFloat reports whether conv node n has constant float32 weights
// and bias (or no bias), so that a BatchNormalization can be folded in.
func convConstFloat(n *Node, pb *planner) bool {
	w := pb.constOf(n.Inputs[1])
	if w == nil || w.dt != Float || len(w.shape) < 1 {
		return false
	}
	if len(n.Inputs) > 2 && n.Inputs[2] != "" {
		b := pb.constOf(n.Inputs[2])
		return b != nil && b.dt == Float
	}
	return true
}

// bnFusable reports whether bn is an inference-mode BatchNormalization
// whose parameters are all constant and whose extra outputs are unused.
func bnFusable(bn *Node, pb *planner) bool {
	if len(bn.Inputs) != 5 || len(bn.Outputs) == 0 || bn.Outputs[0] == "" {
		return false
	}
	for _, in := range bn.Inputs[1:] {
		v := pb.constOf(in)
		if v == nil || v.dt != Float {
			return false
		}
	}
	for _, o := range bn.Outputs[1:] {
		if o != "" {
			if s, ok := pb.names[o]; ok && (len(pb.consumers[s]) > 0 || pb.isOutput[s]) {
				return false
			}
		}
	}
	if a := bn.Attr("training_mode"); a != nil && a.I != 0 {
		return false
	}
	if a := bn.Attr("spatial"); a != nil && a.I == 0 {
		return false
	}
	return true
}

// topoSort orders nodes so that each runs after the producers of its
// inputs. It reports cycles and inputs that nothing defines.
func topoSort(nodes []*Node, defined map[string]bool) ([]*Node, error) {
	producer := map[string]int{}
	for i, n := range nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if defined[o] {
				return nil, fmt.Errorf("%s: output %q is also a graph input or initializer", n, o)
			}
			if j, dup := producer[o]; dup {
				return nil, fmt.Errorf("%s: output %q is also produced by %s", n, o, nodes[j])
			}
			producer[o] = i
		}
	}
	pending := make([]int, len(nodes))
	users := make([][]int, len(nodes))
	for i, n := range nodes {
		for _, in := range n.Inputs {
			if in == "" || defined[in] {
				continue
			}
			j, ok := producer[in]
			if !ok {
				return nil, fmt.Errorf("%s: input %q is not a graph input, initializer or node output", n, in)
			}
			pending[i]++
			users[j] = append(users[j], i)
		}
	}
	var ready, order []int
	for i := range nodes {
		if pending[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, u := range users[i] {
			if pending[u]--; pending[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(nodes) {
		for i, n := range nodes {
			if pending[i] > 0 {
				return nil, fmt.Errorf("%s: graph has a cycle through this node", n)
			}
		}
	}
	out := make([]*Node, len(order))
	for k, i := range order {
		out[k] = nodes[i]
	}
	return out, nil
}

// schedule computes, for each step, which slots die after it.
func (p *Plan) schedule() {
	last := make([]int, p.nslots)
	for i := range last {
		last[i] = -1
	}
	for i, st := range p.steps {
		for _, s := range st.in {
			if s >= 0 {
				last[s] = i
			}
		}
		for _, s := range st.out {
			if s >= 0 && last[s] < i {
				last[s] = i // an unused output dies at once
			}
		}
	}
	keep := make([]bool, p.nslots)
	for _, s := range p.outSlots {
		keep[s] = true
	}
	for i, st := range p.steps {
		st.dying = make([]bool, len(st.in))
		for k, s := range st.in {
			if s < 0 || keep[s] || p.consts[s] != nil || last[s] != i {
				continue
			}
			// An input passed twice to the same node must not be overwritten.
			st.dying[k] = slices.Index(st.in, s) == k && slices.Index(st.in[k+1:], s) < 0
		}
		for s, l := range last {
			if l == i && !keep[s] && p.consts[s] == nil {
				st.release = append(st.release, s)
			}
		}
	}
}

// Inputs describes the values Run expects, in positional order: the graph
// inputs that are not initializers.
func (p *Plan) Inputs() []*ValueInfo { return p.inputs }

// Outputs describes the values Run returns, in order.
func (p *Plan) Outputs() []*ValueInfo { return p.outputs }

// Run executes the plan. inputs maps each name of [Plan.Inputs] to a
// tensor; the result maps each output name to its tensor.
func (p *Plan) Run(inputs map[string]*Tensor) (map[string]*Tensor, error) {
	pos := make([]*Tensor, len(p.inputs))
	for i, vi := range p.inputs {
		t, ok := inputs[vi.Name]
		if !ok {
			return nil, fmt.Errorf("missing input %q", vi.Name)
		}
		pos[i] = t
	}
	for name := range inputs {
		if !slices.ContainsFunc(p.inputs, func(vi *ValueInfo) bool { return vi.Name == name }) {
			return nil, fmt.Errorf("unknown input %q", name)
		}
	}
	outs, err := p.RunPositional(pos...)
	if err != nil {
		return nil, err
	}
	res := make(map[string]*Tensor, len(outs))
	for i, vi := range p.outputs {
		res[vi.Name] = outs[i]
	}
	return res, nil
}

// RunPositional executes the plan with inputs in the order of
// [Plan.Inputs] and returns the outputs in the order of [Plan.Outputs].
// Input tensors are only read; float32 data in FloatData is used without a
// copy.
func (p *Plan) RunPositional(inputs ...*Tensor) ([]*Tensor, error) {
	return p.run(inputs, nil)
}

// StepTime is the wall time of one step of a plan in [Plan.RunProfiled].
// A step is one node, or a Conv with the nodes fused into it (a batch
// normalization, Relu, pooling or activation after it); Node is the node
// the step was compiled from, first in its chain.
type StepTime struct {
	Node     *Node
	Duration time.Duration
}

// RunProfiled is [Plan.RunPositional] that also reports the wall time of
// every step, in execution order: where a network's time goes, operator by
// operator. The timing adds two clock reads per step.
func (p *Plan) RunProfiled(inputs ...*Tensor) ([]*Tensor, []StepTime, error) {
	times := make([]StepTime, 0, len(p.steps))
	outs, err := p.run(inputs, func(st *step, d time.Duration) {
		times = append(times, StepTime{Node: st.node, Duration: d})
	})
	if err != nil {
		return nil, nil, err
	}
	return outs, times, nil
}

// run executes the plan, calling timed (when not nil) with each step's
// wall time.
func (p *Plan) run(inputs []*Tensor, timed func(st *step, d time.Duration)) ([]*Tensor, error) {
	if len(inputs) != len(p.inputs) {
		return nil, fmt.Errorf("got %d inputs, the model takes %d", len(inputs), len(p.inputs))
	}
	rc := &runCtx{lim: p.lim, slots: make([]*value, p.nslots)}
	copy(rc.slots, p.consts)
	for i, t := range inputs {
		vi := p.inputs[i]
		if t == nil {
			return nil, fmt.Errorf("input %q is nil", vi.Name)
		}
		v, err := t.toValue(p.lim)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", vi.Name, err)
		}
		if err := checkInput(vi, v); err != nil {
			return nil, err
		}
		rc.slots[p.inSlots[i]] = v
	}
	for _, st := range p.steps {
		var start time.Time
		if timed != nil {
			start = time.Now()
		}
		outs, err := rc.exec(st)
		if err != nil {
			rc.releaseAll()
			return nil, err
		}
		if timed != nil {
			timed(st, time.Since(start))
		}
		for k, s := range st.out {
			if s >= 0 && k < len(outs) {
				rc.slots[s] = outs[k]
			}
		}
		for _, s := range st.release {
			rc.drop(s)
		}
	}
	res := make([]*Tensor, len(p.outSlots))
	for i, s := range p.outSlots {
		v := rc.slots[s]
		if v == nil {
			return nil, fmt.Errorf("output %q was not computed", p.outputs[i].Name)
		}
		if v.buf == nil {
			// Constants and inputs passed through must not be handed out:
			// the caller may modify the result.
			v = v.clone()
		}
		res[i] = v.tensor(p.outputs[i].Name)
	}
	return res, nil
}

func checkInput(vi *ValueInfo, v *value) error {
	if vi.ElemType != Undefined && vi.ElemType != v.dt {
		return fmt.Errorf("input %q: data type %v, the model wants %v", vi.Name, v.dt, vi.ElemType)
	}
	if !vi.HasShape {
		return nil
	}
	if len(vi.Shape) != len(v.shape) {
		return fmt.Errorf("input %q: shape %v, the model wants rank %d", vi.Name, v.shape, len(vi.Shape))
	}
	for i, d := range vi.Shape {
		if d.Param == "" && d.Value > 0 && int64(v.shape[i]) != d.Value {
			return fmt.Errorf("input %q: shape %v, the model wants dim %d = %d", vi.Name, v.shape, i, d.Value)
		}
	}
	return nil
}

// exec runs one step, wrapping errors with the node.
func (rc *runCtx) exec(st *step) ([]*value, error) {
	rc.st = st
	rc.ops = 0
	in := make([]*value, len(st.in))
	for i, s := range st.in {
		if s >= 0 {
			in[i] = rc.slots[s]
			if in[i] == nil {
				return nil, fmt.Errorf("%s: input %q has no value", st.node, st.node.Inputs[i])
			}
		}
	}
	outs, err := st.run(rc, in)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", st.node, err)
	}
	return outs, nil
}

// drop releases a slot's reference to its buffer.
func (rc *runCtx) drop(s int) {
	v := rc.slots[s]
	rc.slots[s] = nil
	rc.release(v)
}

// release drops one reference to v's pooled buffer, if any.
func (rc *runCtx) release(v *value) {
	if v == nil || v.buf == nil {
		return
	}
	if v.buf.refs--; v.buf.refs == 0 {
		putF32(v.buf)
	}
}

// releaseAll returns every pooled buffer after a failed run.
func (rc *runCtx) releaseAll() {
	seen := map[*buffer]bool{}
	for _, v := range rc.slots {
		if v != nil && v.buf != nil && !seen[v.buf] {
			seen[v.buf] = true
			putF32(v.buf)
		}
	}
}

// alloc returns a new value of the given type and shape, checking the
// element limit first. Float32 data comes from the pool and is NOT zeroed.
func (rc *runCtx) alloc(dt DataType, shape []int) (*value, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("negative dim in shape %v", shape)
		}
		if int64(d) > rc.lim.MaxTensorElements || (d > 0 && n > rc.lim.MaxTensorElements/int64(d)) {
			return nil, fmt.Errorf("result shape %v exceeds the %d-element limit", shape, rc.lim.MaxTensorElements)
		}
		n *= int64(d)
	}
	if len(shape) > rc.lim.MaxRank {
		return nil, fmt.Errorf("result rank %d exceeds the limit %d", len(shape), rc.lim.MaxRank)
	}
	if err := rc.charge(n); err != nil {
		return nil, err
	}
	if f := rc.fold; f != nil {
		// Folded results stay alive for the plan's lifetime, so they are
		// bounded like initializers, before the allocation.
		if f.bytes = addSat(f.bytes, n*int64(max(dt.Size(), 1))); f.bytes > rc.lim.MaxInitializerBytes {
			return nil, fmt.Errorf("folded constants exceed the %d-byte limit (Limits.MaxInitializerBytes)", rc.lim.MaxInitializerBytes)
		}
	}
	v := &value{dt: dt, shape: shape}
	if dt == Float {
		v.buf = getF32(int(n))
		v.data = v.buf.f
		return v, nil
	}
	if dt.Size() == 0 {
		return nil, fmt.Errorf("data type %v is not supported", dt)
	}
	v.data = newData(dt, int(n))
	return v, nil
}

// allocZero is alloc with zeroed data.
func (rc *runCtx) allocZero(dt DataType, shape []int) (*value, error) {
	v, err := rc.alloc(dt, shape)
	if err == nil && v.buf != nil {
		clear(v.buf.f)
	}
	return v, err
}

// aliasData returns a value of the given shape viewing data, which is part
// of in's data, sharing (and counting a reference to) in's buffer.
func (rc *runCtx) aliasData(in *value, shape []int, data any) *value {
	if in.buf != nil {
		in.buf.refs++
	}
	return &value{dt: in.dt, shape: shape, data: data, buf: in.buf}
}

// alias returns a value sharing in's data with a new shape.
func (rc *runCtx) alias(in *value, shape []int) *value {
	if in.buf != nil {
		in.buf.refs++
	}
	return &value{dt: in.dt, shape: shape, data: in.data, buf: in.buf}
}

// reusable reports whether input i may be overwritten by the current step:
// it owns a pooled buffer nobody else references and is not needed later.
func (rc *runCtx) reusable(in []*value, i int) bool {
	return i < len(rc.st.dying) && rc.st.dying[i] && in[i].buf != nil && in[i].buf.refs == 1
}

// clone returns a deep copy of v's data, detached from any pool.
func (v *value) clone() *value {
	c := &value{dt: v.dt, shape: slices.Clone(v.shape), data: newData(v.dt, v.len())}
	moveElems(v.data, c.data,
		func(s, d []uint8) { copy(d, s) }, func(s, d []uint16) { copy(d, s) },
		func(s, d []uint32) { copy(d, s) }, func(s, d []uint64) { copy(d, s) })
	return c
}

// tensor converts a result to a Tensor, using the typed field that holds
// the type natively and raw_data for the narrower integer types.
func (v *value) tensor(name string) *Tensor {
	t := &Tensor{Name: name, DataType: v.dt, Dims: make([]int64, len(v.shape))}
	for i, d := range v.shape {
		t.Dims[i] = int64(d)
	}
	switch s := v.data.(type) {
	case []float32:
		t.FloatData = s
	case []float64:
		t.DoubleData = s
	case []int64:
		t.Int64Data = s
	case []int32:
		t.Int32Data = s
	case []uint64:
		t.Uint64Data = s
	default:
		t.RawData = encodeRaw(s)
	}
	// Typed fields must be non-nil to mark where the (possibly empty) data is.
	if v.len() == 0 {
		t.FloatData, t.DoubleData, t.Int64Data, t.Int32Data, t.Uint64Data = nil, nil, nil, nil, nil
		t.RawData = []byte{}
	}
	return t
}
