package peers

import (
	"testing"
	"time"

	"gorgonia.org/tensor"
)

// benchConv4 times Step on cfg; it reports the loss (or mean embedding) so
// a broken run is visible in the output.
func benchConv4(b *testing.B, cfg Conv4Config) {
	n, err := NewConv4(cfg, 1)
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	// One untimed run allocates the tape machine's buffers.
	if _, err := n.Step(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var v float64
	cpu0 := processCPU()
	for b.Loop() {
		if v, err = n.Step(); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
	b.ReportMetric(v, "result")
}

// BenchmarkGorgoniaConv4Forward: Conv-4 (BN in inference form), batch 80,
// 84×84×3.
func BenchmarkGorgoniaConv4Forward(b *testing.B) { benchConv4(b, StandardConv4(false)) }

// BenchmarkGorgoniaConv4Train: forward with batch statistics, backward
// through every layer and an SGD update.
func BenchmarkGorgoniaConv4Train(b *testing.B) { benchConv4(b, StandardConv4(true)) }

// BenchmarkGorgoniaConv4ForwardNoBN and BenchmarkGorgoniaConv4TrainNoBN
// replace batch normalization by a convolution bias, to separate the cost
// of gorgonia's BatchNorm from that of its convolutions.
func BenchmarkGorgoniaConv4ForwardNoBN(b *testing.B) {
	cfg := StandardConv4(false)
	cfg.BatchNorm = false
	benchConv4(b, cfg)
}

func BenchmarkGorgoniaConv4TrainNoBN(b *testing.B) {
	cfg := StandardConv4(true)
	cfg.BatchNorm = false
	benchConv4(b, cfg)
}

// BenchmarkGorgoniaConv4ForwardBatch1: a single 84×84 image, the latency of
// embedding one query.
func BenchmarkGorgoniaConv4ForwardBatch1(b *testing.B) {
	cfg := StandardConv4(false)
	cfg.Batch = 1
	benchConv4(b, cfg)
}

// reportCPU adds the process CPU time per op since cpu0 as "cpu-ms/op".
func reportCPU(b *testing.B, cpu0 time.Duration) {
	b.ReportMetric(float64(processCPU()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
}

const matN = 1024

// BenchmarkGorgoniaMatMul1024 times gorgonia/tensor's Dense.MatMul into a
// reused result (c = a·b, float32, 1024³).
func BenchmarkGorgoniaMatMul1024(b *testing.B) {
	x, y := MatMulOperands(matN, 1)
	out, err := x.MatMul(y)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	for b.Loop() {
		if _, err := x.MatMul(y, tensor.WithReuse(out)); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, cpu0)
	b.ReportMetric(2*matN*matN*matN/1e9/(b.Elapsed().Seconds()/float64(b.N)), "GFLOP/s")
}

// BenchmarkGonumSgemm1024 times gonum's pure-Go blas32.Gemm directly.
func BenchmarkGonumSgemm1024(b *testing.B) {
	x, y := MatMulOperands(matN, 1)
	c := make([]float32, matN*matN)
	cpu0 := processCPU()
	for b.Loop() {
		GonumSgemm(matN, x.Data().([]float32), y.Data().([]float32), c)
	}
	reportCPU(b, cpu0)
	b.ReportMetric(2*matN*matN*matN/1e9/(b.Elapsed().Seconds()/float64(b.N)), "GFLOP/s")
}
