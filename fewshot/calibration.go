package fewshot

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fewshot-go/fewshot/onnxio"
)

// Calibration: a model is calibrated when, among the queries it classifies
// with confidence (Prediction.Prob) near p, a fraction p is right.
// Temperature scaling (Guo et al., "On Calibration of Modern Neural
// Networks", 2017) divides every logit by one number T fitted on held-out
// data; it changes confidences, never predictions.

// Labelled is one classified query for calibration: its logits (see
// [Metric.Logits], one per class) and the index of its true class.
type Labelled struct {
	Logits []float64
	Label  int
}

func checkLabelled(data []Labelled) error {
	if len(data) == 0 {
		return errors.New("fewshot: calibration: no labelled queries")
	}
	for i, d := range data {
		if len(d.Logits) < 2 {
			return fmt.Errorf("fewshot: calibration: query %d has %d logits, want at least 2 classes", i, len(d.Logits))
		}
		if d.Label < 0 || d.Label >= len(d.Logits) {
			return fmt.Errorf("fewshot: calibration: query %d has label %d, want 0..%d", i, d.Label, len(d.Logits)-1)
		}
		for _, z := range d.Logits {
			if math.IsNaN(z) || math.IsInf(z, 1) {
				return fmt.Errorf("fewshot: calibration: query %d has logit %v", i, z)
			}
		}
		if math.IsInf(slices.Max(d.Logits), -1) {
			return fmt.Errorf("fewshot: calibration: query %d has no finite logit", i)
		}
	}
	return nil
}

// NLL returns the mean negative log-likelihood of the labels,
// −(1/n) Σ log softmax(Logits/t)[Label], in nats. A label whose logit is
// -Inf gives +Inf.
func NLL(data []Labelled, t float64) (float64, error) {
	if err := checkLabelled(data); err != nil {
		return 0, err
	}
	if err := checkTemperature(t); err != nil {
		return 0, err
	}
	return nll(data, t), nil
}

func nll(data []Labelled, t float64) float64 {
	var sum float64
	z := []float64{}
	for _, d := range data {
		z = z[:0]
		for _, v := range d.Logits {
			z = append(z, v/t)
		}
		sum += logSumExp(z) - z[d.Label]
	}
	return sum / float64(len(data))
}

// FitTemperature returns the temperature in [[MinTemperature],
// [MaxTemperature]] that minimises [NLL] on data. The NLL is a convex
// function of 1/T, so it has one minimum along log T, which a golden-section
// search finds to a relative precision of about 1e-6 in T. The result
// depends only on data.
func FitTemperature(data []Labelled) (float64, error) {
	if err := checkLabelled(data); err != nil {
		return 0, err
	}
	f := func(logT float64) float64 { return nll(data, math.Exp(logT)) }
	a, b := math.Log(MinTemperature), math.Log(MaxTemperature)
	const invPhi = 0.6180339887498949 // (√5 − 1) / 2
	c, d := b-invPhi*(b-a), a+invPhi*(b-a)
	fc, fd := f(c), f(d)
	for b-a > 1e-7 {
		if fc <= fd {
			b, d, fd = d, c, fc
			c = b - invPhi*(b-a)
			fc = f(c)
		} else {
			a, c, fc = c, d, fd
			d = a + invPhi*(b-a)
			fd = f(d)
		}
	}
	return math.Exp((a + b) / 2), nil
}

// ReliabilityBin is one confidence bin of a [Reliability] diagram.
type ReliabilityBin struct {
	// Lower and Upper bound the confidences in the bin: (Lower, Upper],
	// the first bin also holding confidence Lower = 0.
	Lower, Upper float64
	// Count is the number of queries in the bin; Confidence their mean
	// confidence and Accuracy the fraction classified right (both 0 for
	// an empty bin).
	Count      int
	Confidence float64
	Accuracy   float64
}

// Reliability is the calibration of a set of predictions.
type Reliability struct {
	// Bins are the equal-width confidence bins, lowest first.
	Bins []ReliabilityBin
	// ECE is the expected calibration error, Σ_b (n_b / n) |acc_b − conf_b|
	// over the bins: 0 for a perfectly calibrated model.
	ECE float64
	// Accuracy is the fraction of queries whose most probable class is the
	// label; Confidence is their mean confidence.
	Accuracy, Confidence float64
	// N is the number of queries.
	N int
}

// DefaultBins is the number of confidence bins that "fewshot calibrate"
// uses for the expected calibration error, as in Guo et al. (2017).
const DefaultBins = 15

// ComputeReliability bins the queries of data by their confidence, the
// largest of softmax(Logits/t), into bins equal-width bins of [0, 1]
// (confidence c goes to bin ⌈c·bins⌉ − 1, and 0 to the first), and returns
// the bins and the expected calibration error. The prediction is the class
// with the largest logit, the first on a tie, as [Prediction.Label].
func ComputeReliability(data []Labelled, t float64, bins int) (Reliability, error) {
	if err := checkLabelled(data); err != nil {
		return Reliability{}, err
	}
	if err := checkTemperature(t); err != nil {
		return Reliability{}, err
	}
	if bins < 1 || bins > 1000 {
		return Reliability{}, fmt.Errorf("fewshot: calibration: %d bins, want 1 to 1000", bins)
	}
	r := Reliability{Bins: make([]ReliabilityBin, bins), N: len(data)}
	for i := range r.Bins {
		r.Bins[i].Lower, r.Bins[i].Upper = float64(i)/float64(bins), float64(i+1)/float64(bins)
	}
	z := []float64{}
	for _, d := range data {
		z = z[:0]
		for _, v := range d.Logits {
			z = append(z, v/t)
		}
		p := softmax(z)
		best := 0
		for k := range p {
			if p[k] > p[best] {
				best = k
			}
		}
		conf := p[best]
		b := int(math.Ceil(conf*float64(bins))) - 1
		b = max(0, min(bins-1, b))
		r.Bins[b].Count++
		r.Bins[b].Confidence += conf
		r.Confidence += conf
		if best == d.Label {
			r.Bins[b].Accuracy++
			r.Accuracy++
		}
	}
	n := float64(len(data))
	for i := range r.Bins {
		bn := &r.Bins[i]
		if bn.Count == 0 {
			continue
		}
		c := float64(bn.Count)
		r.ECE += math.Abs(bn.Accuracy-bn.Confidence) / n
		bn.Confidence /= c
		bn.Accuracy /= c
	}
	r.Accuracy /= n
	r.Confidence /= n
	return r, nil
}

// SetTemperature returns the serialized ONNX model b with its
// [KeyTemperature] metadata set to t (replacing any it had), everything
// else kept: graph, weights, header and the other metadata entries, in
// their order. b must load as a fewshot model, and so must the result.
func SetTemperature(b []byte, t float64, opts ...ModelOption) ([]byte, error) {
	if err := checkTemperature(t); err != nil {
		return nil, err
	}
	o := buildModelOptions(opts)
	if _, err := parseModel(b, o); err != nil {
		return nil, err
	}
	pm, err := onnxio.DecodeBytes(b, onnxio.WithLimits(o.limits))
	if err != nil {
		return nil, fmt.Errorf("fewshot: decoding model: %w", err)
	}
	props := make([]onnxio.StringStringEntry, 0, len(pm.MetadataProps)+1)
	for _, e := range pm.MetadataProps {
		if e.Key != KeyTemperature {
			props = append(props, e)
		}
	}
	pm.MetadataProps = append(props, onnxio.StringStringEntry{Key: KeyTemperature, Value: FormatTemperature(t)})
	out, err := pm.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("fewshot: encoding model: %w", err)
	}
	o.temperature = 0 // the file's, which must now be t
	m, err := parseModel(out, o)
	if err != nil {
		return nil, fmt.Errorf("fewshot: the model with temperature %v does not load: %w", t, err)
	}
	if m.Temperature() != t {
		return nil, fmt.Errorf("fewshot: the model written with temperature %v reads back %v", t, m.Temperature())
	}
	return out, nil
}
