package kernel

// PackedB is the right operand B (k×n) of float32 products C = A·B,
// packed once for the GEMM micro-kernel: for weights that never change,
// such as an ONNX model's MatMul initializers. Packing B costs a read and a
// write of all of it on every call, about as much as the product itself
// when A has few rows (ConvNeXt's and ViT's last stages multiply 49 or 197
// rows by weights of several MiB).
type PackedB struct {
	k, n, kc, nPad int
	uk             *microKernel[float32]
	b              []float32 // the stored matrix, for another micro-kernel
	ldb            int
	data           []float32 // for each slice of kc rows, its nr-wide panels
}

// NewPackedB packs the row-major k×n matrix b (row stride ldb). The caller
// must not change b afterwards. It panics if k or n is not positive, ldb <
// n, or b is too short.
func NewPackedB(k, n int, b []float32, ldb int) *PackedB {
	if k < 1 || n < 1 || ldb < n {
		panic("kernel: NewPackedB: k = " + itoa(k) + ", n = " + itoa(n) + ", ldb = " + itoa(ldb))
	}
	need("NewPackedB", "b", len(b), (k-1)*ldb+n)
	uk := sgemmKernel
	p := &PackedB{k: k, n: n, kc: min(uk.kc, k, maxKC), nPad: (n + uk.nr - 1) / uk.nr * uk.nr, uk: uk, b: b, ldb: ldb}
	p.data = make([]float32, k*p.nPad)
	src := matSource[float32]{b: b, ld: ldb}
	for pc := 0; pc < k; pc += p.kc {
		src.pack(p.data[pc*p.nPad:], uk, pc, min(p.kc, k-pc), 0, n)
	}
	return p
}

// Gemm sets C = A·B for the m×k matrix A (row stride lda) into the m×n
// matrix C (row stride ldc), on the package's threads. The result is
// Gemm's with the unpacked B. It panics as Gemm does for bad arguments.
func (p *PackedB) Gemm(m int, a []float32, lda int, c []float32, ldc int) {
	checkGemm(false, false, m, p.n, p.k, len(a), lda, len(p.b), p.ldb, len(c), ldc)
	if p.uk != sgemmKernel {
		gemm(false, false, m, p.n, p.k, 1, a, lda, p.b, p.ldb, 0, c, ldc, Threads()) // tests swap kernels
		return
	}
	src := packedSource[float32]{p: p}
	gemmDriver(sgemmKernel, false, m, p.n, p.k, 1, a, lda, nil, &src, 0, c, ldc, Threads(), nil)
}

// packedSource is a PackedB as the driver's B operand: gemmSerial reads
// its panels in place (view) instead of packing them.
type packedSource[E float32 | float64] struct {
	p *PackedB
}

// view returns the panels of rows [p0, p0+kc) and columns [j0, j0+nc), as
// pack would write them; j0 is a multiple of the panel width and p0 of
// the slice height, as gemmSerial asks for.
func (s *packedSource[E]) view(p0, kc, j0, nc int) []E {
	nr := s.p.uk.nr
	at := p0*s.p.nPad + j0/nr*kc*nr
	return as[E](s.p.data[at : at+(nc+nr-1)/nr*kc*nr])
}

func (s *packedSource[E]) pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int) {
	copy(dst, s.view(p0, kc, j0, nc))
}
