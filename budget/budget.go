// Package budget is shrink's one resource budget: the limits on memory,
// compute, classes, folded constants, decompressed bytes and CSV shape that
// every reader and every evaluation or training run checks before it
// allocates anything. It sits low in the import graph (it imports only the
// standard library) so that nn, data and every format can use it.
//
// A Budget is a plain value; Default returns the documented defaults and a
// zero field means "the default". Every check returns an *Error that names
// the limit, the value that exceeded it and the command-line flag that
// raises it, and wraps ErrExceeded:
//
//	classes: 30001 (label 30000 in column 2) is above the limit of 4096 (raise it with --max-classes)
//
// Arithmetic on sizes taken from files is overflow-safe: Mul and Add
// saturate at math.MaxInt64 instead of wrapping, so a product of hostile
// dimensions is always compared, never wrapped round to something small.
//
// Functions read; methods on *Budget (Set) mutate; the package never prints.
package budget

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrExceeded is wrapped by every error about a value above a limit of the
// budget.
var ErrExceeded = errors.New("resource budget exceeded")

// Budget holds the limits. Sizes are in bytes, counts in items; a zero (or
// negative) field means the field's default (see Default).
type Budget struct {
	// Memory bounds the bytes a model run holds: for evaluation the largest
	// layer input + output (+ workspace) × batch plus the parameters; for
	// training every activation kept for the backward pass × batch plus
	// parameters, gradients and optimizer state. Flag --max-memory.
	Memory int64
	// MACs bounds the multiply-accumulates per sample. Flag --max-macs.
	MACs int64
	// Classes bounds the number of classes (model outputs, CSV labels);
	// evaluation holds a classes × classes confusion matrix.
	// Flag --max-classes.
	Classes int64
	// Folded bounds the bytes of all constants folded at ONNX import, in
	// total. Flag --max-folded.
	Folded int64
	// InflateRatio bounds decompressed bytes as a multiple of the
	// compressed bytes read so far (beyond the first InflateFloor bytes,
	// which are always allowed). Flag --max-inflate-ratio.
	InflateRatio int64
	// Inflated bounds the bytes a data reader consumes after
	// decompression (and the size of an uncompressed data file).
	// Flag --max-data-bytes.
	Inflated int64
	// Rows bounds the data rows of a CSV file. Flag --max-rows.
	Rows int64
	// Fields bounds the fields of one CSV row. Flag --max-fields.
	Fields int64
	// LineBytes bounds the bytes of one CSV record. Flag --max-line-bytes.
	LineBytes int64
}

// The defaults. They admit training lenet5, lenet300 and mlp:1000,1000 at
// batch 256 with Adam and their evaluation at full batches (tested in nn),
// and MNIST-sized data (60,000 28×28 images are 47 MB of pixels), while
// keeping what a hostile file can make a command allocate to about the
// memory limit plus the data-bytes limit as float32.
const (
	DefaultMemory       = 1 << 30    // 1 GiB of activations, parameters and training state
	DefaultMACs         = 2e9        // multiply-accumulates per sample
	DefaultClasses      = 4096       // a 4096² confusion matrix of int is 128 MiB
	DefaultFolded       = 256 << 20  // folded ONNX constants, in total
	DefaultInflateRatio = 100        // decompressed ÷ compressed bytes
	DefaultInflated     = 256 << 20  // as float32 features, 1 GiB
	DefaultRows         = 10_000_000 // CSV data rows
	DefaultFields       = 1 << 16    // CSV fields per row
	DefaultLineBytes    = 1 << 20    // CSV bytes per record
	InflateFloor        = 4 << 20    // decompressed bytes always allowed, whatever the ratio
	maxErrorQuote       = 64         // see Quote
	maxInt              = math.MaxInt64
	unlimitedWord       = "unlimited" // accepted by Set
)

// Default returns the budget with every limit at its default.
func Default() Budget {
	return Budget{
		Memory:       DefaultMemory,
		MACs:         DefaultMACs,
		Classes:      DefaultClasses,
		Folded:       DefaultFolded,
		InflateRatio: DefaultInflateRatio,
		Inflated:     DefaultInflated,
		Rows:         DefaultRows,
		Fields:       DefaultFields,
		LineBytes:    DefaultLineBytes,
	}
}

// limit describes one field of Budget: its name in errors, its flag, its
// unit and how to reach it. It is the one table of the package; Set, Flags
// and the checks all read it.
type limit struct {
	name  string // in errors: "memory", "MACs per sample", ...
	flag  string // without the dashes
	bytes bool   // a size in bytes (printed and parsed with units)
	def   int64
	help  string
}

var limits = []limit{
	{"memory", "max-memory", true, DefaultMemory,
		"largest activation × batch plus parameters (and gradients and optimizer state when training), in bytes"},
	{"MACs per sample", "max-macs", false, DefaultMACs,
		"multiply-accumulates per sample of a model"},
	{"classes", "max-classes", false, DefaultClasses,
		"classes of a model or a data set"},
	{"folded constants", "max-folded", true, DefaultFolded,
		"bytes of constants folded at ONNX import, in total"},
	{"decompression ratio", "max-inflate-ratio", false, DefaultInflateRatio,
		"decompressed bytes as a multiple of compressed bytes (beyond the first 4 MiB)"},
	{"data bytes", "max-data-bytes", true, DefaultInflated,
		"bytes of a data file after decompression"},
	{"CSV rows", "max-rows", false, DefaultRows,
		"data rows of a CSV file"},
	{"CSV fields per row", "max-fields", false, DefaultFields,
		"fields of one CSV row"},
	{"CSV record bytes", "max-line-bytes", true, DefaultLineBytes,
		"bytes of one CSV record"},
}

// field returns the field of b that limits[i] describes (a switch, not a
// table of closures, so that checking never moves b to the heap).
func (b *Budget) field(i int) *int64 {
	switch i {
	case 0:
		return &b.Memory
	case 1:
		return &b.MACs
	case 2:
		return &b.Classes
	case 3:
		return &b.Folded
	case 4:
		return &b.InflateRatio
	case 5:
		return &b.Inflated
	case 6:
		return &b.Rows
	case 7:
		return &b.Fields
	case 8:
		return &b.LineBytes
	}
	panic("budget: no limit " + strconv.Itoa(i))
}

func lookup(flag string) *limit {
	flag = strings.TrimLeft(flag, "-")
	for i := range limits {
		if limits[i].flag == flag {
			return &limits[i]
		}
	}
	return nil
}

// get returns the effective value of l in b (its default when unset).
func (b *Budget) get(l *limit) int64 {
	if v := *b.field(l.index()); v > 0 {
		return v
	}
	return l.def
}

// index is l's position in limits.
func (l *limit) index() int {
	for i := range limits {
		if limits[i].flag == l.flag {
			return i
		}
	}
	panic("budget: limit not in the table")
}

// Flag describes one command-line flag of the budget, for the CLI to
// register (its default is printed with units where it is a size).
type Flag struct {
	Name    string // without dashes, e.g. "max-memory"
	Default string // e.g. "1GiB"
	Usage   string
}

// Flags lists the budget's flags in a stable order.
func Flags() []Flag {
	out := make([]Flag, len(limits))
	for i, l := range limits {
		out[i] = Flag{Name: l.flag, Default: format(l.def, l.bytes), Usage: l.help}
	}
	return out
}

// Get returns the effective value of the limit raised by flag (e.g.
// "max-memory" or "--max-memory"), formatted as Set accepts it.
func (b Budget) Get(flag string) (string, error) {
	l := lookup(flag)
	if l == nil {
		return "", fmt.Errorf("budget: unknown limit flag %q", flag)
	}
	return format(b.get(l), l.bytes), nil
}

// Set sets the limit raised by flag (e.g. "max-memory" or "--max-memory")
// from a flag value: a non-negative integer, optionally with a decimal
// exponent (2e9) or, for sizes, a unit (K, M, G, T: powers of 1000; KiB,
// MiB, GiB, TiB: powers of 1024; a trailing B is optional), or the word
// "unlimited". Errors name the flag.
func (b *Budget) Set(flag, value string) error {
	l := lookup(flag)
	if l == nil {
		return fmt.Errorf("budget: unknown limit flag %q", flag)
	}
	v, err := Parse(value, l.bytes)
	if err != nil {
		return fmt.Errorf("--%s %s: %w", l.flag, Quote(value), err)
	}
	*b.field(l.index()) = v
	return nil
}

// Parse parses a limit value as Set does; bytes enables units.
func Parse(s string, bytes bool) (int64, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, unlimitedWord) {
		return math.MaxInt64, nil
	}
	mult := int64(1)
	if bytes {
		if n := len(t); n > 0 && (t[n-1] == 'B' || t[n-1] == 'b') {
			t = t[:n-1]
		}
		for _, p := range []struct {
			suffix string
			m      int64
		}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
			if k := len(t) - len(p.suffix); k >= 0 && strings.EqualFold(t[k:], p.suffix) {
				mult = p.m
				t = strings.TrimSpace(t[:k])
				break
			}
		}
	}
	if t == "" {
		return 0, errors.New("want a number")
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil {
		if n <= 0 {
			return 0, errors.New("want a positive number")
		}
		if n > math.MaxInt64/mult {
			return 0, errors.New("too large")
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(f) {
		return 0, errors.New("want a number (e.g. 2e9, or 512MiB for a size) or \"unlimited\"")
	}
	f *= float64(mult)
	if f < 1 || f != math.Trunc(f) {
		return 0, errors.New("want a positive whole number")
	}
	if f >= math.MaxInt64 {
		return 0, errors.New("too large")
	}
	return int64(f), nil
}

// format prints v in the unit Set reads back.
func format(v int64, bytes bool) string {
	if v == math.MaxInt64 {
		return unlimitedWord
	}
	if bytes {
		for _, u := range []struct {
			name string
			m    int64
		}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
			if v >= u.m && v%u.m == 0 {
				return strconv.FormatInt(v/u.m, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(v, 10)
}

// human prints v shortly for an error line (sizes with binary units, counts
// with M/G suffixes at one decimal place), with the exact value where it
// differs.
func human(v int64, bytes bool) string {
	if v == math.MaxInt64 {
		return "more than " + strconv.FormatInt(math.MaxInt64, 10)
	}
	if bytes {
		if s := format(v, true); s != strconv.FormatInt(v, 10) {
			return s
		}
		if v >= 1<<20 {
			return fmt.Sprintf("%d bytes (%.1f MiB)", v, float64(v)/(1<<20))
		}
		return fmt.Sprintf("%d bytes", v)
	}
	return strconv.FormatInt(v, 10)
}

// Error is a value above a limit.
type Error struct {
	Limit string // the limit's name: "memory", "MACs per sample", ...
	Flag  string // the flag that raises it, with dashes: "--max-memory"
	Value int64  // the value found (math.MaxInt64 when it overflowed)
	Max   int64  // the limit in force
	Bytes bool   // Value and Max are byte sizes
	What  string // what the value is, e.g. "largest activation 16.7 M values × batch 256"
}

func (e *Error) Error() string {
	what := ""
	if e.What != "" {
		what = " (" + e.What + ")"
	}
	return fmt.Sprintf("%s: %s%s is above the limit of %s (raise it with %s)",
		e.Limit, human(e.Value, e.Bytes), what, human(e.Max, e.Bytes), e.Flag)
}

// Unwrap makes errors.Is(err, ErrExceeded) hold.
func (e *Error) Unwrap() error { return ErrExceeded }

// check returns an *Error when v is above the limit of flag.
func (b Budget) check(flag string, v int64, what string) error {
	l := lookup(flag)
	if l == nil {
		panic("budget: unknown limit " + flag)
	}
	if v <= b.get(l) {
		return nil
	}
	return b.exceeded(l, v, what)
}

// exceeded returns the *Error for value v of limit l.
func (b Budget) exceeded(l *limit, v int64, what string) *Error {
	return &Error{Limit: l.name, Flag: "--" + l.flag, Value: v, Max: b.get(l), Bytes: l.bytes, What: what}
}

// Effective returns b with every unset field at its default.
func (b Budget) Effective() Budget {
	for i := range limits {
		*b.field(i) = b.get(&limits[i])
	}
	return b
}

// CheckMemory checks a byte count against the memory limit; what says how
// it was counted.
func (b Budget) CheckMemory(bytes int64, what string) error {
	return b.check("max-memory", bytes, what)
}

// CheckMACs checks multiply-accumulates per sample.
func (b Budget) CheckMACs(macs int64, what string) error { return b.check("max-macs", macs, what) }

// CheckClasses checks a class count.
func (b Budget) CheckClasses(n int64, what string) error { return b.check("max-classes", n, what) }

// CheckFolded checks the bytes of constants folded so far.
func (b Budget) CheckFolded(bytes int64, what string) error {
	return b.check("max-folded", bytes, what)
}

// CheckDataBytes checks the bytes of a data file (after decompression).
func (b Budget) CheckDataBytes(bytes int64, what string) error {
	return b.check("max-data-bytes", bytes, what)
}

// CheckRows checks the number of CSV data rows.
func (b Budget) CheckRows(n int64, what string) error { return b.check("max-rows", n, what) }

// CheckFields checks the number of fields of one CSV row.
func (b Budget) CheckFields(n int64, what string) error { return b.check("max-fields", n, what) }

// CheckLineBytes checks the bytes of one CSV record.
func (b Budget) CheckLineBytes(n int64, what string) error {
	return b.check("max-line-bytes", n, what)
}

// CheckInflated checks inflated decompressed bytes against the absolute
// cap and against InflateRatio × compressed (once past InflateFloor).
func (b Budget) CheckInflated(inflated, compressed int64) error {
	if err := b.CheckDataBytes(inflated, "after decompression"); err != nil {
		return err
	}
	if inflated <= InflateFloor {
		return nil
	}
	ratio := b.get(lookup("max-inflate-ratio"))
	if inflated <= Mul(ratio, max(compressed, 1)) {
		return nil
	}
	return &Error{Limit: "decompression ratio", Flag: "--max-inflate-ratio",
		Value: inflated / max(compressed, 1), Max: ratio,
		What: fmt.Sprintf("%s inflated from %s", human(inflated, true), human(compressed, true))}
}

// Mul returns a × b for non-negative a and b, or math.MaxInt64 when the
// product overflows (saturating, so that a comparison with a limit fails
// instead of wrapping round). A negative operand is treated as overflow:
// sizes are never negative.
func Mul(a, b int64) int64 {
	if a < 0 || b < 0 {
		return math.MaxInt64
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

// Add returns a + b for non-negative a and b, saturating at math.MaxInt64
// (a negative operand is treated as overflow).
func Add(a, b int64) int64 {
	if a < 0 || b < 0 || a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// Product returns the product of dims with Mul (1 for none); a negative
// dimension gives math.MaxInt64.
func Product(dims ...int64) int64 {
	p := int64(1)
	for _, d := range dims {
		p = Mul(p, d)
	}
	return p
}

// Quote returns s quoted for an error line, cut to at most 64 runes (with
// "…" and the full length in bytes when cut), so that an error never echoes
// more than a few words of a file's content.
func Quote(s string) string {
	if utf8.RuneCountInString(s) <= maxErrorQuote && len(s) <= 4*maxErrorQuote {
		return strconv.Quote(s)
	}
	cut, n := 0, 0
	for i := range s {
		if n == maxErrorQuote || i >= 4*maxErrorQuote {
			cut = i
			break
		}
		n++
	}
	return strconv.Quote(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
}

// Clip cuts s, a message that may carry text from a file (an error of a
// decoder), to at most 256 bytes at a rune boundary, noting the full length
// when cut.
func Clip(s string) string {
	const n = 256
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}

// List formats up to 8 items of a list for an error line: "a, b, c" or
// "a, b, … (1770000 in all)"; each item is cut as by Quote but not quoted.
func List(items []string) string {
	const show = 8
	var sb strings.Builder
	for i, it := range items {
		if i == show {
			fmt.Fprintf(&sb, ", … (%d in all)", len(items))
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		if q := Quote(it); q == `"`+it+`"` {
			sb.WriteString(it) // nothing to escape, nothing cut
		} else {
			sb.WriteString(q)
		}
	}
	return sb.String()
}
