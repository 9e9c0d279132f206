package kernel

import (
	"math"
	"sync"
)

// The blocked product follows the BLIS structure. For a C block of at most
// nc columns and every kc-deep slice of the inner dimension, op(B) is packed
// into nr-wide column panels (a block sized for L2); for every mc rows, op(A)
// is packed into mr-high row panels. The micro-kernel then sweeps one A
// panel (kept in L1) against all B panels of the block (streamed from L2),
// the order BLIS uses on AVX-512 Intel cores.

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
	// narrow, if not nil, is fn on the first cols columns of the tile only
	// (cols a multiple of 16 below nr; b keeps its nr-wide rows), giving
	// each of them the same bits as fn. Winograd blocks with fewer tiles
	// than nr use it.
	narrow func(cols, kc int, a, b []E, c []E, ldc int, alpha, beta E)
	// column, if not nil, is one column of fn's product, unscaled:
	// out[i] = Σ_p a[p*mr+i]·b[p*nr] for i < mr, with fn's bits. The last
	// column of a 7×7 plane's 49 uses it instead of a 16-column pass.
	column func(kc int, a, b, out []E)
	// strided, if not nil, is fn with B read in place: row p of the nr
	// columns at b[p*ldb:]. Products with few rows use it (gemmSerial).
	strided func(kc int, a, b []E, ldb int, c []E, ldc int, alpha, beta E)
	// panelRows, if not nil, fills one full panel from rows of a source:
	// dst[p*nr+j] = src[offs[p]+j] for p < len(offs) and j < nr.
	panelRows func(dst, src []E, offs []int)
	// gatherA, if not nil, packs one full panel of a non-transposed A:
	// dst[p*mr+i] = src[i*lda+p] for i < mr and p < kc.
	gatherA func(dst, src []E, lda, kc int)
	// gatherPanel, if not nil, fills one full panel: dst[p*nr+j] =
	// src[idx[j]+p] for p < kc and j < nr. Transposing packers use it.
	gatherPanel func(dst []E, src []E, idx []int32, kc int)
}

// bSource packs part of the right-hand operand op(B). Ordinary matrices and
// implicit im2col views of images both implement it, so convolutions run on
// the same driver without materialising patch matrices.
type bSource[E float32 | float64] interface {
	// pack writes rows [p0, p0+kc) and columns [j0, j0+nc) of op(B) into dst
	// as consecutive uk.nr-wide panels, each kc×nr in row order. Columns of
	// the last panel past nc may hold anything: partial tiles go through a
	// scratch tile and their padding never reaches C. It may use uk's
	// packing helpers.
	pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int)
}

// matSource is a stored row-major matrix b with row stride ld; op(B) is b or
// its transpose.
type matSource[E float32 | float64] struct {
	b     []E
	ld    int
	trans bool
}

func (s *matSource[E]) pack(dst []E, uk *microKernel[E], p0, kc, j0, nc int) {
	if !s.trans {
		offs := getRowOffsets()
		defer rowOffsetsPool.Put(offs)
		for p := range kc {
			offs[p] = (p0+p)*s.ld + j0
		}
		packRows(dst, uk, s.b, offs[:kc], nc)
		return
	}
	nr := uk.nr
	var idx [maxNR]int32
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : (jp+nr)*kc]
		if uk.gatherPanel != nil && (w-1)*s.ld+kc <= math.MaxInt32 {
			// Columns past w repeat column 0 (see pack's contract).
			for j := range nr {
				idx[j] = int32(j * b2i(j < w) * s.ld)
			}
			uk.gatherPanel(panel, s.b[(j0+jp)*s.ld+p0:], idx[:nr], kc)
			continue
		}
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

// rowOffsetsPool holds the row-offset arrays of the pack methods: handed
// to the micro-kernel's packing function through a function value, a
// local array would escape and be allocated (4 KiB) on every call.
var rowOffsetsPool = sync.Pool{New: func() any { return new([maxKC]int) }}

func getRowOffsets() *[maxKC]int { return rowOffsetsPool.Get().(*[maxKC]int) }

// packRows packs columns [0, nc) of kc rows of a source: row p is
// src[offs[p]:offs[p]+nc], p < kc = len(offs). The block is written panel by
// panel so the writes are sequential.
func packRows[E float32 | float64](dst []E, uk *microKernel[E], src []E, offs []int, nc int) {
	kc, nr := len(offs), uk.nr
	for jp := 0; jp < nc; jp += nr {
		w := min(nr, nc-jp)
		panel := dst[jp*kc : (jp+nr)*kc]
		if w == nr && uk.panelRows != nil {
			uk.panelRows(panel, src[jp:], offs)
			continue
		}
		for p, o := range offs {
			d := panel[p*nr : p*nr+nr]
			copy(d, src[o+jp:o+jp+w])
			clear(d[w:])
		}
	}
}

// packA writes rows [i0, i0+mc) and columns [p0, p0+kc) of op(A) into dst as
// consecutive mr-high panels, each kc×mr in column order, padding the rows
// of the last panel with zeros.
func packA[E float32 | float64](dst []E, uk *microKernel[E], a []E, lda int, trans bool, i0, mc, p0, kc int) {
	mr := uk.mr
	for ip := 0; ip < mc; ip += mr {
		h := min(mr, mc-ip)
		panel := dst[(ip/mr)*kc*mr : (ip/mr+1)*kc*mr]
		if !trans && h == mr && uk.gatherA != nil && (mr-1)*lda+kc <= math.MaxInt32 {
			uk.gatherA(panel, a[(i0+ip)*lda+p0:], lda, kc)
			continue
		}
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

// epilogue, when not nil, is called once each block C[i0:i1, j0:j1] is
// final, while it is still in cache; convolutions use it to move results
// out of a scratch matrix.
type epilogue func(i0, i1, j0, j1 int)

// gemmDriver computes C = alpha*op(A)*op(B) + beta*C with op(B) supplied by
// b, using up to nt goroutines.
//
// pre, when not nil, is op(A) already packed by prepackA for this kernel and
// these m and k; a is then ignored.
func gemmDriver[E float32 | float64](uk *microKernel[E], transA bool, m, n, k int, alpha E, a []E, lda int, pre []E, b bSource[E], beta E, c []E, ldc int, nt int, epi epilogue) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		if epi != nil {
			epi(0, m, 0, n)
		}
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
					gemmSerial(uk, transA, 0, m, j0, min(n, j0+step), k, alpha, a, lda, pre, b, beta, c, ldc, epi)
				}
			})
		} else {
			parts := min(nt, (m+uk.mr-1)/uk.mr)
			step := ((m+parts-1)/parts + uk.mr - 1) / uk.mr * uk.mr
			parallelFor(parts, parts, func(i, _ int) {
				i0 := i * step
				if i0 < m {
					gemmSerial(uk, transA, i0, min(m, i0+step), 0, n, k, alpha, a, lda, pre, b, beta, c, ldc, epi)
				}
			})
		}
		return
	}
	gemmSerial(uk, transA, 0, m, 0, n, k, alpha, a, lda, pre, b, beta, c, ldc, epi)
}

// addTile sets the h×w corner of C at ct (row stride ldc) to alpha·tile +
// beta·C for the tile in edge (row stride ld), C unread when beta is 0.
func addTile[E float32 | float64](ct []E, ldc int, edge []E, ld, h, w int, alpha, beta E) {
	for i := 0; i < h; i++ {
		row := ct[i*ldc : i*ldc+w]
		acc := edge[i*ld : i*ld+w]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * acc[j]
			}
		} else {
			for j := range row {
				row[j] = alpha*acc[j] + beta*row[j]
			}
		}
	}
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

// prepackA packs all of op(A) (m×k) the way gemmSerial consumes it, for
// operands reused across many products. Release the holder with putScratch.
func prepackA[E float32 | float64](uk *microKernel[E], transA bool, m, k int, a []E, lda int) (*scratch, []E) {
	kcMax := min(uk.kc, k, maxKC)
	mPad := (m + uk.mr - 1) / uk.mr * uk.mr
	sp, pa := getScratch[E](mPad * k)
	for pc := 0; pc < k; pc += kcMax {
		packA(pa[mPad*pc:], uk, a, lda, transA, 0, m, pc, min(kcMax, k-pc))
	}
	return sp, pa
}

// gemmSerial computes rows [m0, m1) and columns [n0, n1) of C on the
// calling goroutine. m0 is a multiple of uk.mr.
func gemmSerial[E float32 | float64](uk *microKernel[E], transA bool, m0, m1, n0, n1, k int, alpha E, a []E, lda int, pre []E, b bSource[E], beta E, c []E, ldc int, epi epilogue) {
	mr, nr := uk.mr, uk.nr
	kcMax := min(uk.kc, k, maxKC)
	mPad := (m1 - m0 + mr - 1) / mr * mr
	mcMax := min(max(uk.mc/mr, 1)*mr, mPad)
	ncMax := min(max(uk.nc/nr, 1)*nr, (n1-n0+nr-1)/nr*nr)
	// A packed for every k slice at once: pre, or packed here when all rows
	// fit one A block (common for convolutions, where m is the channel
	// count) so that it is reused across column blocks. Slice pc starts at
	// aStride*pc, and rows [m0, m1) at aBase within it.
	whole := pre != nil || mPad == mcMax
	ap, aStride, aBase := pre, 0, 0
	if pre != nil {
		aStride = len(pre) / k
		aBase = m0
	} else {
		aLen := mcMax * kcMax
		if whole {
			aLen = mPad * k
		}
		var spA *scratch
		spA, ap = getScratch[E](aLen)
		defer putScratch(spA)
		if whole {
			aStride = mPad
			for pc := 0; pc < k; pc += kcMax {
				packA(ap[mPad*pc:], uk, a, lda, transA, m0, m1-m0, pc, min(kcMax, k-pc))
			}
		}
	}
	// The scratch tile of partial tiles shares B's scratch: a local array
	// would escape to the heap through the micro-kernel's function value.
	spB, bp := getScratch[E](ncMax*kcMax + maxTile)
	defer putScratch(spB)
	bp, edge := bp[:ncMax*kcMax], bp[ncMax*kcMax:]
	// With at most four row panels every packed element of B would serve
	// a few tiles only, and packing costs about as much as the product (1×1
	// convolutions into 16 to 32 channels): full panels of a plain B are
	// read in place, only a partial last panel is packed. (2 threads, 1×1
	// 32→16 on 112×112: 120 → 79 µs; 144→24 on 56×56 at batch 8: 1962 →
	// 1151 µs.)
	var direct *matSource[E]
	if s, ok := b.(*matSource[E]); ok && !s.trans && uk.strided != nil && mPad <= 4*mr {
		direct = s
	}
	for jc := n0; jc < n1; jc += ncMax {
		nc := min(ncMax, n1-jc)
		for pc := 0; pc < k; pc += kcMax {
			kc := min(kcMax, k-pc)
			panels := bp
			switch v, ok := b.(*packedSource[E]); {
			case ok && v.p.kc == kcMax:
				panels = v.view(pc, kc, jc, nc) // packed once, read in place
			case direct != nil:
				if full := nc / nr * nr; full < nc {
					b.pack(bp[full*kc:], uk, pc, kc, jc+full, nc-full)
				}
			default:
				b.pack(bp, uk, pc, kc, jc, nc)
			}
			bet := beta
			if pc > 0 {
				bet = 1 // later slices accumulate onto the first
			}
			for ic := m0; ic < m1; ic += mcMax {
				mc := min(mcMax, m1-ic)
				apc := ap
				if whole {
					apc = ap[aStride*pc+(aBase+ic-m0)*kc:]
				} else {
					packA(ap, uk, a, lda, transA, ic, mc, pc, kc)
				}
				for ir := 0; ir < mc; ir += mr {
					aPanel := apc[(ir/mr)*kc*mr : (ir/mr+1)*kc*mr]
					h := min(mr, mc-ir)
					for jr := 0; jr < nc; jr += nr {
						bPanel := panels[(jr/nr)*kc*nr : (jr/nr+1)*kc*nr]
						w := min(nr, nc-jr)
						ct := c[(ic+ir)*ldc+jc+jr:]
						if direct != nil && w == nr {
							bRows := direct.b[pc*direct.ld+jc+jr:]
							if h == mr {
								uk.strided(kc, aPanel, bRows, direct.ld, ct, ldc, alpha, bet)
								continue
							}
							uk.strided(kc, aPanel, bRows, direct.ld, edge[:], nr, 1, 0)
							addTile(ct, ldc, edge, nr, h, w, alpha, bet)
							continue
						}
						if h == mr && w == nr {
							uk.fn(kc, aPanel, bPanel, ct, ldc, alpha, bet)
							continue
						}
						// A narrow last panel (a 7×7 plane has 49 columns:
						// one full panel and one) multiplies only its
						// 16-column groups that hold columns.
						cols := nr
						if uk.narrow != nil && w < nr {
							cols = min(nr, (w+15)/16*16)
						}
						if h == mr && w == cols && cols < nr {
							uk.narrow(cols, kc, aPanel, bPanel, ct, ldc, alpha, bet)
							continue
						}
						if w <= 2 && uk.column != nil {
							// One or two columns: dot products, not a
							// 16-column pass.
							for j := range w {
								uk.column(kc, aPanel, bPanel[j:], edge[j*mr:(j+1)*mr])
							}
							for i := 0; i < h; i++ {
								for j := range w {
									if v := alpha * edge[j*mr+i]; bet == 0 {
										ct[i*ldc+j] = v
									} else {
										ct[i*ldc+j] = v + bet*ct[i*ldc+j]
									}
								}
							}
							continue
						}
						// A partial tile goes through a scratch tile so the
						// kernel never touches C outside the matrix.
						if cols < nr {
							uk.narrow(cols, kc, aPanel, bPanel, edge[:], nr, 1, 0)
						} else {
							uk.fn(kc, aPanel, bPanel, edge[:], nr, 1, 0)
						}
						addTile(ct, ldc, edge, nr, h, w, alpha, bet)
					}
				}
			}
		}
		if epi != nil {
			epi(m0, m1, jc, jc+nc)
		}
	}
}
