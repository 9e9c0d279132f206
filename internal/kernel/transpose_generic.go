//go:build purego || !amd64

package kernel

// No vector tiles here: transposeGo does the whole matrix.
func transposeTiles(dst, src []uint32, rows, cols, i0 int) int { return 0 }
