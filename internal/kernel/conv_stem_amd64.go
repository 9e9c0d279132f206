//go:build !purego

package kernel

//go:noescape
func stemAVX512(y *float32, ldy int, x *float32, offs *int32, nt int, w, bias *float32, relu bool, rows int, mask uint16)

// haveStem reports whether the stem route's kernel runs here.
var haveStem = haveAVX512

// stem computes stemGo's outputs with AVX-512 (all sixteen pixels are
// computed; only the first cols are stored).
func stem(y []float32, ldy int, x []float32, offs []int32, w, b []float32, relu bool, rows, cols int) {
	hi := int32(0)
	for _, o := range offs {
		hi = max(hi, o)
	}
	_ = x[hi+30]
	_ = w[16*len(offs)-1]
	_ = b[15]
	_ = y[(rows-1)*ldy+cols-1]
	stemAVX512(&y[0], ldy, &x[0], &offs[0], len(offs), &w[0], &b[0], relu, rows, uint16(1<<cols-1))
}
