package plot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Sample is one value of a metric at a point of training.
type Sample struct {
	Episode float64
	Value   float64
}

// ValSample is one validation result.
type ValSample struct {
	Episode float64
	// Acc is the mean validation accuracy; CI95 the half-width of its 95 %
	// confidence interval, 0 when the log gives none.
	Acc, CI95 float64
}

// Run is the metrics of one training run, read from its metrics log. Every
// series is sorted by episode (stably, so a resumed run that logged an
// episode twice keeps both in log order).
type Run struct {
	// Name labels the run in legends.
	Name string
	// Path is the log the run was read from ("" if read from a reader
	// without a name).
	Path string
	// Loss, Acc (training accuracy) and LR are the training-step series.
	Loss, Acc, LR []Sample
	// Val holds the validation results.
	Val []ValSample
}

// maxLine bounds one log line; the train command's lines are a few hundred
// bytes, so anything near this is not a metrics log.
const maxLine = 1 << 20

// ReadLog reads the metrics log at path (see [ParseLog]); name labels the
// run and defaults to [DefaultName] of path.
func ReadLog(name, path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	if name == "" {
		name = DefaultName(path)
	}
	run, err := ParseLog(f, path)
	if err != nil {
		return nil, err
	}
	run.Name, run.Path = name, path
	return run, nil
}

// ParseLog reads a metrics log: JSON objects, one per line, as the train
// command writes them. The fields read are "episode", "loss", "acc", "lr"
// and, on validation lines, "val_acc" and "val_ci95"; other fields are
// ignored. A line without "episode" (a header, say) is skipped, and so is
// each metric that a line lacks, holds null, or holds a non-finite value
// (written as a string such as "NaN"). Blank lines are skipped. Anything
// else (a line that is not a JSON object, a metric that is not a number) is
// an error naming file and line; file is only used in such messages.
func ParseLog(r io.Reader, file string) (*Run, error) {
	if file == "" {
		file = "metrics log"
	}
	run := &Run{}
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := readLine(br)
		if err == io.EOF && b == nil {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		if err := run.parseLine(b); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
	}
	for _, s := range [][]Sample{run.Loss, run.Acc, run.LR} {
		sort.SliceStable(s, func(i, j int) bool { return s[i].Episode < s[j].Episode })
	}
	sort.SliceStable(run.Val, func(i, j int) bool { return run.Val[i].Episode < run.Val[j].Episode })
	return run, nil
}

// readLine returns the next line without its end-of-line bytes; nil and
// io.EOF at the end.
func readLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxLine {
			return nil, fmt.Errorf("line longer than %d bytes", maxLine)
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(line) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimRight(line, "\r\n"), nil
		case nil:
			return bytes.TrimRight(line, "\r\n"), nil
		default:
			return nil, err
		}
	}
}

func (run *Run) parseLine(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil
	}
	if b[0] != '{' {
		return fmt.Errorf("not a JSON object: %s", clip(b))
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("malformed JSON: %v", err)
	}
	get := func(key string) (float64, bool, error) {
		raw, ok := m[key]
		if !ok {
			return 0, false, nil
		}
		v, ok, err := number(raw)
		if err != nil {
			return 0, false, fmt.Errorf("field %q: %v", key, err)
		}
		return v, ok, nil
	}
	ep, ok, err := get("episode")
	if err != nil || !ok {
		return err
	}
	for _, f := range []struct {
		key string
		dst *[]Sample
	}{{"loss", &run.Loss}, {"acc", &run.Acc}, {"lr", &run.LR}} {
		v, ok, err := get(f.key)
		if err != nil {
			return err
		}
		if ok {
			*f.dst = append(*f.dst, Sample{ep, v})
		}
	}
	acc, ok, err := get("val_acc")
	if err != nil {
		return err
	}
	ci, _, err := get("val_ci95")
	if err != nil {
		return err
	}
	if ok {
		run.Val = append(run.Val, ValSample{ep, acc, ci})
	}
	return nil
}

// number decodes a JSON number; null and non-finite values written as
// strings ("NaN", "Inf", "-Infinity", ...) give ok = false.
func number(raw json.RawMessage) (v float64, ok bool, err error) {
	s := strings.TrimSpace(string(raw))
	if s == "null" {
		return 0, false, nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if json.Unmarshal(raw, &str) == nil {
			if f, perr := strconv.ParseFloat(str, 64); perr == nil && (math.IsNaN(f) || math.IsInf(f, 0)) {
				return 0, false, nil
			}
		}
		return 0, false, fmt.Errorf("want a number, got %s", clip(raw))
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, false, fmt.Errorf("want a number, got %s", clip(raw))
	}
	return v, true, nil
}

// clip shortens b for an error message.
func clip(b []byte) string {
	const n = 60
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}

// DefaultName names a run after its log: the name of the folder holding
// it (runs/omniglot-5w1s/metrics.jsonl gives "omniglot-5w1s"), or the file
// name without its extension when the log sits in the current folder or a
// filesystem root.
func DefaultName(path string) string {
	dir := filepath.Dir(filepath.Clean(path))
	if dir == "." || filepath.Base(dir) == string(filepath.Separator) {
		base := filepath.Base(path)
		return strings.TrimSuffix(base, filepath.Ext(base))
	}
	return filepath.Base(dir)
}

// ParseLogArg splits a command-line log argument "name=path" into its parts;
// a plain path gives name "". The part before the first "=" counts as a
// name only if it is non-empty and holds no path separator, so
// "runs/a=b/metrics.jsonl" is a path.
func ParseLogArg(s string) (name, path string) {
	i := strings.IndexByte(s, '=')
	if i <= 0 || strings.ContainsAny(s[:i], `/\`) {
		return "", s
	}
	return s[:i], s[i+1:]
}
