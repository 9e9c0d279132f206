package fewshot

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
)

// models holds the trained default models. The folder always contains its
// README, so the pattern matches even before any model has been trained.
//
//go:embed models
var models embed.FS

// File names, inside fewshot/models, of the default models.
const (
	defaultOmniglotFile = "omniglot-proto.onnx"
	defaultPhotoFile    = "mini-imagenet-proto-20way.onnx"
)

// ErrNoDefaultModel is wrapped by the error of a default model that is not
// built into this version of the package.
var ErrNoDefaultModel = errors.New("fewshot: default model not available")

type lazyModel struct {
	once sync.Once
	m    *Model
}

var defaultOmniglot, defaultPhoto lazyModel

func (l *lazyModel) get(file, what string) *Model {
	l.once.Do(func() {
		b, err := fs.ReadFile(models, "models/"+file)
		if err != nil {
			l.m = &Model{err: fmt.Errorf("%w: %s (models/%s) is not built into this version", ErrNoDefaultModel, what, file)}
			return
		}
		m, err := ParseModel(b)
		if err != nil {
			m = &Model{err: fmt.Errorf("fewshot: the built-in %s (models/%s) does not load: %w", what, file, err)}
		}
		l.m = m
	})
	return l.m
}

// DefaultModel returns the built-in model for handwritten characters: a
// Conv-4 Prototypical Network trained on Omniglot (28×28 grayscale, inverted
// so strokes are bright). It is loaded on first use and shared.
//
// If the model is not built into this version, or fails to load, the
// returned Model carries the error and [New] returns it (wrapping
// [ErrNoDefaultModel] when the file is absent); this keeps the one-line
// form fewshot.New(fewshot.DefaultModel()) correct.
func DefaultModel() *Model {
	return defaultOmniglot.get(defaultOmniglotFile, "default Omniglot model")
}

// DefaultPhotoModel returns the built-in model for natural photos: a Conv-4
// Prototypical Network trained on the mini-ImageNet train classes (84×84
// RGB). Errors are reported as for [DefaultModel].
//
// This version's photo model is still well below published Conv-4 results:
// trained for 4000 episodes of 20-way 5-shot on two CPU cores (a run in
// progress), it reaches 57 % on 5-way 5-shot tasks of unseen mini-ImageNet
// classes and 37 % at 5-way 1-shot (chance is 20 %; published ProtoNet: 68 %
// and 49 %; docs/RESULTS.md). For real photo work, import a pretrained
// backbone with [ImportBackbone] or train your own with "fewshot train".
//
// Its probabilities are calibrated: the file carries a temperature
// ([KeyTemperature], [Model.Temperature]) fitted with "fewshot calibrate" on
// 5-way 5-shot mini-ImageNet validation episodes, so that among its
// predictions made with confidence p, about a fraction p is right.
func DefaultPhotoModel() *Model {
	return defaultPhoto.get(defaultPhotoFile, "default photo model")
}

// Err reports why the model is unusable: non-nil only for a default model
// that is missing or failed to load.
func (m *Model) Err() error { return m.err }
