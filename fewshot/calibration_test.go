package fewshot_test

import (
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/fewshot"
	"github.com/fewshot-go/fewshot/onnxio"
)

// syntheticLogits draws n queries of k classes with random logits z and a
// label drawn from softmax(z / t0).
func syntheticLogits(seed uint64, n, k int, t0 float64) []fewshot.Labelled {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]fewshot.Labelled, n)
	for i := range out {
		z := make([]float64, k)
		for j := range z {
			z[j] = 3 * rng.NormFloat64()
		}
		m := math.Inf(-1)
		for _, v := range z {
			m = max(m, v/t0)
		}
		p := make([]float64, k)
		var s float64
		for j, v := range z {
			p[j] = math.Exp(v/t0 - m)
			s += p[j]
		}
		u := rng.Float64() * s
		label := k - 1
		for j, v := range p {
			if u < v {
				label = j
				break
			}
			u -= v
		}
		out[i] = fewshot.Labelled{Logits: z, Label: label}
	}
	return out
}

func TestFitTemperatureRecoversT0(t *testing.T) {
	for _, t0 := range []float64{0.5, 1, 2.5, 8} {
		data := syntheticLogits(uint64(t0*10), 20000, 5, t0)
		got, err := fewshot.FitTemperature(data)
		if err != nil {
			t.Fatal(err)
		}
		// The maximum-likelihood estimate from 20000 draws is within a
		// few per cent of the truth.
		if math.Abs(got/t0-1) > 0.06 {
			t.Errorf("T0 = %v: fitted %v", t0, got)
		}
		// The fit is the minimum of the NLL: nudging it either way costs.
		at, _ := fewshot.NLL(data, got)
		for _, f := range []float64{0.98, 1.02} {
			if v, _ := fewshot.NLL(data, got*f); v < at-1e-12 {
				t.Errorf("T0 = %v: NLL(%v) = %v < NLL(fit %v) = %v", t0, got*f, v, got, at)
			}
		}
		// Deterministic.
		if again, _ := fewshot.FitTemperature(data); again != got {
			t.Errorf("second fit %v, first %v", again, got)
		}
		// Calibration improves: the ECE at the fit is below that at 1
		// when T0 is far from 1.
		if t0 != 1 {
			before, _ := fewshot.ComputeReliability(data, 1, fewshot.DefaultBins)
			after, _ := fewshot.ComputeReliability(data, got, fewshot.DefaultBins)
			if after.ECE >= before.ECE || after.ECE > 0.02 {
				t.Errorf("T0 = %v: ECE %v at T = 1, %v at the fit", t0, before.ECE, after.ECE)
			}
			if after.Accuracy != before.Accuracy {
				t.Errorf("temperature changed the accuracy: %v → %v", before.Accuracy, after.Accuracy)
			}
		}
	}
}

func TestReliabilityHandComputed(t *testing.T) {
	// Two classes; logits [log p, log(1-p)] give confidence max(p, 1-p).
	q := func(p float64, label int) fewshot.Labelled {
		return fewshot.Labelled{Logits: []float64{math.Log(p), math.Log(1 - p)}, Label: label}
	}
	data := []fewshot.Labelled{
		q(0.9, 0), q(0.9, 0), q(0.9, 1), q(0.9, 0), // conf 0.9, 3 of 4 right
		q(0.3, 1), q(0.3, 0), // conf 0.7 (class 1 predicted), 1 of 2 right
		q(0.5, 0), // tie: class 0 predicted, conf 0.5, right
	}
	r, err := fewshot.ComputeReliability(data, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	// Bins (0.4, 0.5], (0.6, 0.7], (0.8, 0.9]:
	// ECE = 1/7·|1 − 0.5| + 2/7·|0.5 − 0.7| + 4/7·|0.75 − 0.9|
	want := (0.5 + 2*0.2 + 4*0.15) / 7
	if math.Abs(r.ECE-want) > 1e-12 {
		t.Errorf("ECE %v, want %v", r.ECE, want)
	}
	for i, c := range map[int]int{4: 1, 6: 2, 8: 4} {
		if r.Bins[i].Count != c {
			t.Errorf("bin %d holds %d, want %d (bins %+v)", i, r.Bins[i].Count, c, r.Bins)
		}
	}
	if b := r.Bins[8]; math.Abs(b.Accuracy-0.75) > 1e-12 || math.Abs(b.Confidence-0.9) > 1e-12 || b.Lower != 0.8 || b.Upper != 0.9 {
		t.Errorf("bin 8 %+v, want (0.8, 0.9] acc 0.75 conf 0.9", b)
	}
	if r.N != 7 || math.Abs(r.Accuracy-5.0/7) > 1e-12 {
		t.Errorf("n %d accuracy %v, want 7 and 5/7", r.N, r.Accuracy)
	}
	// NLL by hand at T = 1.
	wantNLL := -(3*math.Log(0.9) + math.Log(0.1) + math.Log(0.7) + math.Log(0.3) + math.Log(0.5)) / 7
	if got, _ := fewshot.NLL(data, 1); math.Abs(got-wantNLL) > 1e-12 {
		t.Errorf("NLL %v, want %v", got, wantNLL)
	}
	for _, bad := range [][]fewshot.Labelled{nil, {{Logits: []float64{1}, Label: 0}}, {{Logits: []float64{1, 2}, Label: 2}},
		{{Logits: []float64{math.NaN(), 2}, Label: 0}}} {
		if _, err := fewshot.FitTemperature(bad); err == nil {
			t.Errorf("FitTemperature(%v): no error", bad)
		}
	}
	if _, err := fewshot.ComputeReliability(data, 1, 0); err == nil {
		t.Error("0 bins: no error")
	}
}

// withMetadata returns model bytes b with the metadata entry key = value
// added (or replaced).
func withMetadata(t *testing.T, b []byte, key, value string) []byte {
	t.Helper()
	pm, err := onnxio.DecodeBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var props []onnxio.StringStringEntry
	for _, e := range pm.MetadataProps {
		if e.Key != key {
			props = append(props, e)
		}
	}
	pm.MetadataProps = append(props, onnxio.StringStringEntry{Key: key, Value: value})
	out, err := pm.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTemperatureMetadata(t *testing.T) {
	b := modelBytes(t, 3, smallRGB, fewshot.Euclidean, 2, 8)
	m, err := fewshot.ParseModel(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Temperature() != 1 || m.Info().Temperature != 1 {
		t.Errorf("model without %s: temperature %v, want 1", fewshot.KeyTemperature, m.Temperature())
	}
	cal, err := fewshot.SetTemperature(b, 2.375)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := fewshot.ParseModel(cal)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Temperature() != 2.375 {
		t.Errorf("temperature %v after SetTemperature(2.375)", mc.Temperature())
	}
	// Everything else is kept: the other metadata, in order, and the graph.
	p0, _ := onnxio.DecodeBytes(b)
	p1, _ := onnxio.DecodeBytes(cal)
	if len(p1.MetadataProps) != len(p0.MetadataProps)+1 {
		t.Fatalf("metadata %v, want %v plus the temperature", p1.MetadataProps, p0.MetadataProps)
	}
	for i, e := range p0.MetadataProps {
		if p1.MetadataProps[i] != e {
			t.Errorf("metadata %d: %v, want %v", i, p1.MetadataProps[i], e)
		}
	}
	p1.MetadataProps = p0.MetadataProps
	if g0, _ := p0.MarshalBinary(); string(g0) != string(b) {
		t.Fatal("re-encoding the test model changes it") // the premise of the next check
	}
	if g1, _ := p1.MarshalBinary(); string(g1) != string(b) {
		t.Error("SetTemperature changed more than the metadata")
	}
	// Setting it again replaces the entry.
	cal2, err := fewshot.SetTemperature(cal, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if p2, _ := onnxio.DecodeBytes(cal2); len(p2.MetadataProps) != len(p0.MetadataProps)+1 {
		t.Errorf("second SetTemperature: %d entries", len(p2.MetadataProps))
	}
	// The option overrides the file.
	mo, err := fewshot.ParseModel(cal, fewshot.WithTemperature(1))
	if err != nil || mo.Temperature() != 1 {
		t.Errorf("WithTemperature(1): %v, %v", mo, err)
	}
	// Invalid values name the key and the value.
	for _, v := range []string{"0", "-1", "NaN", "Inf", "+Inf", "-Inf", "abc", "", "1e-9", "1e9", "1e400", "2,5"} {
		_, err := fewshot.ParseModel(withMetadata(t, b, fewshot.KeyTemperature, v))
		if err == nil {
			t.Errorf("temperature %q: no error", v)
			continue
		}
		if !strings.Contains(err.Error(), fewshot.KeyTemperature) || !strings.Contains(err.Error(), `"`+v+`"`) {
			t.Errorf("temperature %q: error %q does not name the key and value", v, err)
		}
	}
	for _, v := range []float64{0, -1, math.NaN(), math.Inf(1), 1e-4, 1e4} {
		if _, err := fewshot.ParseModel(b, fewshot.WithTemperature(v)); err == nil {
			t.Errorf("WithTemperature(%v): no error", v)
		}
		if _, err := fewshot.SetTemperature(b, v); err == nil {
			t.Errorf("SetTemperature(%v): no error", v)
		}
	}
	if _, err := fewshot.SetTemperature([]byte("not a model"), 2); err == nil {
		t.Error("SetTemperature on garbage: no error")
	}
	// ModelInfo.Metadata writes the key only for T ≠ 1.
	info := m.Info()
	md, _ := info.Metadata()
	for _, e := range md {
		if e.Key == fewshot.KeyTemperature {
			t.Errorf("Metadata at T = 1 writes %v", e)
		}
	}
	info.Temperature = 1.5
	md, _ = info.Metadata()
	if e := md[len(md)-1]; e.Key != fewshot.KeyTemperature || e.Value != "1.5" {
		t.Errorf("Metadata at T = 1.5 ends with %v", e)
	}
	info.Temperature = -2
	if _, err := info.Metadata(); err == nil {
		t.Error("Metadata with T = -2: no error")
	}
}

// Probs = softmax(logits / T) for every metric; T = 1 is the metric's rule
// (checked against it in TestEuclideanScores and TestRelation) and never
// changes the predicted label.
func TestTemperatureProbs(t *testing.T) {
	relPre := episode.Preprocess{Width: 16, Height: 16, Channels: 1, Invert: true}
	for _, c := range []struct {
		metric fewshot.Metric
		pre    episode.Preprocess
	}{{fewshot.Euclidean, smallRGB}, {fewshot.Cosine, smallRGB}, {fewshot.Relation, relPre}} {
		t.Run(string(c.metric), func(t *testing.T) {
			b := modelBytes(t, 5, c.pre, c.metric, 2, 8)
			sup, byClass := task(6, 4, 2, 16, 16)
			queries := []image.Image{byClass[0][0], byClass[3][1], noise(rand.New(rand.NewPCG(1, 2)), 16, 16)}
			base, err := newClassifier(t, b).Classify(sup, queries)
			if err != nil {
				t.Fatal(err)
			}
			// T = 1, written explicitly, gives bit-identical probabilities.
			one, err := fewshot.SetTemperature(b, 1)
			if err != nil {
				t.Fatal(err)
			}
			same, err := newClassifier(t, one).Classify(sup, queries)
			if err != nil {
				t.Fatal(err)
			}
			for q := range same {
				if !slices.Equal(same[q].Probs, base[q].Probs) || same[q].Prob != base[q].Prob {
					t.Errorf("T = 1 in metadata: query %d probs %v, without it %v", q, same[q].Probs, base[q].Probs)
				}
			}
			for _, temp := range []float64{0.25, 3} {
				cal, err := fewshot.SetTemperature(b, temp)
				if err != nil {
					t.Fatal(err)
				}
				preds, err := newClassifier(t, cal).Classify(sup, queries)
				if err != nil {
					t.Fatal(err)
				}
				for q, p := range preds {
					if p.Label != base[q].Label {
						t.Errorf("T = %v: query %d label %s, at T = 1 %s", temp, q, p.Label, base[q].Label)
					}
					z := c.metric.Logits(p.Scores)
					var s float64
					for k := range z {
						s += math.Exp(z[k] / temp)
					}
					for k := range z {
						if want := math.Exp(z[k]/temp) / s; math.Abs(p.Probs[k]-want) > 1e-9 {
							t.Errorf("T = %v: query %d prob %d = %v, want %v", temp, q, k, p.Probs[k], want)
						}
						if math.Abs(p.Scores[k]-base[q].Scores[k]) > 1e-9 {
							t.Errorf("T = %v changed score %d/%d", temp, q, k)
						}
					}
					// Sharper below 1, flatter above.
					if (temp < 1) != (p.Prob >= base[q].Prob) {
						t.Errorf("T = %v: confidence %v, at T = 1 %v", temp, p.Prob, base[q].Prob)
					}
				}
			}
		})
	}
}

func TestTemperatureErrorsAreNotPanics(t *testing.T) {
	b := modelBytes(t, 3, smallRGB, fewshot.Euclidean, 2, 8)
	_, err := fewshot.ParseModel(withMetadata(t, b, fewshot.KeyTemperature, "NaN"))
	if err == nil || errors.Is(err, fewshot.ErrNoPreprocess) {
		t.Errorf("error %v", err)
	}
}
