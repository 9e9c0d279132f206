package kernel

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"unsafe"
)

// guardedFloats returns n float32s that either begin right after or end
// right before an inaccessible page, so that any access outside them, even
// one the hardware should mask off, faults. free unmaps them.
func guardedFloats(t *testing.T, n int, atEnd bool) (s []float32, free func()) {
	t.Helper()
	page := syscall.Getpagesize()
	body := (4*n + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, body+2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skipf("mmap: %v", err)
	}
	if err := syscall.Mprotect(mem[:page], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mprotect(mem[page+body:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	start := page
	if atEnd {
		start = page + body - 4*n
	}
	s = unsafe.Slice((*float32)(unsafe.Pointer(&mem[start])), n)
	return s, func() { syscall.Munmap(mem) }
}

// TestWinogradGuardPages runs the Winograd convolution, with every fusion,
// on inputs and outputs that touch an inaccessible page at either end:
// the kernels' masked loads and stores must stay inside their slices even
// for masked-off lanes (a masked VEXTRACTF32X4 store once faulted 8 bytes
// before y when y began a heap arena).
func TestWinogradGuardPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, s := range winoShapes(true) {
		w := randSlice[float32](rng, s.K*s.C*9)
		bias := randSlice[float32](rng, s.K)
		f := NewWinogradFilter(s.K, s.C, w)
		src := randSlice[float32](rng, s.N*s.C*s.H*s.W)
		for _, fuse := range []WinogradFuse{{}, {ReLU: true}, {MaxPool2x2: true}, {MaxPool2x2: true, ReLU: true}} {
			oh, ow := s.OutH(), s.OutW()
			if fuse.MaxPool2x2 {
				oh, ow = oh/2, ow/2
				if oh == 0 || ow == 0 {
					continue
				}
			}
			want := make([]float32, s.N*s.K*oh*ow)
			f.Conv2D(s, src, bias, want, fuse)
			for _, atEnd := range []bool{false, true} {
				t.Run(fmt.Sprintf("%+v/%+v/atEnd=%v", s, fuse, atEnd), func(t *testing.T) {
					x, freeX := guardedFloats(t, len(src), atEnd)
					defer freeX()
					copy(x, src)
					y, freeY := guardedFloats(t, len(want), atEnd)
					defer freeY()
					f.Conv2D(s, x, bias, y, fuse)
					for i := range y {
						if y[i] != want[i] {
							t.Fatalf("y[%d] = %g, want %g (as on heap memory)", i, y[i], want[i])
						}
					}
				})
			}
		}
	}
}

// TestWinogradBackwardFilterGuardPages runs the filter gradient on inputs
// and output gradients that touch an inaccessible page at either end: the
// gathers of the vector code must not read masked-off elements.
func TestWinogradBackwardFilterGuardPages(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range winoShapes(true) {
		srcX := randSlice[float32](rng, s.N*s.C*s.H*s.W)
		srcDy := randSlice[float32](rng, s.N*s.K*s.OutH()*s.OutW())
		want := make([]float32, s.K*s.C*9)
		WinogradBackwardFilter(s, srcX, srcDy, want)
		for _, atEnd := range []bool{false, true} {
			t.Run(fmt.Sprintf("%+v/atEnd=%v", s, atEnd), func(t *testing.T) {
				x, freeX := guardedFloats(t, len(srcX), atEnd)
				defer freeX()
				copy(x, srcX)
				dy, freeDy := guardedFloats(t, len(srcDy), atEnd)
				defer freeDy()
				copy(dy, srcDy)
				dw := make([]float32, len(want))
				WinogradBackwardFilter(s, x, dy, dw)
				for i := range dw {
					if dw[i] != want[i] {
						t.Fatalf("dw[%d] = %g, want %g (as on heap memory)", i, dw[i], want[i])
					}
				}
			})
		}
	}
}
