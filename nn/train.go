package nn

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// LossFunc computes a loss and its gradient with respect to the logits of a
// batch. idx holds the training-set indices of the batch's samples (so a
// distillation loss can look up cached teacher outputs).
type LossFunc func(logits *Tensor, labels []int, idx []int) (float64, *Tensor)

// MaxEpochs bounds TrainConfig.Epochs.
const MaxEpochs = 100000

// TrainConfig configures Train and every pass that fine-tunes.
type TrainConfig struct {
	Epochs      int
	Batch       int
	Optimizer   string  // "sgd" or "adam"
	Momentum    float64 // SGD
	WeightDecay float64
	Schedule    Schedule
	Seed        uint64 // shuffling (and dropout, through Init)

	// Loss replaces softmax cross-entropy on the labels when set.
	Loss LossFunc
	// Transform, when set, may alter a copy of each training batch (e.g.
	// seeded augmentation). rng is the trainer's seeded generator.
	Transform func(x *Tensor, idx []int, rng *rand.Rand)
	// Step, when set, replaces the forward pass, loss and backward pass of
	// one batch (gradients are zeroed before and the optimizer steps after).
	// It returns the loss and the logits. Feature distillation uses it.
	Step func(m *Model, x *Tensor, labels []int, idx []int) (float64, *Tensor)
	// AfterStep runs after every optimizer step (e.g. a pruning schedule).
	AfterStep func(step int)

	// ValX, ValY, when set, are evaluated after every epoch.
	ValX []float32
	ValY []int

	OnBatch func(BatchInfo)
	OnEpoch func(EpochInfo)
}

// BatchInfo reports progress within an epoch.
type BatchInfo struct {
	Epoch, Batch, Batches int
	Loss                  float64 // running mean over the epoch so far
	Acc                   float64 // running training accuracy over the epoch so far
	Seen                  int     // samples processed this epoch
	Elapsed               time.Duration
}

// EpochInfo summarises one epoch.
type EpochInfo struct {
	Epoch        int     `json:"epoch"` // 1-based
	LR           float64 `json:"lr"`
	Loss         float64 `json:"loss"`      // mean training loss
	TrainAcc     float64 `json:"train_acc"` // accuracy on training batches as seen (before each step)
	ValAcc       float64 `json:"val_accuracy,omitempty"`
	ValLoss      float64 `json:"val_loss,omitempty"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_s"`
}

func (c *TrainConfig) validate(n int) error {
	if c.Epochs < 0 || c.Epochs > MaxEpochs {
		return fmt.Errorf("nn: epochs %d: want 0 to %d", c.Epochs, MaxEpochs)
	}
	if c.Batch <= 0 {
		return fmt.Errorf("nn: batch %d must be positive", c.Batch)
	}
	if n == 0 {
		return fmt.Errorf("nn: no training samples")
	}
	if c.Optimizer != "sgd" && c.Optimizer != "adam" {
		return fmt.Errorf("nn: unknown optimizer %q (want sgd or adam)", c.Optimizer)
	}
	return c.Schedule.Validate()
}

// Train fits m to (x, y) with mini-batch training. x holds len(y) samples of
// the model's input shape. Shuffling is seeded by cfg.Seed. Masks on
// parameters are honoured after every step. It stops early, returning the
// epochs done and ctx.Err(), when ctx is cancelled.
func Train(ctx context.Context, m *Model, x []float32, y []int, cfg TrainConfig) ([]EpochInfo, error) {
	n := len(y)
	d := m.Input.Size()
	if len(x) != n*d {
		return nil, fmt.Errorf("nn: %d values for %d samples of %v", len(x), n, m.Input)
	}
	if err := cfg.validate(n); err != nil {
		return nil, err
	}
	// A batch larger than the data set is the data set: the same steps,
	// without buffers sized by an unchecked flag.
	cfg.Batch = min(cfg.Batch, n)
	k := m.Classes()
	for i, l := range y {
		if l < 0 || l >= k {
			return nil, fmt.Errorf("nn: label %d of sample %d outside [0, %d)", l, i, k)
		}
	}
	var opt Optimizer
	if cfg.Optimizer == "adam" {
		opt = NewAdam(cfg.WeightDecay)
	} else {
		opt = &SGD{Momentum: cfg.Momentum, WeightDecay: cfg.WeightDecay}
	}
	loss := cfg.Loss
	if loss == nil {
		loss = func(z *Tensor, labels []int, _ []int) (float64, *Tensor) { return SoftmaxCrossEntropy(z, labels) }
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7a11))
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	params := m.Params()
	m.ApplyMasks()
	m.ClearAccel() // the weights are about to change; call Prepare afterwards

	batches := (n + cfg.Batch - 1) / cfg.Batch
	xb := make([]float32, cfg.Batch*d)
	yb := make([]int, cfg.Batch)
	var hist []EpochInfo
	step := 0
	for e := 0; e < cfg.Epochs; e++ {
		start := time.Now()
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		var sum float64
		correct, seen := 0, 0
		var lr float64
		for b := 0; b < batches; b++ {
			if err := ctx.Err(); err != nil {
				return hist, err
			}
			lo, hi := b*cfg.Batch, min((b+1)*cfg.Batch, n)
			idx := perm[lo:hi]
			bs := hi - lo
			for i, j := range idx {
				copy(xb[i*d:(i+1)*d], x[j*d:(j+1)*d])
				yb[i] = y[j]
			}
			xt := FromData(bs, m.Input, xb[:bs*d])
			if cfg.Transform != nil {
				cfg.Transform(xt, idx, rng)
			}
			lr = cfg.Schedule.At(e, float64(b)/float64(batches), cfg.Epochs)
			m.ZeroGrad()
			var l float64
			var z *Tensor
			if cfg.Step != nil {
				l, z = cfg.Step(m, xt, yb[:bs], idx)
			} else {
				var g *Tensor
				z = m.Forward(xt)
				l, g = loss(z, yb[:bs], idx)
				m.Backward(g)
			}
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return hist, fmt.Errorf("nn: loss diverged (%v) in epoch %d batch %d; lower the learning rate", l, e+1, b+1)
			}
			for i := 0; i < bs; i++ {
				if Argmax(z.Row(i)) == yb[i] {
					correct++
				}
			}
			opt.Step(params, lr)
			step++
			if cfg.AfterStep != nil {
				cfg.AfterStep(step)
			}
			sum += l * float64(bs)
			seen += bs
			if cfg.OnBatch != nil {
				cfg.OnBatch(BatchInfo{Epoch: e + 1, Batch: b + 1, Batches: batches, Loss: sum / float64(seen), Acc: float64(correct) / float64(seen), Seen: seen, Elapsed: time.Since(start)})
			}
		}
		el := time.Since(start).Seconds()
		info := EpochInfo{Epoch: e + 1, LR: lr, Loss: sum / float64(seen), TrainAcc: float64(correct) / float64(seen), Seconds: el, ImagesPerSec: float64(seen) / el}
		if cfg.ValY != nil {
			ev, err := Evaluate(m, cfg.ValX, cfg.ValY)
			if err != nil {
				return hist, err
			}
			info.ValAcc, info.ValLoss = ev.Accuracy, ev.Loss
		}
		hist = append(hist, info)
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(info)
		}
	}
	return hist, nil
}
