package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/fewshot-go/fewshot/engine"
)

// SGDStep returns the adapted weights θ' = θ − lr·g, one per parameter, built
// with engine ops: when the gradients were computed with createGraph, θ' is
// differentiable with respect to θ through them (the MAML/L2G inner step).
// It panics if the lists differ in length or shape.
func SGDStep[T engine.Float](params, grads []*engine.Var[T], lr T) []*engine.Var[T] {
	if len(params) != len(grads) {
		panic(fmt.Sprintf("nn.SGDStep: %d parameters but %d gradients", len(params), len(grads)))
	}
	out := make([]*engine.Var[T], len(params))
	for i, p := range params {
		if !equalInts(p.Shape(), grads[i].Shape()) {
			panic(fmt.Sprintf("nn.SGDStep: parameter %d has shape %v, its gradient %v", i, p.Shape(), grads[i].Shape()))
		}
		out[i] = engine.Sub(p, engine.Scale(grads[i], lr))
	}
	return out
}

// ClipGradNorm scales the gradients, if their joint Euclidean norm exceeds
// maxNorm, so that it equals maxNorm. It returns the (possibly) scaled
// gradients as new variables, leaving its arguments untouched (gradients
// from engine.Grad may share storage), and the norm before clipping.
func ClipGradNorm[T engine.Float](grads []*engine.Var[T], maxNorm float64) ([]*engine.Var[T], float64) {
	var ss float64
	for _, g := range grads {
		for _, v := range g.Value().Data() {
			ss += float64(v) * float64(v)
		}
	}
	norm := math.Sqrt(ss)
	if norm <= maxNorm || norm == 0 {
		return grads, norm
	}
	c := T(maxNorm / norm)
	out := make([]*engine.Var[T], len(grads))
	for i, g := range grads {
		out[i] = engine.Scale(g, c)
	}
	return out, norm
}

// StepLR is a step learning-rate schedule: Base until step Every, then
// multiplied by Factor every Every steps (Factor 0.5 halves it).
type StepLR struct {
	Base   float64
	Every  int
	Factor float64
}

// At returns the learning rate for step (counting from 0).
func (s StepLR) At(step int) float64 {
	if s.Every <= 0 || step < s.Every {
		return s.Base
	}
	return s.Base * math.Pow(s.Factor, float64(step/s.Every))
}

// Adam is the Adam optimiser (Kingma & Ba 2015) with bias correction. Its
// state is in exported fields and can be saved with MarshalBinary to resume
// training from a checkpoint.
type Adam[T engine.Float] struct {
	LR, Beta1, Beta2, Eps float64
	// WeightDecay adds WeightDecay·θ to each gradient (L2 regularisation, as
	// PyTorch's Adam does; not the decoupled AdamW form).
	WeightDecay float64
	// Steps is the number of updates taken so far.
	Steps int
	// M and V are the first and second moment estimates, one per parameter;
	// they are allocated by the first Step.
	M, V []*engine.Tensor[T]
}

// NewAdam returns an Adam optimiser with the usual defaults β1 = 0.9,
// β2 = 0.999 and ε = 1e-8.
func NewAdam[T engine.Float](lr float64) *Adam[T] {
	return &Adam[T]{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// Step updates the parameters' tensors in place from their gradients. The
// parameter list must be the same (in number and shapes) at every call. It
// panics if the lists do not match.
func (a *Adam[T]) Step(params, grads []*engine.Var[T]) {
	if len(params) != len(grads) {
		panic(fmt.Sprintf("nn.Adam.Step: %d parameters but %d gradients", len(params), len(grads)))
	}
	if a.M == nil {
		a.M = make([]*engine.Tensor[T], len(params))
		a.V = make([]*engine.Tensor[T], len(params))
		for i, p := range params {
			a.M[i] = engine.New[T](p.Shape()...)
			a.V[i] = engine.New[T](p.Shape()...)
		}
	}
	if len(a.M) != len(params) {
		panic(fmt.Sprintf("nn.Adam.Step: %d parameters, the optimiser state has %d", len(params), len(a.M)))
	}
	a.Steps++
	b1, b2 := a.Beta1, a.Beta2
	// Bias corrections folded into the step size and the denominator's ε.
	c1 := 1 - math.Pow(b1, float64(a.Steps))
	c2 := 1 - math.Pow(b2, float64(a.Steps))
	stepSize := a.LR / c1
	sc2 := math.Sqrt(c2)
	for i, p := range params {
		pd, gd := p.Value().Data(), grads[i].Value().Data()
		md, vd := a.M[i].Data(), a.V[i].Data()
		if len(gd) != len(pd) || len(md) != len(pd) {
			panic(fmt.Sprintf("nn.Adam.Step: parameter %d has %d elements, its gradient %d and its state %d", i, len(pd), len(gd), len(md)))
		}
		for j, pv := range pd {
			g := float64(gd[j])
			if a.WeightDecay != 0 {
				g += a.WeightDecay * float64(pv)
			}
			m := b1*float64(md[j]) + (1-b1)*g
			v := b2*float64(vd[j]) + (1-b2)*g*g
			md[j], vd[j] = T(m), T(v)
			pd[j] = T(float64(pv) - stepSize*m/(math.Sqrt(v)/sc2+a.Eps))
		}
	}
}

// adamMagic starts Adam's binary encoding; the byte after it is the element
// size (4 or 8).
const adamMagic = "FSADAM1"

// MarshalBinary encodes the hyperparameters, step count and moments
// (little-endian).
func (a *Adam[T]) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	var zero T
	b.WriteString(adamMagic)
	b.WriteByte(byte(unsafe.Sizeof(zero)))
	le := binary.LittleEndian
	for _, v := range []float64{a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay} {
		b.Write(le.AppendUint64(nil, math.Float64bits(v)))
	}
	b.Write(le.AppendUint64(nil, uint64(a.Steps)))
	b.Write(le.AppendUint32(nil, uint32(len(a.M))))
	for i := range a.M {
		for _, t := range []*engine.Tensor[T]{a.M[i], a.V[i]} {
			b.Write(le.AppendUint32(nil, uint32(t.Rank())))
			for _, d := range t.Shape() {
				b.Write(le.AppendUint32(nil, uint32(d)))
			}
			b.Write(encodeFloats(t.Data()))
		}
	}
	return b.Bytes(), nil
}

// UnmarshalBinary restores a state written by MarshalBinary with the same
// element type, replacing a's fields. It returns an error, and leaves a
// unchanged, if data is truncated, corrupt or of another element type.
func (a *Adam[T]) UnmarshalBinary(data []byte) error {
	var zero T
	size := int(unsafe.Sizeof(zero))
	r := &reader{data: data}
	if string(r.take(len(adamMagic))) != adamMagic {
		return errors.New("nn: Adam state: not an Adam checkpoint (bad magic)")
	}
	if es := r.take(1); es == nil || int(es[0]) != size {
		return fmt.Errorf("nn: Adam state: element size %v, this optimiser uses %d-byte elements", es, size)
	}
	var hp [5]float64
	for i := range hp {
		hp[i] = math.Float64frombits(r.u64())
	}
	steps := r.u64()
	count := int(r.u32())
	if r.err != nil {
		return r.err
	}
	if count > len(data) {
		return fmt.Errorf("nn: Adam state: %d parameters in a %d-byte checkpoint", count, len(data))
	}
	m, v := make([]*engine.Tensor[T], count), make([]*engine.Tensor[T], count)
	for i := 0; i < count; i++ {
		for _, dst := range []*[]*engine.Tensor[T]{&m, &v} {
			rank := int(r.u32())
			if r.err != nil || rank > 8 {
				return fmt.Errorf("nn: Adam state: moment %d: bad rank %d (%v)", i, rank, r.err)
			}
			shape := make([]int, rank)
			n := 1
			for k := range shape {
				shape[k] = int(r.u32())
				n *= shape[k]
				if n > len(data) {
					return fmt.Errorf("nn: Adam state: moment %d: shape %v larger than the checkpoint", i, shape[:k+1])
				}
			}
			raw := r.take(n * size)
			if r.err != nil {
				return fmt.Errorf("nn: Adam state: moment %d of shape %v: %w", i, shape, r.err)
			}
			(*dst)[i] = engine.FromSlice(decodeFloats[T](raw, n), shape...)
		}
		if !equalInts(m[i].Shape(), v[i].Shape()) {
			return fmt.Errorf("nn: Adam state: moments of parameter %d have shapes %v and %v", i, m[i].Shape(), v[i].Shape())
		}
	}
	if len(r.data) != 0 {
		return fmt.Errorf("nn: Adam state: %d trailing bytes", len(r.data))
	}
	a.LR, a.Beta1, a.Beta2, a.Eps, a.WeightDecay = hp[0], hp[1], hp[2], hp[3], hp[4]
	a.Steps = int(steps)
	a.M, a.V = m, v
	if count == 0 {
		a.M, a.V = nil, nil
	}
	return nil
}

// reader consumes a byte slice, remembering the first short read.
type reader struct {
	data []byte
	err  error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.data) {
		r.err = fmt.Errorf("truncated: need %d more bytes, have %d", n, len(r.data))
		return nil
	}
	b := r.data[:n]
	r.data = r.data[n:]
	return b
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func encodeFloats[T engine.Float](xs []T) []byte {
	var zero T
	out := make([]byte, 0, len(xs)*int(unsafe.Sizeof(zero)))
	for _, x := range xs {
		if unsafe.Sizeof(zero) == 4 {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(x)))
		} else {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(float64(x)))
		}
	}
	return out
}

func decodeFloats[T engine.Float](b []byte, n int) []T {
	var zero T
	out := make([]T, n)
	for i := range out {
		if unsafe.Sizeof(zero) == 4 {
			out[i] = T(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		} else {
			out[i] = T(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
	}
	return out
}
