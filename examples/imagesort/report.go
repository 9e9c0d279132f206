package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
)

// reportHeader is the first row of the CSV report.
var reportHeader = []string{"file", "label", "confidence", "runner_up", "runner_up_confidence", "destination", "error"}

// writeReport writes results as CSV to path. It writes a temporary file
// beside path and renames it, so path holds either its old content or the
// complete report.
func writeReport(path string, results []Result) error {
	err := atomicfile.Write(path, 0o644, func(f io.Writer) error {
		w := csv.NewWriter(f)
		w.Write(reportHeader)
		for _, r := range results {
			row := []string{r.File, r.Label, prob(r.Prob, r.Label), r.RunnerUp, prob(r.RunnerUpProb, r.RunnerUp), r.Dest, ""}
			if r.Err != nil {
				row[6] = r.Err.Error()
			}
			w.Write(row)
		}
		// A failed Write is remembered; Error reports it after the Flush.
		w.Flush()
		return w.Error()
	})
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

// prob formats a probability, or nothing when there is no label for it.
func prob(p float64, label string) string {
	if label == "" {
		return ""
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}
