package data

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/shrink-ml/shrink/budget"
)

// MaxCSVClasses is the hard cap on class labels accepted from CSV files:
// labels must be integers in [0, MaxCSVClasses) and within the budget's
// class limit (budget.DefaultClasses unless raised).
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

// show describes a field's value for an error without echoing file
// contents: a short token made only of the characters of a number (such as
// "1e39", "inf" or "-") is shown, anything else only by its length.
func show(f string) string {
	f = strings.TrimSpace(f)
	if len(f) > 0 && len(f) <= 24 && strings.Trim(f, "0123456789+-.eEinfINFaAtyTY_xXpP") == "" {
		return strconv.Quote(f)
	}
	return fmt.Sprintf("%d bytes of text, not shown", len(f))
}

// recordLimit passes bytes through and fails once one CSV record (lines
// joined by quoted newlines) is longer than max bytes or has more than
// fields fields, so that a single endless line costs at most those limits
// (encoding/csv spends some 150 bytes on each field of a record: a
// separator-only line would cost 75 times its size) and not the input.
type recordLimit struct {
	r       io.Reader
	b       budget.Budget
	max     int64
	fields  int64
	n       int64 // bytes of the current record so far
	commas  int64 // separators of the current record so far
	line    int   // 1-based line of the current record
	lines   int   // newlines seen
	inQuote bool
}

func (l *recordLimit) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for _, c := range p[:n] {
		switch {
		case c == '"':
			l.inQuote = !l.inQuote // "" inside quotes toggles twice
		case c == ',' && !l.inQuote:
			l.commas++
			if l.commas >= l.fields {
				return 0, fmt.Errorf("line %d: %w", l.line, l.b.CheckFields(l.commas+1, "record still incomplete"))
			}
		case c == '\n':
			l.lines++
			if !l.inQuote {
				l.n, l.commas, l.line = 0, 0, l.lines+1
				continue
			}
		}
		l.n++
		if l.n > l.max {
			return 0, fmt.Errorf("line %d: %w", l.line, l.b.CheckLineBytes(l.n, "record still incomplete"))
		}
	}
	return n, err
}

// ReadCSV reads a numeric CSV table within the default budget; see
// ReadCSVBudget.
func ReadCSV(r io.Reader, header, labelColumn string) (*CSVTable, error) {
	return ReadCSVBudget(r, header, labelColumn, budget.Budget{})
}

// ReadCSVBudget reads a numeric CSV table with one label column,
// transparently gunzipping r if it starts with the gzip magic.
//
// header is "auto" (or ""): the first row is a header if any of its fields is
// not a finite number; "yes": the first row is always a header; "no": never.
// labelColumn names the label column by header name or by 0-based index; ""
// means the last column. All other columns are float features, which must
// be finite float32 values (1e39 is refused, not stored as +Inf). Labels
// must be integers (e.g. "3" or "3.0") in [0, MaxCSVClasses); Classes is
// max label + 1, which must be within b's class limit. Empty lines are
// skipped and a leading UTF-8 byte order mark is ignored.
//
// Budget b bounds the bytes read (after decompression, and as a ratio of
// the compressed bytes), the data rows, the fields of a row and the bytes
// of a record; each is checked as the data arrives, so the cost of a
// hostile file stays proportional to the limits, not to the file. Errors
// give the 1-based line number and never echo more of the file than a
// numeric token.
func ReadCSVBudget(r io.Reader, header, labelColumn string, b budget.Budget) (*CSVTable, error) {
	switch header {
	case "", "auto", "yes", "no":
	default:
		return nil, fmt.Errorf("invalid header mode %s (want auto, yes or no)", budget.Quote(header))
	}
	b = b.Effective()
	rr, _, err := maybeGunzip(r, b)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(&recordLimit{r: rr, b: b, max: b.LineBytes, fields: b.Fields, line: 1})
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
	var rows int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && !errors.Is(err, budget.ErrExceeded) {
				return nil, fmt.Errorf("line %d: %v", pe.Line, pe.Err)
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, errors.New("gzip: truncated compressed data")
			}
			if pe != nil {
				return nil, pe.Err
			}
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		if err := b.CheckFields(int64(len(rec)), ""); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
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
		rows++
		if err := b.CheckRows(rows, ""); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		rowBuf = rowBuf[:0]
		for i, f := range rec {
			v, ok := parseNum(f)
			if i == t.LabelIndex {
				if !ok || v != math.Trunc(v) || v < 0 || v >= MaxCSVClasses {
					return nil, fmt.Errorf("line %d: label in column %d is not an integer class in [0,%d) (%s)", line, i, MaxCSVClasses, show(f))
				}
				if err := b.CheckClasses(int64(v)+1, ""); err != nil {
					return nil, fmt.Errorf("line %d: label %d in column %d: %w", line, int64(v), i, err)
				}
				set.Y = append(set.Y, int(v))
				maxLabel = max(maxLabel, int(v))
				continue
			}
			if !ok {
				return nil, fmt.Errorf("line %d: column %d: not a finite number (%s)", line, i, show(f))
			}
			if math.Abs(v) > math.MaxFloat32 {
				return nil, fmt.Errorf("line %d: column %d: %s overflows float32 (largest magnitude %.4g)", line, i, show(f), math.MaxFloat32)
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
			return 0, fmt.Errorf("label column %s: file has no header, give a 0-based column index", budget.Quote(spec))
		}
		return 0, fmt.Errorf("label column %s not found among the %d header names", budget.Quote(spec), len(names))
	}
	if i < 0 || i >= nfields {
		return 0, fmt.Errorf("label column index %d out of range [0,%d)", i, nfields)
	}
	return i, nil
}
