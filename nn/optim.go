package nn

import (
	"fmt"
	"math"

	"github.com/shrink-ml/shrink/nn/kernel"
)

// Optimizer updates trainable parameters from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr, then re-applies masks.
	Step(params []*Param, lr float64)
}

// SGD is stochastic gradient descent with momentum and L2 weight decay on
// parameters marked Decay:
//
//	g ← grad + wd·w;  v ← μ·v + g;  w ← w − lr·v
type SGD struct {
	Momentum, WeightDecay float64
	vel                   map[*Param][]float32
}

// Step implements Optimizer.
func (o *SGD) Step(params []*Param, lr float64) {
	if o.vel == nil {
		o.vel = map[*Param][]float32{}
	}
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		v := o.vel[p]
		if v == nil && o.Momentum != 0 {
			v = make([]float32, len(p.W))
			o.vel[p] = v
		}
		wd := float32(0)
		if p.Decay {
			wd = float32(o.WeightDecay)
		}
		mu, a := float32(o.Momentum), float32(lr)
		w, grad := p.W, p.Grad
		parallelFor(len(w), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				g := grad[i] + wd*w[i]
				if v != nil {
					v[i] = mu*v[i] + g
					g = v[i]
				}
				w[i] -= a * g
			}
		})
		p.ApplyMask()
	}
}

// Adam is the Adam optimizer (Kingma & Ba) with bias correction and L2
// weight decay added to the gradient of parameters marked Decay.
type Adam struct {
	Beta1, Beta2, Eps, WeightDecay float64
	t                              int
	m, v                           map[*Param][]float32
}

// NewAdam returns Adam with the usual β1 = 0.9, β2 = 0.999, ε = 1e-8.
func NewAdam(weightDecay float64) *Adam {
	return &Adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay}
}

// Step implements Optimizer.
func (o *Adam) Step(params []*Param, lr float64) {
	if o.m == nil {
		o.m, o.v = map[*Param][]float32{}, map[*Param][]float32{}
	}
	o.t++
	c1 := 1 - math.Pow(o.Beta1, float64(o.t))
	c2 := 1 - math.Pow(o.Beta2, float64(o.t))
	a := float32(lr * math.Sqrt(c2) / c1)
	b1, b2, eps := float32(o.Beta1), float32(o.Beta2), float32(o.Eps*math.Sqrt(c2))
	for _, p := range params {
		if !p.Trainable || p.Grad == nil {
			continue
		}
		m, v := o.m[p], o.v[p]
		if m == nil {
			m, v = make([]float32, len(p.W)), make([]float32, len(p.W))
			o.m[p], o.v[p] = m, v
		}
		wd := float32(0)
		if p.Decay {
			wd = float32(o.WeightDecay)
		}
		w, grad := p.W, p.Grad
		parallelFor(len(w), func(lo, hi int) {
			kernel.Adam(w[lo:hi], grad[lo:hi], m[lo:hi], v[lo:hi], a, b1, b2, eps, wd)
		})
		p.ApplyMask()
	}
}

// Schedule gives the learning rate at a step.
type Schedule struct {
	Kind     string  // "const", "step", "cosine"
	Base     float64 // initial learning rate
	StepSize int     // step: epochs between decays
	Gamma    float64 // step: decay factor
	Min      float64 // cosine: final learning rate
}

// At returns the learning rate for epoch e (0-based) at fraction f ∈ [0, 1)
// through it, with total epochs.
func (s Schedule) At(e int, f float64, total int) float64 {
	switch s.Kind {
	case "step":
		k := e / max(s.StepSize, 1)
		return s.Base * math.Pow(s.Gamma, float64(k))
	case "cosine":
		t := (float64(e) + f) / float64(max(total, 1))
		return s.Min + 0.5*(s.Base-s.Min)*(1+math.Cos(math.Pi*t))
	}
	return s.Base
}

// Validate reports a bad schedule.
func (s Schedule) Validate() error {
	switch s.Kind {
	case "", "const", "cosine":
	case "step":
		if s.StepSize <= 0 || s.Gamma <= 0 {
			return fmt.Errorf("nn: step schedule needs a positive step size and gamma")
		}
	default:
		return fmt.Errorf("nn: unknown schedule %q (want const, step or cosine)", s.Kind)
	}
	if s.Base <= 0 || math.IsNaN(s.Base) || math.IsInf(s.Base, 0) {
		return fmt.Errorf("nn: learning rate %v must be positive", s.Base)
	}
	return nil
}
