package train

import (
	"fmt"

	"github.com/fewshot-go/fewshot/episode"
	"github.com/fewshot-go/fewshot/export"
	"github.com/fewshot-go/fewshot/fewshot"
)

// ExportSpec describes a's trained model for package export, so that it
// can be written as an ONNX file for package fewshot: the embedding network
// (and for the relation learners the relation module) with the current
// weights and batch-norm running statistics, pre as the image transform and
// the metric the algorithm classifies with. trainingData is free text for
// the model's metadata.
//
// The exported model classifies without test-time adaptation: for
// maml-proto and maml-relation that is the metric learner at the
// meta-learned weights. For meta-lstm it is the learner's Conv-4 embedding
// at its meta-learned initial weights θ_0, classifying by the nearest
// support mean (Euclidean): not the model the method evaluates, which
// adapts the whole learner (head included) with the meta-learner LSTM on
// each task's supports; the model's algorithm field and description say
// so (see [ExportWarning]). MAML with a linear head and Matching Networks with a
// similarity scale other than 1 have no exported form and return an error.
func ExportSpec(a Algorithm, pre episode.Preprocess, trainingData string) (export.Spec, error) {
	spec := a.Spec()
	nets := a.Networks()
	s := export.Spec{Preprocess: pre, Algorithm: spec.Algo, TrainingData: trainingData,
		Description: fmt.Sprintf("fewshot %s model, %d×%d×%d input", spec.Algo, spec.InChannels, spec.Height, spec.Width)}
	switch spec.Algo {
	case "proto", "l2g-proto", "maml-proto":
		s.Metric = fewshot.Euclidean
	case "matching":
		if spec.Scale != 0 && spec.Scale != 1 {
			return export.Spec{}, fmt.Errorf("train: matching network with similarity scale %g cannot be exported (the cosine metric is unscaled)", spec.Scale)
		}
		s.Metric = fewshot.Cosine
	case "relation", "l2g-relation", "maml-relation":
		s.Metric = fewshot.Relation
		rel, err := export.FromNetwork(nets[1])
		if err != nil {
			return export.Spec{}, err
		}
		s.Relation = rel
	case "meta-lstm":
		s.Metric = fewshot.Euclidean
		s.Algorithm = "meta-lstm (initial embedding only, not the evaluated model)"
		s.Description += ". " + ExportWarning(spec.Algo)
	default:
		return export.Spec{}, fmt.Errorf("train: %s models have no exported form (only metric-based learners do)", spec.Algo)
	}
	if c, h, w := pre.Channels, pre.Height, pre.Width; c != spec.InChannels || h != spec.Height || w != spec.Width {
		return export.Spec{}, fmt.Errorf("train: preprocessing gives %d×%d×%d images, the network takes %d×%d×%d", c, h, w, spec.InChannels, spec.Height, spec.Width)
	}
	emb, err := export.FromNetwork(nets[0])
	if err != nil {
		return export.Spec{}, err
	}
	s.Embedding = emb
	return s, nil
}

// ExportWarning returns a warning for an algorithm whose exported model is
// not the model it evaluates, for programs to show when they export one,
// or "" when the export is the model (or there is none). Only meta-lstm has
// one: its export is the embedding without the meta-learner's updates.
func ExportWarning(algo string) string {
	if algo == "meta-lstm" {
		return "Warning: NOT the model meta-lstm evaluates. This is the learner's Conv-4 embedding at its meta-learned " +
			"initial weights, classifying by the nearest support mean (Euclidean) with no meta-learner updates on the " +
			"supports and no linear head; evaluate the method itself with fewshot eval --checkpoint"
	}
	return ""
}

// ExportFile writes a's model as an ONNX file at path (atomically); see
// [ExportSpec].
func ExportFile(path string, a Algorithm, pre episode.Preprocess, trainingData string) error {
	s, err := ExportSpec(a, pre, trainingData)
	if err != nil {
		return err
	}
	m, err := export.Model(s)
	if err != nil {
		return err
	}
	return export.WriteFile(path, m)
}
