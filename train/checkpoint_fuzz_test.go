package train

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/fewshot-go/fewshot/nn"
)

// wrapCheckpoint frames payload as a checkpoint file: magic, then a zstd
// stream of payload and its CRC-32C. Fuzzing the payload this way reaches
// the header and tensor parsers, which random bytes would almost never get
// past the checksum to exercise.
func wrapCheckpoint(tb testing.TB, payload []byte) []byte {
	var buf bytes.Buffer
	buf.Write(checkpointMagic)
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	zw.Write(payload)
	zw.Write(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(payload, crc32.MakeTable(crc32.Castagnoli))))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzCheckpoint feeds arbitrary checkpoints to the reader: raw files
// (wrap false) and arbitrary payloads framed with a valid checksum (wrap
// true). Nothing may panic; a checkpoint that reads must either restore
// into a matching algorithm or be refused with an error.
func FuzzCheckpoint(f *testing.F) {
	spec := Spec{Algo: "proto", InChannels: 1, Height: 8, Width: 8, Hidden: 2, Blocks: 2, Seed: 1}
	a, err := New(spec)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(f.TempDir(), "c")
	if err := writeCheckpoint(path, a, nn.NewAdam[float32](1e-3), runKey{Seed: 3}, Progress{Episode: 7}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, false)
	f.Add(good[:len(good)/2], false)
	// The decompressed payload of the good file, for the wrapped mode.
	// A nil reader: a decoder given a stream keeps one of its decoders busy
	// with it, and DecodeAll then waits forever when that is the only one
	// (seen when fuzzing with -parallel 1).
	zr, err := zstd.NewReader(nil)
	if err != nil {
		f.Fatal(err)
	}
	body, err := zr.DecodeAll(good[len(checkpointMagic):], nil)
	zr.Close()
	if err != nil || len(body) < 4 {
		f.Fatalf("decompressing the seed: %v", err)
	}
	payload := body[:len(body)-4]
	if _, err := readCheckpoint(bytes.NewReader(wrapCheckpoint(f, payload)), decompressedLimit(int64(len(payload)))); err != nil {
		f.Fatalf("re-framed seed does not read: %v", err)
	}
	f.Add(payload, true)
	f.Add(payload[:len(payload)/3], true)
	f.Add([]byte{}, true)
	f.Fuzz(func(t *testing.T, data []byte, wrap bool) {
		if wrap {
			data = wrapCheckpoint(t, data)
		}
		c, err := readCheckpoint(bytes.NewReader(data), decompressedLimit(int64(len(data))))
		if err != nil {
			return
		}
		// Restore into a fresh algorithm of the seed's shape rather than
		// c.Algorithm(): the spec in a hostile header can ask for networks
		// of any size.
		b, err := New(spec)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.restore(b, nn.NewAdam[float32](1e-3))
	})
}
