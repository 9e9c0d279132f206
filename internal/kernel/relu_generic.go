//go:build purego || !amd64

package kernel

func reluVec(x []float32) int { return 0 }
