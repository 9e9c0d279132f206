package onnxio

import "fmt"

// RecommendedOpset is the default-domain opset version this package
// recommends for models it writes.
const RecommendedOpset = 17

// RecommendedIRVersion is the IR version that matches [RecommendedOpset].
const RecommendedIRVersion = 8

// Model mirrors onnx.ModelProto: a graph plus the metadata that describes it.
type Model struct {
	IRVersion       int64
	OpsetImport     []OperatorSetID
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	DocString       string
	Graph           *Graph
	// MetadataProps keeps the file's order, so a round trip is stable.
	MetadataProps []StringStringEntry
}

// OperatorSetID mirrors onnx.OperatorSetIdProto. An empty Domain (or
// "ai.onnx") is the default operator set.
type OperatorSetID struct {
	Domain  string
	Version int64
}

// StringStringEntry mirrors onnx.StringStringEntryProto, a key/value pair.
type StringStringEntry struct {
	Key, Value string
}

// Graph mirrors onnx.GraphProto.
type Graph struct {
	Name        string
	Nodes       []*Node
	Initializer []*Tensor
	Inputs      []*ValueInfo
	Outputs     []*ValueInfo
	ValueInfo   []*ValueInfo
	DocString   string
}

// Node mirrors onnx.NodeProto. An empty string in Inputs or Outputs marks an
// optional argument that is absent.
type Node struct {
	Name       string
	OpType     string
	Domain     string
	Inputs     []string
	Outputs    []string
	Attributes []*Attribute
	DocString  string
}

// AttributeType mirrors onnx.AttributeProto.AttributeType.
type AttributeType int32

// Attribute types this package reads and writes.
const (
	AttrTypeUndefined AttributeType = 0
	AttrTypeFloat     AttributeType = 1
	AttrTypeInt       AttributeType = 2
	AttrTypeString    AttributeType = 3
	AttrTypeTensor    AttributeType = 4
	AttrTypeGraph     AttributeType = 5
	AttrTypeFloats    AttributeType = 6
	AttrTypeInts      AttributeType = 7
	AttrTypeStrings   AttributeType = 8
	AttrTypeTensors   AttributeType = 9
	AttrTypeGraphs    AttributeType = 10
)

// Attribute mirrors onnx.AttributeProto. Type says which value field is set.
// Graph-valued attributes (control flow) are decoded but not executed.
type Attribute struct {
	Name    string
	Type    AttributeType
	F       float32
	I       int64
	S       []byte
	T       *Tensor
	G       *Graph
	Floats  []float32
	Ints    []int64
	Strings [][]byte
	Tensors []*Tensor
	Graphs  []*Graph
}

// Dim is one dimension of a [ValueInfo] shape: either a fixed Value or a
// symbolic Param (such as "N"). Both zero means unknown; a fixed zero-size
// dim cannot be expressed and reads back as unknown.
type Dim struct {
	Value int64
	Param string
}

// ValueInfo mirrors onnx.ValueInfoProto for tensor types: a name, an element
// type and an optional shape. HasShape is false when the shape is unknown
// (not even the rank is given). Non-tensor types (sequences, maps) keep only
// the name.
type ValueInfo struct {
	Name      string
	ElemType  DataType
	HasShape  bool
	Shape     []Dim
	DocString string
}

// Tensor mirrors onnx.TensorProto. Values live in RawData (little-endian) or
// in the typed field that the ONNX spec assigns to DataType; use the typed
// accessors such as [Tensor.Float32s] to read them whatever the storage.
type Tensor struct {
	Name       string
	DataType   DataType
	Dims       []int64
	RawData    []byte
	FloatData  []float32
	Int32Data  []int32
	Int64Data  []int64
	DoubleData []float64
	Uint64Data []uint64
	StringData [][]byte
	DocString  string
}

// NewFloatTensor returns a float32 tensor holding data (not copied) with
// the given dims. It panics if len(data) does not match dims.
func NewFloatTensor(name string, dims []int64, data []float32) *Tensor {
	mustLen(name, dims, len(data))
	return &Tensor{Name: name, DataType: Float, Dims: append([]int64(nil), dims...), FloatData: data}
}

// NewDoubleTensor returns a float64 tensor holding data (not copied).
// It panics if len(data) does not match dims.
func NewDoubleTensor(name string, dims []int64, data []float64) *Tensor {
	mustLen(name, dims, len(data))
	return &Tensor{Name: name, DataType: Double, Dims: append([]int64(nil), dims...), DoubleData: data}
}

// NewInt64Tensor returns an int64 tensor holding data (not copied), as used
// for shapes and axes. It panics if len(data) does not match dims.
func NewInt64Tensor(name string, dims []int64, data []int64) *Tensor {
	mustLen(name, dims, len(data))
	return &Tensor{Name: name, DataType: Int64, Dims: append([]int64(nil), dims...), Int64Data: data}
}

func mustLen(name string, dims []int64, n int) {
	want := int64(1)
	for _, d := range dims {
		want *= d
	}
	if want != int64(n) {
		panic(fmt.Sprintf("onnxio: tensor %q: %d values for dims %v", name, n, dims))
	}
}

// NewNode returns a node in the default domain.
func NewNode(opType, name string, inputs, outputs []string, attrs ...*Attribute) *Node {
	return &Node{Name: name, OpType: opType, Inputs: inputs, Outputs: outputs, Attributes: attrs}
}

// AttrFloat returns a float attribute.
func AttrFloat(name string, f float32) *Attribute {
	return &Attribute{Name: name, Type: AttrTypeFloat, F: f}
}

// AttrInt returns an int attribute.
func AttrInt(name string, i int64) *Attribute {
	return &Attribute{Name: name, Type: AttrTypeInt, I: i}
}

// AttrString returns a string attribute.
func AttrString(name, s string) *Attribute {
	return &Attribute{Name: name, Type: AttrTypeString, S: []byte(s)}
}

// AttrTensor returns a tensor attribute (as used by Constant).
func AttrTensor(name string, t *Tensor) *Attribute {
	return &Attribute{Name: name, Type: AttrTypeTensor, T: t}
}

// AttrFloats returns a list-of-floats attribute.
func AttrFloats(name string, fs ...float32) *Attribute {
	return &Attribute{Name: name, Type: AttrTypeFloats, Floats: fs}
}

// AttrInts returns a list-of-ints attribute, such as pads or strides.
func AttrInts(name string, is ...int64) *Attribute {
	return &Attribute{Name: name, Type: AttrTypeInts, Ints: is}
}

// NewValueInfo describes a tensor graph input or output. A dim of -1 in
// dims is written as the symbolic dimension params[i] if given, else as
// unknown.
func NewValueInfo(name string, elem DataType, dims []int64, params ...string) *ValueInfo {
	vi := &ValueInfo{Name: name, ElemType: elem, HasShape: true, Shape: make([]Dim, len(dims))}
	for i, d := range dims {
		if d >= 0 {
			vi.Shape[i].Value = d
		} else if i < len(params) {
			vi.Shape[i].Param = params[i]
		}
	}
	return vi
}

// Attr returns the node's attribute with the given name, or nil.
func (n *Node) Attr(name string) *Attribute {
	for _, a := range n.Attributes {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// Opset returns the model's version of the default ("" or "ai.onnx")
// operator set, or 0 if it imports none.
func (m *Model) Opset() int64 {
	for _, o := range m.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// String names the node for error messages: its name if set, else its op
// type and first output.
func (n *Node) String() string {
	if n.Name != "" {
		return fmt.Sprintf("%s node %q", n.OpType, n.Name)
	}
	out := ""
	if len(n.Outputs) > 0 {
		out = n.Outputs[0]
	}
	return fmt.Sprintf("%s node (output %q)", n.OpType, out)
}
