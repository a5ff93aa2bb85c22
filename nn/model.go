package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
)

// Model is an input shape and an ordered list of layers. The last layer's
// output is the logits (one per class).
type Model struct {
	Input  Shape
	Layers []Layer
}

// NewModel checks that the layers chain (each layer's input shape is the
// previous output shape) and names unnamed layers by kind: fc1, fc2, …,
// conv1, …, pool1, ….
func NewModel(input Shape, layers ...Layer) (*Model, error) {
	m := &Model{Input: input.Clone(), Layers: layers}
	if err := m.Check(); err != nil {
		return nil, err
	}
	m.nameLayers()
	return m, nil
}

// Check validates the chain of shapes.
func (m *Model) Check() error {
	if len(m.Layers) == 0 {
		return fmt.Errorf("nn: model has no layers")
	}
	s := m.Input
	seen := map[string]bool{}
	for i, l := range m.Layers {
		if !l.In().Equal(s) {
			return fmt.Errorf("nn: layer %d (%s %q) expects input %v, gets %v", i, l.Kind(), l.Name(), l.In(), s)
		}
		if n := l.Name(); n != "" {
			if seen[n] {
				return fmt.Errorf("nn: duplicate layer name %q", n)
			}
			seen[n] = true
		}
		s = l.Out()
	}
	if len(s) != 1 {
		return fmt.Errorf("nn: model output %v is not a vector of logits", s)
	}
	return nil
}

func (m *Model) nameLayers() {
	count := map[string]int{}
	used := map[string]bool{}
	for _, l := range m.Layers {
		used[l.Name()] = true
	}
	for _, l := range m.Layers {
		if l.Name() != "" {
			continue
		}
		p := l.Kind()
		if k, ok := kinds[p]; ok {
			p = k.Prefix
		}
		for {
			count[p]++
			n := fmt.Sprintf("%s%d", p, count[p])
			if !used[n] {
				l.SetName(n)
				used[n] = true
				break
			}
		}
	}
}

// Classes is the number of logits the model outputs.
func (m *Model) Classes() int { return m.Layers[len(m.Layers)-1].Out()[0] }

// Layer returns the layer with the given name, or nil.
func (m *Model) Layer(name string) Layer {
	for _, l := range m.Layers {
		if l.Name() == name {
			return l
		}
	}
	return nil
}

// Infer runs inference on a batch and returns the logits. Large batches are
// split across GOMAXPROCS goroutines; no layer state changes.
//
//	x: (N, Input...) → (N, Classes)
func (m *Model) Infer(x *Tensor) *Tensor {
	workers := runtime.GOMAXPROCS(0)
	if x.N < 2*inferChunk || workers == 1 {
		y, _ := m.inferSeq(x)
		return y
	}
	k := m.Classes()
	out := NewTensor(x.N, Shape{k})
	d := m.Input.Size()
	per := (x.N + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < x.N; lo += per {
		hi := min(lo+per, x.N)
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			y, owned := m.inferSeq(FromData(hi-lo, m.Input, x.Data[lo*d:hi*d]))
			copy(out.Data[lo*k:hi*k], y.Data)
			if owned {
				putScratch(y.Data)
			}
		}(lo, hi)
	}
	wg.Wait()
	return out
}

// inferChunk is the batch size below which Infer stays on one goroutine.
const inferChunk = 64

// inferSeq runs the layers in order on the calling goroutine. A layer
// output from the scratch pool goes back to it once the next layer has
// produced its own output, unless that output shares its data (a view).
// The caller's input (and any view of it) is never recycled; owned reports
// whether the returned logits are a scratch buffer the caller may recycle.
func (m *Model) inferSeq(x *Tensor) (logits *Tensor, owned bool) {
	for i := 0; i < len(m.Layers); i++ {
		l := m.Layers[i]
		var y *Tensor
		fused := false
		if i+1 < len(m.Layers) && m.Layers[i+1].Kind() == "relu" {
			switch t := l.(type) {
			case *Dense:
				y, fused = t.inferAct(x, true), true // fused ReLU epilogue
			case *Conv2D:
				y, fused = t.inferAct(x, true), true
			}
		}
		if !fused {
			y = l.Infer(x)
		} else {
			i++
		}
		view := len(x.Data) > 0 && len(y.Data) > 0 && &x.Data[0] == &y.Data[0]
		if owned && !view {
			putScratch(x.Data)
		}
		if !view {
			owned = y.pooled
		}
		x = y
	}
	return x, owned
}

// Forward runs the training forward pass, keeping what Backward needs.
func (m *Model) Forward(x *Tensor) *Tensor {
	for _, l := range m.Layers {
		x = l.Forward(x)
	}
	return x
}

// Backward propagates the gradient of the loss with respect to the logits
// back through every layer, accumulating parameter gradients.
func (m *Model) Backward(dlogits *Tensor) { m.BackwardExtra(dlogits, nil) }

// paramsOnly is a layer that can accumulate its parameter gradients without
// computing its input gradient.
type paramsOnly interface{ backwardParams(dy *Tensor) }

// firstTrained is the index of the first layer with trainable parameters:
// no layer before it needs a gradient, so it needs no input gradient.
func (m *Model) firstTrained() int {
	for i, l := range m.Layers {
		for _, p := range l.Params() {
			if p.Trainable {
				return i
			}
		}
	}
	return len(m.Layers)
}

// Params returns every parameter of every layer, in order.
func (m *Model) Params() []*Param {
	var ps []*Param
	for _, l := range m.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// ZeroGrad clears all parameter gradients.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params() {
		p.ensureGrad()
		clear(p.Grad)
	}
}

// ApplyMasks holds masked weights at zero.
func (m *Model) ApplyMasks() {
	for _, p := range m.Params() {
		p.ApplyMask()
	}
}

// Init initialises weights from a seed: He-uniform for layers followed by a
// ReLU, Glorot-uniform for the rest (the logits layer); biases zero;
// batch-norm scale one.
func (m *Model) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x1417))
	for i, l := range m.Layers {
		var w *Param
		var fanIn, fanOut int
		switch t := l.(type) {
		case *Dense:
			w, fanIn, fanOut = t.W, t.in[0], t.out[0]
		case *Conv2D:
			w, fanIn, fanOut = t.W, t.KH*t.KW*t.in[2], t.KH*t.KW*t.Filters
		case *Dropout:
			t.Seed(rng.Uint64())
			continue
		default:
			continue
		}
		relu := false
		for _, n := range m.Layers[i+1:] {
			if n.Kind() == "relu" {
				relu = true
				break
			}
			if len(n.Params()) > 0 && n.Kind() != "batchnorm" {
				break
			}
		}
		var limit float64
		if relu {
			limit = math.Sqrt(6 / float64(fanIn))
		} else {
			limit = math.Sqrt(6 / float64(fanIn+fanOut))
		}
		for j := range w.W {
			w.W[j] = float32((rng.Float64()*2 - 1) * limit)
		}
		for _, p := range l.Params() {
			if p.Name == "bias" {
				clear(p.W)
			}
		}
	}
	m.ApplyMasks()
}

// Stats is the model's exact accounting.
type Stats struct {
	Params  int64 `json:"params"`         // trainable parameters (weights, biases, BN scale and shift)
	NonZero int64 `json:"nonzero_params"` // of those, the non-zero ones
	MACs    int64 `json:"macs"`           // multiply-accumulates per sample (dense)
	// EffectiveMACs counts only MACs whose weight is non-zero.
	EffectiveMACs int64 `json:"effective_macs"`
	Bytes         int64 `json:"memory_bytes"` // float32 bytes of all parameters and buffers in memory
}

// Stats computes parameters, non-zero parameters, MACs and bytes.
func (m *Model) Stats() Stats {
	var s Stats
	for _, l := range m.Layers {
		s.MACs += l.MACs()
		eff := l.MACs()
		for _, p := range l.Params() {
			s.Bytes += int64(4 * len(p.W))
			if !p.Trainable {
				continue
			}
			s.Params += int64(len(p.W))
			nz := p.NonZero()
			s.NonZero += nz
			if p.Name == "weight" && len(p.W) > 0 {
				eff = eff * nz / int64(len(p.W))
			}
		}
		s.EffectiveMACs += eff
	}
	return s
}

// ForwardCollect is Forward that also returns the outputs of the named
// layers (for feature distillation and observers). Unknown names are
// ignored; the caller checks names with Layer.
func (m *Model) ForwardCollect(x *Tensor, names ...string) (*Tensor, map[string]*Tensor) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	got := map[string]*Tensor{}
	for _, l := range m.Layers {
		x = l.Forward(x)
		if want[l.Name()] {
			got[l.Name()] = x
		}
	}
	return x, got
}

// InferCollect is Infer (on one goroutine) that also returns the outputs of
// the named layers.
func (m *Model) InferCollect(x *Tensor, names ...string) (*Tensor, map[string]*Tensor) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	got := map[string]*Tensor{}
	for _, l := range m.Layers {
		x = l.Infer(x)
		if want[l.Name()] {
			got[l.Name()] = x
		}
	}
	return x, got
}

// BackwardExtra is Backward with extra gradients added to the outputs of
// named layers (the gradient of an auxiliary loss on those outputs).
func (m *Model) BackwardExtra(dlogits *Tensor, extra map[string]*Tensor) {
	g := dlogits
	first := m.firstTrained()
	for i := len(m.Layers) - 1; i >= first; i-- {
		l := m.Layers[i]
		if e, ok := extra[l.Name()]; ok {
			sum := make([]float32, len(g.Data))
			for j := range sum {
				sum[j] = g.Data[j] + e.Data[j]
			}
			g = &Tensor{N: g.N, Shape: g.Shape, Data: sum}
		}
		if po, ok := l.(paramsOnly); ok && i == first {
			po.backwardParams(g) // the input gradient would be thrown away
			break
		}
		g = l.Backward(g)
	}
}
