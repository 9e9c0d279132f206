package engine_test

import (
	"fmt"

	"github.com/fewshot-go/fewshot/engine"
)

// ExampleGrad differentiates f(x) = x³ twice at x = 2. The first Grad call
// records its backward pass (createGraph true), so its result f'(x) = 3x² is
// itself a differentiable value.
func ExampleGrad() {
	x := engine.Param(engine.Scalar(2.0))
	f := engine.Mul(engine.Square(x), x)

	df := engine.Grad(f, []*engine.Var[float64]{x}, true)[0]
	d2f := engine.Grad(df, []*engine.Var[float64]{x}, false)[0]

	fmt.Println("f(2)   =", f.Item())
	fmt.Println("f'(2)  =", df.Item())
	fmt.Println("f''(2) =", d2f.Item())
	// Output:
	// f(2)   = 8
	// f'(2)  = 12
	// f''(2) = 12
}
