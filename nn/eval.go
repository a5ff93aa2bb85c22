package nn

import (
	"fmt"
	"math"
)

// Eval is the result of evaluating a classifier on a labelled set.
type Eval struct {
	N         int       `json:"n"`
	Accuracy  float64   `json:"accuracy"` // fraction in [0, 1]
	Loss      float64   `json:"loss"`     // mean softmax cross-entropy
	PerClass  []float64 `json:"per_class_accuracy"`
	Confusion [][]int   `json:"confusion"` // [true][predicted]
}

// EvalBatch is the batch size Evaluate and Logits use.
const EvalBatch = 512

// Logits runs inference over n samples in batches and returns (n, classes).
func Logits(m *Model, x []float32) ([]float32, error) {
	d := m.Input.Size()
	if d == 0 || len(x)%d != 0 {
		return nil, fmt.Errorf("nn: %d values are not a whole number of %v samples", len(x), m.Input)
	}
	n := len(x) / d
	k := m.Classes()
	out := make([]float32, n*k)
	for lo := 0; lo < n; lo += EvalBatch {
		hi := min(lo+EvalBatch, n)
		z := m.Infer(FromData(hi-lo, m.Input, x[lo*d:hi*d]))
		copy(out[lo*k:hi*k], z.Data)
	}
	return out, nil
}

// Predict returns the argmax class of each sample.
func Predict(m *Model, x []float32) ([]int, error) {
	z, err := Logits(m, x)
	if err != nil {
		return nil, err
	}
	k := m.Classes()
	p := make([]int, len(z)/k)
	for i := range p {
		p[i] = Argmax(z[i*k : (i+1)*k])
	}
	return p, nil
}

// Evaluate measures accuracy, loss, per-class accuracy and the confusion
// matrix of m on (x, y).
func Evaluate(m *Model, x []float32, y []int) (Eval, error) {
	z, err := Logits(m, x)
	if err != nil {
		return Eval{}, err
	}
	k := m.Classes()
	if len(z)/k != len(y) {
		return Eval{}, fmt.Errorf("nn: %d samples but %d labels", len(z)/k, len(y))
	}
	return EvalLogits(z, y, k)
}

// EvalLogits scores precomputed logits (n, k) against labels.
func EvalLogits(z []float32, y []int, k int) (Eval, error) {
	e := Eval{N: len(y), PerClass: make([]float64, k), Confusion: make([][]int, k)}
	for i := range e.Confusion {
		e.Confusion[i] = make([]int, k)
	}
	if len(y) == 0 {
		return e, nil
	}
	p := make([]float32, k)
	correct := 0
	for i, l := range y {
		if l < 0 || l >= k {
			return Eval{}, fmt.Errorf("nn: label %d of sample %d outside [0, %d)", l, i, k)
		}
		row := z[i*k : (i+1)*k]
		pred := Argmax(row)
		e.Confusion[l][pred]++
		if pred == l {
			correct++
		}
		softmaxRow(row, p, 1)
		e.Loss -= math.Log(math.Max(float64(p[l]), 1e-30))
	}
	e.Accuracy = float64(correct) / float64(len(y))
	e.Loss /= float64(len(y))
	for c := range k {
		tot := 0
		for _, v := range e.Confusion[c] {
			tot += v
		}
		if tot > 0 {
			e.PerClass[c] = float64(e.Confusion[c][c]) / float64(tot)
		}
	}
	return e, nil
}

// Agreement is the fraction of samples on which two prediction lists agree.
func Agreement(a, b []int) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return 0
	}
	s := 0
	for i := range a {
		if a[i] == b[i] {
			s++
		}
	}
	return float64(s) / float64(len(a))
}
