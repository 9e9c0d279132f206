package onnxio

import (
	"errors"
	"fmt"
	"math"

	"github.com/fewshot-go/fewshot/internal/kernel"
)

func init() {
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		opTable[op] = opDef{compile: compileArith(op), attrs: []string{"broadcast", "axis", "consumed_inputs"}}
	}
	opTable["Pow"] = opDef{compile: compilePow, attrs: []string{"broadcast", "axis"}}
	opTable["Sum"] = opDef{compile: compileSum, attrs: []string{"consumed_inputs"}}
	opTable["Relu"] = opDef{compile: compileRelu, attrs: []string{"consumed_inputs"}}
	opTable["LeakyRelu"] = opDef{compile: compileLeakyRelu, attrs: []string{"alpha", "consumed_inputs"}}
	opTable["Sigmoid"] = opDef{compile: compileUnaryFloat32(sigmoid, kernel.Sigmoid32), attrs: []string{"consumed_inputs"}}
	opTable["Sqrt"] = opDef{compile: compileUnaryFloat(math.Sqrt), attrs: []string{"consumed_inputs"}}
	opTable["Identity"] = opDef{compile: compileIdentity}
	opTable["Dropout"] = opDef{compile: compileDropout, attrs: []string{"is_test", "ratio", "seed", "consumed_inputs"}}
	opTable["Erf"] = opDef{compile: compileUnaryFloat32(math.Erf, kernel.Erf32)}
	opTable["Clip"] = opDef{compile: compileClip, attrs: []string{"min", "max", "consumed_inputs"}}
	opTable["HardSigmoid"] = opDef{compile: compileHardSigmoid, attrs: []string{"alpha", "beta", "consumed_inputs"}}
	opTable["HardSwish"] = opDef{compile: compileUnaryFloat32(hardSwish, hardSwish32)}
	opTable["Mod"] = opDef{compile: compileMod, attrs: []string{"fmod"}}
}

// broadcastShapes returns the numpy-broadcast shape of a and b.
func broadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if k := i - (n - len(a)); k >= 0 {
			da = a[k]
		}
		if k := i - (n - len(b)); k >= 0 {
			db = b[k]
		}
		switch {
		case da == db, db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v cannot be broadcast", a, b)
		}
	}
	return out, nil
}

// bcastStrides returns the element strides of shape s aligned to the
// trailing dims of out, with 0 where s is broadcast.
func bcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		k := i + len(out) - len(s)
		if s[i] != 1 {
			st[k] = acc
		}
		acc *= s[i]
	}
	return st
}

// bcast computes out[i] = f(a[ia], b[ib]) over the broadcast shape oshape.
// The innermost dim runs as a tight loop; outer dims use an odometer.
func bcast[A, B, R any](out []R, oshape []int, a []A, ashape []int, b []B, bshape []int, f func(A, B) R) {
	if len(out) == 0 {
		return
	}
	if shapeEq(ashape, oshape) && shapeEq(bshape, oshape) {
		for i := range out {
			out[i] = f(a[i], b[i])
		}
		return
	}
	if len(b) == 1 && shapeEq(ashape, oshape) {
		y := b[0]
		for i := range out {
			out[i] = f(a[i], y)
		}
		return
	}
	sa, sb := bcastStrides(ashape, oshape), bcastStrides(bshape, oshape)
	rank := len(oshape)
	if rank == 0 {
		out[0] = f(a[0], b[0])
		return
	}
	inner := oshape[rank-1]
	ia, ib := sa[rank-1], sb[rank-1]
	idx := make([]int, rank)
	offA, offB := 0, 0
	for o := 0; o < len(out); o += inner {
		pa, pb := offA, offB
		for j := range inner {
			out[o+j] = f(a[pa], b[pb])
			pa += ia
			pb += ib
		}
		// Advance the odometer over the outer dims.
		for d := rank - 2; d >= 0; d-- {
			idx[d]++
			offA += sa[d]
			offB += sb[d]
			if idx[d] < oshape[d] {
				break
			}
			offA -= sa[d] * oshape[d]
			offB -= sb[d] * oshape[d]
			idx[d] = 0
		}
	}
}

// legacyBroadcast applies the opset<7 rule: with broadcast=1, B's shape is
// aligned with A's dims starting at axis (default: trailing alignment).
func legacyBroadcast(c *nodeCtx) (func(a, b []int) ([]int, error), error) {
	if c.opset >= 7 {
		return nil, nil
	}
	bc, err := c.int("broadcast", 0)
	if err != nil {
		return nil, err
	}
	axisAttr := c.node.Attr("axis")
	return func(a, b []int) ([]int, error) {
		if bc == 0 {
			if !shapeEq(a, b) {
				return nil, fmt.Errorf("shapes %v and %v differ and broadcast is 0", a, b)
			}
			return b, nil
		}
		axis := len(a) - len(b)
		if axisAttr != nil {
			ax, err := normAxis(int(axisAttr.I), len(a))
			if err != nil {
				return nil, err
			}
			axis = ax
		}
		if axis < 0 || axis+len(b) > len(a) {
			return nil, fmt.Errorf("cannot broadcast %v onto %v at axis %d", b, a, axis)
		}
		nb := make([]int, len(a))
		for i := range nb {
			nb[i] = 1
		}
		copy(nb[axis:], b)
		return nb, nil
	}, nil
}

func isFloatType[T number]() bool {
	var z T
	switch any(z).(type) {
	case float32, float64:
		return true
	}
	return false
}

func arithFunc[T number](op string) func(x, y T) T {
	switch op {
	case "Add":
		return func(x, y T) T { return x + y }
	case "Sub":
		return func(x, y T) T { return x - y }
	case "Mul":
		return func(x, y T) T { return x * y }
	}
	return func(x, y T) T { return x / y }
}

func arithT[T number](op string, out, a []T, as []int, b []T, bs []int, os []int) error {
	if op == "Div" && !isFloatType[T]() {
		for _, y := range b {
			if y == 0 {
				return errors.New("integer division by zero")
			}
		}
	}
	if arithRows(op, out, a, as, b, bs, os) {
		return nil
	}
	bcast(out, os, a, as, b, bs, arithFunc[T](op))
	return nil
}

// arithRows does the common shapes of element-wise arithmetic without a
// function call per element: both operands of the output's shape, or one
// of them and the other constant over runs of trailing dims (a scalar, or
// a per-channel [N,C,1,1] factor such as a squeeze-and-excitation scale).
// It reports false, doing nothing, for other shapes.
func arithRows[T number](op string, out, a []T, as []int, b []T, bs []int, os []int) bool {
	var code int
	switch op {
	case "Add":
		code = 0
	case "Sub":
		code = 1
	case "Mul":
		code = 2
	case "Div":
		code = 3
	default:
		return false
	}
	aFull, bFull := shapeEq(as, os), shapeEq(bs, os)
	if aFull && bFull {
		arithRow(code, out, a, b, 0, false)
		return true
	}
	var run int
	switch {
	case aFull:
		run = constRun(bs, os)
	case bFull:
		run = constRun(as, os)
	}
	if run == 0 {
		// The other common shape: an operand that repeats along the
		// leading dims, such as a per-channel [C] factor of a channels-last
		// layer norm.
		switch {
		case aFull && periodic(bs, os) && arithPeriodic32(code, out, a, b, false):
			return true
		case bFull && periodic(as, os) && arithPeriodic32(code, out, b, a, true):
			return true
		case aFull && periodic(bs, os):
			for r := 0; r < len(out)/len(b); r++ {
				arithRow(code, out[r*len(b):(r+1)*len(b)], a[r*len(b):], b, 0, false)
			}
			return true
		case bFull && periodic(as, os):
			for r := 0; r < len(out)/len(a); r++ {
				arithRow(code, out[r*len(a):(r+1)*len(a)], a, b[r*len(a):], 0, false)
			}
			return true
		}
	}
	if run == 0 || len(out)%run != 0 {
		return false
	}
	if o32, ok := any(out).([]float32); ok {
		full, per := any(a).([]float32), any(b).([]float32)
		if !aFull {
			full, per = per, full
		}
		if arithRuns32(code, o32, full, per, run, !aFull) {
			return true
		}
	}
	for r := 0; r < len(out)/run; r++ {
		o := out[r*run : (r+1)*run]
		if aFull {
			arithRow(code, o, a[r*run:(r+1)*run], nil, b[r], false)
		} else {
			arithRow(code, o, b[r*run:(r+1)*run], nil, a[r], true)
		}
	}
	return true
}

// constRun returns how many consecutive output elements share one element
// of an operand of shape s broadcast to os, when s equals os on leading
// dims and is 1 on the rest; otherwise 0.
func constRun(s, os []int) int {
	k := len(os) - len(s)
	if k < 0 {
		return 0
	}
	at := func(i int) int {
		if i < k {
			return 1
		}
		return s[i-k]
	}
	d := len(os)
	for d > 0 && at(d-1) == 1 {
		d--
	}
	run := 1
	for i := range os {
		if i < d && at(i) != os[i] {
			return 0
		}
		if i >= d {
			run *= os[i]
		}
	}
	return run
}

// arithRow32 is arithRow on float32 rows by the vector kernels, on every
// thread for long rows, where they give the same bits: x·y by Mul32, x·c as
// ScaleShift32(x, c, −0), x ± c, c − x and x ± y as fused multiply-adds
// with one operand ±1 (adding −0 keeps the sign of a zero product), x / y
// and x / c by correctly rounded vector divisions. It reports false,
// doing nothing, for c / x.
func arithRow32(code int, out, x, y []float32, c float32, swap bool) bool {
	f := rowOp32(code, y != nil, swap)
	if f == nil {
		return false
	}
	kernel.ParallelRange(len(out), elemPart, func(lo, hi int) {
		var ys []float32
		if y != nil {
			ys = y[lo:hi]
		}
		f(out[lo:hi], x[lo:hi], ys, c)
	})
	return true
}

// rowOp32 returns arithRow32's kernel call for code (0 to 3: + − × ÷) with
// a second row (withY) or the constant c, or nil if there is none.
func rowOp32(code int, withY, swap bool) func(out, x, y []float32, c float32) {
	negZero := float32(math.Copysign(0, -1))
	switch {
	case withY && code == 0:
		return func(out, x, y []float32, _ float32) { kernel.Axpbyc32(out, x, y, 1, 1, negZero) }
	case withY && code == 1:
		return func(out, x, y []float32, _ float32) { kernel.Axpbyc32(out, x, y, 1, -1, negZero) }
	case withY && code == 2:
		return func(out, x, y []float32, _ float32) { kernel.Mul32(out, x, y) }
	case withY:
		return func(out, x, y []float32, _ float32) { kernel.Div32(out, x, y) }
	case code == 0:
		return func(out, x, _ []float32, c float32) { kernel.ScaleShift32(out, x, 1, c) }
	case code == 1 && !swap:
		return func(out, x, _ []float32, c float32) { kernel.ScaleShift32(out, x, 1, -c) }
	case code == 1:
		return func(out, x, _ []float32, c float32) { kernel.ScaleShift32(out, x, -1, c) }
	case code == 2:
		return func(out, x, _ []float32, c float32) { kernel.ScaleShift32(out, x, c, negZero) }
	case code == 3 && !swap:
		return func(out, x, _ []float32, c float32) { kernel.DivBy32(out, x, c) }
	}
	return nil
}

// arithPeriodic32 is arithRows for float32 when one operand, per, repeats
// whole along the leading dims of the other, full (a bias added to every
// token of a channels-last layer): each row of full op per (per op the
// row with swap), the rows spread over the threads in one pass. It
// reports false, doing nothing, for other element types.
func arithPeriodic32[T number](code int, out, full, per []T, swap bool) bool {
	o, ok := any(out).([]float32)
	if !ok || len(per) < 16 {
		return false
	}
	f, p := any(full).([]float32), any(per).([]float32)
	op := rowOp32(code, true, false)
	run := len(p)
	kernel.ParallelRange(len(o)/run, max(1, elemPart/run), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if swap {
				op(o[r*run:(r+1)*run], p, f[r*run:(r+1)*run], 0)
			} else {
				op(o[r*run:(r+1)*run], f[r*run:(r+1)*run], p, 0)
			}
		}
	})
	return true
}

// arithRuns32 is the runs loop of arithRows for float32: row r of out
// (run elements) is full's row r op per[r] (per[r] op the row with swap),
// the rows spread over the threads in one pass. It reports false, doing
// nothing, where rowOp32 has no kernel.
func arithRuns32(code int, out, full, per []float32, run int, swap bool) bool {
	f := rowOp32(code, false, swap)
	if f == nil || run < 16 {
		return false
	}
	kernel.ParallelRange(len(out)/run, max(1, elemPart/run), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			f(out[r*run:(r+1)*run], full[r*run:(r+1)*run], nil, per[r])
		}
	})
	return true
}

// periodic reports whether an operand of shape s broadcast to os repeats
// whole along the leading dims: s, without its leading 1s, equals the
// trailing dims of os, and holds at least one element.
func periodic(s, os []int) bool {
	for len(s) > 0 && s[0] == 1 {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > len(os) {
		return false
	}
	return shapeEq(s, os[len(os)-len(s):]) && shapeSize(s) > 0
}

// arithRow sets out[i] = x[i] op y[i], or x[i] op c when y is nil; with
// swap the operands are the other way round (c op x[i]).
func arithRow[T number](code int, out, x, y []T, c T, swap bool) {
	x = x[:len(out)]
	if o32, ok := any(out).([]float32); ok && len(out) >= 64 && arithRow32(code, o32, any(x).([]float32), any(y).([]float32), float32(c), swap) {
		return
	}
	if y != nil {
		y = y[:len(out)]
		switch code {
		case 0:
			for i := range out {
				out[i] = x[i] + y[i]
			}
		case 1:
			for i := range out {
				out[i] = x[i] - y[i]
			}
		case 2:
			for i := range out {
				out[i] = x[i] * y[i]
			}
		default:
			for i := range out {
				out[i] = x[i] / y[i]
			}
		}
		return
	}
	switch {
	case code == 0:
		for i := range out {
			out[i] = x[i] + c
		}
	case code == 2:
		for i := range out {
			out[i] = x[i] * c
		}
	case code == 1 && !swap:
		for i := range out {
			out[i] = x[i] - c
		}
	case code == 1:
		for i := range out {
			out[i] = c - x[i]
		}
	case !swap:
		for i := range out {
			out[i] = x[i] / c
		}
	default:
		for i := range out {
			out[i] = c / x[i]
		}
	}
}

func compileArith(op string) func(c *nodeCtx) (opFunc, error) {
	return func(c *nodeCtx) (opFunc, error) {
		if err := c.nIn(2, 2); err != nil {
			return nil, err
		}
		legacy, err := legacyBroadcast(c)
		if err != nil {
			return nil, err
		}
		return func(rc *runCtx, in []*value) ([]*value, error) {
			a, b := in[0], in[1]
			if a.dt != b.dt {
				return nil, fmt.Errorf("input types %v and %v differ", a.dt, b.dt)
			}
			bshape := b.shape
			if legacy != nil {
				var err error
				if bshape, err = legacy(a.shape, b.shape); err != nil {
					return nil, err
				}
			}
			oshape, err := broadcastShapes(a.shape, bshape)
			if err != nil {
				return nil, err
			}
			var out *value
			switch {
			case rc.reusable(in, 0) && shapeEq(a.shape, oshape):
				out = rc.alias(a, oshape)
			case rc.reusable(in, 1) && shapeEq(b.shape, oshape):
				out = rc.alias(b, oshape)
			default:
				if out, err = rc.alloc(a.dt, oshape); err != nil {
					return nil, err
				}
			}
			switch x := a.data.(type) {
			case []float32:
				err = arithT(op, out.data.([]float32), x, a.shape, b.data.([]float32), bshape, oshape)
			case []float64:
				err = arithT(op, out.data.([]float64), x, a.shape, b.data.([]float64), bshape, oshape)
			case []int64:
				err = arithT(op, out.data.([]int64), x, a.shape, b.data.([]int64), bshape, oshape)
			case []int32:
				err = arithT(op, out.data.([]int32), x, a.shape, b.data.([]int32), bshape, oshape)
			case []int16:
				err = arithT(op, out.data.([]int16), x, a.shape, b.data.([]int16), bshape, oshape)
			case []int8:
				err = arithT(op, out.data.([]int8), x, a.shape, b.data.([]int8), bshape, oshape)
			case []uint64:
				err = arithT(op, out.data.([]uint64), x, a.shape, b.data.([]uint64), bshape, oshape)
			case []uint32:
				err = arithT(op, out.data.([]uint32), x, a.shape, b.data.([]uint32), bshape, oshape)
			case []uint16:
				err = arithT(op, out.data.([]uint16), x, a.shape, b.data.([]uint16), bshape, oshape)
			case []uint8:
				err = arithT(op, out.data.([]uint8), x, a.shape, b.data.([]uint8), bshape, oshape)
			default:
				err = fmt.Errorf("data type %v is not supported", a.dt)
			}
			if err != nil {
				return nil, err
			}
			return []*value{out}, nil
		}, nil
	}
}

// compileSum adds any number of inputs with broadcasting.
func compileSum(c *nodeCtx) (opFunc, error) {
	if len(c.node.Inputs) == 0 {
		return nil, errors.New("Sum needs at least one input")
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		acc := in[0]
		if acc == nil {
			return nil, errors.New("missing input 0")
		}
		if len(in) == 1 {
			return []*value{rc.alias(acc, acc.shape)}, nil
		}
		for i := 1; i < len(in); i++ {
			b := in[i]
			if b == nil || b.dt != acc.dt {
				return nil, fmt.Errorf("input %d is missing or of a different type", i)
			}
			oshape, err := broadcastShapes(acc.shape, b.shape)
			if err != nil {
				return nil, err
			}
			var out *value
			if i > 1 && shapeEq(acc.shape, oshape) {
				out = acc // our own intermediate: accumulate in place
			} else if out, err = rc.alloc(acc.dt, oshape); err != nil {
				return nil, err
			}
			switch x := acc.data.(type) {
			case []float32:
				err = arithT("Add", out.data.([]float32), x, acc.shape, b.data.([]float32), b.shape, oshape)
			case []float64:
				err = arithT("Add", out.data.([]float64), x, acc.shape, b.data.([]float64), b.shape, oshape)
			default:
				err = fmt.Errorf("data type %v is not supported", acc.dt)
			}
			if err != nil {
				return nil, err
			}
			if out != acc && i > 1 {
				rc.release(acc)
			}
			acc = out
		}
		return []*value{acc}, nil
	}, nil
}

// powT raises base values to exponents of any numeric type; the result has
// the base's type. Integer powers of integers stay exact.
func powT[T number, E number](out, a []T, as []int, b []E, bs []int, os []int) {
	if !isFloatType[T]() && !isFloatType[E]() {
		bcast(out, os, a, as, b, bs, func(x T, y E) T {
			// Exponentiation by squaring; negative exponents give 1 like
			// an empty product (integer results cannot hold fractions).
			r, e := T(1), int64(y)
			for ; e > 0; e >>= 1 {
				if e&1 == 1 {
					r *= x
				}
				x *= x
			}
			return r
		})
		return
	}
	bcast(out, os, a, as, b, bs, func(x T, y E) T { return T(math.Pow(float64(x), float64(y))) })
}

func powBase[T number](out, a []T, as []int, b *value, bs []int, os []int) error {
	switch y := b.data.(type) {
	case []float32:
		powT(out, a, as, y, bs, os)
	case []float64:
		powT(out, a, as, y, bs, os)
	case []int64:
		powT(out, a, as, y, bs, os)
	case []int32:
		powT(out, a, as, y, bs, os)
	case []uint64:
		powT(out, a, as, y, bs, os)
	case []uint32:
		powT(out, a, as, y, bs, os)
	default:
		return fmt.Errorf("exponent type %v is not supported", b.dt)
	}
	return nil
}

// isSquare reports an exponent that is a single float 2.
func isSquare(b *value) bool {
	switch y := b.data.(type) {
	case []float32:
		return len(y) == 1 && y[0] == 2
	case []float64:
		return len(y) == 1 && y[0] == 2
	}
	return false
}

func compilePow(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(2, 2); err != nil {
		return nil, err
	}
	legacy, err := legacyBroadcast(c)
	if err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		a, b := in[0], in[1]
		if c.opset < 12 && a.dt != b.dt {
			return nil, fmt.Errorf("input types %v and %v differ", a.dt, b.dt)
		}
		bshape := b.shape
		if legacy != nil {
			var err error
			if bshape, err = legacy(a.shape, b.shape); err != nil {
				return nil, err
			}
		}
		oshape, err := broadcastShapes(a.shape, bshape)
		if err != nil {
			return nil, err
		}
		out, err := rc.alloc(a.dt, oshape)
		if err != nil {
			return nil, err
		}
		if x, ok := a.data.([]float32); ok && isSquare(b) && len(x) == len(out.f32()) {
			// x² (LayerNorm's variance as exported by PyTorch): the
			// float32 product is correctly rounded, like
			// float32(math.Pow(x, 2)), since the float64 square of a
			// float32 is exact.
			o := out.f32()
			kernel.ParallelRange(len(o), elemPart, func(lo, hi int) { kernel.Mul32(o[lo:hi], x[lo:hi], x[lo:hi]) })
			return []*value{out}, nil
		}
		switch x := a.data.(type) {
		case []float32:
			err = powBase(out.data.([]float32), x, a.shape, b, bshape, oshape)
		case []float64:
			err = powBase(out.data.([]float64), x, a.shape, b, bshape, oshape)
		case []int64:
			err = powBase(out.data.([]int64), x, a.shape, b, bshape, oshape)
		case []int32:
			err = powBase(out.data.([]int32), x, a.shape, b, bshape, oshape)
		default:
			err = fmt.Errorf("base type %v is not supported", a.dt)
		}
		if err != nil {
			return nil, err
		}
		return []*value{out}, nil
	}, nil
}

// unaryOut returns the output value for an elementwise op on in[0]: the
// input itself when it may be overwritten, otherwise a new value.
func unaryOut(rc *runCtx, in []*value) (*value, error) {
	if rc.reusable(in, 0) {
		return rc.alias(in[0], in[0].shape), nil
	}
	return rc.alloc(in[0].dt, in[0].shape)
}

func mapT[T number](out, x []T, f func(T) T) {
	for i, v := range x {
		out[i] = f(v)
	}
}

func compileRelu(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(1, 1); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		out, err := unaryOut(rc, in)
		if err != nil {
			return nil, err
		}
		switch x := in[0].data.(type) {
		case []float32:
			reluF32(out.data.([]float32), x)
		case []float64:
			mapT(out.data.([]float64), x, func(v float64) float64 { return max(v, 0) })
		case []int64:
			mapT(out.data.([]int64), x, func(v int64) int64 { return max(v, 0) })
		case []int32:
			mapT(out.data.([]int32), x, func(v int32) int32 { return max(v, 0) })
		case []int16:
			mapT(out.data.([]int16), x, func(v int16) int16 { return max(v, 0) })
		case []int8:
			mapT(out.data.([]int8), x, func(v int8) int8 { return max(v, 0) })
		default:
			return nil, fmt.Errorf("data type %v is not supported", in[0].dt)
		}
		return []*value{out}, nil
	}, nil
}

// reluF32 is max(x, 0) that keeps NaN (as ONNX's Relu does).
func reluF32(out, x []float32) {
	// The builtin max compiles without a branch (a compare per element
	// mispredicts half the time on activations) and keeps NaNs.
	out = out[:len(x)]
	for i, v := range x {
		out[i] = max(v, 0)
	}
}

func compileLeakyRelu(c *nodeCtx) (opFunc, error) {
	alpha, err := c.float("alpha", 0.01)
	if err != nil {
		return nil, err
	}
	return compileUnaryFloat(func(x float64) float64 {
		if x < 0 {
			return float64(alpha) * x
		}
		return x
	})(c)
}

// compileUnaryFloat builds an elementwise op on float32/float64 from a
// float64 function.
func compileUnaryFloat(f func(float64) float64) func(c *nodeCtx) (opFunc, error) {
	return func(c *nodeCtx) (opFunc, error) {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
		return func(rc *runCtx, in []*value) ([]*value, error) {
			out, err := unaryOut(rc, in)
			if err != nil {
				return nil, err
			}
			switch x := in[0].data.(type) {
			case []float32:
				mapT(out.data.([]float32), x, func(v float32) float32 { return float32(f(float64(v))) })
			case []float64:
				mapT(out.data.([]float64), x, f)
			default:
				return nil, fmt.Errorf("data type %v is not supported", in[0].dt)
			}
			return []*value{out}, nil
		}, nil
	}
}

// elemPart is the smallest part of an element-wise pass that is handed to
// another thread: 32768 float32s, 128 KiB.
const elemPart = 1 << 15

// compileUnaryFloat32 is compileUnaryFloat with f32, the same function
// written as a loop over float32 slices, for the activations of
// convolutional networks (a call per element costs more than the math).
// Large tensors are cut into parts done on all threads.
func compileUnaryFloat32(f func(float64) float64, f32 func(out, x []float32)) func(c *nodeCtx) (opFunc, error) {
	generic := compileUnaryFloat(f)
	return func(c *nodeCtx) (opFunc, error) {
		run, err := generic(c)
		if err != nil {
			return nil, err
		}
		return func(rc *runCtx, in []*value) ([]*value, error) {
			x, ok := in[0].data.([]float32)
			if !ok {
				return run(rc, in)
			}
			out, err := unaryOut(rc, in)
			if err != nil {
				return nil, err
			}
			y := out.data.([]float32)
			kernel.ParallelRange(len(x), elemPart, func(lo, hi int) { f32(y[lo:hi], x[lo:hi]) })
			return []*value{out}, nil
		}, nil
	}
}

func compileIdentity(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(1, 1); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		return []*value{rc.alias(in[0], in[0].shape)}, nil
	}, nil
}

// zeroRatio reports whether Dropout's ratio input is present and 0 (its
// default is 0.5).
func zeroRatio(r *value) bool {
	if r == nil || r.len() != 1 {
		return false
	}
	return r.float64s()[0] == 0
}

// compileDropout is inference-mode Dropout: the identity, with an all-true
// mask when the mask output is requested.
func compileDropout(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(1, 3); err != nil {
		return nil, err
	}
	if isTest, err := c.int("is_test", 1); err != nil || (c.opset < 7 && isTest == 0) {
		if err != nil {
			return nil, err
		}
		return nil, errors.New("training-mode Dropout (is_test=0) is not supported")
	}
	trainingInput := c.opset >= 12 && len(c.node.Inputs) >= 3 && c.node.Inputs[2] != ""
	return func(rc *runCtx, in []*value) ([]*value, error) {
		if trainingInput {
			tm := in[2]
			if tm.len() != 1 || tm.dt != Bool {
				return nil, fmt.Errorf("training_mode must be a bool scalar, got %v %v", tm.dt, tm.shape)
			}
			// Training mode drops nothing at ratio 0 (PyTorch exports
			// F.dropout(p=0, training=True) so, in Swin's attention).
			if tm.data.([]bool)[0] && !zeroRatio(in[1]) {
				return nil, errors.New("training-mode Dropout with a non-zero ratio is not supported")
			}
		}
		outs := []*value{rc.alias(in[0], in[0].shape)}
		if len(c.node.Outputs) > 1 && c.node.Outputs[1] != "" {
			mask, err := rc.alloc(Bool, in[0].shape)
			if err != nil {
				return nil, err
			}
			for i := range mask.data.([]bool) {
				mask.data.([]bool)[i] = true
			}
			outs = append(outs, mask)
		}
		return outs, nil
	}, nil
}

// hardSwish is x·HardSigmoid(x) with ONNX's fixed alpha 1/6 and beta 0.5,
// which equals PyTorch's x·relu6(x+3)/6.
func hardSwish(x float64) float64 { return x * max(0, min(1, x/6+0.5)) }

// hardSwish32 is hardSwish over a float32 slice, written out so that no
// function is called per element.
func hardSwish32(out, x []float32) {
	out = out[:len(x)]
	for i, v := range x {
		w := float64(v)
		out[i] = float32(w * max(0, min(1, w/6+0.5)))
	}
}

// sigmoid is the logistic function 1/(1+e^−x).
func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func compileHardSigmoid(c *nodeCtx) (opFunc, error) {
	alpha, err1 := c.float("alpha", 0.2)
	beta, err2 := c.float("beta", 0.5)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	a, b := float64(alpha), float64(beta)
	return compileUnaryFloat32(func(x float64) float64 { return max(0, min(1, a*x+b)) },
		func(out, x []float32) {
			// α·x + β by fused multiply-adds (within a rounding of the
			// float64 value), then clamped, 16 lanes at a time.
			kernel.ScaleShift32(out, x, alpha, beta)
			kernel.Clamp32(out, out, 0, 1)
		})(c)
}

// clipT bounds x to [lo, hi] where given. NaN stays NaN (the builtin min
// and max keep it), and lo > hi gives hi everywhere, as the spec asks. The
// builtins compile without branches: a compare per element mispredicts
// about half the time on activations (ReLU6 after every convolution of
// MobileNetV2).
func clipT[T number](out, x []T, lo, hi T, hasLo, hasHi bool) {
	out = out[:len(x)]
	if x32, ok := any(x).([]float32); ok && hasLo && hasHi {
		// 16 lanes at a time, on every thread for large tensors.
		o32, l, h := any(out).([]float32), float32(lo), float32(hi)
		kernel.ParallelRange(len(x32), elemPart, func(a, b int) { kernel.Clamp32(o32[a:b], x32[a:b], l, h) })
		return
	}
	switch {
	case hasLo && hasHi:
		for i, v := range x {
			out[i] = min(max(v, lo), hi)
		}
	case hasLo:
		for i, v := range x {
			out[i] = max(v, lo)
		}
	case hasHi:
		for i, v := range x {
			out[i] = min(v, hi)
		}
	default:
		copy(out, x)
	}
}

// clipBound returns the scalar bound in input i, if present; compileClip
// has checked its type and size.
func clipBound[T number](in []*value, i int) (T, bool) {
	var z T
	if i >= len(in) || in[i] == nil {
		return z, false
	}
	return in[i].data.([]T)[0], true
}

// clipRun clips one element type: bounds come from the attributes before
// opset 11 (attr is true) and from the optional inputs 1 and 2 after.
func clipRun[T number](out, x []T, in []*value, attr bool, lo, hi float32, hasLo, hasHi bool) {
	if attr {
		clipT(out, x, T(lo), T(hi), hasLo, hasHi)
		return
	}
	l, okL := clipBound[T](in, 1)
	h, okH := clipBound[T](in, 2)
	clipT(out, x, l, h, okL, okH)
}

// compileClip handles both forms: min/max attributes (opsets 1-10) and
// optional scalar inputs (11+, integer types from 12).
func compileClip(c *nodeCtx) (opFunc, error) {
	attr := c.opset < 11
	var lo, hi float32
	var hasLo, hasHi bool
	if attr {
		if err := c.nIn(1, 1); err != nil {
			return nil, err
		}
		var err1, err2 error
		hasLo, hasHi = c.node.Attr("min") != nil, c.node.Attr("max") != nil
		lo, err1 = c.float("min", 0)
		hi, err2 = c.float("max", 0)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
	} else {
		if err := c.nIn(1, 3); err != nil {
			return nil, err
		}
		if c.node.Attr("min") != nil || c.node.Attr("max") != nil {
			return nil, fmt.Errorf("min and max are inputs from opset 11, not attributes (model opset %d)", c.opset)
		}
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		switch x.dt {
		case Float, Double:
		case Int64, Int32, Int8, Uint8:
			if c.opset < 12 {
				return nil, fmt.Errorf("data type %v needs opset 12 (model opset %d)", x.dt, c.opset)
			}
		default:
			return nil, fmt.Errorf("data type %v is not supported", x.dt)
		}
		for i, what := range []string{"", "min", "max"} {
			if i == 0 || i >= len(in) || in[i] == nil {
				continue
			}
			if in[i].dt != x.dt || in[i].len() != 1 {
				return nil, fmt.Errorf("%s must be a %v scalar like the input, got %v %v", what, x.dt, in[i].dt, in[i].shape)
			}
		}
		out, err := unaryOut(rc, in)
		if err != nil {
			return nil, err
		}
		switch xs := x.data.(type) {
		case []float32:
			clipRun(out.f32(), xs, in, attr, lo, hi, hasLo, hasHi)
		case []float64:
			clipRun(out.data.([]float64), xs, in, attr, lo, hi, hasLo, hasHi)
		case []int64:
			clipRun(out.data.([]int64), xs, in, attr, lo, hi, hasLo, hasHi)
		case []int32:
			clipRun(out.data.([]int32), xs, in, attr, lo, hi, hasLo, hasHi)
		case []int8:
			clipRun(out.data.([]int8), xs, in, attr, lo, hi, hasLo, hasHi)
		case []uint8:
			clipRun(out.data.([]uint8), xs, in, attr, lo, hi, hasLo, hasHi)
		}
		return []*value{out}, nil
	}, nil
}

// modInt is Mod on integers: with fmod the remainder takes the dividend's
// sign (C's %, which Go's % is), without it the divisor's (Python's %).
func modInt[T integer](out, a []T, as []int, b []T, bs []int, os []int, fmod bool) error {
	for _, y := range b {
		if y == 0 {
			return errors.New("integer modulo by zero")
		}
	}
	if fmod {
		bcast(out, os, a, as, b, bs, func(x, y T) T { return x % y })
		return nil
	}
	bcast(out, os, a, as, b, bs, func(x, y T) T {
		r := x % y
		if r != 0 && (r < 0) != (y < 0) {
			r += y
		}
		return r
	})
	return nil
}

func modFloat[T float](out, a []T, as []int, b []T, bs []int, os []int) {
	bcast(out, os, a, as, b, bs, func(x, y T) T { return T(math.Mod(float64(x), float64(y))) })
}

// compileMod builds Mod-10/13. Floating-point inputs need fmod=1, as the
// spec requires; the sign rule of fmod=0 is only defined for integers.
func compileMod(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(2, 2); err != nil {
		return nil, err
	}
	fm, err := c.int("fmod", 0)
	if err != nil {
		return nil, err
	}
	if fm != 0 && fm != 1 {
		return nil, fmt.Errorf("fmod is %d, want 0 or 1", fm)
	}
	fmod := fm == 1
	return func(rc *runCtx, in []*value) ([]*value, error) {
		a, b := in[0], in[1]
		if a.dt != b.dt {
			return nil, fmt.Errorf("input types %v and %v differ", a.dt, b.dt)
		}
		if (a.dt == Float || a.dt == Double) && !fmod {
			return nil, fmt.Errorf("Mod on %v needs fmod=1", a.dt)
		}
		switch a.dt {
		case Float, Double, Int64, Int32, Int16, Int8, Uint64, Uint32, Uint16, Uint8:
		default:
			return nil, fmt.Errorf("data type %v is not supported", a.dt)
		}
		oshape, err := broadcastShapes(a.shape, b.shape)
		if err != nil {
			return nil, err
		}
		out, err := rc.alloc(a.dt, oshape)
		if err != nil {
			return nil, err
		}
		switch x := a.data.(type) {
		case []float32:
			modFloat(out.f32(), x, a.shape, b.data.([]float32), b.shape, oshape)
		case []float64:
			modFloat(out.data.([]float64), x, a.shape, b.data.([]float64), b.shape, oshape)
		case []int64:
			err = modInt(out.data.([]int64), x, a.shape, b.data.([]int64), b.shape, oshape, fmod)
		case []int32:
			err = modInt(out.data.([]int32), x, a.shape, b.data.([]int32), b.shape, oshape, fmod)
		case []int16:
			err = modInt(out.data.([]int16), x, a.shape, b.data.([]int16), b.shape, oshape, fmod)
		case []int8:
			err = modInt(out.data.([]int8), x, a.shape, b.data.([]int8), b.shape, oshape, fmod)
		case []uint64:
			err = modInt(out.data.([]uint64), x, a.shape, b.data.([]uint64), b.shape, oshape, fmod)
		case []uint32:
			err = modInt(out.data.([]uint32), x, a.shape, b.data.([]uint32), b.shape, oshape, fmod)
		case []uint16:
			err = modInt(out.data.([]uint16), x, a.shape, b.data.([]uint16), b.shape, oshape, fmod)
		case []uint8:
			err = modInt(out.data.([]uint8), x, a.shape, b.data.([]uint8), b.shape, oshape, fmod)
		}
		if err != nil {
			rc.release(out)
			return nil, err
		}
		return []*value{out}, nil
	}, nil
}
