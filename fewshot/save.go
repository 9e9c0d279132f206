package fewshot

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
)

// Saved prototypes format, version 1. All integers are little-endian.
//
//	magic        8 bytes  "FSPROTO\x00"
//	version      uint32   1
//	fingerprint  32 bytes SHA-256 of the model file (Model.Fingerprint)
//	metric       uint32 length + bytes
//	dim          uint32   embedding size
//	classes      uint32   number of classes, then for each, sorted by label:
//	  label      uint32 length + bytes (1..maxLabelBytes)
//	  count      uint64   number of examples (>= 1)
//	  data       Euclidean, Relation: dim float64 sums;
//	             Cosine: count*dim float32 unit embeddings
//	crc          uint32   CRC-32 (IEEE) of every preceding byte
const (
	protoMagic    = "FSPROTO\x00"
	protoVersion  = 1
	maxLabelBytes = 4096
)

// ErrModelMismatch is wrapped by the error [Classifier.ReadPrototypes]
// returns for prototypes saved with a different model.
var ErrModelMismatch = errors.New("fewshot: prototypes belong to another model")

// Save writes the prototypes in a small versioned binary format that
// records the model's fingerprint, so that [Classifier.ReadPrototypes]
// refuses them with any other model.
func (p *Prototypes) Save(w io.Writer) error {
	if err := p.save(w); err != nil {
		return fmt.Errorf("fewshot: saving prototypes: %w", err)
	}
	return nil
}

// save is [Prototypes.Save] without the error prefix, which its callers add.
func (p *Prototypes) save(w io.Writer) error {
	s := p.cur.Load()
	info := p.c.model.info
	d := info.EmbeddingSize()
	h := crc32.NewIEEE()
	bw := bufio.NewWriter(io.MultiWriter(w, h))
	le := binary.LittleEndian
	var buf []byte
	buf = append(buf, protoMagic...)
	buf = le.AppendUint32(buf, protoVersion)
	buf = append(buf, p.c.model.fingerprint[:]...)
	buf = appendString(buf, string(info.Metric))
	buf = le.AppendUint32(buf, uint32(d))
	buf = le.AppendUint32(buf, uint32(len(s.classes)))
	for _, cl := range s.classes {
		buf = appendString(buf, cl.label)
		buf = le.AppendUint64(buf, uint64(cl.n))
		if info.Metric == Cosine {
			for _, v := range cl.vecs {
				buf = le.AppendUint32(buf, math.Float32bits(v))
			}
		} else {
			for _, v := range cl.sum {
				buf = le.AppendUint64(buf, math.Float64bits(v))
			}
		}
		// Flush per class so that memory stays bounded by one class.
		if _, err := bw.Write(buf); err != nil {
			return err
		}
		buf = buf[:0]
	}
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if _, err := w.Write(le.AppendUint32(nil, h.Sum32())); err != nil {
		return err
	}
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// SaveFile writes the prototypes to path atomically: to a temporary file
// in the same folder, synced, then renamed over path, so that path never
// holds a partial file. The file gets mode 0644.
func (p *Prototypes) SaveFile(path string) error {
	if err := atomicfile.Write(path, 0o644, p.save); err != nil {
		return fmt.Errorf("fewshot: saving prototypes: %w", err)
	}
	return nil
}

// LoadPrototypes reads prototypes saved with [Prototypes.SaveFile].
func (c *Classifier) LoadPrototypes(path string) (*Prototypes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("fewshot: loading prototypes: %w", err)
	}
	defer f.Close()
	p, err := c.ReadPrototypes(f)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return p, nil
}

// protoReader reads the saved format, hashing what it reads.
type protoReader struct {
	r   *bufio.Reader
	crc uint32
	err error
}

func (pr *protoReader) read(n int) []byte {
	if pr.err != nil {
		return nil
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(pr.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		pr.err = err
		return nil
	}
	pr.crc = crc32.Update(pr.crc, crc32.IEEETable, b)
	return b
}

func (pr *protoReader) u32() uint32 {
	if b := pr.read(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (pr *protoReader) u64() uint64 {
	if b := pr.read(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (pr *protoReader) str(what string, max int) string {
	n := pr.u32()
	if pr.err == nil && (n == 0 || n > uint32(max)) {
		pr.err = fmt.Errorf("%s length %d out of range 1..%d", what, n, max)
	}
	return string(pr.read(int(n)))
}

// ReadPrototypes reads prototypes written by [Prototypes.Save]. It refuses,
// with an error wrapping [ErrModelMismatch], prototypes saved with a model
// other than c's, and reports corrupt or truncated data.
func (c *Classifier) ReadPrototypes(r io.Reader) (*Prototypes, error) {
	p, err := c.readPrototypes(&protoReader{r: bufio.NewReader(r)})
	if err != nil {
		return nil, fmt.Errorf("fewshot: reading prototypes: %w", err)
	}
	return p, nil
}

func (c *Classifier) readPrototypes(pr *protoReader) (*Prototypes, error) {
	info := c.model.info
	d := info.EmbeddingSize()
	if m := pr.read(len(protoMagic)); pr.err == nil && string(m) != protoMagic {
		return nil, errors.New("not a fewshot prototypes file (bad magic)")
	}
	if v := pr.u32(); pr.err == nil && v != protoVersion {
		return nil, fmt.Errorf("format version %d, this library reads %d", v, protoVersion)
	}
	if fp := pr.read(len(c.model.fingerprint)); pr.err == nil && !bytes.Equal(fp, c.model.fingerprint[:]) {
		return nil, fmt.Errorf("%w: saved with model %x…, this classifier's model is %x…", ErrModelMismatch, fp[:8], c.model.fingerprint[:8])
	}
	if m := pr.str("metric", 64); pr.err == nil && Metric(m) != info.Metric {
		return nil, fmt.Errorf("%w: saved with metric %q, the model's is %q", ErrModelMismatch, m, info.Metric)
	}
	if dim := pr.u32(); pr.err == nil && int(dim) != d {
		return nil, fmt.Errorf("%w: embedding size %d, the model's is %d", ErrModelMismatch, dim, d)
	}
	nc := pr.u32()
	s := &protoSet{}
	// Classes are read one by one and memory grows only with data actually
	// present, so a forged count cannot force a huge allocation.
	for i := uint32(0); i < nc && pr.err == nil; i++ {
		cl := &class{label: pr.str("label", maxLabelBytes)}
		n := pr.u64()
		if pr.err != nil {
			break
		}
		if n == 0 || n > math.MaxInt32 {
			return nil, fmt.Errorf("class %q: example count %d out of range", cl.label, n)
		}
		if k := len(s.labels); k > 0 && s.labels[k-1] >= cl.label {
			return nil, fmt.Errorf("class %q: labels not strictly sorted", cl.label)
		}
		cl.n = int(n)
		if info.Metric == Cosine {
			for range cl.n {
				b := pr.read(4 * d)
				if b == nil {
					break
				}
				for k := range d {
					cl.vecs = append(cl.vecs, math.Float32frombits(binary.LittleEndian.Uint32(b[4*k:])))
				}
			}
			if err := checkFinite(cl.vecs, fmt.Sprintf("class %q", cl.label)); err != nil && pr.err == nil {
				return nil, err
			}
		} else if b := pr.read(8 * d); b != nil {
			cl.sum = make([]float64, d)
			for k := range cl.sum {
				v := math.Float64frombits(binary.LittleEndian.Uint64(b[8*k:]))
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("class %q: sum holds %v: %w", cl.label, v, ErrNotFinite)
				}
				cl.sum[k] = v
			}
			cl.finish(info.Metric)
		}
		s.classes = append(s.classes, cl)
		s.labels = append(s.labels, cl.label)
	}
	want := pr.crc
	if got := pr.u32(); pr.err == nil && got != want {
		return nil, fmt.Errorf("checksum mismatch (stored %08x, computed %08x): the data is corrupt", got, want)
	}
	if pr.err != nil {
		return nil, pr.err
	}
	if _, err := pr.r.ReadByte(); err != io.EOF {
		return nil, errors.New("trailing data after the checksum")
	}
	p := c.NewPrototypes()
	p.cur.Store(s)
	return p, nil
}
