package nn

import (
	"fmt"

	"github.com/shrink-ml/shrink/budget"
)

// Footprint is what running a model costs, computed from its layer shapes
// alone (nothing is allocated), for checking against a budget.Budget
// before an evaluation or a training run allocates anything. Counts are
// float32 values unless named bytes; saturating arithmetic (budget.Mul)
// keeps hostile shapes from wrapping round.
type Footprint struct {
	Params    int64 // values of every parameter and buffer
	Trainable int64 // of those, the trained ones (each gets a gradient)
	MACs      int64 // multiply-accumulates per sample
	Classes   int64 // model outputs
	// Largest is the largest activation (layer input or output) of one
	// sample, in values, and LargestAt the layer it enters or leaves.
	Largest   int64
	LargestAt string
	// InferBytes is the memory one sample adds at the peak of inference:
	// for the costliest layer, its input plus its output and workspace
	// (convolution patches), the latter two doubled because inference
	// buffers come from power-of-two size classes.
	InferBytes int64
	// TrainBytes is the memory one sample adds to a training step: every
	// layer's output and workspace kept for the backward pass, plus the
	// two largest gradients alive at once.
	TrainBytes int64
}

// workspace is the per-sample scratch a layer needs beyond its output
// (values): a convolution's im2col patches, a max-pool's argmax indices.
func workspace(l Layer) int64 {
	switch t := l.(type) {
	case *Conv2D:
		o := t.Out()
		return budget.Product(int64(o[0]), int64(o[1]), int64(t.KH), int64(t.KW), int64(t.In()[2]))
	case *Pool2D:
		if t.Max {
			return size(t.Out())
		}
	}
	return 0
}

// size is the element count of a shape, saturating.
func size(s Shape) int64 {
	p := int64(1)
	for _, d := range s {
		p = budget.Mul(p, int64(d))
	}
	return p
}

// Footprint computes the model's costs from its shapes.
func (m *Model) Footprint() Footprint {
	var f Footprint
	in := size(m.Input)
	f.Largest, f.LargestAt = in, "input"
	var kept, grad1, grad2 int64 = in, 0, 0
	for _, l := range m.Layers {
		out, ws := size(l.Out()), workspace(l)
		if out > f.Largest {
			f.Largest, f.LargestAt = out, l.Name()
		}
		f.MACs = budget.Add(f.MACs, l.MACs())
		for _, p := range l.Params() {
			f.Params = budget.Add(f.Params, size(p.Shape))
			if p.Trainable {
				f.Trainable = budget.Add(f.Trainable, size(p.Shape))
			}
		}
		peak := budget.Add(in, budget.Mul(2, budget.Add(out, ws)))
		f.InferBytes = max(f.InferBytes, budget.Mul(4, peak))
		kept = budget.Add(kept, budget.Add(out, ws))
		switch {
		case out > grad1:
			grad1, grad2 = out, grad1
		case out > grad2:
			grad2 = out
		}
		in = out
	}
	f.TrainBytes = budget.Mul(4, budget.Add(kept, budget.Add(grad1, grad2)))
	if len(m.Layers) > 0 {
		f.Classes = size(m.Layers[len(m.Layers)-1].Out())
	}
	return f
}

// CheckBudget checks what a model needs whatever the batch: its MACs per
// sample, its classes (evaluation holds a classes × classes confusion
// matrix) and the memory of its parameters plus one sample of inference.
// Errors are *budget.Error values naming the limit, the value and the flag
// that raises it.
func (m *Model) CheckBudget(b budget.Budget) error {
	f := m.Footprint()
	if err := b.CheckMACs(f.MACs, ""); err != nil {
		return fmt.Errorf("nn: model: %w", err)
	}
	if err := b.CheckClasses(f.Classes, "model outputs"); err != nil {
		return fmt.Errorf("nn: model: %w", err)
	}
	if _, err := b.Batch(1, f.InferBytes, budget.Mul(4, f.Params), f.inferWhat()); err != nil {
		return fmt.Errorf("nn: model: %w", err)
	}
	return nil
}

func (f Footprint) inferWhat() string {
	return fmt.Sprintf("parameters and inference; largest activation %d values at %s", f.Largest, budget.Quote(f.LargestAt))
}

// EvalBatch checks the model against b (CheckBudget) and returns the
// largest batch size up to want whose inference fits b's memory limit
// together with the parameters, the logits of all samples and the
// confusion matrix: evaluation shrinks its batch rather than fail, and
// fails only when a batch of one does not fit.
func (m *Model) EvalBatch(b budget.Budget, want, samples int) (int, error) {
	if err := m.CheckBudget(b); err != nil {
		return 0, err
	}
	f := m.Footprint()
	fixed := budget.Add(budget.Mul(4, f.Params), budget.Mul(4, budget.Mul(int64(max(samples, 0)), f.Classes)))
	fixed = budget.Add(fixed, budget.Mul(8, budget.Mul(f.Classes, f.Classes)))
	n, err := b.Batch(want, f.InferBytes, fixed, fmt.Sprintf("evaluation of %d samples; largest activation %d values at %s", samples, f.Largest, budget.Quote(f.LargestAt)))
	if err != nil {
		return 0, fmt.Errorf("nn: %w", err)
	}
	return n, nil
}

// CheckTrain checks a training run of the given batch against b: the
// model's MACs and classes, and the memory of parameters, gradients,
// optimizer state (optimizer "adam" keeps two values per trained
// parameter, "sgd" one for momentum) and batch × the per-sample training
// memory. The batch is not shrunk (it changes the result); a batch too
// large (--batch 100000000000) is an error naming --max-memory, never a
// panic.
func (m *Model) CheckTrain(b budget.Budget, batch int, optimizer string) error {
	if batch <= 0 {
		return fmt.Errorf("nn: batch %d must be positive", batch)
	}
	f := m.Footprint()
	if err := b.CheckMACs(f.MACs, ""); err != nil {
		return fmt.Errorf("nn: model: %w", err)
	}
	if err := b.CheckClasses(f.Classes, "model outputs"); err != nil {
		return fmt.Errorf("nn: model: %w", err)
	}
	slots := int64(1)
	if optimizer == "adam" {
		slots = 2
	}
	fixed := budget.Add(budget.Mul(4, f.Params), budget.Mul(4*(1+slots), f.Trainable))
	if err := b.CheckBatch(batch, f.TrainBytes, fixed, fmt.Sprintf("training; largest activation %d values at %s", f.Largest, budget.Quote(f.LargestAt))); err != nil {
		return fmt.Errorf("nn: %w", err)
	}
	return nil
}

// LogitsWithin is Logits with the batch chosen by EvalBatch: the model is
// checked against b first (MACs, classes, memory) and the batch shrinks
// from EvalBatch until inference fits b's memory limit.
//
//	x: (n, Input...) → (n, Classes)
func LogitsWithin(m *Model, x []float32, b budget.Budget) ([]float32, error) {
	d := m.Input.Size()
	if d == 0 || len(x)%d != 0 {
		return nil, fmt.Errorf("nn: %d values are not a whole number of %v samples", len(x), m.Input)
	}
	n := len(x) / d
	batch, err := m.EvalBatch(b, EvalBatch, n)
	if err != nil {
		return nil, err
	}
	k := m.Classes()
	out := make([]float32, n*k)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		z := m.Infer(FromData(hi-lo, m.Input, x[lo*d:hi*d]))
		copy(out[lo*k:hi*k], z.Data)
	}
	return out, nil
}

// EvaluateWithin is Evaluate within budget b (see LogitsWithin).
func EvaluateWithin(m *Model, x []float32, y []int, b budget.Budget) (Eval, error) {
	z, err := LogitsWithin(m, x, b)
	if err != nil {
		return Eval{}, err
	}
	k := m.Classes()
	if len(z)/k != len(y) {
		return Eval{}, fmt.Errorf("nn: %d samples but %d labels", len(z)/k, len(y))
	}
	return EvalLogits(z, y, k)
}
