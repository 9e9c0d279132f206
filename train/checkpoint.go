package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/klauspost/compress/zstd"

	"github.com/fewshot-go/fewshot/engine"
	"github.com/fewshot-go/fewshot/internal/atomicfile"
	"github.com/fewshot-go/fewshot/nn"
)

// checkpointMagic starts every checkpoint file; the rest is one zstd frame.
var checkpointMagic = []byte("FSCKPT\x00\x01")

// maxHeaderBytes bounds the JSON header a checkpoint may claim.
const maxHeaderBytes = 1 << 20

// Progress is the training state saved with a checkpoint besides the
// weights and optimiser.
type Progress struct {
	// Episode is the number of training episodes completed.
	Episode int `json:"episode"`
	// Seconds is the training wall time so far, over all sessions.
	Seconds float64 `json:"seconds"`
	// BestVal is the best validation accuracy so far and BestEpisode the
	// episode it was measured at (0 if never validated).
	BestVal     float64 `json:"best_val"`
	BestEpisode int     `json:"best_episode"`
	// WindowLoss, WindowAcc and WindowN are the sums and count of the
	// episodes since the last metrics line.
	WindowLoss float64 `json:"window_loss"`
	WindowAcc  float64 `json:"window_acc"`
	WindowN    int     `json:"window_n"`
}

// checkpointHeader is the JSON part of a checkpoint.
type checkpointHeader struct {
	Spec     Spec     `json:"spec"`
	Run      runKey   `json:"run"`
	Progress Progress `json:"progress"`
}

// Checkpoint is a decoded checkpoint file: what is needed to rebuild a
// trained model ([Checkpoint.Algorithm]) or to resume training ([Run]).
type Checkpoint struct {
	// Spec rebuilds the algorithm's networks.
	Spec Spec
	// Progress is the training state.
	Progress Progress

	run     runKey
	tensors [][]*engine.Tensor[float32] // per network: parameters, then BN state
	adam    []byte
}

// Algorithm builds the checkpoint's algorithm and loads its weights and
// batch-norm statistics.
func (c *Checkpoint) Algorithm() (Algorithm, error) {
	a, err := New(c.Spec)
	if err != nil {
		return nil, err
	}
	if err := c.restore(a, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// CopyWeights copies the checkpoint's network weights and batch-norm
// statistics into a, whose networks must match the checkpoint's in number
// and shapes; the optimiser state and the progress are not copied. It
// starts a new run from trained weights: fine-tuning on another task shape
// (a 5-shot ProtoNet on 1-shot episodes), or another algorithm with the
// same networks (a ProtoNet embedding as the start of L2G+Proto).
func (c *Checkpoint) CopyWeights(a Algorithm) error {
	return c.restore(a, nil)
}

// restore copies the checkpoint's weights, statistics and (if opt is not
// nil) optimiser state into a and opt.
func (c *Checkpoint) restore(a Algorithm, opt *nn.Adam[float32]) error {
	nets := a.Networks()
	if len(nets) != len(c.tensors) {
		return fmt.Errorf("train: checkpoint (%s) holds %d networks, %s has %d", c.Spec.Algo, len(c.tensors), a.Spec().Algo, len(nets))
	}
	for i, n := range nets {
		params, state := n.Params(), n.State()
		ts := c.tensors[i]
		if len(ts) != len(params)+len(state) {
			return fmt.Errorf("train: checkpoint network %d has %d tensors, want %d", i, len(ts), len(params)+len(state))
		}
		for k, dst := range state {
			if src := ts[len(params)+k]; !equalShape(src.Shape(), dst.Shape()) {
				return fmt.Errorf("train: checkpoint network %d state tensor %d has shape %v, want %v", i, k, src.Shape(), dst.Shape())
			}
		}
		if err := n.SetParams(ts[:len(params)]); err != nil {
			return fmt.Errorf("train: checkpoint network %d: %w", i, err)
		}
		for k, dst := range state {
			copy(dst.Data(), ts[len(params)+k].Data())
		}
	}
	if opt != nil && c.adam != nil {
		if err := opt.UnmarshalBinary(c.adam); err != nil {
			return fmt.Errorf("train: checkpoint optimiser: %w", err)
		}
		if opt.M != nil && len(opt.M) != len(a.Params()) {
			return fmt.Errorf("train: checkpoint optimiser has state for %d parameters, the model has %d", len(opt.M), len(a.Params()))
		}
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// writeCheckpoint saves a's weights and statistics, the optimiser and the
// progress to path atomically: a temporary file in the same folder is
// written, synced and renamed over path, so a crash leaves either the old
// file or the new one.
func writeCheckpoint(path string, a Algorithm, opt *nn.Adam[float32], run runKey, p Progress) error {
	var body bytes.Buffer
	hdr, err := json.Marshal(checkpointHeader{Spec: a.Spec(), Run: run, Progress: p})
	if err != nil {
		return fmt.Errorf("train: writing checkpoint %s: %w", path, err)
	}
	putU32(&body, uint32(len(hdr)))
	body.Write(hdr)
	nets := a.Networks()
	putU32(&body, uint32(len(nets)))
	for _, n := range nets {
		ts := make([]*engine.Tensor[float32], 0, len(n.Params())+len(n.State()))
		for _, p := range n.Params() {
			ts = append(ts, p.Value())
		}
		ts = append(ts, n.State()...)
		putU32(&body, uint32(len(ts)))
		for _, t := range ts {
			putU32(&body, uint32(t.Rank()))
			for _, d := range t.Shape() {
				putU32(&body, uint32(d))
			}
			buf := make([]byte, 4*t.Len())
			for j, v := range t.Data() {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			body.Write(buf)
		}
	}
	var adam []byte
	if opt != nil {
		if adam, err = opt.MarshalBinary(); err != nil {
			return fmt.Errorf("train: writing checkpoint %s: %w", path, err)
		}
	}
	putU32(&body, uint32(len(adam)))
	body.Write(adam)
	putU32(&body, crc32.Checksum(body.Bytes(), crc32.MakeTable(crc32.Castagnoli)))

	err = atomicfile.Write(path, 0o644, func(w io.Writer) error {
		if _, err := w.Write(checkpointMagic); err != nil {
			return err
		}
		zw, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return err
		}
		if _, err := zw.Write(body.Bytes()); err != nil {
			zw.Close()
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("train: checkpoint: %w", err)
	}
	return nil
}

func putU32(b *bytes.Buffer, v uint32) {
	b.Write(binary.LittleEndian.AppendUint32(nil, v))
}

// maxCheckpointBytes bounds the decompressed size of a checkpoint, so that a
// corrupt or hostile file cannot exhaust memory.
const maxCheckpointBytes = 4 << 30

// decompressedLimit bounds what a checkpoint file of n bytes may decompress
// to. Weights and optimiser state barely compress, so a large ratio marks a
// decompression bomb rather than a checkpoint.
func decompressedLimit(n int64) int64 {
	return min(maxCheckpointBytes, max(64<<20, 64*n))
}

// LoadCheckpoint reads a checkpoint written by [Run]. Errors name the file
// and what is wrong with it (not a checkpoint, truncated, corrupt).
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: reading checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("train: reading checkpoint: %w", err)
	}
	c, err := readCheckpoint(f, decompressedLimit(st.Size()))
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w", path, err)
	}
	return c, nil
}

// readCheckpoint decodes a checkpoint whose compressed body may expand to at
// most limit bytes.
func readCheckpoint(r io.Reader, limit int64) (*Checkpoint, error) {
	magic := make([]byte, len(checkpointMagic))
	if _, err := io.ReadFull(r, magic); err != nil || !bytes.Equal(magic, checkpointMagic) {
		return nil, errors.New("not a fewshot checkpoint (bad magic)")
	}
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(limit)))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	body, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, fmt.Errorf("decompressing: %w", err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("decompresses to more than %d bytes: not a checkpoint", limit)
	}
	if len(body) < 4 {
		return nil, errors.New("truncated")
	}
	payload, sum := body[:len(body)-4], binary.LittleEndian.Uint32(body[len(body)-4:])
	if got := crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli)); got != sum {
		return nil, fmt.Errorf("checksum mismatch (stored %08x, computed %08x): file corrupt", sum, got)
	}
	br := &byteReader{data: payload}
	n := br.u32()
	if n > maxHeaderBytes {
		return nil, fmt.Errorf("header of %d bytes", n)
	}
	var hdr checkpointHeader
	if raw := br.take(int(n)); br.err != nil {
		return nil, br.err
	} else if err := json.Unmarshal(raw, &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	c := &Checkpoint{Spec: hdr.Spec, Progress: hdr.Progress, run: hdr.Run}
	nets := br.u32()
	if nets > 16 {
		return nil, fmt.Errorf("%d networks", nets)
	}
	for i := 0; i < int(nets) && br.err == nil; i++ {
		count := br.u32()
		if int(count) > len(br.data) {
			return nil, fmt.Errorf("network %d: %d tensors in %d bytes", i, count, len(br.data))
		}
		ts := make([]*engine.Tensor[float32], count)
		for k := range ts {
			rank := br.u32()
			if br.err != nil || rank > 8 {
				return nil, fmt.Errorf("network %d tensor %d: bad rank %d (%v)", i, k, rank, br.err)
			}
			shape := make([]int, rank)
			size := 1
			for d := range shape {
				shape[d] = int(br.u32())
				size *= shape[d]
				if size > len(br.data) {
					return nil, fmt.Errorf("network %d tensor %d: shape %v larger than the file", i, k, shape[:d+1])
				}
			}
			raw := br.take(4 * size)
			if br.err != nil {
				return nil, fmt.Errorf("network %d tensor %d: %w", i, k, br.err)
			}
			data := make([]float32, size)
			for j := range data {
				data[j] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			}
			ts[k] = engine.FromSlice(data, shape...)
		}
		c.tensors = append(c.tensors, ts)
	}
	n = br.u32()
	adam := br.take(int(n))
	if br.err != nil {
		return nil, br.err
	}
	if len(br.data) != 0 {
		return nil, fmt.Errorf("%d trailing bytes", len(br.data))
	}
	if len(adam) > 0 {
		c.adam = adam
	}
	return c, nil
}

// byteReader consumes a byte slice, remembering the first short read.
type byteReader struct {
	data []byte
	err  error
}

func (r *byteReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.data) {
		r.err = fmt.Errorf("truncated: need %d more bytes, have %d", n, len(r.data))
		return nil
	}
	b := r.data[:n]
	r.data = r.data[n:]
	return b
}

func (r *byteReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}
