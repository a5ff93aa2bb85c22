package quantize

import (
	"fmt"
	"math"
	"slices"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// Options configures Quantize.
type Options struct {
	// Scheme quantizes the weights of every dense and convolution layer.
	Scheme Scheme
	// Activations is ActNone (weight-only), ActDynamic (range per call of
	// the layer: Model.Infer splits batches of 128 or more across cores, so
	// per chunk of a batch) or ActStatic (calibrated). Dynamic and static need an Int8 scheme:
	// they select the integer inference path.
	Activations nn.ActMode
	// Observer names the calibration observer for static activations (see
	// NewObserver; "minmax" when empty).
	Observer string
	// Calib is the number of calibration samples drawn (seeded, without
	// replacement) from the calibration set (512 when 0).
	Calib int
	// Seed drives the choice of calibration samples and the observers'
	// reservoirs.
	Seed int64
	// KeepFloat names layers left in float32.
	KeepFloat []string
	// Only, when set, quantizes just these layers (Sensitivity uses it).
	Only []string
	// BiasCorrection subtracts the expected output shift of the weight
	// error, (Ŵ − W)·E[x], from each bias (E[x] over the calibration
	// sample).
	BiasCorrection bool
	// Act fixes the activation parameters of named layers instead of
	// calibrating them (QAT hands over its learned ranges this way).
	Act map[string]nn.ActQuant
	// DryRun fills the report without changing the model.
	DryRun bool
}

// LayerReport is one layer's line in the report.
type LayerReport struct {
	Layer         string  `json:"layer"`
	Scheme        string  `json:"scheme"` // "float32" when kept
	Params        int64   `json:"params"` // weights
	BitsPerWeight float64 `json:"bits_per_weight"`
	BytesBefore   int64   `json:"bytes_before"` // float32 weight bytes
	BytesAfter    int64   `json:"bytes_after"`  // encoded weight bytes (before compression)
	// SQNR is 10·log10(Σw² / Σ(w − ŵ)²) in dB, capped at MaxSQNR.
	SQNR       float64 `json:"sqnr_db"`
	Activation string  `json:"activations"` // "none", "dynamic" or "static"
	ActScale   float32 `json:"act_scale,omitempty"`
	ActZero    int32   `json:"act_zero,omitempty"`
	Kept       bool    `json:"kept_float,omitempty"`
}

// Report is what Quantize did (or, with DryRun, would do).
type Report struct {
	Scheme      string        `json:"scheme"`
	Activations string        `json:"activations"`
	Observer    string        `json:"observer,omitempty"`
	Calib       int           `json:"calib_samples,omitempty"`
	DryRun      bool          `json:"dry_run,omitempty"`
	Layers      []LayerReport `json:"layers"`
	// Totals over the layers' weights.
	Params        int64   `json:"params"`
	BytesBefore   int64   `json:"bytes_before"`
	BytesAfter    int64   `json:"bytes_after"`
	BitsPerWeight float64 `json:"bits_per_weight"`
}

// MaxSQNR caps the reported SQNR (an exact quantization has infinite SQNR).
const MaxSQNR = 300

// SQNR returns 10·log10(Σw² / Σ(w − ŵ)²) in dB, MaxSQNR when ŵ == w.
func SQNR(w, wq []float32) float64 {
	var s, e float64
	for i := range w {
		s += float64(w[i]) * float64(w[i])
		d := float64(w[i]) - float64(wq[i])
		e += d * d
	}
	if e == 0 {
		return MaxSQNR
	}
	if s == 0 {
		return 0
	}
	return min(MaxSQNR, 10*math.Log10(s/e))
}

// target is a layer the pass quantizes.
type target struct {
	index int
	layer nn.Accelerated
}

func (o *Options) validate() error {
	if o.Scheme == nil {
		return fmt.Errorf("quantize: no scheme")
	}
	if o.Activations > nn.ActStatic {
		return fmt.Errorf("quantize: unknown activation mode %d", o.Activations)
	}
	if _, ok := o.Scheme.(Int8); !ok && o.Activations != nn.ActNone {
		return fmt.Errorf("quantize: %s activations need the int8 scheme (the integer path); %s is weight-only", o.Activations, o.Scheme.Name())
	}
	if o.Calib < 0 {
		return fmt.Errorf("quantize: %d calibration samples", o.Calib)
	}
	if _, err := NewObserver(o.Observer, 0); err != nil {
		return err
	}
	return nil
}

// targets lists the dense and convolution layers to quantize.
func targets(m *nn.Model, o *Options) ([]target, error) {
	known := map[string]bool{}
	var ts []target
	for i, l := range m.Layers {
		known[l.Name()] = true
		a, ok := l.(nn.Accelerated)
		if !ok {
			continue
		}
		if len(o.Only) > 0 && !slices.Contains(o.Only, l.Name()) {
			continue
		}
		ts = append(ts, target{i, a})
	}
	for _, n := range append(slices.Clone(o.KeepFloat), o.Only...) {
		if !known[n] {
			return nil, fmt.Errorf("quantize: no layer named %q", n)
		}
	}
	return ts, nil
}

// layerStats holds what calibration learns about a layer's input.
type layerStats struct {
	obs  Observer
	sum  []float64 // per input feature (dense) or channel (conv)
	rows int64
}

// calibrate runs the float model over the calibration sample and feeds
// each target's input to its observer and mean.
func calibrate(m *nn.Model, x *data.Set, ts []target, o *Options, needObs, needMean bool) (map[int]*layerStats, error) {
	st := map[int]*layerStats{}
	for k, t := range ts {
		s := &layerStats{}
		if needObs {
			obs, err := NewObserver(o.Observer, uint64(o.Seed)+uint64(k)*0x9e3779b97f4a7c15)
			if err != nil {
				return nil, err
			}
			s.obs = obs
		}
		in := t.layer.In()
		s.sum = make([]float64, in[len(in)-1])
		st[t.index] = s
	}
	d := m.Input.Size()
	n := x.Len()
	const batch = 256
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		h := nn.FromData(hi-lo, m.Input, x.X[lo*d:hi*d])
		for i, l := range m.Layers {
			if s := st[i]; s != nil {
				if s.obs != nil {
					s.obs.Observe(h.Data)
				}
				if needMean {
					c := len(s.sum)
					for j, v := range h.Data {
						s.sum[j%c] += float64(v)
					}
					s.rows += int64(len(h.Data) / c)
				}
			}
			h = l.Infer(h)
		}
	}
	return st, nil
}

// Quantize quantizes the weights of m's dense and convolution layers with
// opt.Scheme (except opt.KeepFloat), sets each weight's W to the
// dequantized values and its Quant to the codes, records the activation
// quantization (calibrated on calib for static mode), applies bias
// correction if asked, and calls m.Prepare so that int8 layers run on the
// integer path. calib may be nil for weight-only and dynamic modes without
// bias correction. With opt.DryRun the model is left untouched.
func Quantize(m *nn.Model, calib *data.Set, opt Options) (Report, error) {
	if err := opt.validate(); err != nil {
		return Report{}, err
	}
	ts, err := targets(m, &opt)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Scheme: opt.Scheme.String(), Activations: opt.Activations.String(), DryRun: opt.DryRun}
	needObs := opt.Activations == nn.ActStatic
	needMean := opt.BiasCorrection
	var stats map[int]*layerStats
	if needObs || needMean {
		if calib == nil || calib.Len() == 0 {
			return Report{}, fmt.Errorf("quantize: %s activations and bias correction need calibration data", opt.Activations)
		}
		if err := calib.CheckShape(m.Input); err != nil {
			return Report{}, fmt.Errorf("quantize: calibration samples have shape %v, the model takes %v", calib.Shape, m.Input)
		}
		n := opt.Calib
		if n == 0 {
			n = 512
		}
		cs := calib.Draw(n, opt.Seed)
		rep.Calib = cs.Len()
		if needObs {
			rep.Observer = opt.Observer
			if rep.Observer == "" {
				rep.Observer = "minmax"
			}
		}
		if stats, err = calibrate(m, cs, ts, &opt, needObs, needMean); err != nil {
			return Report{}, err
		}
	}
	for _, t := range ts {
		l := t.layer
		w := l.Weight()
		rows := w.Shape[0]
		cols := len(w.W) / rows
		lr := LayerReport{Layer: l.Name(), Params: int64(len(w.W)), BytesBefore: 4 * int64(len(w.W))}
		if slices.Contains(opt.KeepFloat, l.Name()) {
			lr.Scheme, lr.Kept, lr.BytesAfter, lr.BitsPerWeight, lr.SQNR, lr.Activation = "float32", true, lr.BytesBefore, 32, MaxSQNR, "none"
			rep.add(lr)
			continue
		}
		q := opt.Scheme.Quantize(w.W, rows, cols)
		wq := make([]float32, len(w.W))
		Dequantize(q, wq)
		lr.Scheme = opt.Scheme.Name()
		lr.BytesAfter = opt.Scheme.Bytes(rows, cols)
		lr.BitsPerWeight = 8 * float64(lr.BytesAfter) / float64(len(w.W))
		lr.SQNR = SQNR(w.W, wq)
		switch {
		case opt.Act != nil && opt.Act[l.Name()].Mode != nn.ActNone:
			q.Act = opt.Act[l.Name()]
		case opt.Activations == nn.ActStatic:
			q.Act = nn.ActParams7(stats[t.index].obs.Range())
		case opt.Activations == nn.ActDynamic:
			q.Act = nn.ActQuant{Mode: nn.ActDynamic}
		}
		lr.Activation, lr.ActScale, lr.ActZero = q.Act.Mode.String(), q.Act.Scale, q.Act.Zero
		rep.add(lr)
		if opt.DryRun {
			continue
		}
		if opt.BiasCorrection {
			correctBias(l.Bias().W, w.W, wq, rows, cols, stats[t.index])
		}
		copy(w.W, wq)
		w.Quant = q
		if q.Scheme == "fp16" {
			w.Quant = nil // float16 values, stored as format.Float16
		}
	}
	if rep.Params > 0 {
		rep.BitsPerWeight = 8 * float64(rep.BytesAfter) / float64(rep.Params)
	}
	if !opt.DryRun {
		m.Prepare()
	}
	return rep, nil
}

func (r *Report) add(l LayerReport) {
	r.Layers = append(r.Layers, l)
	r.Params += l.Params
	r.BytesBefore += l.BytesBefore
	r.BytesAfter += l.BytesAfter
}

// correctBias subtracts (Ŵ − W)·E[x] from the bias. For a convolution the
// input mean is per channel and is repeated over the kernel window (the
// patch layout is (ky, kx, c)), ignoring the border's zero padding.
func correctBias(b, w, wq []float32, rows, cols int, s *layerStats) {
	if s == nil || s.rows == 0 {
		return
	}
	c := len(s.sum)
	mean := make([]float64, cols)
	for k := range mean {
		mean[k] = s.sum[k%c] / float64(s.rows)
	}
	for r := 0; r < rows; r++ {
		var shift float64
		for k := 0; k < cols; k++ {
			i := r*cols + k
			shift += (float64(wq[i]) - float64(w[i])) * mean[k]
		}
		b[r] = float32(float64(b[r]) - shift)
	}
}
