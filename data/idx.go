package data

import (
	"bufio"
	"compress/gzip"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shrink-ml/shrink/budget"
)

// Limits applied to IDX headers before anything is allocated.
const (
	// MaxIDXItems is the largest image or label count accepted in an IDX header.
	MaxIDXItems = 10_000_000
	// MaxIDXSide is the largest number of rows or columns accepted for IDX images.
	MaxIDXSide = 4096
)

const (
	idxLabelMagic = 0x00000801
	idxImageMagic = 0x00000803
	readChunk     = 1 << 20
)

//go:embed mnistmini/*.gz
var mnistMini embed.FS

// maybeGunzip returns a reader that transparently decompresses r when it
// starts with the gzip magic bytes, plus a finish function. The reader
// fails with a budget error (wrapping budget.ErrExceeded) once more bytes
// come out than b allows: the data-bytes cap, and for gzip input also the
// decompression ratio over the compressed bytes consumed so far. For gzip
// input, finish reads on to the end of the first compressed member so that
// a truncated or corrupt stream (bad checksum) is reported; trailing
// uncompressed data is ignored. finish may be called more than once.
func maybeGunzip(r io.Reader, b budget.Budget) (io.Reader, func() error, error) {
	c := &budget.Counter{R: r}
	br := bufio.NewReader(c)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("gzip: %w", err)
		}
		zr.Multistream(false)
		lr := b.LimitInflated(zr, func() int64 { return c.N })
		done := false
		finish := func() error {
			if done {
				return nil
			}
			done = true
			if _, err := io.Copy(io.Discard, io.LimitReader(lr, readChunk)); err != nil {
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return errors.New("gzip: truncated compressed data")
				}
				if errors.Is(err, budget.ErrExceeded) {
					return err
				}
				return fmt.Errorf("gzip: %w", err)
			}
			return nil
		}
		return lr, finish, nil
	}
	return b.LimitData(br), func() error { return nil }, nil
}

// readExactly reads n bytes, growing the buffer only as data actually
// arrives, so that a lying header cannot force a huge allocation.
func readExactly(r io.Reader, n int64, what string) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for int64(len(buf)) < n {
		want := int(min(n-int64(len(buf)), readChunk))
		if cap(buf)-len(buf) < want {
			nb := make([]byte, len(buf), min(n, int64(len(buf))*2+int64(want)))
			copy(nb, buf)
			buf = nb
		}
		got, err := io.ReadFull(r, buf[len(buf):len(buf)+want])
		buf = buf[:len(buf)+got]
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("truncated %s: got %d of %d bytes", what, len(buf), n)
			}
			return nil, err
		}
	}
	return buf, nil
}

// readHeader reads the 4-byte magic, checks it, then reads words-1 more
// big-endian uint32 header words.
func readHeader(r io.Reader, words int, magic uint32, kind string) ([]uint32, error) {
	b := make([]byte, 4*words)
	trunc := func() error {
		return fmt.Errorf("truncated IDX %s header (need %d bytes)", kind, len(b))
	}
	if _, err := io.ReadFull(r, b[:4]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, trunc()
		}
		return nil, err
	}
	if m := binary.BigEndian.Uint32(b); m != magic {
		return nil, fmt.Errorf("bad IDX %s magic %#08x (want %#08x)", kind, m, magic)
	}
	if _, err := io.ReadFull(r, b[4:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, trunc()
		}
		return nil, err
	}
	h := make([]uint32, words)
	for i := range h {
		h[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	return h, nil
}

// ReadIDXImages reads an IDX3 image file within the default budget; see
// ReadIDXImagesBudget.
func ReadIDXImages(r io.Reader) (n, rows, cols int, pix []uint8, err error) {
	return ReadIDXImagesBudget(r, budget.Budget{})
}

// ReadIDXImagesBudget reads an IDX3 image file (magic 0x00000803: count,
// rows, cols, then count×rows×cols unsigned bytes), transparently
// gunzipping it if it starts with the gzip magic. It rejects counts above
// MaxIDXItems, sides outside [1, MaxIDXSide] and pixel data above b's
// data-bytes cap (from the header, before reading any), refuses a
// decompression bomb as it inflates, and allocates memory only as pixel
// data arrives.
func ReadIDXImagesBudget(r io.Reader, b budget.Budget) (n, rows, cols int, pix []uint8, err error) {
	rr, finish, err := maybeGunzip(r, b)
	if err != nil {
		return 0, 0, 0, nil, err
	}
	h, err := readHeader(rr, 4, idxImageMagic, "images")
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if h[1] > MaxIDXItems {
		return 0, 0, 0, nil, fmt.Errorf("IDX image count %d exceeds limit %d", h[1], MaxIDXItems)
	}
	if h[2] < 1 || h[2] > MaxIDXSide || h[3] < 1 || h[3] > MaxIDXSide {
		return 0, 0, 0, nil, fmt.Errorf("IDX image size %d×%d outside 1..%d", h[2], h[3], MaxIDXSide)
	}
	n, rows, cols = int(h[1]), int(h[2]), int(h[3])
	if err := b.CheckDataBytes(budget.Product(int64(n), int64(rows), int64(cols)), fmt.Sprintf("pixels of %d images of %d×%d", n, rows, cols)); err != nil {
		return 0, 0, 0, nil, err
	}
	pix, err = readExactly(rr, int64(n)*int64(rows)*int64(cols), fmt.Sprintf("IDX pixel data (%d images of %d×%d)", n, rows, cols))
	if err != nil {
		return 0, 0, 0, nil, err
	}
	if err := finish(); err != nil {
		return 0, 0, 0, nil, err
	}
	return n, rows, cols, pix, nil
}

// ReadIDXLabels reads an IDX1 label file within the default budget; see
// ReadIDXLabelsBudget.
func ReadIDXLabels(r io.Reader) ([]uint8, error) { return ReadIDXLabelsBudget(r, budget.Budget{}) }

// ReadIDXLabelsBudget reads an IDX1 label file (magic 0x00000801: count,
// then count unsigned bytes), transparently gunzipping it if it starts
// with the gzip magic, within b's data-bytes and decompression limits. It
// rejects counts above MaxIDXItems. Label values are not checked.
func ReadIDXLabelsBudget(r io.Reader, b budget.Budget) ([]uint8, error) {
	rr, finish, err := maybeGunzip(r, b)
	if err != nil {
		return nil, err
	}
	h, err := readHeader(rr, 2, idxLabelMagic, "labels")
	if err != nil {
		return nil, err
	}
	if h[1] > MaxIDXItems {
		return nil, fmt.Errorf("IDX label count %d exceeds limit %d", h[1], MaxIDXItems)
	}
	labels, err := readExactly(rr, int64(h[1]), fmt.Sprintf("IDX label data (%d labels)", h[1]))
	if err != nil {
		return nil, err
	}
	if err := finish(); err != nil {
		return nil, err
	}
	return labels, nil
}

// idxFiles lists, for one part ("train" or "test"), the accepted file names.
func idxCandidates(part, kind string) []string {
	prefixes := []string{"train"}
	if part == "test" {
		prefixes = []string{"t10k", "test"}
	}
	suffix := map[string]string{"images": "idx3-ubyte", "labels": "idx1-ubyte"}[kind]
	var names []string
	for _, p := range prefixes {
		for _, sep := range []string{"-", "."} {
			for _, ext := range []string{"", ".gz"} {
				names = append(names, p+"-"+kind+sep+suffix+ext)
			}
		}
	}
	return names
}

// loadIDXPart reads one images/labels pair from fsys and converts it to a Set.
func loadIDXPart(fsys fs.FS, root, part string, b budget.Budget) (*Set, error) {
	var paths [2]string
	var files [2]fs.File
	defer func() {
		for _, f := range files {
			if f != nil {
				f.Close()
			}
		}
	}()
	for k, kind := range []string{"images", "labels"} {
		cands := idxCandidates(part, kind)
		for _, name := range cands {
			f, err := fsys.Open(name)
			if err == nil {
				files[k], paths[k] = f, filepath.Join(root, name)
				break
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("data: %s: %w", filepath.Join(root, name), err)
			}
		}
		if files[k] == nil {
			return nil, fmt.Errorf("data: %s: no %s %s file (looked for %s)", root, part, kind, strings.Join(cands, ", "))
		}
	}
	n, rows, cols, pix, err := ReadIDXImagesBudget(files[0], b)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", paths[0], err)
	}
	labels, err := ReadIDXLabelsBudget(files[1], b)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", paths[1], err)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("data: %s: %d labels but %s holds %d images", paths[1], len(labels), paths[0], n)
	}
	if n == 0 {
		return nil, fmt.Errorf("data: %s: no images", paths[0])
	}
	s := &Set{
		X:       make([]float32, len(pix)),
		Y:       make([]int, n),
		Shape:   []int{rows, cols, 1},
		Classes: 10,
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("data: %s: label %d of record %d out of range 0..9", paths[1], l, i)
		}
		s.Y[i] = int(l)
	}
	var lut [256]float32
	for i := range lut {
		lut[i] = float32(i) / 255
	}
	for i, p := range pix {
		s.X[i] = lut[p]
	}
	return s, nil
}

// loadIDX loads the train and test parts of an IDX folder (or the embedded set).
func loadIDX(fsys fs.FS, root string, b budget.Budget) (train, test *Set, err error) {
	train, err = loadIDXPart(fsys, root, "train", b)
	if err != nil {
		return nil, nil, err
	}
	test, err = loadIDXPart(fsys, root, "test", b)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(train.Shape, test.Shape) {
		return nil, nil, fmt.Errorf("data: %s: training images are %v but test images are %v", root, train.Shape[:2], test.Shape[:2])
	}
	return train, test, nil
}

func loadMNISTMini() (train, test *Set, err error) {
	sub, err := fs.Sub(mnistMini, "mnistmini")
	if err != nil {
		return nil, nil, err
	}
	return loadIDX(sub, "mnist-mini", budget.Budget{})
}

// loadIDXDir loads an IDX folder; its files are opened only when they are
// regular files (a FIFO named like an IDX file would block for ever).
func loadIDXDir(dir string, b budget.Budget) (train, test *Set, err error) {
	if err := checkFolder(dir); err != nil {
		return nil, nil, fmt.Errorf("data: %w", err)
	}
	return loadIDX(regularFS(dir), dir, b)
}
