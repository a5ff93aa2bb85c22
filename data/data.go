package data

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/shrink-ml/shrink/budget"
)

// Kinds of data source recorded in Info.Kind.
const (
	KindMNISTMini = "mnist-mini" // the embedded MNIST subset
	KindIDX       = "idx"        // a folder of MNIST IDX files
	KindCSV       = "csv"        // a numeric CSV file
)

// Default CSV split parameters used when Options leaves them zero.
const (
	DefaultTestFraction = 0.2
	DefaultSeed         = 1
)

// Options control how a data set spec is loaded.
type Options struct {
	TestFraction float64 // CSV only: fraction held out for test when no TestFile (0 means the default 0.2; negative means hold out nothing)
	Seed         int64   // CSV split seed (0 means the default 1)
	TestFile     string  // CSV: separate test file
	LabelColumn  string  // CSV: label column name or 0-based index; default: the last column
	Header       string  // CSV: "auto" (default), "yes", "no"
	Normalize    string  // CSV: "none" (default), "minmax", "standard" — stats fitted on the training part only
	// Budget bounds what the readers accept: decompressed bytes, CSV rows,
	// fields and record bytes, classes (the zero value means the defaults).
	Budget budget.Budget
}

// Data holds the training and test parts and a record of how they were made
// (to store in a model file so eval reuses the same split).
type Data struct {
	Name  string // the spec as given, e.g. "mnist-mini", a folder, a CSV path
	Train *Set   // training part
	Test  *Set   // test part (may be empty for CSV with a negative TestFraction)
	Info  Info   // how Train and Test were produced
}

// Info is a JSON-serialisable record of a loaded data set, enough to
// reproduce the split and normalisation with LoadWithInfo.
type Info struct {
	Source       string    `json:"source"`                  // spec / path the data came from
	Kind         string    `json:"kind"`                    // "mnist-mini", "idx" or "csv"
	TestFraction float64   `json:"test_fraction,omitempty"` // CSV: effective held-out fraction (0 with TestFile)
	Seed         int64     `json:"seed,omitempty"`          // CSV: effective split seed
	TestFile     string    `json:"test_file,omitempty"`     // CSV: separate test file
	LabelColumn  string    `json:"label_column,omitempty"`  // CSV: label column as given ("" = last)
	Header       string    `json:"header,omitempty"`        // CSV: header mode as given ("" = auto)
	Normalize    string    `json:"normalize,omitempty"`     // CSV: "", "none", "minmax" or "standard"
	Mean         []float32 `json:"mean,omitempty"`          // per-feature offset; features become (x-Mean)*Scale
	Scale        []float32 `json:"scale,omitempty"`         // per-feature scale
}

// Load loads a data set spec:
//   - "" or "mnist-mini": the embedded MNIST subset (10,000 train / 2,000 test);
//   - a directory: MNIST IDX files named train-images-idx3-ubyte, train-labels-idx1-ubyte,
//     t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (optionally gzipped with a .gz suffix;
//     the "train-images.idx3-ubyte" spelling and a "test-" prefix are accepted too);
//   - a file ending in .csv or .csv.gz: a numeric CSV table (see ReadCSV and Options).
//
// Image pixels are scaled to [0,1] and have Shape [rows, cols, 1] with 10 classes.
// Options other than Normalize are ignored for images; normalisation is
// CSV-only and asking for it on images is an error.
func Load(spec string, opt Options) (*Data, error) {
	switch {
	case spec == "" || spec == KindMNISTMini:
		if err := imageOptions(opt); err != nil {
			return nil, err
		}
		train, test, err := loadMNISTMini()
		if err != nil {
			return nil, err
		}
		return &Data{Name: spec, Train: train, Test: test, Info: Info{Source: KindMNISTMini, Kind: KindMNISTMini}}, nil
	case isCSVPath(spec):
		return loadCSV(spec, opt, nil)
	}
	st, err := os.Stat(spec)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w (want \"mnist-mini\", an MNIST IDX folder or a .csv/.csv.gz file)", spec, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data: %s: unsupported data file (want \"mnist-mini\", an MNIST IDX folder or a .csv/.csv.gz file)", spec)
	}
	if err := imageOptions(opt); err != nil {
		return nil, err
	}
	train, test, err := loadIDXDir(spec, opt.Budget)
	if err != nil {
		return nil, err
	}
	return &Data{Name: spec, Train: train, Test: test, Info: Info{Source: spec, Kind: KindIDX}}, nil
}

// LoadWithInfo reloads exactly the split and normalisation recorded in info
// (typically stored in a model file) within the default budget; see
// LoadRecorded.
func LoadWithInfo(info Info) (*Data, error) { return LoadRecorded(info, budget.Budget{}) }

// LoadRecorded reloads exactly the split and normalisation recorded in info
// (typically stored in a model file), within budget b. For CSV data the
// recorded Mean/Scale are applied as stored rather than refitted.
//
// A recorded source is a hint, not an order: it is followed only to the
// embedded set, a folder or a regular file (symlinks to those included),
// never to a device, a FIFO or a socket (ErrNotRegular), and a file is
// checked again once open, without ever blocking on it.
func LoadRecorded(info Info, b budget.Budget) (*Data, error) {
	switch info.Kind {
	case KindMNISTMini:
		return Load(KindMNISTMini, Options{Budget: b})
	case KindIDX:
		if info.Source == "" {
			return nil, errors.New("data: info of kind idx has no source folder")
		}
		if err := checkFolder(info.Source); err != nil {
			return nil, fmt.Errorf("data: recorded source: %w", err)
		}
		train, test, err := loadIDX(regularFS(info.Source), info.Source, b)
		if err != nil {
			return nil, err
		}
		return &Data{Name: info.Source, Train: train, Test: test, Info: Info{Source: info.Source, Kind: KindIDX}}, nil
	case KindCSV:
		if info.Source == "" {
			return nil, errors.New("data: info of kind csv has no source file")
		}
		opt := Options{
			TestFraction: info.TestFraction,
			Seed:         info.Seed,
			TestFile:     info.TestFile,
			LabelColumn:  info.LabelColumn,
			Header:       info.Header,
			Normalize:    info.Normalize,
			Budget:       b,
		}
		if opt.TestFile == "" && opt.TestFraction == 0 {
			opt.TestFraction = -1 // recorded "nothing held out"
		}
		if opt.Seed == 0 {
			opt.Seed = DefaultSeed
		}
		return loadCSV(info.Source, opt, &info)
	default:
		return nil, fmt.Errorf("data: unknown data kind %s in info", budget.Quote(info.Kind))
	}
}

func imageOptions(opt Options) error {
	if opt.Normalize != "" && opt.Normalize != "none" {
		return fmt.Errorf("data: normalize %q is only supported for CSV data (images are scaled to [0,1])", opt.Normalize)
	}
	return nil
}

func isCSVPath(spec string) bool {
	l := strings.ToLower(spec)
	return strings.HasSuffix(l, ".csv") || strings.HasSuffix(l, ".csv.gz")
}

// readCSVFile reads a CSV file; recorded paths (named by a model file)
// must be regular files.
func readCSVFile(path, header, label string, b budget.Budget, recorded bool) (*CSVTable, error) {
	var f *os.File
	var err error
	if recorded {
		f, err = openRegular(path)
	} else {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	t, err := ReadCSVBudget(f, header, label, b)
	if err != nil {
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return t, nil
}

// loadCSV loads a CSV spec; rec, when non-nil, supplies recorded normalisation stats.
func loadCSV(path string, opt Options, rec *Info) (*Data, error) {
	switch opt.Normalize {
	case "", "none", "minmax", "standard":
	default:
		return nil, fmt.Errorf("data: invalid normalize %q (want none, minmax or standard)", opt.Normalize)
	}
	if math.IsNaN(opt.TestFraction) || opt.TestFraction >= 1 {
		return nil, fmt.Errorf("data: test fraction %v must be below 1", opt.TestFraction)
	}
	info := Info{
		Source:      path,
		Kind:        KindCSV,
		TestFile:    opt.TestFile,
		LabelColumn: opt.LabelColumn,
		Header:      opt.Header,
		Normalize:   opt.Normalize,
	}
	t, err := readCSVFile(path, opt.Header, opt.LabelColumn, opt.Budget, rec != nil)
	if err != nil {
		return nil, err
	}
	var train, test *Set
	if opt.TestFile != "" {
		tt, err := readCSVFile(opt.TestFile, opt.Header, opt.LabelColumn, opt.Budget, rec != nil)
		if err != nil {
			return nil, err
		}
		if tt.Set.Dim() != t.Set.Dim() {
			return nil, fmt.Errorf("data: %s: %d feature columns but %s has %d", opt.TestFile, tt.Set.Dim(), path, t.Set.Dim())
		}
		train, test = t.Set, tt.Set
		c := max(train.Classes, test.Classes)
		train.Classes, test.Classes = c, c
	} else {
		frac := opt.TestFraction
		if frac == 0 {
			frac = DefaultTestFraction
		}
		if frac < 0 {
			frac = 0
		}
		seed := opt.Seed
		if seed == 0 {
			seed = DefaultSeed
		}
		info.TestFraction, info.Seed = frac, seed
		train, test = t.Set.Split(frac, seed)
	}
	if train.Len() == 0 {
		return nil, fmt.Errorf("data: %s: training part is empty", path)
	}
	switch opt.Normalize {
	case "minmax", "standard":
		if rec != nil && (rec.Mean != nil || rec.Scale != nil) {
			if len(rec.Mean) != train.Dim() || len(rec.Scale) != train.Dim() {
				return nil, fmt.Errorf("data: %s: recorded normalisation has %d/%d values for %d features", path, len(rec.Mean), len(rec.Scale), train.Dim())
			}
			info.Mean = append([]float32(nil), rec.Mean...)
			info.Scale = append([]float32(nil), rec.Scale...)
		} else {
			info.Mean, info.Scale = fitNorm(train, opt.Normalize)
		}
		applyNorm(train, info.Mean, info.Scale)
		applyNorm(test, info.Mean, info.Scale)
	}
	return &Data{Name: path, Train: train, Test: test, Info: info}, nil
}

// fitNorm computes per-feature offset and scale on s.
func fitNorm(s *Set, mode string) (mean, scale []float32) {
	d, n := s.Dim(), s.Len()
	mean, scale = make([]float32, d), make([]float32, d)
	for j := 0; j < d; j++ {
		switch mode {
		case "minmax":
			lo, hi := math.Inf(1), math.Inf(-1)
			for i := 0; i < n; i++ {
				v := float64(s.X[i*d+j])
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
			mean[j], scale[j] = float32(lo), 1
			if hi > lo {
				scale[j] = float32(1 / (hi - lo))
			}
		case "standard":
			var sum, sq float64
			for i := 0; i < n; i++ {
				sum += float64(s.X[i*d+j])
			}
			m := sum / float64(n)
			for i := 0; i < n; i++ {
				dv := float64(s.X[i*d+j]) - m
				sq += dv * dv
			}
			sd := math.Sqrt(sq / float64(n))
			mean[j], scale[j] = float32(m), 1
			if sd > 0 && !math.IsInf(1/sd, 0) {
				scale[j] = float32(1 / sd)
			}
		}
	}
	return mean, scale
}

// applyNorm maps every feature x to (x-mean)*scale in place.
func applyNorm(s *Set, mean, scale []float32) {
	d := s.Dim()
	for i := range s.X {
		j := i % d
		s.X[i] = (s.X[i] - mean[j]) * scale[j]
	}
}

// CheckShape reports whether a model input shape (per sample, without batch
// dimension) fits the data's samples (see Set.CheckShape).
func (d *Data) CheckShape(shape []int) error {
	if err := d.Train.CheckShape(shape); err != nil {
		return fmt.Errorf("data: %s: %w", d.Name, err)
	}
	return nil
}
