package onnxio

import (
	"math"
	"testing"
)

// refLayerNorm normalizes x (rows of n) with population variance, naively
// in float64, then applies per-element scale and bias.
func refLayerNorm(x []float32, n int, eps float64, scale, bias []float64) (y, mean, inv []float64) {
	for r := 0; r < len(x)/n; r++ {
		row := x[r*n : (r+1)*n]
		s, ss := 0.0, 0.0
		for _, v := range row {
			s += float64(v)
		}
		m := s / float64(n)
		for _, v := range row {
			ss += (float64(v) - m) * (float64(v) - m)
		}
		is := 1 / math.Sqrt(ss/float64(n)+eps)
		for j, v := range row {
			y = append(y, (float64(v)-m)*is*scale[j]+bias[j])
		}
		mean, inv = append(mean, m), append(inv, is)
	}
	return y, mean, inv
}

func TestLayerNormalization(t *testing.T) {
	x := make([]float32, 24) // [2,3,4]
	for i := range x {
		x[i] = float32(math.Sin(float64(i))*3 + float64(i%5))
	}
	in := tv("x", []int64{2, 3, 4}, x)
	// Default axis -1, with Scale and B and both statistics.
	sc, b := []float32{1, 2, -1, 0.5}, []float32{0, 1, 2, 3}
	n := NewNode("LayerNormalization", "ln", []string{"x", "s", "b"}, []string{"y", "m", "i"})
	out := mustRun(t, 17, n, in, tv("s", []int64{4}, sc), tv("b", []int64{4}, b))
	y, m, is := refLayerNorm(x, 4, 1e-5, []float64{1, 2, -1, 0.5}, []float64{0, 1, 2, 3})
	wantClose(t, out[0], []int{2, 3, 4}, y, 1e-5)
	wantClose(t, out[1], []int{2, 3, 1}, m, 1e-5)
	wantClose(t, out[2], []int{2, 3, 1}, is, 1e-5)
	// axis 1 normalizes [3,4] per batch item; a [4] Scale broadcasts over
	// it; no B; a larger epsilon.
	n = NewNode("LayerNormalization", "ln1", []string{"x", "s"}, []string{"y"}, AttrInt("axis", 1), AttrFloat("epsilon", 0.5))
	out = mustRun(t, 17, n, in, tv("s", []int64{4}, sc))
	scale := make([]float64, 12)
	for j := range scale {
		scale[j] = float64(sc[j%4])
	}
	y, _, _ = refLayerNorm(x, 12, 0.5, scale, make([]float64, 12))
	wantClose(t, out[0], []int{2, 3, 4}, y, 1e-5)
	// float64 data.
	x64 := []float64{1, 2, 3, 4}
	out = mustRun(t, 18, NewNode("LayerNormalization", "ln64", []string{"x", "s"}, []string{"y"}), tv("x", []int64{1, 4}, x64), tv("s", []int64{4}, []float64{1, 1, 1, 1}))
	y, _, _ = refLayerNorm([]float32{1, 2, 3, 4}, 4, 1e-5, []float64{1, 1, 1, 1}, make([]float64, 4))
	wantClose(t, out[0], []int{1, 4}, y, 1e-12)

	s := tv("s", []int64{4}, sc)
	wantErr(t, 16, NewNode("LayerNormalization", "old", []string{"x", "s"}, []string{"y"}), []string{"opset 17"}, in, s)
	wantErr(t, 17, NewNode("LayerNormalization", "stash", []string{"x", "s"}, []string{"y"}, AttrInt("stash_type", 11)), []string{"stash_type"}, in, s)
	wantErr(t, 17, NewNode("LayerNormalization", "shape", []string{"x", "s"}, []string{"y"}), []string{"does not broadcast"}, in, tv("s", []int64{3}, []float32{1, 1, 1}))
	wantErr(t, 17, NewNode("LayerNormalization", "rank", []string{"x", "s"}, []string{"y"}), []string{"does not broadcast"}, in, tv("s", []int64{3, 4}, make([]float32, 12)))
	wantErr(t, 17, NewNode("LayerNormalization", "type", []string{"x", "s"}, []string{"y"}), []string{"X's type"}, in, tv("s", []int64{4}, []float64{1, 1, 1, 1}))
	wantErr(t, 17, NewNode("LayerNormalization", "axis", []string{"x", "s"}, []string{"y"}, AttrInt("axis", 3)), []string{"axis 3 out of range"}, in, s)
	wantErr(t, 17, NewNode("LayerNormalization", "int", []string{"x", "s"}, []string{"y"}), []string{"not supported"},
		tv("x", []int64{4}, []int64{1, 2, 3, 4}), tv("s", []int64{4}, []int64{1, 1, 1, 1}))
}

func TestRange(t *testing.T) {
	n := NewNode("Range", "range", []string{"a", "b", "d"}, []string{"y"})
	i64 := func(a, b, d int64) []*Tensor {
		return []*Tensor{tv("a", nil, []int64{a}), tv("b", nil, []int64{b}), tv("d", nil, []int64{d})}
	}
	cases := []struct {
		in   []*Tensor
		want any
	}{
		{i64(0, 10, 3), []int64{0, 3, 6, 9}},
		{i64(10, 4, -2), []int64{10, 8, 6}},
		{i64(5, 5, 1), []int64{}},
		{i64(1, 5, -1), []int64{}},
		// Extreme bounds: the count does not overflow.
		{i64(math.MinInt64, math.MaxInt64, 1<<62), []int64{math.MinInt64, -1 << 62, 0, 1 << 62}},
		{[]*Tensor{tv("a", nil, []int32{-3}), tv("b", nil, []int32{3}), tv("d", nil, []int32{4})}, []int32{-3, 1}},
		{[]*Tensor{tv("a", nil, []int16{2}), tv("b", nil, []int16{-1}), tv("d", nil, []int16{-1})}, []int16{2, 1, 0}},
	}
	for _, c := range cases {
		out := mustRun(t, 11, n, c.in...)
		wantValue(t, out[0], []int{lenOf(c.want)}, c.want)
	}
	// ceil((2-1)/0.3) = 4 elements, each start + i·delta.
	out := mustRun(t, 11, n, tv("a", nil, []float32{1}), tv("b", nil, []float32{2}), tv("d", nil, []float32{0.3}))
	wantClose(t, out[0], []int{4}, []float64{1, 1.3, 1.6, 1.9}, 1e-6)
	out = mustRun(t, 11, n, tv("a", nil, []float64{0}), tv("b", nil, []float64{-1}), tv("d", nil, []float64{-0.25}))
	wantClose(t, out[0], []int{4}, []float64{0, -0.25, -0.5, -0.75}, 0)

	wantErr(t, 11, n, []string{"delta is 0"}, i64(0, 4, 0)...)
	wantErr(t, 11, n, []string{"element limit"}, i64(0, math.MaxInt64, 1)...)
	wantErr(t, 11, n, []string{"element limit"}, tv("a", nil, []float32{0}), tv("b", nil, []float32{1}), tv("d", nil, []float32{1e-30}))
	wantErr(t, 11, n, []string{"no length"}, tv("a", nil, []float32{0}), tv("b", nil, []float32{float32(math.Inf(1))}), tv("d", nil, []float32{float32(math.Inf(1))}))
	wantErr(t, 11, n, []string{"limit must be a scalar"}, tv("a", nil, []int64{0}), tv("b", nil, []int32{3}), tv("d", nil, []int64{1}))
	wantErr(t, 11, n, []string{"start must be a scalar"}, tv("a", []int64{2}, []int64{0, 1}), tv("b", nil, []int64{3}), tv("d", nil, []int64{1}))
	wantErr(t, 11, n, []string{"not supported"}, tv("a", nil, []uint8{0}), tv("b", nil, []uint8{3}), tv("d", nil, []uint8{1}))
}
