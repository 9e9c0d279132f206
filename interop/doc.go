// Package interop checks that ONNX models give the same outputs in the
// fewshot SDK's own executor (package onnxio) and in independent readers:
// onnxruntime (through the Node.js package onnxruntime-node, driven by
// ort/run.js) and onnx-go with its gorgonia backend.
//
// It lives in its own module so that those heavy dependencies stay out of
// the SDK's go.mod. Each reader is a [Runner]; [CrossCheck] runs a model in
// several of them and [Compare] measures how far their outputs are apart.
// The tests in this package run every model in ../models/*.onnx (written
// by the SDK's export package) and the reference models in the shared test
// folder.
package interop
