package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// reportHeader is the first row of the CSV report.
var reportHeader = []string{"file", "label", "confidence", "runner_up", "runner_up_confidence", "destination", "error"}

// writeReport writes results as CSV to path. It writes a temporary file
// beside path and renames it, so path holds either its old content or the
// complete report.
func writeReport(path string, results []Result) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern)
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("writing the report %s: %w", path, err)
		}
	}()
	w := csv.NewWriter(f)
	w.Write(reportHeader)
	for _, r := range results {
		row := []string{r.File, r.Label, prob(r.Prob, r.Label), r.RunnerUp, prob(r.RunnerUpProb, r.RunnerUp), r.Dest, ""}
		if r.Err != nil {
			row[6] = r.Err.Error()
		}
		w.Write(row)
	}
	if w.Flush(); w.Error() != nil {
		return w.Error()
	}
	// CreateTemp makes the file private; a report is an ordinary file.
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// prob formats a probability, or nothing when there is no label for it.
func prob(p float64, label string) string {
	if label == "" {
		return ""
	}
	return strconv.FormatFloat(p, 'f', 4, 64)
}
