package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// idxImages builds an IDX3 image file.
func idxImages(n, rows, cols int, pix []byte) []byte {
	var b bytes.Buffer
	for _, v := range []uint32{idxImageMagic, uint32(n), uint32(rows), uint32(cols)} {
		_ = binary.Write(&b, binary.BigEndian, v)
	}
	b.Write(pix)
	return b.Bytes()
}

// idxLabels builds an IDX1 label file.
func idxLabels(labels []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(idxLabelMagic))
	_ = binary.Write(&b, binary.BigEndian, uint32(len(labels)))
	b.Write(labels)
	return b.Bytes()
}

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return out.Bytes()
}

func TestMNISTMini(t *testing.T) {
	d, err := Load("mnist-mini", Options{})
	require.NoError(t, err)
	require.Equal(t, 10000, d.Train.Len())
	require.Equal(t, 2000, d.Test.Len())
	require.Equal(t, Info{Source: "mnist-mini", Kind: "mnist-mini"}, d.Info)
	for _, s := range []*Set{d.Train, d.Test} {
		require.Equal(t, []int{28, 28, 1}, s.Shape)
		require.Equal(t, 784, s.Dim())
		require.Equal(t, 10, s.Classes)
		require.Len(t, s.X, s.Len()*784)
		require.Len(t, s.Y, s.Len())
		var counts [10]int
		for _, y := range s.Y {
			require.True(t, y >= 0 && y < 10)
			counts[y]++
		}
		for _, c := range counts {
			require.Greater(t, c, s.Len()/20, "every class present")
		}
		var lo, hi float32 = 1, 0
		for _, v := range s.X {
			lo, hi = min(lo, v), max(hi, v)
		}
		require.Equal(t, float32(0), lo)
		require.Equal(t, float32(1), hi)
	}
	// Documented class counts (data/README.md).
	var tr, te [10]int
	for _, y := range d.Train.Y {
		tr[y]++
	}
	for _, y := range d.Test.Y {
		te[y]++
	}
	require.Equal(t, [10]int{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}, tr)
	require.Equal(t, [10]int{175, 234, 219, 207, 217, 179, 178, 205, 192, 194}, te)
	// First training label of MNIST is a 5, first test label a 7.
	require.Equal(t, 5, d.Train.Y[0])
	require.Equal(t, 7, d.Test.Y[0])

	d2, err := Load("", Options{})
	require.NoError(t, err)
	require.Equal(t, d.Train.X[:784*3], d2.Train.X[:784*3])
	require.NoError(t, d.CheckShape([]int{28, 28, 1}))
	require.NoError(t, d.CheckShape([]int{784}))
	err = d.CheckShape([]int{1, 28, 28})
	require.ErrorContains(t, err, "does not fit")
	require.Error(t, d.CheckShape([]int{10}))
	require.Error(t, d.CheckShape(nil))
	require.Error(t, d.CheckShape([]int{28, 0, 1}))

	_, err = Load("mnist-mini", Options{Normalize: "minmax"})
	require.Error(t, err)
}

func writeIDXDir(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
}

func TestIDXRoundTrip(t *testing.T) {
	pix := make([]byte, 3*2*4)
	for i := range pix {
		pix[i] = byte(i * 11)
	}
	for _, zip := range []bool{false, true} {
		raw := idxImages(3, 2, 4, pix)
		if zip {
			raw = gz(t, raw)
		}
		n, r, c, got, err := ReadIDXImages(bytes.NewReader(raw))
		require.NoError(t, err)
		require.Equal(t, []int{3, 2, 4}, []int{n, r, c})
		require.Equal(t, pix, got)
		lraw := idxLabels([]byte{1, 2, 3})
		if zip {
			lraw = gz(t, lraw)
		}
		l, err := ReadIDXLabels(bytes.NewReader(lraw))
		require.NoError(t, err)
		require.Equal(t, []byte{1, 2, 3}, l)
	}

	dir := t.TempDir()
	writeIDXDir(t, dir, map[string][]byte{
		"train-images-idx3-ubyte.gz": gz(t, idxImages(3, 2, 4, pix)),
		"train-labels-idx1-ubyte":    idxLabels([]byte{9, 0, 4}),
		"t10k-images.idx3-ubyte":     idxImages(1, 2, 4, pix[:8]),
		"t10k-labels.idx1-ubyte.gz":  gz(t, idxLabels([]byte{7})),
	})
	d, err := Load(dir, Options{TestFraction: 0.5})
	require.NoError(t, err)
	require.Equal(t, Info{Source: dir, Kind: "idx"}, d.Info)
	require.Equal(t, []int{2, 4, 1}, d.Train.Shape)
	require.Equal(t, []int{9, 0, 4}, d.Train.Y)
	require.Equal(t, []int{7}, d.Test.Y)
	require.Equal(t, float32(0), d.Train.X[0])
	require.Equal(t, float32(11)/255, d.Train.X[1])
	require.Equal(t, float32(pix[23])/255, d.Train.Sample(2)[7])

	d2, err := LoadWithInfo(d.Info)
	require.NoError(t, err)
	require.Equal(t, d, d2)
}

func TestIDXCorrupt(t *testing.T) {
	pix := make([]byte, 2*3*3)
	good := map[string][]byte{
		"train-images-idx3-ubyte": idxImages(2, 3, 3, pix),
		"train-labels-idx1-ubyte": idxLabels([]byte{1, 2}),
		"t10k-images-idx3-ubyte":  idxImages(1, 3, 3, pix[:9]),
		"t10k-labels-idx1-ubyte":  idxLabels([]byte{3}),
	}
	badMagic := idxImages(2, 3, 3, pix)
	badMagic[3] = 0x02
	hugeCount := idxImages(1, 3, 3, pix[:9])
	binary.BigEndian.PutUint32(hugeCount[4:], 4_000_000_000)
	bigButValid := idxImages(1, 3, 3, pix[:9])
	binary.BigEndian.PutUint32(bigButValid[4:], 9_000_000) // within the cap, but file holds 1
	hugeSide := idxImages(1, 3, 3, pix[:9])
	binary.BigEndian.PutUint32(hugeSide[8:], 100_000)
	zeroSide := idxImages(1, 3, 3, pix[:9])
	binary.BigEndian.PutUint32(zeroSide[12:], 0)
	hugeLabels := idxLabels([]byte{1, 2})
	binary.BigEndian.PutUint32(hugeLabels[4:], 0xffffffff)

	cases := []struct {
		name, file string
		data       []byte
		want       string
	}{
		{"bad magic", "train-images-idx3-ubyte", badMagic, "magic"},
		{"labels as images", "train-images-idx3-ubyte", idxLabels([]byte{1, 2}), "magic"},
		{"truncated header", "train-images-idx3-ubyte", idxImages(2, 3, 3, nil)[:10], "truncated IDX images header"},
		{"empty file", "train-labels-idx1-ubyte", nil, "truncated IDX labels header"},
		{"truncated pixels", "train-images-idx3-ubyte", idxImages(2, 3, 3, pix[:11]), "truncated IDX pixel data"},
		{"truncated gz", "train-images-idx3-ubyte", gz(t, idxImages(2, 3, 3, pix))[:30], "train-images"},
		{"count mismatch", "train-labels-idx1-ubyte", idxLabels([]byte{1, 2, 3}), "3 labels but"},
		{"truncated labels", "train-labels-idx1-ubyte", idxLabels([]byte{1, 2})[:9], "truncated IDX label data"},
		{"label 11", "t10k-labels-idx1-ubyte", idxLabels([]byte{11}), "label 11"},
		{"huge count", "train-images-idx3-ubyte", hugeCount, "exceeds limit"},
		{"big count short file", "train-images-idx3-ubyte", bigButValid, "truncated"},
		{"huge side", "train-images-idx3-ubyte", hugeSide, "outside"},
		{"zero side", "train-images-idx3-ubyte", zeroSide, "outside"},
		{"huge label count", "train-labels-idx1-ubyte", hugeLabels, "exceeds limit"},
		{"test size differs", "t10k-images-idx3-ubyte", idxImages(1, 9, 1, pix[:9]), "test images"},
		{"zero images", "t10k-images-idx3-ubyte", idxImages(0, 3, 3, nil), "holds 0 images"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeIDXDir(t, dir, good)
			writeIDXDir(t, dir, map[string][]byte{tc.file: tc.data})
			_, err := Load(dir, Options{})
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
			require.True(t, strings.HasPrefix(err.Error(), "data: "+dir), err.Error())
		})
	}

	dir := t.TempDir()
	writeIDXDir(t, dir, map[string][]byte{"train-images-idx3-ubyte": good["train-images-idx3-ubyte"]})
	_, err := Load(dir, Options{})
	require.ErrorContains(t, err, "no train labels file")
	_, err = Load(filepath.Join(dir, "missing"), Options{})
	require.Error(t, err)
	_, err = Load(filepath.Join(dir, "train-images-idx3-ubyte"), Options{})
	require.ErrorContains(t, err, "unsupported")
}

func TestFullMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env GOMODCACHE failed:", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("full MNIST not in module cache:", dir)
	}
	d, err := Load(dir, Options{})
	require.NoError(t, err)
	require.Equal(t, 60000, d.Train.Len())
	require.Equal(t, 10000, d.Test.Len())
	require.Equal(t, []int{28, 28, 1}, d.Train.Shape)
	mini, err := Load("mnist-mini", Options{})
	require.NoError(t, err)
	require.Equal(t, mini.Train.Y, d.Train.Y[:10000])
	require.Equal(t, mini.Train.X, d.Train.X[:10000*784])
	require.Equal(t, mini.Test.Y, d.Test.Y[:2000])
	require.Equal(t, mini.Test.X, d.Test.X[:2000*784])
}
