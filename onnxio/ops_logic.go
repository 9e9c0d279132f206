package onnxio

import (
	"errors"
	"fmt"
	"strings"
)

// Type conversion, comparisons, boolean logic and selection: the ops that
// exporters emit around shape arithmetic (PyTorch's expand and masking
// patterns), rarely on image data.

func init() {
	opTable["Cast"] = opDef{compile: compileCast, attrs: []string{"to"}}
	for _, op := range []string{"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"} {
		opTable[op] = opDef{compile: compileCompare(op), attrs: []string{"broadcast", "axis"}}
	}
	for _, op := range []string{"And", "Or", "Xor"} {
		opTable[op] = opDef{compile: compileLogic(op), attrs: []string{"broadcast", "axis"}}
	}
	opTable["Not"] = opDef{compile: compileNot}
	opTable["Where"] = opDef{compile: compileWhere}
}

// castNames maps the upper-case type names of Cast-1's string attribute.
var castNames = map[string]DataType{
	"FLOAT": Float, "DOUBLE": Double, "INT64": Int64, "INT32": Int32, "INT16": Int16, "INT8": Int8,
	"UINT64": Uint64, "UINT32": Uint32, "UINT16": Uint16, "UINT8": Uint8, "BOOL": Bool,
	"FLOAT16": Float16, "STRING": String,
}

func compileCast(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(1, 1); err != nil {
		return nil, err
	}
	a := c.node.Attr("to")
	if a == nil {
		return nil, errors.New("missing attribute to")
	}
	var to DataType
	switch {
	case a.Type == AttrTypeString || (a.Type == AttrTypeUndefined && len(a.S) > 0):
		// Cast-1 names the type as a string.
		dt, ok := castNames[strings.ToUpper(string(a.S))]
		if !ok {
			return nil, fmt.Errorf("attribute to: unknown type %q", a.S)
		}
		to = dt
	case a.Type == AttrTypeInt || a.Type == AttrTypeUndefined:
		to = DataType(a.I)
	default:
		return nil, fmt.Errorf("attribute to has type %d, want an int", a.Type)
	}
	if to.Size() == 0 || to == Float16 || to == BFloat16 {
		return nil, fmt.Errorf("cast to %v is not supported", to)
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		if x.dt == to {
			return []*value{rc.alias(x, x.shape)}, nil
		}
		out, err := rc.alloc(to, x.shape)
		if err != nil {
			return nil, err
		}
		if err := castInto(out.data, x.data); err != nil {
			rc.release(out)
			return nil, err
		}
		return []*value{out}, nil
	}, nil
}

// castInto converts src into dst elementwise. Out-of-range floats give an
// unspecified integer (as in C and in the ONNX spec), never a panic.
func castInto(dst, src any) error {
	switch d := dst.(type) {
	case []float32:
		return castFrom(d, src)
	case []float64:
		return castFrom(d, src)
	case []int64:
		return castFrom(d, src)
	case []int32:
		return castFrom(d, src)
	case []int16:
		return castFrom(d, src)
	case []int8:
		return castFrom(d, src)
	case []uint64:
		return castFrom(d, src)
	case []uint32:
		return castFrom(d, src)
	case []uint16:
		return castFrom(d, src)
	case []uint8:
		return castFrom(d, src)
	case []bool:
		return castToBool(d, src)
	}
	return fmt.Errorf("cast to %v is not supported", dataTypeOf(dst))
}

func convertN[D, S number](dst []D, src []S) {
	for i, x := range src {
		dst[i] = D(x)
	}
}

func castFrom[D number](dst []D, src any) error {
	switch s := src.(type) {
	case []float32:
		convertN(dst, s)
	case []float64:
		convertN(dst, s)
	case []int64:
		convertN(dst, s)
	case []int32:
		convertN(dst, s)
	case []int16:
		convertN(dst, s)
	case []int8:
		convertN(dst, s)
	case []uint64:
		convertN(dst, s)
	case []uint32:
		convertN(dst, s)
	case []uint16:
		convertN(dst, s)
	case []uint8:
		convertN(dst, s)
	case []bool:
		for i, b := range s {
			if b {
				dst[i] = 1
			} else {
				dst[i] = 0
			}
		}
	default:
		return fmt.Errorf("cast from %v is not supported", dataTypeOf(src))
	}
	return nil
}

func nonZero[S number](dst []bool, src []S) {
	for i, x := range src {
		dst[i] = x != 0
	}
}

// castToBool maps every non-zero value (NaN included) to true.
func castToBool(dst []bool, src any) error {
	switch s := src.(type) {
	case []float32:
		nonZero(dst, s)
	case []float64:
		nonZero(dst, s)
	case []int64:
		nonZero(dst, s)
	case []int32:
		nonZero(dst, s)
	case []int16:
		nonZero(dst, s)
	case []int8:
		nonZero(dst, s)
	case []uint64:
		nonZero(dst, s)
	case []uint32:
		nonZero(dst, s)
	case []uint16:
		nonZero(dst, s)
	case []uint8:
		nonZero(dst, s)
	case []bool:
		copy(dst, s)
	default:
		return fmt.Errorf("cast from %v is not supported", dataTypeOf(src))
	}
	return nil
}

func compareFunc[T number](op string) func(x, y T) bool {
	switch op {
	case "Equal":
		return func(x, y T) bool { return x == y }
	case "Less":
		return func(x, y T) bool { return x < y }
	case "Greater":
		return func(x, y T) bool { return x > y }
	case "LessOrEqual":
		return func(x, y T) bool { return x <= y }
	}
	return func(x, y T) bool { return x >= y }
}

func compareT[T number](op string, out []bool, os []int, a []T, as []int, b *value, bs []int) {
	bcast(out, os, a, as, b.data.([]T), bs, compareFunc[T](op))
}

// binaryBoolShapes checks a binary op's input types and returns B's shape
// (after the opset<7 broadcast rule) and the output shape.
func binaryBoolShapes(legacy func(a, b []int) ([]int, error), a, b *value) ([]int, []int, error) {
	if a.dt != b.dt {
		return nil, nil, fmt.Errorf("input types %v and %v differ", a.dt, b.dt)
	}
	bshape := b.shape
	if legacy != nil {
		var err error
		if bshape, err = legacy(a.shape, b.shape); err != nil {
			return nil, nil, err
		}
	}
	oshape, err := broadcastShapes(a.shape, bshape)
	return bshape, oshape, err
}

// compileCompare builds Equal, Less, Greater, LessOrEqual and
// GreaterOrEqual: numpy-broadcast comparisons with a bool result.
func compileCompare(op string) func(c *nodeCtx) (opFunc, error) {
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
			bshape, oshape, err := binaryBoolShapes(legacy, a, b)
			if err != nil {
				return nil, err
			}
			if a.dt == Bool && op != "Equal" {
				return nil, fmt.Errorf("%s on bool is not supported", op)
			}
			switch a.dt {
			case Float, Double, Int64, Int32, Int16, Int8, Uint64, Uint32, Uint16, Uint8, Bool:
			default:
				return nil, fmt.Errorf("data type %v is not supported", a.dt)
			}
			out, err := rc.alloc(Bool, oshape)
			if err != nil {
				return nil, err
			}
			o := out.data.([]bool)
			switch x := a.data.(type) {
			case []float32:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []float64:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []int64:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []int32:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []int16:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []int8:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []uint64:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []uint32:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []uint16:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []uint8:
				compareT(op, o, oshape, x, a.shape, b, bshape)
			case []bool:
				bcast(o, oshape, x, a.shape, b.data.([]bool), bshape, func(x, y bool) bool { return x == y })
			}
			return []*value{out}, nil
		}, nil
	}
}

// compileLogic builds And, Or and Xor on bool tensors.
func compileLogic(op string) func(c *nodeCtx) (opFunc, error) {
	f := map[string]func(x, y bool) bool{
		"And": func(x, y bool) bool { return x && y },
		"Or":  func(x, y bool) bool { return x || y },
		"Xor": func(x, y bool) bool { return x != y },
	}[op]
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
			bshape, oshape, err := binaryBoolShapes(legacy, a, b)
			if err != nil {
				return nil, err
			}
			if a.dt != Bool {
				return nil, fmt.Errorf("data type %v, want bool", a.dt)
			}
			out, err := rc.alloc(Bool, oshape)
			if err != nil {
				return nil, err
			}
			bcast(out.data.([]bool), oshape, a.data.([]bool), a.shape, b.data.([]bool), bshape, f)
			return []*value{out}, nil
		}, nil
	}
}

func compileNot(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(1, 1); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		x := in[0]
		if x.dt != Bool {
			return nil, fmt.Errorf("data type %v, want bool", x.dt)
		}
		out, err := rc.alloc(Bool, x.shape)
		if err != nil {
			return nil, err
		}
		o := out.data.([]bool)
		for i, v := range x.data.([]bool) {
			o[i] = !v
		}
		return []*value{out}, nil
	}, nil
}

// whereT picks x where cond is true and y elsewhere, each of the three
// broadcast to oshape.
func whereT[T any](out []T, oshape []int, cond []bool, cs []int, x []T, xs []int, y []T, ys []int) {
	if len(out) == 0 {
		return
	}
	sc, sx, sy := bcastStrides(cs, oshape), bcastStrides(xs, oshape), bcastStrides(ys, oshape)
	idx := make([]int, len(oshape))
	oc, ox, oy := 0, 0, 0
	for o := range out {
		if cond[oc] {
			out[o] = x[ox]
		} else {
			out[o] = y[oy]
		}
		for d := len(oshape) - 1; d >= 0; d-- {
			idx[d]++
			oc, ox, oy = oc+sc[d], ox+sx[d], oy+sy[d]
			if idx[d] < oshape[d] {
				break
			}
			oc, ox, oy = oc-sc[d]*oshape[d], ox-sx[d]*oshape[d], oy-sy[d]*oshape[d]
			idx[d] = 0
		}
	}
}

func compileWhere(c *nodeCtx) (opFunc, error) {
	if err := c.nIn(3, 3); err != nil {
		return nil, err
	}
	return func(rc *runCtx, in []*value) ([]*value, error) {
		cond, x, y := in[0], in[1], in[2]
		if cond.dt != Bool {
			return nil, fmt.Errorf("condition has type %v, want bool", cond.dt)
		}
		if x.dt != y.dt {
			return nil, fmt.Errorf("X and Y types %v and %v differ", x.dt, y.dt)
		}
		os, err := broadcastShapes(cond.shape, x.shape)
		if err == nil {
			os, err = broadcastShapes(os, y.shape)
		}
		if err != nil {
			return nil, fmt.Errorf("condition %v, X %v and Y %v do not broadcast", cond.shape, x.shape, y.shape)
		}
		out, err := rc.alloc(x.dt, os)
		if err != nil {
			return nil, err
		}
		cd := cond.data.([]bool)
		moveElems(x.data, out.data,
			func(s, d []uint8) {
				whereT(d, os, cd, cond.shape, s, x.shape, viewsOf[uint8]([]any{y.data})[0], y.shape)
			},
			func(s, d []uint16) {
				whereT(d, os, cd, cond.shape, s, x.shape, viewsOf[uint16]([]any{y.data})[0], y.shape)
			},
			func(s, d []uint32) {
				whereT(d, os, cd, cond.shape, s, x.shape, viewsOf[uint32]([]any{y.data})[0], y.shape)
			},
			func(s, d []uint64) {
				whereT(d, os, cd, cond.shape, s, x.shape, viewsOf[uint64]([]any{y.data})[0], y.shape)
			})
		return []*value{out}, nil
	}, nil
}
