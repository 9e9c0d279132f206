//go:build purego || !amd64

package kernel

// The stem route needs the vector kernel.
var haveStem = false

func stem(y []float32, ldy int, x []float32, offs []int32, w, b []float32, relu bool, rows, cols int) {
	stemGo(y, ldy, x, offs, w, b, relu, rows, cols)
}
