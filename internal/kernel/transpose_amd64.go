//go:build !purego

package kernel

//go:noescape
func transpose16AVX512(dst *uint32, ldd int, src *uint32, lds int)

// transposeTiles transposes the whole 16×16 tiles of the 16 rows from i0
// of Transpose32's src and returns the first column it left (0 without
// AVX-512).
func transposeTiles(dst, src []uint32, rows, cols, i0 int) int {
	if !haveAVX512 {
		return 0
	}
	j := 0
	for ; j+16 <= cols; j += 16 {
		_ = src[(i0+15)*cols+j+15]
		_ = dst[(j+15)*rows+i0+15]
		transpose16AVX512(&dst[j*rows+i0], rows, &src[i0*cols+j], cols)
	}
	return j
}
