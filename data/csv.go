package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// MaxCSVClasses bounds the class labels accepted from CSV files: labels must
// be integers in [0, MaxCSVClasses).
const MaxCSVClasses = 65536

// CSVTable is the result of ReadCSV: a labelled Set (Shape [D]) and the names
// of its feature and label columns when the file has a header.
type CSVTable struct {
	Set          *Set     // features and labels; Classes = max label + 1
	FeatureNames []string // header names of the D feature columns, nil without header
	LabelName    string   // header name of the label column, "" without header
	LabelIndex   int      // 0-based index of the label column in the file
	HasHeader    bool     // whether the first row was treated as a header
}

// parseNum parses a finite number.
func parseNum(s string) (float64, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// ReadCSV reads a numeric CSV table with one label column, transparently
// gunzipping r if it starts with the gzip magic.
//
// header is "auto" (or ""): the first row is a header if any of its fields is
// not a finite number; "yes": the first row is always a header; "no": never.
// labelColumn names the label column by header name or by 0-based index; ""
// means the last column. All other columns are float features. Labels must be
// integers (e.g. "3" or "3.0") in [0, MaxCSVClasses); Classes is max label + 1.
// Empty lines are skipped and a leading UTF-8 byte order mark is ignored.
// Errors give the 1-based line number.
func ReadCSV(r io.Reader, header, labelColumn string) (*CSVTable, error) {
	switch header {
	case "", "auto", "yes", "no":
	default:
		return nil, fmt.Errorf("invalid header mode %q (want auto, yes or no)", header)
	}
	rr, _, err := maybeGunzip(r)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(rr)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true

	t := &CSVTable{LabelIndex: -1}
	set := &Set{}
	t.Set = set
	nfields := -1
	var rowBuf []float32
	maxLabel := -1
	first := true
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("line %d: %v", pe.Line, pe.Err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errors.New("gzip: truncated compressed data")
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if first {
			first = false
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff") // UTF-8 byte order mark
			nfields = len(rec)
			if nfields < 2 {
				return nil, fmt.Errorf("line %d: need at least 2 columns (features and a label), got %d", line, nfields)
			}
			isHeader := header == "yes"
			if header == "" || header == "auto" {
				for _, f := range rec {
					if _, ok := parseNum(f); !ok {
						isHeader = true
						break
					}
				}
			}
			var names []string
			if isHeader {
				names = make([]string, len(rec))
				for i, f := range rec {
					names[i] = strings.TrimSpace(f)
				}
			}
			li, err := labelIndex(labelColumn, names, nfields)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			t.LabelIndex = li
			t.HasHeader = isHeader
			set.Shape = []int{nfields - 1}
			if isHeader {
				t.LabelName = names[li]
				t.FeatureNames = append(append([]string(nil), names[:li]...), names[li+1:]...)
				continue
			}
		}
		if len(rec) != nfields {
			return nil, fmt.Errorf("line %d: got %d fields, want %d", line, len(rec), nfields)
		}
		rowBuf = rowBuf[:0]
		for i, f := range rec {
			v, ok := parseNum(f)
			if i == t.LabelIndex {
				if !ok || v != math.Trunc(v) || v < 0 || v >= MaxCSVClasses {
					return nil, fmt.Errorf("line %d: label %q is not an integer class in [0,%d)", line, f, MaxCSVClasses)
				}
				set.Y = append(set.Y, int(v))
				maxLabel = max(maxLabel, int(v))
				continue
			}
			if !ok {
				return nil, fmt.Errorf("line %d: column %d: %q is not a finite number", line, i, f)
			}
			rowBuf = append(rowBuf, float32(v))
		}
		set.X = append(set.X, rowBuf...)
	}
	if first {
		return nil, errors.New("empty CSV file")
	}
	if len(set.Y) == 0 {
		return nil, errors.New("CSV file has no data rows")
	}
	set.Classes = maxLabel + 1
	return t, nil
}

// labelIndex resolves a label column spec against the header names (nil when
// there is no header).
func labelIndex(spec string, names []string, nfields int) (int, error) {
	if spec == "" {
		return nfields - 1, nil
	}
	for i, n := range names {
		if n == spec {
			return i, nil
		}
	}
	i, err := strconv.Atoi(strings.TrimSpace(spec))
	if err != nil {
		if names == nil {
			return 0, fmt.Errorf("label column %q: file has no header, give a 0-based column index", spec)
		}
		return 0, fmt.Errorf("label column %q not found in header %q", spec, names)
	}
	if i < 0 || i >= nfields {
		return 0, fmt.Errorf("label column index %d out of range [0,%d)", i, nfields)
	}
	return i, nil
}
