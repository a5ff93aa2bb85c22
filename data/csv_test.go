package data

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

// genCSV makes n rows "a,b,label" with a header, features i and 10*i, label i%3.
func genCSV(n int) string {
	var b strings.Builder
	b.WriteString("a,b,label\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "%d,%d,%d\n", i, 10*i, i%3)
	}
	return b.String()
}

func TestReadCSVHeader(t *testing.T) {
	tab, err := ReadCSV(strings.NewReader("x, y ,cls\n1,2,0\n3,4.5,2\n"), "auto", "")
	require.NoError(t, err)
	require.True(t, tab.HasHeader)
	require.Equal(t, []string{"x", "y"}, tab.FeatureNames)
	require.Equal(t, "cls", tab.LabelName)
	require.Equal(t, []float32{1, 2, 3, 4.5}, tab.Set.X)
	require.Equal(t, []int{0, 2}, tab.Set.Y)
	require.Equal(t, []int{2}, tab.Set.Shape)
	require.Equal(t, 3, tab.Set.Classes)

	// No header: all-numeric first row.
	tab, err = ReadCSV(strings.NewReader("1,2,1\n3,4,0\n\n"), "", "")
	require.NoError(t, err)
	require.False(t, tab.HasHeader)
	require.Nil(t, tab.FeatureNames)
	require.Equal(t, 2, tab.Set.Len())
	require.Equal(t, 2, tab.Set.Classes)

	// Forced header on a numeric first row.
	tab, err = ReadCSV(strings.NewReader("1,2,1\n3,4,0\n"), "yes", "")
	require.NoError(t, err)
	require.Equal(t, 1, tab.Set.Len())
	require.Equal(t, []int{0}, tab.Set.Y)

	// Forced no header on a text first row: the text is a non-number error.
	_, err = ReadCSV(strings.NewReader("a,b,c\n1,2,0\n"), "no", "")
	require.ErrorContains(t, err, "line 1")

	// A UTF-8 byte order mark and CRLF line ends are tolerated.
	tab, err = ReadCSV(strings.NewReader("\ufeffcls,x\r\n1,2\r\n"), "auto", "cls")
	require.NoError(t, err)
	require.Equal(t, []int{1}, tab.Set.Y)
	tab, err = ReadCSV(strings.NewReader("\ufeff1,2\r\n0,3\r\n"), "auto", "")
	require.NoError(t, err)
	require.False(t, tab.HasHeader)
	require.Equal(t, []float32{1, 0}, tab.Set.X)

	_, err = ReadCSV(strings.NewReader("1,2,0\n"), "maybe", "")
	require.ErrorContains(t, err, "header mode")
}

func TestReadCSVLabelColumn(t *testing.T) {
	in := "cls,x,y\n1,5,6\n0,7,8\n"
	tab, err := ReadCSV(strings.NewReader(in), "auto", "cls")
	require.NoError(t, err)
	require.Equal(t, 0, tab.LabelIndex)
	require.Equal(t, []float32{5, 6, 7, 8}, tab.Set.X)
	require.Equal(t, []int{1, 0}, tab.Set.Y)
	require.Equal(t, []string{"x", "y"}, tab.FeatureNames)

	tab, err = ReadCSV(strings.NewReader(in), "auto", "0")
	require.NoError(t, err)
	require.Equal(t, []int{1, 0}, tab.Set.Y)

	tab, err = ReadCSV(strings.NewReader("1,5,6\n0,7,8\n"), "auto", "0")
	require.NoError(t, err)
	require.Equal(t, []int{1, 0}, tab.Set.Y)

	_, err = ReadCSV(strings.NewReader(in), "auto", "nope")
	require.ErrorContains(t, err, `label column "nope" not found`)
	_, err = ReadCSV(strings.NewReader(in), "auto", "3")
	require.ErrorContains(t, err, "out of range")
	_, err = ReadCSV(strings.NewReader("1,5,6\n"), "auto", "cls")
	require.ErrorContains(t, err, "no header")
}

func TestReadCSVErrors(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"field count", "a,b,c\n1,2,0\n1,2\n", "line 3: got 2 fields, want 3"},
		{"field count extra", "1,2,0\n1,2,0\n1,2,0,4\n", "line 3: got 4 fields, want 3"},
		{"non-number", "a,b,c\n1,2,0\n1,zz,0\n", `line 3: column 1: not a finite number (2 bytes of text, not shown)`},
		{"empty field", "a,b,c\n1,,0\n", "line 2: column 1"},
		{"nan", "a,b,c\n1,NaN,0\n", "line 2"},
		{"inf", "a,b,c\n1,2,0\n+Inf,2,0\n", "line 3"},
		{"negative label", "a,b,c\n1,2,-1\n", "line 2: label"},
		{"fractional label", "a,b,c\n1,2,0\n1,2,1.5\n", "line 3: label"},
		{"huge label", "a,b,c\n1,2,1e9\n", "line 2: label"},
		{"text label", "1,2,0\n1,2,x\n", "line 2: label"},
		{"one column", "1\n2\n", "at least 2 columns"},
		{"empty", "", "empty CSV"},
		{"header only", "a,b,c\n", "no data rows"},
		{"bad quote", "a,b,c\n1,\"2,0\n", "line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadCSV(strings.NewReader(tc.in), "auto", "")
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
		})
	}
	// Labels written as 2.0 are accepted.
	tab, err := ReadCSV(strings.NewReader("1,2,2.0\n"), "auto", "")
	require.NoError(t, err)
	require.Equal(t, []int{2}, tab.Set.Y)
}

func TestLoadCSVErrorsNameFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "bad.csv", []byte("a,b,c\n1,2,0\n1,2\n"))
	_, err := Load(p, Options{})
	require.ErrorContains(t, err, "data: "+p+": line 3: got 2 fields, want 3")

	p = writeFile(t, dir, "bad2.csv", []byte("a,b,c\n1,2,0\n1,q,0\n"))
	_, err = Load(p, Options{})
	require.ErrorContains(t, err, "data: "+p+": line 3:")

	_, err = Load(filepath.Join(dir, "missing.csv"), Options{})
	require.ErrorContains(t, err, "missing.csv")

	good := writeFile(t, dir, "good.csv", []byte(genCSV(20)))
	_, err = Load(good, Options{Normalize: "zscore"})
	require.ErrorContains(t, err, "normalize")
	_, err = Load(good, Options{TestFraction: 1})
	require.ErrorContains(t, err, "test fraction")

	tf := writeFile(t, dir, "test.csv", []byte("a,b\n1,0\n"))
	_, err = Load(good, Options{TestFile: tf})
	require.ErrorContains(t, err, tf)
}

func TestLoadCSVGzip(t *testing.T) {
	dir := t.TempDir()
	plain := writeFile(t, dir, "t.csv", []byte(genCSV(50)))
	zipped := writeFile(t, dir, "t.csv.gz", gz(t, []byte(genCSV(50))))
	a, err := Load(plain, Options{})
	require.NoError(t, err)
	b, err := Load(zipped, Options{})
	require.NoError(t, err)
	require.Equal(t, a.Train, b.Train)
	require.Equal(t, a.Test, b.Test)

	trunc := writeFile(t, dir, "trunc.csv.gz", gz(t, []byte(genCSV(50)))[:40])
	_, err = Load(trunc, Options{})
	require.ErrorContains(t, err, trunc)
}

func TestLoadCSVSplit(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "t.csv", []byte(genCSV(100)))
	d, err := Load(p, Options{})
	require.NoError(t, err)
	require.Equal(t, 80, d.Train.Len())
	require.Equal(t, 20, d.Test.Len())
	require.Equal(t, 3, d.Train.Classes)
	require.Equal(t, 3, d.Test.Classes)
	require.Equal(t, DefaultTestFraction, d.Info.TestFraction)
	require.Equal(t, int64(DefaultSeed), d.Info.Seed)
	require.Equal(t, "csv", d.Info.Kind)

	// Disjoint and covering: feature a is the row number.
	seen := map[float32]bool{}
	for _, s := range []*Set{d.Train, d.Test} {
		for i := 0; i < s.Len(); i++ {
			row := s.Sample(i)
			require.False(t, seen[row[0]], "row %v twice", row[0])
			seen[row[0]] = true
			require.Equal(t, 10*row[0], row[1])
			require.Equal(t, int(row[0])%3, s.Y[i])
		}
	}
	require.Len(t, seen, 100)

	// Reproducible for a seed, different for another.
	d2, err := Load(p, Options{Seed: 1, TestFraction: 0.2})
	require.NoError(t, err)
	require.Equal(t, d.Test, d2.Test)
	d3, err := Load(p, Options{Seed: 7, TestFraction: 0.3})
	require.NoError(t, err)
	require.Equal(t, 30, d3.Test.Len())
	require.NotEqual(t, d.Test.X, d3.Test.X[:len(d.Test.X)])

	// Negative fraction: nothing held out.
	d4, err := Load(p, Options{TestFraction: -1})
	require.NoError(t, err)
	require.Equal(t, 100, d4.Train.Len())
	require.Equal(t, 0, d4.Test.Len())
	d5, err := LoadWithInfo(d4.Info)
	require.NoError(t, err)
	require.Equal(t, d4, d5)

	// Separate test file.
	tf := writeFile(t, dir, "test.csv", []byte("a,b,label\n1,2,4\n"))
	d6, err := Load(p, Options{TestFile: tf})
	require.NoError(t, err)
	require.Equal(t, 100, d6.Train.Len())
	require.Equal(t, 1, d6.Test.Len())
	require.Equal(t, 5, d6.Train.Classes)
	require.Equal(t, 5, d6.Test.Classes)
	require.NoError(t, d6.CheckShape([]int{2}))
	require.Error(t, d6.CheckShape([]int{3}))
}

func TestSetSplitHeadSubset(t *testing.T) {
	s := &Set{X: make([]float32, 10*2), Y: make([]int, 10), Shape: []int{2}, Classes: 10}
	for i := range 10 {
		s.X[2*i], s.X[2*i+1], s.Y[i] = float32(i), float32(-i), i
	}
	rest, held := s.Split(0.25, 3) // round(2.5) = 3
	require.Equal(t, 3, held.Len())
	require.Equal(t, 7, rest.Len())
	rest2, held2 := s.Split(0.25, 3)
	require.Equal(t, rest, rest2)
	require.Equal(t, held, held2)
	all := append(append([]int(nil), rest.Y...), held.Y...)
	require.ElementsMatch(t, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, all)

	h := s.Head(3)
	require.Equal(t, []int{0, 1, 2}, h.Y)
	h.X[0] = 99 // a copy
	require.Equal(t, float32(0), s.X[0])
	require.Equal(t, 10, s.Head(50).Len())
	require.Equal(t, 0, s.Head(-1).Len())
	require.Equal(t, []float32{4, -4}, s.Subset([]int{4}).X)

	u := &Set{X: []float32{1, 2, 3}, Shape: []int{1}}
	r, hh := u.Split(1, 1)
	require.Equal(t, 0, r.Len())
	require.Nil(t, hh.Y)
	require.Equal(t, 3, hh.Len())
}

func TestNormalizeTrainOnly(t *testing.T) {
	dir := t.TempDir()
	train := writeFile(t, dir, "train.csv", []byte("a,b,y\n0,1,0\n2,1,1\n4,1,0\n"))
	test := writeFile(t, dir, "test.csv", []byte("a,b,y\n100,5,1\n"))

	d, err := Load(train, Options{TestFile: test, Normalize: "minmax"})
	require.NoError(t, err)
	require.Equal(t, []float32{0, 1}, d.Info.Mean)
	require.Equal(t, []float32{0.25, 1}, d.Info.Scale)
	require.Equal(t, []float32{0, 0, 0.5, 0, 1, 0}, d.Train.X)
	require.Equal(t, []float32{25, 4}, d.Test.X) // test data does not affect stats

	d, err = Load(train, Options{TestFile: test, Normalize: "standard"})
	require.NoError(t, err)
	sd := math.Sqrt(8.0 / 3)
	require.Equal(t, float32(2), d.Info.Mean[0])
	require.InDelta(t, 1/sd, d.Info.Scale[0], 1e-6)
	require.Equal(t, float32(1), d.Info.Scale[1]) // constant column
	var sum float64
	for i := 0; i < 3; i++ {
		sum += float64(d.Train.X[2*i])
	}
	require.InDelta(t, 0, sum, 1e-6)
	require.InDelta(t, 98/sd, d.Test.X[0], 1e-4)

	// With a seeded split, the stats come from the training rows only.
	p := writeFile(t, dir, "t.csv", []byte(genCSV(40)))
	d, err = Load(p, Options{Normalize: "minmax", Seed: 5})
	require.NoError(t, err)
	raw, err := Load(p, Options{Seed: 5})
	require.NoError(t, err)
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for i := 0; i < raw.Train.Len(); i++ {
		lo, hi = min(lo, raw.Train.Sample(i)[0]), max(hi, raw.Train.Sample(i)[0])
	}
	require.Equal(t, lo, d.Info.Mean[0])
	require.Equal(t, 1/(hi-lo), d.Info.Scale[0])
}

func TestLoadWithInfoCSV(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "t.csv.gz", gz(t, []byte(genCSV(60))))
	for _, opt := range []Options{
		{},
		{Seed: 42, TestFraction: 0.33, Normalize: "standard"},
		{LabelColumn: "a", Header: "auto", Normalize: "minmax"},
		{LabelColumn: "2", Header: "yes", Normalize: "none"},
	} {
		d, err := Load(p, opt)
		require.NoError(t, err)
		// Round-trip the Info through JSON as a model file would.
		b, err := json.Marshal(d.Info)
		require.NoError(t, err)
		require.NotContains(t, string(b), "Mean")
		var info Info
		require.NoError(t, json.Unmarshal(b, &info))
		d2, err := LoadWithInfo(info)
		require.NoError(t, err)
		require.Equal(t, d, d2)
	}

	d, err := Load(p, Options{Normalize: "minmax"})
	require.NoError(t, err)
	info := d.Info
	info.Mean = info.Mean[:1]
	_, err = LoadWithInfo(info)
	require.ErrorContains(t, err, "recorded normalisation")

	_, err = LoadWithInfo(Info{Kind: "parquet"})
	require.ErrorContains(t, err, "unknown data kind")
	_, err = LoadWithInfo(Info{Kind: "csv"})
	require.Error(t, err)

	m, err := LoadWithInfo(Info{Kind: "mnist-mini", Source: "mnist-mini"})
	require.NoError(t, err)
	require.Equal(t, 10000, m.Train.Len())
}

func FuzzReadCSV(f *testing.F) {
	f.Add([]byte("a,b,c\n1,2,0\n3,4,1\n"), "auto", "")
	f.Add([]byte("1,2,0\n3,4,1\n"), "no", "0")
	f.Add([]byte("x,y\n1,\"2\"\n"), "yes", "x")
	var gzb bytes.Buffer
	gzb.Write(gz(f, []byte("a,b\n1,2\n")))
	f.Add(gzb.Bytes(), "", "")
	f.Fuzz(func(t *testing.T, in []byte, header, label string) {
		tab, err := ReadCSV(bytes.NewReader(in), header, label)
		if err != nil {
			return
		}
		s := tab.Set
		if err := s.validate(); err != nil {
			t.Fatalf("invalid set: %v", err)
		}
		_, _ = s.Split(0.3, 1)
	})
}

func FuzzReadIDXImages(f *testing.F) {
	f.Add(idxImages(2, 2, 2, []byte{1, 2, 3, 4, 5, 6, 7, 8}))
	f.Add(gz(f, idxImages(1, 3, 1, []byte{1, 2, 3})))
	f.Add(idxLabels([]byte{1, 2}))
	f.Add([]byte{0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		n, r, c, pix, err := ReadIDXImages(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(pix) != n*r*c {
			t.Fatalf("%d pixels for %d×%d×%d", len(pix), n, r, c)
		}
		_, _ = ReadIDXLabels(bytes.NewReader(in))
	})
}

func TestSetDraw(t *testing.T) {
	s := &Set{X: make([]float32, 11*3), Y: make([]int, 11), Shape: []int{3}, Classes: 11}
	for i := range 11 {
		s.X[3*i], s.X[3*i+1], s.X[3*i+2], s.Y[i] = float32(i)+0.5, float32(-i), 7, i
	}
	d := s.Draw(5, 42)
	require.Equal(t, 5, d.Len())
	require.True(t, slices.IsSorted(d.Y))
	for j, y := range d.Y {
		require.Equal(t, s.Sample(y), d.Sample(j)) // the features follow their label
	}
	require.Len(t, slices.Compact(slices.Clone(d.Y)), 5) // without replacement
	require.Equal(t, d, s.Draw(5, 42))
	require.NotEqual(t, d.Y, s.Draw(5, 43).Y)
	d.X[0] = -99 // a copy
	require.NotEqual(t, float32(-99), s.X[3*d.Y[0]])
	require.Same(t, s, s.Draw(11, 1))
	require.Equal(t, 0, s.Draw(-2, 1).Len())
}
