package prune

import (
	"fmt"

	"github.com/shrink-ml/shrink/nn"
)

// SensitivityPoint is the accuracy of the model with one layer pruned to
// one sparsity, every other layer left as it is.
type SensitivityPoint struct {
	Layer    string  `json:"layer"`
	Sparsity float64 `json:"sparsity"`
	Accuracy float64 `json:"accuracy"`
}

// DefaultSensitivities are the sparsities a scan tries when none are given.
var DefaultSensitivities = []float64{0.5, 0.7, 0.8, 0.9, 0.95, 0.98}

// Sensitivity prunes each dense and convolution layer alone (magnitude, or
// opt.Method if it is Random) to each sparsity, without fine-tuning, and
// measures the accuracy on (x, y), which should be a validation split of
// the training data, not the test set. m is not changed. The first point
// of every layer is at sparsity 0 (the unpruned accuracy).
func Sensitivity(m *nn.Model, x []float32, y []int, sparsities []float64, opt Options) ([]SensitivityPoint, error) {
	if len(sparsities) == 0 {
		sparsities = DefaultSensitivities
	}
	for _, s := range sparsities {
		if !(s >= 0 && s < 1) {
			return nil, fmt.Errorf("prune: sensitivity: sparsity %v not in [0, 1)", s)
		}
	}
	method := Magnitude
	if opt.Method == Random {
		method = Random
	}
	work := m.Clone()
	base, err := nn.Evaluate(work, x, y)
	if err != nil {
		return nil, fmt.Errorf("prune: sensitivity: %w", err)
	}
	var pts []SensitivityPoint
	for _, l := range prunable(work) {
		w := l.Weight()
		saved := append([]float32(nil), w.W...)
		savedMask := w.Mask
		pts = append(pts, SensitivityPoint{Layer: l.Name(), Sparsity: 0, Accuracy: base.Accuracy})
		for _, s := range sparsities {
			o := Options{Method: method, Sparsity: 0, Layers: map[string]float64{l.Name(): s}, Seed: opt.Seed}
			if _, err := Prune(work, o); err != nil {
				return nil, err
			}
			work.ClearAccel()
			ev, err := nn.Evaluate(work, x, y)
			if err != nil {
				return nil, fmt.Errorf("prune: sensitivity: %w", err)
			}
			pts = append(pts, SensitivityPoint{Layer: l.Name(), Sparsity: s, Accuracy: ev.Accuracy})
			copy(w.W, saved)
			w.Mask = savedMask
		}
	}
	return pts, nil
}
