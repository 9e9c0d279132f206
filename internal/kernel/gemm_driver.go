package kernel

// The blocked product follows the BLIS structure. For a C block of at most
// nc columns and every kc-deep slice of the inner dimension, op(B) is packed
// into nr-wide column panels (the L3-resident block); for every mc rows,
// op(A) is packed into mr-high row panels (L2-resident); the micro-kernel
// then sweeps the A panels against one B panel at a time, so that B panel
// stays in L1 while A streams from L2.

// microKernel is one register-tiled inner kernel with the block sizes tuned
// for it.
type microKernel[E float32 | float64] struct {
	name   string
	mr, nr int // register tile
	kc     int // depth of a packed slice
	mc, nc int // rows of a packed A block, columns of a packed B block
	// fn computes the mr×nr product of packed panels a (kc×mr, p-major) and
	// b (kc×nr, p-major) and stores alpha*product + beta*C into the full
	// tile at c with row stride ldc; C is not read when beta is zero.
	fn func(kc int, a, b []E, c []E, ldc int, alpha, beta E)
	// packRow, if set, replaces the portable packRow for this panel width.
	packRow rowPacker[E]
}

// bSource packs part of the right-hand operand op(B). Ordinary matrices and
// implicit im2col views of images both implement it, so convolutions run on
// the same driver without materialising patch matrices.
type bSource[E float32 | float64] interface {
	// pack writes rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into dst
	// as consecutive nr-wide panels, each kc×nr in row order, padding the
	// columns of the last panel with zeros. Contiguous rows go through row.
	pack(dst []E, row rowPacker[E], nr, p0, kc, j0, nc int)
}

// rowPacker is packRow or a faster equivalent for one panel width.
type rowPacker[E float32 | float64] func(dst []E, nr, p, kc int, src []E)

// matSource is a stored row-major matrix b with row stride ld; op(B) is b or
// its transpose.
type matSource[E float32 | float64] struct {
	b     []E
	ld    int
	trans bool
}

func (s *matSource[E]) pack(dst []E, row rowPacker[E], nr, p0, kc, j0, nc int) {
	if !s.trans {
		// Row by row, so the source is read sequentially; the rows of B are
		// often a power-of-two apart and column-wise reads would thrash the
		// cache sets.
		for p := 0; p < kc; p++ {
			row(dst, nr, p, kc, s.b[(p0+p)*s.ld+j0:(p0+p)*s.ld+j0+nc])
		}
		return
	}
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : (jp+nr)*kc]
		for j := 0; j < w; j++ {
			col := s.b[(j0+jp+j)*s.ld+p0:]
			col = col[:kc]
			for p, v := range col {
				panel[p*nr+j] = v
			}
		}
		if w < nr {
			for p := 0; p < kc; p++ {
				clear(panel[p*nr+w : p*nr+nr])
			}
		}
	}
}

// packRow writes row p of a kc-deep packed block: src holds the row's
// columns, which are spread over consecutive nr-wide panels (zero padded).
func packRow[E float32 | float64](dst []E, nr, p, kc int, src []E) {
	nc := len(src)
	full := nc / nr * nr
	d := dst[p*nr:]
	for jp := 0; jp < full; jp += nr {
		copy(d[jp*kc:jp*kc+nr], src[jp:jp+nr])
	}
	if full < nc {
		t := d[full*kc : full*kc+nr]
		copy(t, src[full:])
		clear(t[nc-full:])
	}
}

// packA writes rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into dst as
// consecutive mr-high panels, each kc×mr in column order, padding the rows
// of the last panel with zeros.
func packA[E float32 | float64](dst []E, mr int, a []E, lda int, trans bool, i0, mc, p0, kc int) {
	for ip := 0; ip < mc; ip += mr {
		h := min(mr, mc-ip)
		panel := dst[(ip/mr)*kc*mr : (ip/mr+1)*kc*mr]
		if trans {
			for p := 0; p < kc; p++ {
				row := a[(p0+p)*lda+i0+ip:]
				d := panel[p*mr : p*mr+mr]
				copy(d, row[:h])
				clear(d[h:])
			}
			continue
		}
		for i := 0; i < h; i++ {
			row := a[(i0+ip+i)*lda+p0:]
			row = row[:kc]
			for p, v := range row {
				panel[p*mr+i] = v
			}
		}
		if h < mr {
			for p := 0; p < kc; p++ {
				clear(panel[p*mr+h : p*mr+mr])
			}
		}
	}
}

// parallelMinFlops is the smallest m*n*k worth splitting across goroutines;
// below it the start-up cost outweighs the gain.
const parallelMinFlops = 1 << 20

// gemmDriver computes C = alpha*op(A)*op(B) + beta*C with op(B) supplied by
// b, using up to nt goroutines.
func gemmDriver[E float32 | float64](uk *microKernel[E], transA bool, m, n, k int, alpha E, a []E, lda int, b bSource[E], beta E, c []E, ldc int, nt int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if nt > 1 && m*n*k >= parallelMinFlops {
		// Split C into nt stripes along its longer side, in whole register
		// tiles; each goroutine packs its own panels, which costs a little
		// duplicated packing but needs no synchronisation.
		if n >= m {
			parts := min(nt, (n+uk.nr-1)/uk.nr)
			step := ((n+parts-1)/parts + uk.nr - 1) / uk.nr * uk.nr
			parallelFor(parts, parts, func(i, _ int) {
				j0 := i * step
				if j0 < n {
					gemmSerial(uk, transA, 0, m, j0, min(n, j0+step), k, alpha, a, lda, b, beta, c, ldc)
				}
			})
		} else {
			parts := min(nt, (m+uk.mr-1)/uk.mr)
			step := ((m+parts-1)/parts + uk.mr - 1) / uk.mr * uk.mr
			parallelFor(parts, parts, func(i, _ int) {
				i0 := i * step
				if i0 < m {
					gemmSerial(uk, transA, i0, min(m, i0+step), 0, n, k, alpha, a, lda, b, beta, c, ldc)
				}
			})
		}
		return
	}
	gemmSerial(uk, transA, 0, m, 0, n, k, alpha, a, lda, b, beta, c, ldc)
}

// scaleC sets C = beta*C, writing zeros without reading C when beta is 0.
func scaleC[E float32 | float64](m, n int, beta E, c []E, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemmSerial computes rows [m0, m1) and columns [n0, n1) of C on the
// calling goroutine.
func gemmSerial[E float32 | float64](uk *microKernel[E], transA bool, m0, m1, n0, n1, k int, alpha E, a []E, lda int, b bSource[E], beta E, c []E, ldc int) {
	mr, nr := uk.mr, uk.nr
	kcMax := min(uk.kc, k)
	mcMax := min(max(uk.mc/mr, 1)*mr, (m1-m0+mr-1)/mr*mr)
	ncMax := min(max(uk.nc/nr, 1)*nr, (n1-n0+nr-1)/nr*nr)
	spA, ap := getScratch[E](mcMax * kcMax)
	defer putScratch(spA)
	spB, bp := getScratch[E](ncMax * kcMax)
	defer putScratch(spB)
	var edge [maxTile]E
	row := uk.packRow
	if row == nil {
		row = packRow[E]
	}
	for jc := n0; jc < n1; jc += ncMax {
		nc := min(ncMax, n1-jc)
		for pc := 0; pc < k; pc += kcMax {
			kc := min(kcMax, k-pc)
			b.pack(bp, row, nr, pc, kc, jc, nc)
			bet := beta
			if pc > 0 {
				bet = 1 // later slices accumulate onto the first
			}
			for ic := m0; ic < m1; ic += mcMax {
				mc := min(mcMax, m1-ic)
				packA(ap, mr, a, lda, transA, ic, mc, pc, kc)
				for jr := 0; jr < nc; jr += nr {
					bPanel := bp[(jr/nr)*kc*nr : (jr/nr+1)*kc*nr]
					w := min(nr, nc-jr)
					for ir := 0; ir < mc; ir += mr {
						aPanel := ap[(ir/mr)*kc*mr : (ir/mr+1)*kc*mr]
						h := min(mr, mc-ir)
						ct := c[(ic+ir)*ldc+jc+jr:]
						if h == mr && w == nr {
							uk.fn(kc, aPanel, bPanel, ct, ldc, alpha, bet)
							continue
						}
						// A partial tile goes through a scratch tile so the
						// kernel never touches C outside the matrix.
						uk.fn(kc, aPanel, bPanel, edge[:], nr, 1, 0)
						for i := 0; i < h; i++ {
							row := ct[i*ldc : i*ldc+w]
							acc := edge[i*nr : i*nr+w]
							if bet == 0 {
								for j := range row {
									row[j] = alpha * acc[j]
								}
							} else {
								for j := range row {
									row[j] = alpha*acc[j] + bet*row[j]
								}
							}
						}
					}
				}
			}
		}
	}
}
