//go:build purego || !amd64

package kernel

// Without assembly the portable transforms do all the work.

func winoInput(v []float32, vXi, col0, nr, nc int, x []float32, l *winoLanes, plane, w int) {
	winoInputGo(v, vXi, col0, nr, nc, x, l, plane, w)
}

func winoOutput(y []float32, l *winoLanes, m []float32, mK, mXi, nk, plane, w int, bias []float32, fuse WinogradFuse) {
	winoOutputGo(y, l, m, mK, mXi, nk, plane, w, bias, fuse)
}

func winoOutputAdjoint(e []float32, eXi, col0, nr int, dy []float32, l *winoLanes, nk, plane, w int) {
	winoOutputAdjointGo(e, eXi, col0, nr, dy, l, nk, plane, w)
}
