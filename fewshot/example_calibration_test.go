package fewshot_test

import (
	"fmt"

	"github.com/fewshot-go/fewshot/fewshot"
)

// Fit a temperature to queries whose labels are known (in practice, the
// queries of validation episodes; "fewshot calibrate" does this for a
// model file and stores T with SetTemperature), and compare the expected
// calibration error before and after.
func ExampleFitTemperature() {
	// Logits of six queries on three classes, as Metric.Logits gives them:
	// every query is classified with confidence 0.96 at T = 1, but only
	// four of the six are right.
	data := []fewshot.Labelled{
		{Logits: []float64{4, 0, 0}, Label: 0},
		{Logits: []float64{4, 0, 0}, Label: 1},
		{Logits: []float64{0, 4, 0}, Label: 1},
		{Logits: []float64{0, 4, 0}, Label: 2},
		{Logits: []float64{0, 0, 4}, Label: 2},
		{Logits: []float64{0, 0, 4}, Label: 2},
	}
	t, err := fewshot.FitTemperature(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	before, _ := fewshot.ComputeReliability(data, 1, fewshot.DefaultBins)
	after, _ := fewshot.ComputeReliability(data, t, fewshot.DefaultBins)
	fmt.Printf("T = %.2f (4/ln 4)\n", t)
	fmt.Printf("confidence %.2f -> %.2f, accuracy %.2f\n", before.Confidence, after.Confidence, after.Accuracy)
	fmt.Printf("ECE %.2f -> %.2f\n", before.ECE, after.ECE)
	// Output:
	// T = 2.89 (4/ln 4)
	// confidence 0.96 -> 0.67, accuracy 0.67
	// ECE 0.30 -> 0.00
}
