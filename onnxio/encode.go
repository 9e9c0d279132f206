package onnxio

import (
	"io"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// Encode writes the model as a serialized onnx.ModelProto.
func (m *Model) Encode(w io.Writer) error {
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// MarshalBinary returns the model as a serialized onnx.ModelProto.
// Fields are written in field-number order; zero scalars are omitted.
func (m *Model) MarshalBinary() ([]byte, error) {
	var b []byte
	b = appendVarintField(b, fModelIRVersion, uint64(m.IRVersion))
	b = appendStringField(b, fModelProducerName, m.ProducerName)
	b = appendStringField(b, fModelProducerVersion, m.ProducerVersion)
	b = appendStringField(b, fModelDomain, m.Domain)
	b = appendVarintField(b, fModelModelVersion, uint64(m.ModelVersion))
	b = appendStringField(b, fModelDocString, m.DocString)
	if m.Graph != nil {
		b = appendMessage(b, fModelGraph, appendGraph(nil, m.Graph))
	}
	for _, o := range m.OpsetImport {
		var ob []byte
		ob = appendStringField(ob, fOpsetDomain, o.Domain)
		// version is written even when zero: it is meaningful.
		ob = protowire.AppendTag(ob, fOpsetVersion, protowire.VarintType)
		ob = protowire.AppendVarint(ob, uint64(o.Version))
		b = appendMessage(b, fModelOpsetImport, ob)
	}
	for _, e := range m.MetadataProps {
		var eb []byte
		eb = appendStringField(eb, fEntryKey, e.Key)
		eb = appendStringField(eb, fEntryValue, e.Value)
		b = appendMessage(b, fModelMetadataProps, eb)
	}
	return b, nil
}

// MarshalBinary returns the tensor as a serialized onnx.TensorProto, the
// format of input_N.pb files.
func (t *Tensor) MarshalBinary() ([]byte, error) {
	return appendTensor(nil, t), nil
}

// EncodeTensor writes t as a serialized onnx.TensorProto.
func EncodeTensor(w io.Writer, t *Tensor) error {
	_, err := w.Write(appendTensor(nil, t))
	return err
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// appendRepeatedString writes every element, empty ones included, since
// an empty node input name is meaningful (an absent optional input).
func appendRepeatedString(b []byte, num protowire.Number, ss []string) []byte {
	for _, s := range ss {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	return b
}

func appendMessage(b []byte, num protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

func appendGraph(b []byte, g *Graph) []byte {
	for _, n := range g.Nodes {
		b = appendMessage(b, fGraphNode, appendNode(nil, n))
	}
	b = appendStringField(b, fGraphName, g.Name)
	for _, t := range g.Initializer {
		b = appendMessage(b, fGraphInitializer, appendTensor(nil, t))
	}
	b = appendStringField(b, fGraphDocString, g.DocString)
	for _, vi := range g.Inputs {
		b = appendMessage(b, fGraphInput, appendValueInfo(nil, vi))
	}
	for _, vi := range g.Outputs {
		b = appendMessage(b, fGraphOutput, appendValueInfo(nil, vi))
	}
	for _, vi := range g.ValueInfo {
		b = appendMessage(b, fGraphValueInfo, appendValueInfo(nil, vi))
	}
	return b
}

func appendNode(b []byte, n *Node) []byte {
	b = appendRepeatedString(b, fNodeInput, n.Inputs)
	b = appendRepeatedString(b, fNodeOutput, n.Outputs)
	b = appendStringField(b, fNodeName, n.Name)
	b = appendStringField(b, fNodeOpType, n.OpType)
	for _, a := range n.Attributes {
		b = appendMessage(b, fNodeAttribute, appendAttribute(nil, a))
	}
	b = appendStringField(b, fNodeDocString, n.DocString)
	b = appendStringField(b, fNodeDomain, n.Domain)
	return b
}

func appendAttribute(b []byte, a *Attribute) []byte {
	b = appendStringField(b, fAttrName, a.Name)
	// Scalars are written when the type says so, even if zero, so that a
	// reader sees the value explicitly.
	if a.Type == AttrTypeFloat || a.F != 0 {
		b = protowire.AppendTag(b, fAttrF, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.F))
	}
	if a.Type == AttrTypeInt || a.I != 0 {
		b = protowire.AppendTag(b, fAttrI, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.I))
	}
	if a.S != nil {
		b = protowire.AppendTag(b, fAttrS, protowire.BytesType)
		b = protowire.AppendBytes(b, a.S)
	}
	if a.T != nil {
		b = appendMessage(b, fAttrT, appendTensor(nil, a.T))
	}
	if a.G != nil {
		b = appendMessage(b, fAttrG, appendGraph(nil, a.G))
	}
	for _, f := range a.Floats {
		b = protowire.AppendTag(b, fAttrFloats, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(f))
	}
	for _, i := range a.Ints {
		b = protowire.AppendTag(b, fAttrInts, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(i))
	}
	for _, s := range a.Strings {
		b = protowire.AppendTag(b, fAttrStrings, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	for _, t := range a.Tensors {
		b = appendMessage(b, fAttrTensors, appendTensor(nil, t))
	}
	for _, g := range a.Graphs {
		b = appendMessage(b, fAttrGraphs, appendGraph(nil, g))
	}
	b = appendVarintField(b, fAttrType, uint64(a.Type))
	return b
}

func appendValueInfo(b []byte, vi *ValueInfo) []byte {
	b = appendStringField(b, fValueInfoName, vi.Name)
	if vi.ElemType != 0 || vi.HasShape {
		var tt []byte
		tt = appendVarintField(tt, fTensorTypeElem, uint64(vi.ElemType))
		if vi.HasShape {
			var sb []byte
			for _, d := range vi.Shape {
				var db []byte
				// A Dim with neither Param nor Value is unknown and is
				// written as an empty Dimension.
				if d.Param != "" {
					db = appendStringField(db, fDimParam, d.Param)
				} else {
					db = appendVarintField(db, fDimValue, uint64(d.Value))
				}
				sb = appendMessage(sb, fShapeDim, db)
			}
			tt = appendMessage(tt, fTensorTypeShape, sb)
		}
		b = appendMessage(b, fValueInfoType, appendMessage(nil, fTypeTensorType, tt))
	}
	b = appendStringField(b, fValueInfoDocString, vi.DocString)
	return b
}

func appendTensor(b []byte, t *Tensor) []byte {
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, fTensorDims, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	b = appendVarintField(b, fTensorDataType, uint64(t.DataType))
	if len(t.FloatData) > 0 {
		b = protowire.AppendTag(b, fTensorFloatData, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(4*len(t.FloatData)))
		for _, f := range t.FloatData {
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	}
	b = appendPackedVarints(b, fTensorInt32Data, t.Int32Data)
	for _, s := range t.StringData {
		b = protowire.AppendTag(b, fTensorStringData, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	b = appendPackedVarints(b, fTensorInt64Data, t.Int64Data)
	b = appendStringField(b, fTensorName, t.Name)
	if t.RawData != nil {
		b = protowire.AppendTag(b, fTensorRawData, protowire.BytesType)
		b = protowire.AppendBytes(b, t.RawData)
	}
	if len(t.DoubleData) > 0 {
		b = protowire.AppendTag(b, fTensorDoubleData, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(8*len(t.DoubleData)))
		for _, f := range t.DoubleData {
			b = protowire.AppendFixed64(b, math.Float64bits(f))
		}
	}
	b = appendPackedVarints(b, fTensorUint64Data, t.Uint64Data)
	b = appendStringField(b, fTensorDocString, t.DocString)
	return b
}

func appendPackedVarints[T int32 | int64 | uint64](b []byte, num protowire.Number, vs []T) []byte {
	if len(vs) == 0 {
		return b
	}
	n := 0
	for _, v := range vs {
		n += protowire.SizeVarint(uint64(v))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	for _, v := range vs {
		b = protowire.AppendVarint(b, uint64(v))
	}
	return b
}
