package onnxio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers from onnx.proto (ONNX IR spec).
const (
	// ModelProto
	fModelIRVersion       = 1
	fModelProducerName    = 2
	fModelProducerVersion = 3
	fModelDomain          = 4
	fModelModelVersion    = 5
	fModelDocString       = 6
	fModelGraph           = 7
	fModelOpsetImport     = 8
	fModelMetadataProps   = 14

	// OperatorSetIdProto
	fOpsetDomain  = 1
	fOpsetVersion = 2

	// StringStringEntryProto
	fEntryKey   = 1
	fEntryValue = 2

	// GraphProto
	fGraphNode        = 1
	fGraphName        = 2
	fGraphInitializer = 5
	fGraphDocString   = 10
	fGraphInput       = 11
	fGraphOutput      = 12
	fGraphValueInfo   = 13

	// NodeProto
	fNodeInput     = 1
	fNodeOutput    = 2
	fNodeName      = 3
	fNodeOpType    = 4
	fNodeAttribute = 5
	fNodeDocString = 6
	fNodeDomain    = 7

	// AttributeProto
	fAttrName    = 1
	fAttrF       = 2
	fAttrI       = 3
	fAttrS       = 4
	fAttrT       = 5
	fAttrG       = 6
	fAttrFloats  = 7
	fAttrInts    = 8
	fAttrStrings = 9
	fAttrTensors = 10
	fAttrGraphs  = 11
	fAttrType    = 20

	// ValueInfoProto
	fValueInfoName      = 1
	fValueInfoType      = 2
	fValueInfoDocString = 3

	// TypeProto and nested messages
	fTypeTensorType  = 1
	fTensorTypeElem  = 1
	fTensorTypeShape = 2
	fShapeDim        = 1
	fDimValue        = 1
	fDimParam        = 2

	// TensorProto
	fTensorDims         = 1
	fTensorDataType     = 2
	fTensorFloatData    = 4
	fTensorInt32Data    = 5
	fTensorStringData   = 6
	fTensorInt64Data    = 7
	fTensorName         = 8
	fTensorRawData      = 9
	fTensorDoubleData   = 10
	fTensorUint64Data   = 11
	fTensorDocString    = 12
	fTensorDataLocation = 14
)

// ReadFile decodes the ONNX model file at path.
func ReadFile(path string, opts ...Option) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	o := buildOptions(opts)
	b, err := readLimited(sized{f}, o.limits.MaxModelBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m, err := decodeModel(b, o.limits)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// sized is a file whose size readLimited may use to allocate its buffer
// once: growing it by doubling cost more than a second reading a 330 MB
// model (every growth copies and clears the new space).
type sized struct{ *os.File }

// Decode reads a serialized onnx.ModelProto from r. It reads at most
// Limits.MaxModelBytes bytes.
func Decode(r io.Reader, opts ...Option) (*Model, error) {
	o := buildOptions(opts)
	b, err := readLimited(r, o.limits.MaxModelBytes)
	if err != nil {
		return nil, err
	}
	return decodeModel(b, o.limits)
}

// DecodeBytes decodes a serialized onnx.ModelProto. The returned model's
// RawData and string fields may share memory with b, so b must not be
// modified afterwards.
func DecodeBytes(b []byte, opts ...Option) (*Model, error) {
	o := buildOptions(opts)
	if int64(len(b)) > o.limits.MaxModelBytes {
		return nil, fmt.Errorf("model is %d bytes, limit is %d", len(b), o.limits.MaxModelBytes)
	}
	return decodeModel(b, o.limits)
}

// DecodeTensor reads a serialized onnx.TensorProto (an input_N.pb or
// output_N.pb file) from r and validates it against the limits.
func DecodeTensor(r io.Reader, opts ...Option) (*Tensor, error) {
	o := buildOptions(opts)
	b, err := readLimited(r, o.limits.MaxModelBytes)
	if err != nil {
		return nil, err
	}
	d := &decoder{lim: o.limits}
	t, err := d.tensor(b)
	if err != nil {
		return nil, fmt.Errorf("tensor: %w", err)
	}
	return t, nil
}

// ReadTensorFile decodes the TensorProto file at path.
func ReadTensorFile(path string, opts ...Option) (*Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := DecodeTensor(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readLimited(r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if f, ok := r.(sized); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if fi.Size() > limit {
				return nil, fmt.Errorf("input is %d bytes: it exceeds the %d-byte limit", fi.Size(), limit)
			}
			// Room for the last, empty read too: ReadFrom grows the
			// buffer whenever less than MinRead bytes are free.
			buf.Grow(int(fi.Size()) + bytes.MinRead)
		}
	}
	n, err := io.Copy(&buf, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("input exceeds the %d-byte limit", limit)
	}
	return buf.Bytes(), nil
}

// decoder carries the limits and running totals of one decode.
type decoder struct {
	lim       Limits
	nodes     int
	initBytes int64
}

var errTruncated = errors.New("truncated or malformed protobuf")

// field is one decoded tag and its undecoded value.
type field struct {
	num protowire.Number
	typ protowire.Type
	val []byte // for BytesType: the payload; otherwise the encoded value
	u   uint64 // for VarintType, Fixed32Type, Fixed64Type
}

// eachField calls fn for every field of the message b, in order. Groups and
// unknown fields are consumed and passed on; fn ignores what it does not know.
func eachField(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errTruncated
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			f.u = uint64(v)
		case protowire.Fixed64Type:
			f.u, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			f.val, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return fmt.Errorf("field %d: %w", num, errTruncated)
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func (f field) bytes(name string) ([]byte, error) {
	if f.typ != protowire.BytesType {
		return nil, fmt.Errorf("field %s: wire type %d, want length-delimited", name, f.typ)
	}
	return f.val, nil
}

func (f field) str(name string) (string, error) {
	b, err := f.bytes(name)
	return string(b), err
}

func (f field) varint(name string) (uint64, error) {
	if f.typ != protowire.VarintType {
		return 0, fmt.Errorf("field %s: wire type %d, want varint", name, f.typ)
	}
	return f.u, nil
}

// repeatedVarint appends a packed or unpacked repeated varint field. Packed
// payloads are bounded by the input size, so appending cannot over-allocate.
func repeatedVarint[T int64 | int32 | uint64](dst []T, f field, name string) ([]T, error) {
	switch f.typ {
	case protowire.VarintType:
		return append(dst, T(f.u)), nil
	case protowire.BytesType:
		b := f.val
		for len(b) > 0 {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("field %s: %w", name, errTruncated)
			}
			dst = append(dst, T(v))
			b = b[n:]
		}
		return dst, nil
	}
	return nil, fmt.Errorf("field %s: wire type %d, want varint", name, f.typ)
}

func repeatedFloat(dst []float32, f field, name string) ([]float32, error) {
	switch f.typ {
	case protowire.Fixed32Type:
		return append(dst, math.Float32frombits(uint32(f.u))), nil
	case protowire.BytesType:
		if len(f.val)%4 != 0 {
			return nil, fmt.Errorf("field %s: packed length %d not a multiple of 4", name, len(f.val))
		}
		if dst == nil {
			dst = make([]float32, 0, len(f.val)/4)
		}
		for b := f.val; len(b) > 0; b = b[4:] {
			v, _ := protowire.ConsumeFixed32(b)
			dst = append(dst, math.Float32frombits(v))
		}
		return dst, nil
	}
	return nil, fmt.Errorf("field %s: wire type %d, want fixed32", name, f.typ)
}

func repeatedDouble(dst []float64, f field, name string) ([]float64, error) {
	switch f.typ {
	case protowire.Fixed64Type:
		return append(dst, math.Float64frombits(f.u)), nil
	case protowire.BytesType:
		if len(f.val)%8 != 0 {
			return nil, fmt.Errorf("field %s: packed length %d not a multiple of 8", name, len(f.val))
		}
		if dst == nil {
			dst = make([]float64, 0, len(f.val)/8)
		}
		for b := f.val; len(b) > 0; b = b[8:] {
			v, _ := protowire.ConsumeFixed64(b)
			dst = append(dst, math.Float64frombits(v))
		}
		return dst, nil
	}
	return nil, fmt.Errorf("field %s: wire type %d, want fixed64", name, f.typ)
}

func decodeModel(b []byte, lim Limits) (*Model, error) {
	d := &decoder{lim: lim}
	m := &Model{}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fModelIRVersion:
			var v uint64
			v, err = f.varint("ir_version")
			m.IRVersion = int64(v)
		case fModelProducerName:
			m.ProducerName, err = f.str("producer_name")
		case fModelProducerVersion:
			m.ProducerVersion, err = f.str("producer_version")
		case fModelDomain:
			m.Domain, err = f.str("domain")
		case fModelModelVersion:
			var v uint64
			v, err = f.varint("model_version")
			m.ModelVersion = int64(v)
		case fModelDocString:
			m.DocString, err = f.str("doc_string")
		case fModelGraph:
			var gb []byte
			if gb, err = f.bytes("graph"); err == nil {
				m.Graph, err = d.graph(gb, 0)
			}
		case fModelOpsetImport:
			var ob []byte
			if ob, err = f.bytes("opset_import"); err == nil {
				var o OperatorSetID
				o, err = decodeOpset(ob)
				m.OpsetImport = append(m.OpsetImport, o)
			}
		case fModelMetadataProps:
			var eb []byte
			if eb, err = f.bytes("metadata_props"); err == nil {
				var e StringStringEntry
				e, err = decodeEntry(eb)
				m.MetadataProps = append(m.MetadataProps, e)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if m.Graph == nil {
		return nil, errors.New("model has no graph")
	}
	return m, nil
}

func decodeOpset(b []byte) (OperatorSetID, error) {
	var o OperatorSetID
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fOpsetDomain:
			o.Domain, err = f.str("opset_import.domain")
		case fOpsetVersion:
			var v uint64
			v, err = f.varint("opset_import.version")
			o.Version = int64(v)
		}
		return err
	})
	return o, err
}

func decodeEntry(b []byte) (StringStringEntry, error) {
	var e StringStringEntry
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fEntryKey:
			e.Key, err = f.str("key")
		case fEntryValue:
			e.Value, err = f.str("value")
		}
		return err
	})
	return e, err
}

func (d *decoder) graph(b []byte, depth int) (*Graph, error) {
	if depth >= d.lim.MaxGraphDepth {
		return nil, fmt.Errorf("graphs nested deeper than the limit %d", d.lim.MaxGraphDepth)
	}
	g := &Graph{}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fGraphNode:
			var nb []byte
			if nb, err = f.bytes("node"); err != nil {
				return err
			}
			if d.nodes++; d.nodes > d.lim.MaxNodes {
				return fmt.Errorf("more than %d nodes", d.lim.MaxNodes)
			}
			var n *Node
			if n, err = d.node(nb, depth); err != nil {
				return fmt.Errorf("graph %q node %d: %w", g.Name, len(g.Nodes), err)
			}
			g.Nodes = append(g.Nodes, n)
		case fGraphName:
			g.Name, err = f.str("name")
		case fGraphInitializer:
			var tb []byte
			if tb, err = f.bytes("initializer"); err != nil {
				return err
			}
			var t *Tensor
			if t, err = d.initTensor(tb); err != nil {
				return fmt.Errorf("graph %q initializer %d: %w", g.Name, len(g.Initializer), err)
			}
			g.Initializer = append(g.Initializer, t)
		case fGraphDocString:
			g.DocString, err = f.str("doc_string")
		case fGraphInput, fGraphOutput, fGraphValueInfo:
			var vb []byte
			if vb, err = f.bytes("value_info"); err != nil {
				return err
			}
			var vi *ValueInfo
			if vi, err = d.valueInfo(vb); err != nil {
				return fmt.Errorf("graph %q value info: %w", g.Name, err)
			}
			switch f.num {
			case fGraphInput:
				g.Inputs = append(g.Inputs, vi)
			case fGraphOutput:
				g.Outputs = append(g.Outputs, vi)
			default:
				g.ValueInfo = append(g.ValueInfo, vi)
			}
		}
		return err
	})
	return g, err
}

// initTensor decodes a tensor that holds constant data and charges its size
// to the initializer budget.
func (d *decoder) initTensor(b []byte) (*Tensor, error) {
	t, err := d.tensor(b)
	if err != nil {
		return nil, err
	}
	d.initBytes += t.NumElements() * int64(max(t.DataType.Size(), 1))
	if d.initBytes > d.lim.MaxInitializerBytes {
		return nil, fmt.Errorf("tensor %q: initializers exceed the %d-byte limit", t.Name, d.lim.MaxInitializerBytes)
	}
	return t, nil
}

func (d *decoder) node(b []byte, depth int) (*Node, error) {
	n := &Node{}
	err := eachField(b, func(f field) error {
		var err error
		var s string
		switch f.num {
		case fNodeInput:
			s, err = f.str("input")
			n.Inputs = append(n.Inputs, s)
		case fNodeOutput:
			s, err = f.str("output")
			n.Outputs = append(n.Outputs, s)
		case fNodeName:
			n.Name, err = f.str("name")
		case fNodeOpType:
			n.OpType, err = f.str("op_type")
		case fNodeDomain:
			n.Domain, err = f.str("domain")
		case fNodeDocString:
			n.DocString, err = f.str("doc_string")
		case fNodeAttribute:
			var ab []byte
			if ab, err = f.bytes("attribute"); err != nil {
				return err
			}
			var a *Attribute
			if a, err = d.attribute(ab, depth); err != nil {
				return fmt.Errorf("%s attribute %d: %w", n, len(n.Attributes), err)
			}
			n.Attributes = append(n.Attributes, a)
		}
		return err
	})
	return n, err
}

func (d *decoder) attribute(b []byte, depth int) (*Attribute, error) {
	a := &Attribute{}
	err := eachField(b, func(f field) error {
		var err error
		var sub []byte
		switch f.num {
		case fAttrName:
			a.Name, err = f.str("name")
		case fAttrType:
			var v uint64
			v, err = f.varint("type")
			a.Type = AttributeType(v)
		case fAttrF:
			if f.typ != protowire.Fixed32Type {
				return fmt.Errorf("attribute %q field f: wire type %d", a.Name, f.typ)
			}
			a.F = math.Float32frombits(uint32(f.u))
		case fAttrI:
			var v uint64
			v, err = f.varint("i")
			a.I = int64(v)
		case fAttrS:
			a.S, err = f.bytes("s")
		case fAttrT:
			if sub, err = f.bytes("t"); err == nil {
				a.T, err = d.initTensor(sub)
			}
		case fAttrG:
			if sub, err = f.bytes("g"); err == nil {
				a.G, err = d.graph(sub, depth+1)
			}
		case fAttrFloats:
			a.Floats, err = repeatedFloat(a.Floats, f, "floats")
		case fAttrInts:
			a.Ints, err = repeatedVarint(a.Ints, f, "ints")
		case fAttrStrings:
			if sub, err = f.bytes("strings"); err == nil {
				a.Strings = append(a.Strings, sub)
			}
		case fAttrTensors:
			if sub, err = f.bytes("tensors"); err == nil {
				var t *Tensor
				t, err = d.initTensor(sub)
				a.Tensors = append(a.Tensors, t)
			}
		case fAttrGraphs:
			if sub, err = f.bytes("graphs"); err == nil {
				var g *Graph
				g, err = d.graph(sub, depth+1)
				a.Graphs = append(a.Graphs, g)
			}
		}
		return err
	})
	if err != nil && a.Name != "" {
		return nil, fmt.Errorf("attribute %q: %w", a.Name, err)
	}
	return a, err
}

func (d *decoder) valueInfo(b []byte) (*ValueInfo, error) {
	vi := &ValueInfo{}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fValueInfoName:
			vi.Name, err = f.str("name")
		case fValueInfoDocString:
			vi.DocString, err = f.str("doc_string")
		case fValueInfoType:
			var tb []byte
			if tb, err = f.bytes("type"); err == nil {
				err = d.typeProto(tb, vi)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("value %q: %w", vi.Name, err)
	}
	return vi, nil
}

// typeProto reads a TypeProto; only tensor types are kept.
func (d *decoder) typeProto(b []byte, vi *ValueInfo) error {
	return eachField(b, func(f field) error {
		if f.num != fTypeTensorType {
			return nil
		}
		tb, err := f.bytes("tensor_type")
		if err != nil {
			return err
		}
		return eachField(tb, func(f field) error {
			switch f.num {
			case fTensorTypeElem:
				v, err := f.varint("elem_type")
				vi.ElemType = DataType(v)
				return err
			case fTensorTypeShape:
				sb, err := f.bytes("shape")
				if err != nil {
					return err
				}
				vi.HasShape = true
				vi.Shape = []Dim{}
				return eachField(sb, func(f field) error {
					if f.num != fShapeDim {
						return nil
					}
					if len(vi.Shape) >= d.lim.MaxRank {
						return fmt.Errorf("shape rank exceeds limit %d", d.lim.MaxRank)
					}
					db, err := f.bytes("dim")
					if err != nil {
						return err
					}
					var dim Dim
					err = eachField(db, func(f field) error {
						var err error
						switch f.num {
						case fDimValue:
							var v uint64
							v, err = f.varint("dim_value")
							dim.Value = int64(v)
						case fDimParam:
							dim.Param, err = f.str("dim_param")
						}
						return err
					})
					vi.Shape = append(vi.Shape, dim)
					return err
				})
			}
			return nil
		})
	})
}

// tensor decodes a TensorProto and validates it. Dims are checked against
// the limits before any value storage is trusted.
func (d *decoder) tensor(b []byte) (*Tensor, error) {
	t := &Tensor{}
	external := false
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case fTensorDims:
			t.Dims, err = repeatedVarint(t.Dims, f, "dims")
			if len(t.Dims) > d.lim.MaxRank {
				return fmt.Errorf("rank exceeds limit %d", d.lim.MaxRank)
			}
		case fTensorDataType:
			var v uint64
			v, err = f.varint("data_type")
			t.DataType = DataType(v)
		case fTensorFloatData:
			t.FloatData, err = repeatedFloat(t.FloatData, f, "float_data")
		case fTensorInt32Data:
			t.Int32Data, err = repeatedVarint(t.Int32Data, f, "int32_data")
		case fTensorInt64Data:
			t.Int64Data, err = repeatedVarint(t.Int64Data, f, "int64_data")
		case fTensorDoubleData:
			t.DoubleData, err = repeatedDouble(t.DoubleData, f, "double_data")
		case fTensorUint64Data:
			t.Uint64Data, err = repeatedVarint(t.Uint64Data, f, "uint64_data")
		case fTensorStringData:
			var s []byte
			s, err = f.bytes("string_data")
			t.StringData = append(t.StringData, s)
		case fTensorName:
			t.Name, err = f.str("name")
		case fTensorRawData:
			t.RawData, err = f.bytes("raw_data")
			if t.RawData == nil {
				t.RawData = []byte{}
			}
		case fTensorDocString:
			t.DocString, err = f.str("doc_string")
		case fTensorDataLocation:
			var v uint64
			v, err = f.varint("data_location")
			external = v == 1
		}
		return err
	})
	if err != nil {
		if t.Name != "" {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return nil, err
	}
	if external {
		return nil, fmt.Errorf("tensor %q: external data is not supported", t.Name)
	}
	if err := t.Validate(d.lim); err != nil {
		return nil, err
	}
	return t, nil
}
