package kernel

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func randSlice[T Float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.Float64()*2 - 1)
	}
	return s
}

func toF64[T Float](s []T) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// assertClose fails when got and want differ by more than tol relative to
// the largest magnitude in want (at least 1).
func assertClose[T, U Float](t *testing.T, what string, got []T, want []U, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) != math.IsNaN(w) || math.Abs(g-w) > tol*scale {
			t.Fatalf("%s: element %d = %v, want %v (tol %g × %g)", what, i, g, w, tol, scale)
		}
	}
}

// mustPanic fails unless fn panics with a message containing sub.
func mustPanic(t *testing.T, sub string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one mentioning %q", sub)
		}
		msg := ""
		switch v := r.(type) {
		case string:
			msg = v
		case error:
			msg = v.Error()
		}
		if !strings.Contains(msg, sub) {
			t.Fatalf("panic %q does not mention %q", msg, sub)
		}
	}()
	fn()
}
