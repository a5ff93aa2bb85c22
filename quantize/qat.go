package quantize

import (
	"context"
	"fmt"
	"slices"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// withFakeQuant returns a model that runs m's layers with a FakeQuant layer
// in front of each layer named in acts, sharing m's layer objects.
func withFakeQuant(m *nn.Model, acts map[string]nn.ActQuant) (*nn.Model, map[string]*nn.FakeQuant, error) {
	var layers []nn.Layer
	fqs := map[string]*nn.FakeQuant{}
	for _, l := range m.Layers {
		if a, ok := acts[l.Name()]; ok {
			f := nn.NewFakeQuant(l.In(), a)
			f.SetName("fq:" + l.Name())
			fqs[l.Name()] = f
			layers = append(layers, f)
		}
		layers = append(layers, l)
	}
	w, err := nn.NewModel(m.Input, layers...)
	if err != nil {
		return nil, nil, fmt.Errorf("quantize: fake-quant model: %w", err)
	}
	return w, fqs, nil
}

// FakeQuantModel returns the float simulation of a quantized model: a copy
// of m running on float32 kernels with its (already dequantized) weights
// and, in front of every layer whose weight has static activation
// quantization, a FakeQuant layer with the same scale and zero point. Its
// outputs agree with the integer path up to float32 summation order.
func FakeQuantModel(m *nn.Model) (*nn.Model, error) {
	c := m.Clone()
	acts := map[string]nn.ActQuant{}
	for _, l := range c.Layers {
		if a, ok := l.(nn.Accelerated); ok && a.Weight().Quant != nil && a.Weight().Quant.Act.Mode == nn.ActStatic {
			acts[l.Name()] = a.Weight().Quant.Act
		}
	}
	w, _, err := withFakeQuant(c, acts)
	return w, err
}

// QATResult is what QAT learned.
type QATResult struct {
	Epochs []nn.EpochInfo
	// Act holds the learned activation parameters per layer (static mode);
	// pass them to Quantize as Options.Act.
	Act map[string]nn.ActQuant
}

// QAT fine-tunes m with quantization in the training graph, then leaves the
// float weights in m (call Quantize with Options.Act = result.Act to
// convert). Each step quantizes every target weight with opt.Scheme and
// puts the dequantized values in place for the forward and backward passes,
// then restores the float (shadow) weights before the optimizer step, so
// the gradient at the quantized weights updates the float ones (straight-
// through estimator). With static activations a FakeQuant layer in front of
// each target learns the input range as a moving average of batch min and
// max (initialised by calibration on calib) and passes gradients straight
// through inside the range.
//
// cfg.Loss, when set, replaces the label loss (e.g. distill.Loss with the
// float model as teacher). QAT clears any quantized form the model's
// weights already hold (they train as float). For a Codebook scheme QAT is centroid fine-tuning instead: the weights
// are clustered once (Quantize must have run) and after each step every
// centroid becomes the mean of its cluster's updated weights.
func QAT(ctx context.Context, m *nn.Model, train, calib *data.Set, opt Options, cfg nn.TrainConfig) (QATResult, error) {
	if err := opt.validate(); err != nil {
		return QATResult{}, err
	}
	if train == nil || train.Len() == 0 {
		return QATResult{}, fmt.Errorf("quantize: QAT needs training data")
	}
	if _, ok := opt.Scheme.(Codebook); ok {
		h, err := FineTuneCodebook(ctx, m, train, cfg)
		return QATResult{Epochs: h}, err
	}
	ts, err := targets(m, &opt)
	if err != nil {
		return QATResult{}, err
	}
	var quant []target
	for _, t := range ts {
		if !slices.Contains(opt.KeepFloat, t.layer.Name()) {
			quant = append(quant, t)
		}
	}
	acts := map[string]nn.ActQuant{}
	if opt.Activations == nn.ActStatic {
		if calib == nil {
			calib = train
		}
		n := opt.Calib
		if n == 0 {
			n = 512
		}
		st, err := calibrate(m, calib.Draw(n, opt.Seed), quant, &opt, true, false)
		if err != nil {
			return QATResult{}, err
		}
		for _, t := range quant {
			acts[t.layer.Name()] = nn.ActParams7(st[t.index].obs.Range())
		}
	}
	wm, fqs, err := withFakeQuant(m, acts)
	if err != nil {
		return QATResult{}, err
	}
	for n, f := range fqs {
		f.SetRange(rangeOf(acts[n]))
		f.Observe = true
	}
	shadow := make([][]float32, len(quant))
	for i, t := range quant {
		shadow[i] = make([]float32, len(t.layer.Weight().W))
	}
	lossFn := cfg.Loss // e.g. a distillation loss; nil means labels only
	cfg.Step = func(wm *nn.Model, x *nn.Tensor, labels []int, idx []int) (float64, *nn.Tensor) {
		for i, t := range quant {
			w := t.layer.Weight()
			copy(shadow[i], w.W)
			rows := w.Shape[0]
			Dequantize(opt.Scheme.Quantize(w.W, rows, len(w.W)/rows), w.W)
		}
		z := wm.Forward(x)
		var loss float64
		var g *nn.Tensor
		if lossFn != nil {
			loss, g = lossFn(z, labels, idx)
		} else {
			loss, g = nn.SoftmaxCrossEntropy(z, labels)
		}
		wm.Backward(g)
		for i, t := range quant {
			copy(t.layer.Weight().W, shadow[i])
		}
		return loss, z
	}
	cfg.ValX, cfg.ValY = nil, nil // validation would see float weights
	for _, p := range m.Params() {
		p.Quant = nil // training changes W
	}
	hist, err := nn.Train(ctx, wm, train.X, train.Y, cfg)
	res := QATResult{Epochs: hist, Act: map[string]nn.ActQuant{}}
	for n, f := range fqs {
		res.Act[n] = nn.ActParams7(f.Range())
	}
	if err != nil {
		return res, fmt.Errorf("quantize: QAT: %w", err)
	}
	return res, nil
}

// rangeOf returns the calibrated range [lo, hi] of an ActQuant made by
// nn.ActParams7 (the codes 0..127).
func rangeOf(a nn.ActQuant) (lo, hi float32) {
	return float32(-a.Zero) * a.Scale, float32(127-a.Zero) * a.Scale
}

// FineTuneCodebook trains m's codebook-quantized layers by their centroids
// (Deep Compression's shared-weight fine-tuning): after each optimizer step
// the weights of each cluster are replaced by their mean, which becomes the
// new centroid, so the cluster assignment (the codes) never changes. Other
// layers train normally.
func FineTuneCodebook(ctx context.Context, m *nn.Model, train *data.Set, cfg nn.TrainConfig) ([]nn.EpochInfo, error) {
	var ps []*nn.Param
	for _, p := range m.Params() {
		if p.Quant != nil && len(p.Quant.Codebook) > 0 {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("quantize: no codebook layers to fine-tune (run Quantize with a Codebook scheme first)")
	}
	qs := make([]*nn.Quant, len(ps))
	for i, p := range ps {
		qs[i] = p.Quant
	}
	share := func() {
		for i, p := range ps {
			q := qs[i]
			// A zero centroid reserved for pruned weights stays zero.
			zero := len(q.Codebook) >= 3 && q.Codebook[0] == 0
			sum := make([]float64, len(q.Codebook))
			cnt := make([]int, len(q.Codebook))
			for j, c := range q.Codes {
				sum[c] += float64(p.W[j])
				cnt[c]++
			}
			for k := range q.Codebook {
				if cnt[k] > 0 {
					q.Codebook[k] = float32(sum[k] / float64(cnt[k]))
				}
			}
			if zero {
				q.Codebook[0] = 0
			}
			q.Dequantize(p.W)
		}
	}
	after := cfg.AfterStep
	cfg.AfterStep = func(step int) {
		share()
		if after != nil {
			after(step)
		}
	}
	hist, err := nn.Train(ctx, m, train.X, train.Y, cfg)
	share()
	for i, p := range ps {
		p.Quant = qs[i]
	}
	m.Prepare()
	if err != nil {
		return hist, fmt.Errorf("quantize: codebook fine-tuning: %w", err)
	}
	return hist, nil
}

// LayerSensitivity is the accuracy cost of quantizing one layer alone.
type LayerSensitivity struct {
	Layer    string  `json:"layer"`
	Accuracy float64 `json:"accuracy"` // with only this layer quantized
	Drop     float64 `json:"drop"`     // baseline accuracy − Accuracy
	SQNR     float64 `json:"sqnr_db"`
}

// Sensitivity quantizes one layer at a time (on a copy of m, with opt,
// calibrated on calib) and measures accuracy on val, so the user sees which
// layer to keep in float. val is for choosing settings: it should be a
// validation split carved from the training data (data.Set.Split), never
// the test split, and calib should not hold its images.
func Sensitivity(m *nn.Model, calib, val *data.Set, opt Options) ([]LayerSensitivity, error) {
	base, err := nn.Evaluate(m, val.X, val.Y)
	if err != nil {
		return nil, err
	}
	ts, err := targets(m, &opt)
	if err != nil {
		return nil, err
	}
	var out []LayerSensitivity
	for _, t := range ts {
		c := m.Clone()
		o := opt
		o.Only, o.KeepFloat, o.DryRun = []string{t.layer.Name()}, nil, false
		rep, err := Quantize(c, calib, o)
		if err != nil {
			return nil, err
		}
		ev, err := nn.Evaluate(c, val.X, val.Y)
		if err != nil {
			return nil, err
		}
		out = append(out, LayerSensitivity{Layer: t.layer.Name(), Accuracy: ev.Accuracy, Drop: base.Accuracy - ev.Accuracy, SQNR: rep.Layers[0].SQNR})
	}
	return out, nil
}
