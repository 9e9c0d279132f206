// Package progress reports the progress of long loops (training episodes,
// evaluation tasks, images sorted) to a writer, usually standard error.
//
// On a terminal it draws a live bar with the count, rate and estimated time
// left. Anywhere else (a log file, a CI job, a pipe) it prints a plain line
// now and then instead, such as
//
//	episode 1200/20000 (6%) loss 0.41 acc 0.88 12.5/s ETA 22m24s
//
// or, with [Options.JSON], the same facts as one JSON object per line. Quiet
// mode prints nothing. A nil *Bar is valid and does nothing, so callers can
// keep one code path whether or not they report progress.
package progress

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Options adjusts a [Bar]. The zero value chooses the display from the
// writer and uses the default intervals.
type Options struct {
	// Quiet prints nothing at all.
	Quiet bool
	// JSON prints one JSON object per report instead of a text line, and
	// never draws a terminal bar. The object holds "label", "done",
	// "total" (when known), "percent", "rate" (per second), "eta_s",
	// "elapsed_s", "finished" (on the last line) and the fields.
	JSON bool
	// Plain prints plain lines even on a terminal.
	Plain bool
	// Every is the longest time between two plain lines; 0 means
	// [DefaultEvery].
	Every time.Duration
	// Step is the progress, in percent of the total, after which a plain
	// line is printed even if Every has not passed; 0 means [DefaultStep],
	// a negative value disables it.
	Step int
}

// Defaults for [Options].
const (
	DefaultEvery = 30 * time.Second
	DefaultStep  = 10
)

// Field is a named value shown next to the count, such as the current loss.
type Field struct {
	Key   string
	Value any
}

// F returns a Field; it keeps call sites short:
// p.Add(1, progress.F("loss", loss)).
func F(key string, value any) Field { return Field{key, value} }

// Bar reports the progress of one loop. Its methods are safe for concurrent
// use, and do nothing on a nil *Bar.
type Bar struct {
	mu     sync.Mutex
	w      io.Writer
	label  string
	total  int64
	opt    Options
	bar    *progressbar.ProgressBar // non-nil on a terminal
	now    func() time.Time         // replaced in tests
	start  time.Time
	last   time.Time // when the last plain line was printed
	done   int64
	step   int64 // the Step bucket of the last plain line
	fields []Field
	ended  bool
}

// New returns a Bar that reports to w on the progress of a loop of total
// units (total <= 0 means unknown), labelled label (e.g. "episode"). Call
// [Bar.Finish] when the loop ends, also when it stops early: a terminal
// bar of unknown length animates from a goroutine until then.
func New(w io.Writer, total int64, label string, opt Options) *Bar {
	if opt.Every <= 0 {
		opt.Every = DefaultEvery
	}
	if opt.Step == 0 {
		opt.Step = DefaultStep
	}
	b := &Bar{w: w, label: label, total: total, opt: opt, now: time.Now}
	b.start = b.now()
	b.last = b.start
	if !opt.Quiet && !opt.JSON && !opt.Plain && isTerminal(w) {
		limit := total
		if limit <= 0 {
			limit = -1 // progressbar's "length unknown"
		}
		b.bar = progressbar.NewOptions64(limit,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription(label),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString(label),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionFullWidth(),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		)
	}
	return b
}

// isTerminal reports whether w writes to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// Add records n more units done and the latest values of fields (a field
// keeps its last value until it is given again), and reports if it is time.
func (b *Bar) Add(n int, fields ...Field) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.done += int64(n)
	b.merge(fields)
	switch {
	case b.opt.Quiet:
	case b.bar != nil:
		if len(fields) > 0 {
			b.bar.Describe(b.label + b.fieldText())
		}
		b.bar.Add64(int64(n))
	default:
		now := b.now()
		due := now.Sub(b.last) >= b.opt.Every
		if b.total > 0 && b.opt.Step > 0 && b.done < b.total {
			s := b.done * 100 / b.total / int64(b.opt.Step)
			due = due || s > b.step
		}
		if due {
			b.report(now, false)
		}
	}
}

// merge updates the stored fields with new values, keeping first-seen order.
func (b *Bar) merge(fields []Field) {
next:
	for _, f := range fields {
		for i := range b.fields {
			if b.fields[i].Key == f.Key {
				b.fields[i].Value = f.Value
				continue next
			}
		}
		b.fields = append(b.fields, f)
	}
}

// Println prints a message on its own line without garbling a terminal bar,
// which is redrawn after it; in quiet mode it prints nothing.
func (b *Bar) Println(a ...any) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.opt.Quiet {
		return
	}
	if b.bar != nil && !b.ended {
		b.bar.Clear()
		fmt.Fprintln(b.w, a...)
		b.bar.RenderBlank()
		return
	}
	fmt.Fprintln(b.w, a...)
}

// Finish ends the report: the terminal bar is completed, or a last plain
// line gives the totals and the elapsed time. Later calls do nothing.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended {
		return
	}
	b.ended = true
	switch {
	case b.opt.Quiet:
	case b.bar != nil:
		if b.total <= 0 {
			// An unknown length never completes on its own.
			b.bar.Finish()
		} else if b.done < b.total {
			// Stopped early (an error or Ctrl-C): leave the bar where it
			// is rather than claiming completion.
			b.bar.Exit()
		} else {
			b.bar.Finish()
		}
	default:
		b.report(b.now(), true)
	}
}

// report prints one plain or JSON line; b.mu is held.
func (b *Bar) report(now time.Time, final bool) {
	b.last = now
	if b.total > 0 && b.opt.Step > 0 {
		b.step = b.done * 100 / b.total / int64(b.opt.Step)
	}
	elapsed := now.Sub(b.start)
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(b.done) / s
	}
	var eta time.Duration
	etaKnown := b.total > 0 && rate > 0 && !final
	if etaKnown {
		eta = time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
	}
	if b.opt.JSON {
		b.reportJSON(elapsed, rate, eta, etaKnown, final)
		return
	}
	var sb strings.Builder
	sb.WriteString(b.label)
	if b.label != "" {
		sb.WriteByte(' ')
	}
	if b.total > 0 {
		fmt.Fprintf(&sb, "%d/%d (%d%%)", b.done, b.total, b.done*100/b.total)
	} else {
		fmt.Fprintf(&sb, "%d", b.done)
	}
	sb.WriteString(b.fieldText())
	if rate > 0 {
		fmt.Fprintf(&sb, " %s/s", formatFloat(rate))
	}
	if final {
		fmt.Fprintf(&sb, " done in %s", formatDuration(elapsed))
	} else if etaKnown {
		fmt.Fprintf(&sb, " ETA %s", formatDuration(eta))
	}
	sb.WriteByte('\n')
	io.WriteString(b.w, sb.String())
}

func (b *Bar) reportJSON(elapsed time.Duration, rate float64, eta time.Duration, etaKnown, final bool) {
	// Build the object by hand so the keys keep a stable, readable order.
	var sb strings.Builder
	sb.WriteString(`{"label":`)
	writeJSON(&sb, b.label)
	fmt.Fprintf(&sb, `,"done":%d`, b.done)
	if b.total > 0 {
		fmt.Fprintf(&sb, `,"total":%d,"percent":%s`, b.total,
			strconv.FormatFloat(float64(b.done)*100/float64(b.total), 'f', 1, 64))
	}
	fmt.Fprintf(&sb, `,"rate":%s,"elapsed_s":%s`,
		strconv.FormatFloat(rate, 'g', 4, 64), strconv.FormatFloat(elapsed.Seconds(), 'f', 1, 64))
	if etaKnown {
		fmt.Fprintf(&sb, `,"eta_s":%s`, strconv.FormatFloat(eta.Seconds(), 'f', 0, 64))
	}
	if final {
		sb.WriteString(`,"finished":true`)
	}
	for _, f := range b.fields {
		sb.WriteByte(',')
		writeJSON(&sb, f.Key)
		sb.WriteByte(':')
		writeJSON(&sb, f.Value)
	}
	sb.WriteString("}\n")
	io.WriteString(b.w, sb.String())
}

// writeJSON writes v as JSON; values JSON cannot hold (NaN, channels) are
// written as strings so a report line is always valid JSON.
func writeJSON(sb *strings.Builder, v any) {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			v = strconv.FormatFloat(x, 'g', -1, 64)
		}
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			v = strconv.FormatFloat(float64(x), 'g', -1, 32)
		}
	}
	j, err := json.Marshal(v)
	if err != nil {
		j, _ = json.Marshal(fmt.Sprint(v))
	}
	sb.Write(j)
}

// fieldText renders the fields as " key value key value".
func (b *Bar) fieldText() string {
	var sb strings.Builder
	for _, f := range b.fields {
		sb.WriteByte(' ')
		sb.WriteString(f.Key)
		sb.WriteByte(' ')
		switch x := f.Value.(type) {
		case float64:
			sb.WriteString(formatFloat(x))
		case float32:
			sb.WriteString(formatFloat(float64(x)))
		default:
			fmt.Fprint(&sb, x)
		}
	}
	return sb.String()
}

// formatFloat prints a metric with about three significant digits, without
// switching to exponent notation for ordinary magnitudes.
func formatFloat(x float64) string {
	a := math.Abs(x)
	switch {
	case a >= 100 && a < 1e9:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 1e-3 || a == 0:
		return strconv.FormatFloat(x, 'g', 3, 64)
	}
	return strconv.FormatFloat(x, 'g', 2, 64)
}

// formatDuration prints a duration in the two most significant units:
// "41m", "1h05m", "12s", "2m30s".
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d/time.Minute)%60, int(d/time.Second)%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0 && s == 0:
		return fmt.Sprintf("%dm", m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}
