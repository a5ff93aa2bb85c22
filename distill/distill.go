// Package distill trains a small student network to imitate a larger
// teacher (knowledge distillation): softened teacher outputs at a
// temperature (Hinton, Vinyals & Dean 2015), optional feature hints through
// learned projections (FitNets), and optional seeded ±2-pixel shifts of the
// inputs.
//
// Distill is the pass. KDLoss is the loss with its gradient; Loss wraps it
// as an nn.LossFunc with cached teacher logits so that other passes
// (pruning fine-tuning, quantization-aware training) can fine-tune against a
// teacher instead of labels alone. The package never prints.
package distill

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// Options configure Distill.
type Options struct {
	Temperature float64 // softening temperature T > 0 (Hinton: 2–20; 4 is a good start)
	Alpha       float64 // weight of the soft-target term in [0, 1]; 0 is label training
	Hints       []Hint  // feature hints, each with its own weight
	Augment     bool    // random shifts of up to ±2 pixels per image, seeded
}

// Report describes a distillation run.
type Report struct {
	// TeacherCached is true when the teacher's outputs (logits and hinted
	// features) were computed once over the training set before training,
	// false when the teacher ran on every batch (augmented inputs) or was
	// not needed (Alpha 0 and no hints).
	TeacherCached bool `json:"teacher_cached"`
	// TeacherPasses counts teacher forward passes over single samples.
	TeacherPasses int64          `json:"teacher_passes"`
	Epochs        []nn.EpochInfo `json:"epochs"`
	Hints         []HintReport   `json:"hints,omitempty"`
	Seconds       float64        `json:"seconds"`
}

// HintReport describes one hint of a run.
type HintReport struct {
	Hint
	StudentDim int     `json:"student_dim"`
	TeacherDim int     `json:"teacher_dim"`
	Loss       float64 `json:"loss"` // mean over the last epoch, weighted
}

// maxCache caps the float32 values of cached teacher outputs (1 GiB).
const maxCache = 1 << 28

func (o *Options) validate() error {
	if err := checkTA(o.Temperature, o.Alpha); err != nil {
		return err
	}
	for _, h := range o.Hints {
		if !(h.Weight >= 0) || math.IsInf(h.Weight, 0) {
			return fmt.Errorf("distill: hint %s:%s weight %v must be non-negative", h.Teacher, h.Student, h.Weight)
		}
	}
	return nil
}

// Distill trains student, in place from its current weights (Init it
// first), to imitate teacher on train, with the training options of cfg
// (epochs, batch, optimizer, schedule, seed, progress hooks) — the same
// configuration every fine-tuning pass takes; cfg's Loss, Step, Transform
// and AfterStep are Distill's own. The teacher is only read; it may be
// any model nn can run (float, pruned, quantized). Teacher outputs are
// cached once when inputs are not augmented, and computed on each augmented
// batch otherwise; the Report says which. With Alpha 0 and no hints the
// teacher is not used at all and the run is plain label training with the
// same schedule, shuffling and augmentation — the fair baseline.
func Distill(ctx context.Context, teacher, student *nn.Model, train *data.Set, opt Options, cfg nn.TrainConfig) (Report, error) {
	var rep Report
	if err := opt.validate(); err != nil {
		return rep, err
	}
	if cfg.Batch <= 0 {
		return rep, fmt.Errorf("distill: batch %d must be positive", cfg.Batch)
	}
	if cfg.Optimizer != "adam" && cfg.Optimizer != "sgd" {
		return rep, fmt.Errorf("distill: unknown optimizer %q (want adam or sgd)", cfg.Optimizer)
	}
	in := nn.Shape(train.Shape)
	if !student.Input.Equal(in) {
		return rep, fmt.Errorf("distill: student takes %v but the data has %v", student.Input, in)
	}
	if train.Len() == 0 {
		return rep, fmt.Errorf("distill: no training samples")
	}
	useTeacher := opt.Alpha > 0 || len(opt.Hints) > 0
	if useTeacher {
		if teacher == nil {
			return rep, fmt.Errorf("distill: no teacher")
		}
		if !teacher.Input.Equal(student.Input) {
			return rep, fmt.Errorf("distill: teacher takes %v but the student %v", teacher.Input, student.Input)
		}
		if teacher.Classes() != student.Classes() {
			return rep, fmt.Errorf("distill: teacher has %d classes but the student %d", teacher.Classes(), student.Classes())
		}
	}
	if opt.Augment && len(in) != 3 {
		return rep, fmt.Errorf("distill: augmentation shifts images but samples have shape %v", in)
	}

	// Projections, one per hint.
	projs := make([]*Projection, len(opt.Hints))
	var tNames, sNames []string
	for i, h := range opt.Hints {
		tl, sl := teacher.Layer(h.Teacher), student.Layer(h.Student)
		if tl == nil {
			return rep, fmt.Errorf("distill: hint %s:%s: the teacher has no layer %q", h.Teacher, h.Student, h.Teacher)
		}
		if sl == nil {
			return rep, fmt.Errorf("distill: hint %s:%s: the student has no layer %q", h.Teacher, h.Student, h.Student)
		}
		projs[i] = NewProjection(h, sl.Out().Size(), tl.Out().Size(), cfg.Seed+uint64(i)*0x9e3779b97f4a7c15)
		tNames = append(tNames, h.Teacher)
		sNames = append(sNames, h.Student)
		rep.Hints = append(rep.Hints, HintReport{Hint: h, StudentDim: sl.Out().Size(), TeacherDim: tl.Out().Size()})
	}

	n, d, k := train.Len(), in.Size(), student.Classes()
	// Teacher outputs: cached once, or per batch.
	var cacheZ []float32
	cacheF := map[string][]float32{}
	if useTeacher && !opt.Augment {
		size := int64(n) * int64(k)
		for _, p := range projs {
			size += int64(n) * int64(p.Dense.Out()[0])
		}
		if size <= maxCache {
			cacheZ = make([]float32, n*k)
			for _, name := range tNames {
				cacheF[name] = make([]float32, n*teacher.Layer(name).Out().Size())
			}
			for lo := 0; lo < n; lo += nn.EvalBatch {
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				hi := min(lo+nn.EvalBatch, n)
				x := nn.FromData(hi-lo, in, train.X[lo*d:hi*d])
				var z *nn.Tensor
				if len(tNames) == 0 {
					z = teacher.Infer(x)
				} else {
					var f map[string]*nn.Tensor
					z, f = teacher.InferCollect(x, tNames...)
					for name, t := range f {
						dt := t.Shape.Size()
						copy(cacheF[name][lo*dt:hi*dt], t.Data)
					}
				}
				copy(cacheZ[lo*k:hi*k], z.Data)
			}
			rep.TeacherCached = true
			rep.TeacherPasses = int64(n)
		}
	}

	var projOpt nn.Optimizer
	if cfg.Optimizer == "adam" {
		projOpt = nn.NewAdam(0)
	} else {
		projOpt = &nn.SGD{Momentum: 0.9}
	}
	var projParams []*nn.Param
	for _, p := range projs {
		projParams = append(projParams, p.Params()...)
	}
	hintSum := make([]float64, len(projs))
	hintSeen := 0

	sched := cfg.Schedule
	batches := (n + cfg.Batch - 1) / cfg.Batch
	onEpoch := cfg.OnEpoch
	cfg.Loss, cfg.Transform, cfg.AfterStep = nil, nil, nil
	if opt.Augment {
		cfg.Transform = func(x *nn.Tensor, _ []int, rng *rand.Rand) { Shift(x, 2, rng) }
	}
	cfg.OnEpoch = func(e nn.EpochInfo) {
		for i := range projs {
			rep.Hints[i].Loss = hintSum[i] / float64(max(hintSeen, 1))
			hintSum[i] = 0
		}
		hintSeen = 0
		if onEpoch != nil {
			onEpoch(e)
		}
	}
	if len(projs) > 0 {
		cfg.AfterStep = func(step int) {
			e, b := (step-1)/batches, (step-1)%batches
			projOpt.Step(projParams, sched.At(e, float64(b)/float64(batches), cfg.Epochs))
		}
	}
	cfg.Step = func(m *nn.Model, x *nn.Tensor, labels []int, idx []int) (float64, *nn.Tensor) {
		bs := x.N
		var tz []float32
		tf := map[string]*nn.Tensor{}
		switch {
		case !useTeacher:
		case rep.TeacherCached:
			tz = make([]float32, bs*k)
			for i, j := range idx {
				copy(tz[i*k:(i+1)*k], cacheZ[j*k:(j+1)*k])
			}
			for name, c := range cacheF {
				s := teacher.Layer(name).Out()
				t := nn.NewTensor(bs, s)
				dt := s.Size()
				for i, j := range idx {
					copy(t.Data[i*dt:(i+1)*dt], c[j*dt:(j+1)*dt])
				}
				tf[name] = t
			}
		default:
			var z *nn.Tensor
			if len(tNames) == 0 {
				z = teacher.Infer(x)
			} else {
				z, tf = teacher.InferCollect(x, tNames...)
			}
			tz = z.Data
			rep.TeacherPasses += int64(bs)
		}
		z, feats := m.ForwardCollect(x, sNames...)
		var loss float64
		var dz *nn.Tensor
		if useTeacher && opt.Alpha > 0 {
			loss, dz = KDLoss(z, tz, labels, opt.Temperature, opt.Alpha)
		} else {
			loss, dz = nn.SoftmaxCrossEntropy(z, labels)
		}
		if len(projs) == 0 {
			m.Backward(dz)
			return loss, z
		}
		extra := map[string]*nn.Tensor{}
		for i, p := range projs {
			for _, q := range p.Params() {
				clear(q.Grad)
			}
			hl, ds := p.Loss(feats[p.Student], tf[p.Teacher])
			loss += hl
			hintSum[i] += hl * float64(bs)
			if e, ok := extra[p.Student]; ok {
				for j := range e.Data {
					e.Data[j] += ds.Data[j]
				}
			} else {
				extra[p.Student] = ds
			}
		}
		hintSeen += bs
		m.BackwardExtra(dz, extra)
		return loss, z
	}
	start := time.Now()
	hist, err := nn.Train(ctx, student, train.X, train.Y, cfg)
	rep.Epochs = hist
	rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		return rep, fmt.Errorf("distill: %w", err)
	}
	return rep, nil
}

// Shift moves every image of the batch x (N, H, W, C) by a random offset of
// up to ±maxShift pixels in each direction, drawn from rng, filling the
// uncovered border with zeros.
func Shift(x *nn.Tensor, maxShift int, rng *rand.Rand) {
	if len(x.Shape) != 3 {
		panic(fmt.Sprintf("distill: Shift needs images (H, W, C), got %v", x.Shape))
	}
	h, w, c := x.Shape[0], x.Shape[1], x.Shape[2]
	tmp := make([]float32, h*w*c)
	for i := 0; i < x.N; i++ {
		dy := rng.IntN(2*maxShift+1) - maxShift
		dx := rng.IntN(2*maxShift+1) - maxShift
		if dx == 0 && dy == 0 {
			continue
		}
		img := x.Row(i)
		clear(tmp)
		for r := 0; r < h; r++ {
			sr := r - dy
			if sr < 0 || sr >= h {
				continue
			}
			lo, hi := max(0, dx), min(w, w+dx) // destination columns
			copy(tmp[(r*w+lo)*c:(r*w+hi)*c], img[(sr*w+lo-dx)*c:(sr*w+hi-dx)*c])
		}
		copy(img, tmp)
	}
}
