package peers

import (
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gorgonia.org/tensor"
)

// MatMulOperands returns two n×n float32 gorgonia tensors with values in
// [-1, 1), drawn from a generator seeded with seed.
func MatMulOperands(n int, seed uint64) (a, b *tensor.Dense) {
	rng := rand.New(rand.NewPCG(seed, 2))
	return randTensor(rng, []int{n, n}, -1, 1), randTensor(rng, []int{n, n}, -1, 1)
}

// GonumSgemm computes c = a·b for row-major n×n matrices with gonum's
// pure-Go BLAS (the implementation gorgonia's tensor package calls).
func GonumSgemm(n int, a, b, c []float32) {
	ga := blas32.General{Rows: n, Cols: n, Stride: n, Data: a}
	gb := blas32.General{Rows: n, Cols: n, Stride: n, Data: b}
	gc := blas32.General{Rows: n, Cols: n, Stride: n, Data: c}
	blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, ga, gb, 0, gc)
}
