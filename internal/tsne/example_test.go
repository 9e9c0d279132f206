package tsne_test

import (
	"fmt"
	"math"

	"github.com/fewshot-go/fewshot/internal/tsne"
)

// Two tight groups of 10-D points far apart stay apart in the 2-D layout.
func ExampleEmbed() {
	var x [][]float64
	for i := range 20 {
		p := make([]float64, 10)
		for k := range p {
			p[k] = math.Sin(float64(i*10+k)) * 0.1 // small spread
		}
		if i >= 10 {
			p[0] += 5 // the second group
		}
		x = append(x, p)
	}
	res, err := tsne.Embed(x, tsne.Options{Seed: 1, Perplexity: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	dist := func(a, b []float64) float64 { return math.Hypot(a[0]-b[0], a[1]-b[1]) }
	within, between := 0.0, math.Inf(1)
	for i := range res.Y {
		for j := range res.Y {
			if d := dist(res.Y[i], res.Y[j]); (i < 10) == (j < 10) {
				within = max(within, d)
			} else {
				between = min(between, d)
			}
		}
	}
	fmt.Println("groups separated:", between > within)
	// Output: groups separated: true
}
