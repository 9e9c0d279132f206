package episode

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/klauspost/compress/zstd"

	"github.com/fewshot-go/fewshot/internal/atomicfile"
)

// EnvCacheDir names the environment variable that overrides
// [DefaultCacheDir].
const EnvCacheDir = "FEWSHOT_CACHE_DIR"

// cacheMagic starts every cache file; its last bytes are the format version.
var cacheMagic = []byte("FSEPC\x00\x01\n")

var errCacheMissing = errors.New("no cache file")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// DefaultCacheDir returns $FEWSHOT_CACHE_DIR if set, otherwise
// os.UserCacheDir()/fewshot/episode.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv(EnvCacheDir); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("episode: no cache folder (set %s): %w", EnvCacheDir, err)
	}
	return filepath.Join(d, "fewshot", "episode"), nil
}

// cacheKey hashes what determines the cached bytes: the 8-bit stages of
// pre and the identity of every source image, in order.
func cacheKey(pre Preprocess, uniq []Item) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "fewshot episode cache v1\nsize %dx%d channels %d filter %s\n",
		pre.Width, pre.Height, pre.Channels, pre.filterName())
	if pre.ResizeShorter > 0 {
		// Absent for the stretching resize, so older caches stay valid.
		fmt.Fprintf(h, "resize shorter %d, centre crop\n", pre.ResizeShorter)
	}
	for _, it := range uniq {
		id := it.id
		if id == "" {
			id = it.Path
		}
		io.WriteString(h, strconv.Quote(id))
		io.WriteString(h, "\n")
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func cacheFile(dir string, key [32]byte) string {
	return filepath.Join(dir, hex.EncodeToString(key[:])+".zst")
}

// The file is cacheMagic followed by one zstd stream holding: the key (32
// bytes), image count, channels, height, width (uint32 little-endian each),
// the pixels, and a CRC-32C of everything before it in the stream.
const cacheHeaderLen = 32 + 4*4

func cacheHeader(key [32]byte, n int, pre Preprocess) []byte {
	b := make([]byte, 0, cacheHeaderLen)
	b = append(b, key[:]...)
	for _, v := range []int{n, pre.Channels, pre.Height, pre.Width} {
		b = binary.LittleEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// readCache loads the pixels cached for key, or returns errCacheMissing if
// there is no file, or an error saying why the file cannot be trusted.
func readCache(path string, key [32]byte, n int, pre Preprocess) ([]uint8, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errCacheMissing
	}
	if err != nil {
		return nil, fmt.Errorf("episode: cache %s: %w", path, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	magic := make([]byte, len(cacheMagic))
	if _, err := io.ReadFull(br, magic); err != nil || !bytes.Equal(magic, cacheMagic) {
		return nil, fmt.Errorf("episode: cache %s: not a cache file of this version", path)
	}
	size := n * pre.Len()
	zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(size)+1<<20))
	if err != nil {
		return nil, fmt.Errorf("episode: cache %s: %w", path, err)
	}
	defer zr.Close()
	crc := crc32.New(castagnoli)
	r := io.TeeReader(zr, crc)
	head := make([]byte, cacheHeaderLen)
	if _, err := io.ReadFull(r, head); err != nil {
		return nil, fmt.Errorf("episode: cache %s: reading header: %w", path, err)
	}
	if !bytes.Equal(head, cacheHeader(key, n, pre)) {
		return nil, fmt.Errorf("episode: cache %s: header does not match the dataset", path)
	}
	pix := make([]uint8, size)
	if _, err := io.ReadFull(r, pix); err != nil {
		return nil, fmt.Errorf("episode: cache %s: reading pixels: %w", path, err)
	}
	want := crc.Sum32()
	var tail [5]byte
	if m, err := io.ReadFull(zr, tail[:]); m != 4 || err != io.ErrUnexpectedEOF {
		return nil, fmt.Errorf("episode: cache %s: bad checksum trailer (read %d bytes: %v)", path, m, err)
	}
	if got := binary.LittleEndian.Uint32(tail[:4]); got != want {
		return nil, fmt.Errorf("episode: cache %s: checksum mismatch (stored %08x, computed %08x)", path, got, want)
	}
	return pix, nil
}

// writeCache stores pixels atomically: a temporary file in the same folder
// is written, synced and renamed over the final name, so readers see either
// no file or a complete one. The file is private to the user (mode 0600).
func writeCache(path string, key [32]byte, n int, pre Preprocess, pix []uint8) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("episode: writing cache: %w", err)
	}
	err := atomicfile.Write(path, 0o600, func(f io.Writer) error {
		if _, err := f.Write(cacheMagic); err != nil {
			return err
		}
		zw, err := zstd.NewWriter(f, zstd.WithEncoderLevel(zstd.SpeedDefault))
		if err != nil {
			return err
		}
		crc := crc32.New(castagnoli)
		w := io.MultiWriter(zw, crc)
		if _, err := w.Write(cacheHeader(key, n, pre)); err != nil {
			zw.Close()
			return err
		}
		if _, err := w.Write(pix); err != nil {
			zw.Close()
			return err
		}
		if _, err := zw.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
			zw.Close()
			return err
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("episode: cache: %w", err)
	}
	return nil
}
