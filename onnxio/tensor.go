package onnxio

import (
	"encoding/binary"
	"fmt"
	"math"
)

// DataType mirrors onnx.TensorProto.DataType, the element type of a tensor.
type DataType int32

// Element types. Only the numeric types and Bool can be executed; String and
// the 16-bit float types can be read and written but not run.
const (
	Undefined DataType = 0
	Float     DataType = 1
	Uint8     DataType = 2
	Int8      DataType = 3
	Uint16    DataType = 4
	Int16     DataType = 5
	Int32     DataType = 6
	Int64     DataType = 7
	String    DataType = 8
	Bool      DataType = 9
	Float16   DataType = 10
	Double    DataType = 11
	Uint32    DataType = 12
	Uint64    DataType = 13
	BFloat16  DataType = 16
)

var dataTypeNames = map[DataType]string{
	Undefined: "undefined", Float: "float32", Uint8: "uint8", Int8: "int8", Uint16: "uint16",
	Int16: "int16", Int32: "int32", Int64: "int64", String: "string", Bool: "bool",
	Float16: "float16", Double: "float64", Uint32: "uint32", Uint64: "uint64", BFloat16: "bfloat16",
}

// String returns the type's usual name, such as "float32".
func (d DataType) String() string {
	if s, ok := dataTypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("DataType(%d)", int32(d))
}

// Size returns the byte size of one element in raw_data, or 0 for String
// and unknown types.
func (d DataType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float, Int32, Uint32:
		return 4
	case Int64, Double, Uint64:
		return 8
	}
	return 0
}

// NumElements returns the product of the tensor's dims (1 for a scalar).
// It returns -1 if a dim is negative or the product overflows int64.
func (t *Tensor) NumElements() int64 {
	return numElements(t.Dims)
}

func numElements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/d {
			return -1
		}
		n *= d
	}
	return n
}

// Validate checks the tensor against lim: rank, element count, and that the
// stored data holds exactly one value per element, in the field the data
// type allows. Errors name the tensor.
func (t *Tensor) Validate(lim Limits) error {
	if len(t.Dims) > lim.MaxRank {
		return fmt.Errorf("tensor %q: rank %d exceeds limit %d", t.Name, len(t.Dims), lim.MaxRank)
	}
	n := t.NumElements()
	if n < 0 {
		return fmt.Errorf("tensor %q: invalid dims %v", t.Name, t.Dims)
	}
	if n > lim.MaxTensorElements {
		return fmt.Errorf("tensor %q: dims %v claim %d elements, limit is %d", t.Name, t.Dims, n, lim.MaxTensorElements)
	}
	want := typedField(t.DataType)
	// Every field that holds values must be the one the data type allows:
	// a decoder that reads one field and ignores the others would see a
	// different tensor from one that reads another.
	for _, f := range t.filledFields() {
		if f != want && f != "raw_data" {
			return fmt.Errorf("tensor %q: %v values stored in %s, want %s", t.Name, t.DataType, f, want)
		}
	}
	if t.RawData != nil {
		sz := t.DataType.Size()
		if sz == 0 {
			return fmt.Errorf("tensor %q: raw_data not allowed for data type %v", t.Name, t.DataType)
		}
		if got, _ := t.typedLen(want); got > 0 {
			return fmt.Errorf("tensor %q: values stored in both raw_data and %s", t.Name, want)
		}
		if int64(len(t.RawData)) != n*int64(sz) {
			return fmt.Errorf("tensor %q: raw_data has %d bytes, dims %v of %v need %d", t.Name, len(t.RawData), t.Dims, t.DataType, n*int64(sz))
		}
		return nil
	}
	got, ok := t.typedLen(want)
	if !ok || got == 0 {
		if n == 0 {
			return nil
		}
		return fmt.Errorf("tensor %q: no data for dims %v", t.Name, t.Dims)
	}
	if got != n {
		return fmt.Errorf("tensor %q: %s has %d values, dims %v need %d", t.Name, want, got, t.Dims, n)
	}
	return nil
}

// filledFields names the value fields that hold at least one value.
func (t *Tensor) filledFields() []string {
	var fs []string
	for _, f := range []struct {
		name string
		n    int
	}{{"raw_data", len(t.RawData)}, {"float_data", len(t.FloatData)}, {"int32_data", len(t.Int32Data)},
		{"int64_data", len(t.Int64Data)}, {"double_data", len(t.DoubleData)}, {"uint64_data", len(t.Uint64Data)},
		{"string_data", len(t.StringData)}} {
		if f.n > 0 {
			fs = append(fs, f.name)
		}
	}
	return fs
}

// typedLen returns the number of values in the named typed field and
// whether that field is set at all.
func (t *Tensor) typedLen(field string) (int64, bool) {
	switch field {
	case "float_data":
		return int64(len(t.FloatData)), t.FloatData != nil
	case "int32_data":
		return int64(len(t.Int32Data)), t.Int32Data != nil
	case "int64_data":
		return int64(len(t.Int64Data)), t.Int64Data != nil
	case "double_data":
		return int64(len(t.DoubleData)), t.DoubleData != nil
	case "uint64_data":
		return int64(len(t.Uint64Data)), t.Uint64Data != nil
	case "string_data":
		return int64(len(t.StringData)), t.StringData != nil
	}
	return 0, false
}

// typedField names the TensorProto field the ONNX spec assigns to d.
func typedField(d DataType) string {
	switch d {
	case Float:
		return "float_data"
	case Int32, Int16, Int8, Uint16, Uint8, Bool, Float16, BFloat16:
		return "int32_data"
	case Int64:
		return "int64_data"
	case Double:
		return "double_data"
	case Uint32, Uint64:
		return "uint64_data"
	case String:
		return "string_data"
	}
	return "raw_data"
}

// Float32s returns the values of a float32 tensor. It returns FloatData
// itself when the values are stored there, otherwise a decoded copy.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DataType != Float {
		return nil, fmt.Errorf("tensor %q: data type is %v, not float32", t.Name, t.DataType)
	}
	v, err := t.toValue(DefaultLimits())
	if err != nil {
		return nil, err
	}
	return v.data.([]float32), nil
}

// Float64s returns the values of a float64 tensor (DoubleData itself or a
// decoded copy).
func (t *Tensor) Float64s() ([]float64, error) {
	if t.DataType != Double {
		return nil, fmt.Errorf("tensor %q: data type is %v, not float64", t.Name, t.DataType)
	}
	v, err := t.toValue(DefaultLimits())
	if err != nil {
		return nil, err
	}
	return v.data.([]float64), nil
}

// Int64s returns the values of an int64 tensor (Int64Data itself or a
// decoded copy).
func (t *Tensor) Int64s() ([]int64, error) {
	if t.DataType != Int64 {
		return nil, fmt.Errorf("tensor %q: data type is %v, not int64", t.Name, t.DataType)
	}
	v, err := t.toValue(DefaultLimits())
	if err != nil {
		return nil, err
	}
	return v.data.([]int64), nil
}

// Float64Values returns the values of any numeric or bool tensor converted
// to float64, for comparisons and printing.
func (t *Tensor) Float64Values() ([]float64, error) {
	v, err := t.toValue(DefaultLimits())
	if err != nil {
		return nil, err
	}
	return v.float64s(), nil
}

// Shape returns the dims as ints.
func (t *Tensor) Shape() []int {
	s := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		s[i] = int(d)
	}
	return s
}

// toValue converts the tensor to an executable value. The result shares
// memory with the typed field when the type's natural field is used.
func (t *Tensor) toValue(lim Limits) (*value, error) {
	if err := t.Validate(lim); err != nil {
		return nil, err
	}
	if t.DataType.Size() == 0 || t.DataType == Float16 || t.DataType == BFloat16 {
		return nil, fmt.Errorf("tensor %q: data type %v is not supported for execution", t.Name, t.DataType)
	}
	n := int(t.NumElements())
	v := &value{dt: t.DataType, shape: t.Shape()}
	if t.RawData != nil {
		v.data = decodeRaw(t.DataType, t.RawData, n)
		return v, nil
	}
	v.data = newData(t.DataType, n)
	switch t.DataType {
	case Float:
		if t.FloatData != nil {
			v.data = t.FloatData
		}
	case Double:
		if t.DoubleData != nil {
			v.data = t.DoubleData
		}
	case Int64:
		if t.Int64Data != nil {
			v.data = t.Int64Data
		}
	case Int32:
		if t.Int32Data != nil {
			v.data = t.Int32Data
		}
	case Int16:
		convertInto(v.data.([]int16), t.Int32Data)
	case Int8:
		convertInto(v.data.([]int8), t.Int32Data)
	case Uint16:
		convertInto(v.data.([]uint16), t.Int32Data)
	case Uint8:
		convertInto(v.data.([]uint8), t.Int32Data)
	case Bool:
		b := v.data.([]bool)
		for i, x := range t.Int32Data {
			b[i] = x != 0
		}
	case Uint32:
		convertInto(v.data.([]uint32), t.Uint64Data)
	case Uint64:
		if t.Uint64Data != nil {
			v.data = t.Uint64Data
		}
	}
	return v, nil
}

func convertInto[D, S integer](dst []D, src []S) {
	for i, x := range src {
		dst[i] = D(x)
	}
}

// decodeRaw decodes n little-endian elements of type dt.
func decodeRaw(dt DataType, b []byte, n int) any {
	le := binary.LittleEndian
	switch dt {
	case Float:
		s := make([]float32, n)
		for i := range s {
			s[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return s
	case Double:
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return s
	case Int64:
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(le.Uint64(b[8*i:]))
		}
		return s
	case Uint64:
		s := make([]uint64, n)
		for i := range s {
			s[i] = le.Uint64(b[8*i:])
		}
		return s
	case Int32:
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(le.Uint32(b[4*i:]))
		}
		return s
	case Uint32:
		s := make([]uint32, n)
		for i := range s {
			s[i] = le.Uint32(b[4*i:])
		}
		return s
	case Int16:
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(le.Uint16(b[2*i:]))
		}
		return s
	case Uint16:
		s := make([]uint16, n)
		for i := range s {
			s[i] = le.Uint16(b[2*i:])
		}
		return s
	case Int8:
		s := make([]int8, n)
		for i := range s {
			s[i] = int8(b[i])
		}
		return s
	case Uint8:
		return append([]uint8(nil), b[:n]...)
	case Bool:
		s := make([]bool, n)
		for i := range s {
			s[i] = b[i] != 0
		}
		return s
	}
	panic("onnxio: decodeRaw: unsupported type " + dt.String())
}

// encodeRaw returns the little-endian bytes of a typed slice.
func encodeRaw(data any) []byte {
	le := binary.LittleEndian
	switch s := data.(type) {
	case []float32:
		b := make([]byte, 4*len(s))
		for i, x := range s {
			le.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	case []float64:
		b := make([]byte, 8*len(s))
		for i, x := range s {
			le.PutUint64(b[8*i:], math.Float64bits(x))
		}
		return b
	case []int64:
		b := make([]byte, 8*len(s))
		for i, x := range s {
			le.PutUint64(b[8*i:], uint64(x))
		}
		return b
	case []uint64:
		b := make([]byte, 8*len(s))
		for i, x := range s {
			le.PutUint64(b[8*i:], x)
		}
		return b
	case []int32:
		b := make([]byte, 4*len(s))
		for i, x := range s {
			le.PutUint32(b[4*i:], uint32(x))
		}
		return b
	case []uint32:
		b := make([]byte, 4*len(s))
		for i, x := range s {
			le.PutUint32(b[4*i:], x)
		}
		return b
	case []int16:
		b := make([]byte, 2*len(s))
		for i, x := range s {
			le.PutUint16(b[2*i:], uint16(x))
		}
		return b
	case []uint16:
		b := make([]byte, 2*len(s))
		for i, x := range s {
			le.PutUint16(b[2*i:], x)
		}
		return b
	case []int8:
		b := make([]byte, len(s))
		for i, x := range s {
			b[i] = byte(x)
		}
		return b
	case []uint8:
		return append([]byte{}, s...)
	case []bool:
		b := make([]byte, len(s))
		for i, x := range s {
			if x {
				b[i] = 1
			}
		}
		return b
	}
	panic(fmt.Sprintf("onnxio: encodeRaw: unsupported slice %T", data))
}
