package kernel

// Transpose32 sets dst[j*rows+i] = src[i*cols+j] for the rows×cols matrix
// src of 32-bit elements (float32 bits, say), in 16×16 tiles (AVX-512
// where there is one) shared over the threads: the NCHW ↔ NHWC permutes of
// ConvNeXt's layer norms. It panics if a slice is shorter than rows·cols.
func Transpose32(dst, src []uint32, rows, cols int) {
	need("Transpose32", "src", len(src), rows*cols)
	need("Transpose32", "dst", len(dst), rows*cols)
	bands := (rows + 15) / 16
	ParallelRange(bands, max(1, 1<<14/max(16*cols, 1)), func(lo, hi int) {
		for band := lo; band < hi; band++ {
			i0 := band * 16
			i1 := min(rows, i0+16)
			j0 := 0
			if i1-i0 == 16 {
				j0 = transposeTiles(dst, src, rows, cols, i0)
			}
			transposeGo(dst, src, rows, cols, i0, i1, j0)
		}
	})
}

// transposeGo is Transpose32 for rows [i0, i1) and columns from j0 on,
// tile by tile.
func transposeGo(dst, src []uint32, rows, cols, i0, i1, j0 int) {
	for jt := j0; jt < cols; jt += 16 {
		for j := jt; j < min(cols, jt+16); j++ {
			d := dst[j*rows+i0 : j*rows+i1]
			for i := range d {
				d[i] = src[(i0+i)*cols+j]
			}
		}
	}
}
