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
	defaultPhotoFile    = "mini-imagenet-proto.onnx"
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
// This version's photo model is weak: it was trained for only 1000
// episodes on two CPU cores and reaches about 39 % on 5-way 5-shot tasks of
// unseen classes (25 % at 1-shot; chance is 20 %; docs/RESULTS.md). Train
// your own with "fewshot train" for real use.
func DefaultPhotoModel() *Model {
	return defaultPhoto.get(defaultPhotoFile, "default photo model")
}

// Err reports why the model is unusable: non-nil only for a default model
// that is missing or failed to load.
func (m *Model) Err() error { return m.err }
