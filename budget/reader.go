package budget

import (
	"fmt"
	"io"
)

// Counter is a reader that counts the bytes read through it (put it under
// a decompressor to count compressed bytes).
type Counter struct {
	R io.Reader
	N int64 // bytes read so far
}

// Read reads from R and counts.
func (c *Counter) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// limited fails once more bytes have been read than the budget allows.
type limited struct {
	r          io.Reader
	b          Budget
	n          int64
	compressed func() int64 // nil: not compressed
	err        error
}

func (l *limited) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.compressed != nil {
		l.err = l.b.CheckInflated(l.n, l.compressed())
	} else {
		l.err = l.b.CheckDataBytes(l.n, "")
	}
	if l.err != nil {
		return n, l.err
	}
	return n, err
}

// LimitInflated returns a reader of the decompressed stream r that fails
// with an *Error (wrapping ErrExceeded) as soon as the bytes read through
// it exceed the data-bytes cap or InflateRatio × compressed(), where
// compressed reports the compressed bytes consumed so far (a Counter's N).
// A decompression bomb is thus refused after reading at most
// max(InflateFloor, ratio × its size) bytes, never the whole of it.
func (b Budget) LimitInflated(r io.Reader, compressed func() int64) io.Reader {
	if compressed == nil {
		panic("budget: LimitInflated without a compressed-bytes counter")
	}
	return &limited{r: r, b: b, compressed: compressed}
}

// LimitData returns a reader of an uncompressed data stream that fails with
// an *Error once more than the data-bytes cap has been read.
func (b Budget) LimitData(r io.Reader) io.Reader { return &limited{r: r, b: b} }

// Batch returns the largest batch size in [1, want] whose memory,
// fixed + batch × perSample bytes, fits the memory limit: evaluation
// shrinks its batch rather than fail. It fails (naming what) only when even
// a batch of one does not fit, or when want is not positive.
func (b Budget) Batch(want int, perSample, fixed int64, what string) (int, error) {
	if want <= 0 {
		return 0, fmt.Errorf("batch %d must be positive", want)
	}
	mem := b.get(lookup("max-memory"))
	if fixed < 0 || perSample < 0 || fixed > mem || perSample > mem-fixed {
		one := Add(fixed, perSample)
		if fixed < 0 || perSample < 0 {
			one = maxInt
		}
		return 0, b.exceeded(lookup("max-memory"), one, what+" at batch 1")
	}
	if perSample == 0 {
		return want, nil
	}
	return int(min(int64(want), (mem-fixed)/perSample)), nil
}

// CheckBatch checks that a batch of exactly batch samples fits: fixed +
// batch × perSample bytes within the memory limit (for training, where the
// batch size changes the result and is not shrunk silently).
func (b Budget) CheckBatch(batch int, perSample, fixed int64, what string) error {
	if batch <= 0 {
		return fmt.Errorf("batch %d must be positive", batch)
	}
	total := Add(fixed, Mul(int64(batch), perSample))
	if fixed < 0 || perSample < 0 {
		total = maxInt
	}
	return b.CheckMemory(total, fmt.Sprintf("%s at batch %d", what, batch))
}
