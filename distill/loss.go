package distill

import (
	"fmt"
	"math"

	"github.com/shrink-ml/shrink/nn"
)

// KDLoss is the knowledge-distillation loss of Hinton, Vinyals & Dean (2015)
// on a batch of student logits s against teacher logits t and labels y:
//
//	p_n = softmax(t_n / T),  q_n = softmax(s_n / T)
//	loss = (1/N) Σ_n [ α·T²·KL(p_n ‖ q_n) + (1−α)·CE(softmax(s_n), y_n) ]
//	ds_n = ( α·T·(q_n − p_n) + (1−α)·(softmax(s_n) − onehot(y_n)) ) / N
//
// The T² factor keeps the soft-target gradient on the same scale as the
// hard-label gradient as T changes. student is (N, K); teacher holds N×K
// logits, row-major. With α = 0 the result is exactly
// nn.SoftmaxCrossEntropy(student, labels); with α = 1 the labels are not
// read (they may be nil). Arithmetic is in float64 per row.
//
// It panics on mismatched sizes, T ≤ 0 or α outside [0, 1]: those are
// programming errors (Options.validate checks user input).
func KDLoss(student *nn.Tensor, teacher []float32, labels []int, T, alpha float64) (float64, *nn.Tensor) {
	if alpha == 0 {
		return nn.SoftmaxCrossEntropy(student, labels)
	}
	n, k := student.N, student.Shape.Size()
	if len(teacher) != n*k {
		panic(fmt.Sprintf("distill: KDLoss: %d teacher logits for %d×%d student logits", len(teacher), n, k))
	}
	if !(T > 0) || !(alpha >= 0 && alpha <= 1) {
		panic(fmt.Sprintf("distill: KDLoss: temperature %v must be positive and alpha %v in [0, 1]", T, alpha))
	}
	if alpha < 1 && len(labels) != n {
		panic(fmt.Sprintf("distill: KDLoss: %d labels for %d samples", len(labels), n))
	}
	grad := nn.NewTensor(n, student.Shape)
	p := make([]float64, k)
	q := make([]float64, k)
	h := make([]float64, k)
	logp := make([]float64, k)
	logq := make([]float64, k)
	inv := 1 / float64(n)
	var loss float64
	for i := 0; i < n; i++ {
		s := student.Data[i*k : (i+1)*k]
		t := teacher[i*k : (i+1)*k]
		logSoftmax(t, T, logp)
		logSoftmax(s, T, logq)
		var kl float64
		for j := range k {
			p[j] = math.Exp(logp[j])
			q[j] = math.Exp(logq[j])
			if p[j] > 0 {
				kl += p[j] * (logp[j] - logq[j])
			}
		}
		g := grad.Data[i*k : (i+1)*k]
		loss += alpha * T * T * kl
		for j := range k {
			g[j] = float32(alpha * T * (q[j] - p[j]) * inv)
		}
		if alpha < 1 {
			y := labels[i]
			logSoftmax(s, 1, h)
			loss -= (1 - alpha) * h[y]
			for j := range k {
				d := math.Exp(h[j])
				if j == y {
					d--
				}
				g[j] = float32((alpha*T*(q[j]-p[j]) + (1-alpha)*d) * inv)
			}
		}
	}
	return loss * inv, grad
}

// logSoftmax writes log softmax(x/T) into out, computed stably in float64.
func logSoftmax(x []float32, T float64, out []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, float64(v)/T)
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(v)/T - m)
	}
	ls := m + math.Log(s)
	for j, v := range x {
		out[j] = float64(v)/T - ls
	}
}

// Loss returns an nn.LossFunc that trains against teacher with the KDLoss
// at temperature T and mixing weight alpha, for use as nn.TrainConfig.Loss
// by any pass that fine-tunes (pruning, quantization-aware training):
//
//	loss, err := distill.Loss(teacher, train.X, 4, 0.9)
//	if err != nil { … }
//	cfg := nn.TrainConfig{…, Loss: loss}
//	nn.Train(ctx, student, train.X, train.Y, cfg)
//
// The teacher's logits on trainX are computed once, here (teacher.Infer, so
// a quantized teacher runs on its integer path), and looked up by the batch
// indices nn.Train passes to the loss. trainX must therefore be the same
// slice, in the same order, that is given to nn.Train, and the batches must
// not be augmented (a Transform would make the cached logits stale; use
// Distill with Options.Augment for that).
func Loss(teacher *nn.Model, trainX []float32, T, alpha float64) (nn.LossFunc, error) {
	if err := checkTA(T, alpha); err != nil {
		return nil, err
	}
	k := teacher.Classes()
	var cache []float32
	if alpha > 0 {
		z, err := nn.Logits(teacher, trainX)
		if err != nil {
			return nil, fmt.Errorf("distill: teacher logits: %w", err)
		}
		cache = z
	}
	n := len(cache) / max(k, 1)
	return func(logits *nn.Tensor, labels []int, idx []int) (float64, *nn.Tensor) {
		if alpha == 0 {
			return nn.SoftmaxCrossEntropy(logits, labels)
		}
		if logits.Shape.Size() != k {
			panic(fmt.Sprintf("distill: student has %d logits, teacher %d", logits.Shape.Size(), k))
		}
		t := make([]float32, len(idx)*k)
		for i, j := range idx {
			if j < 0 || j >= n {
				panic(fmt.Sprintf("distill: batch index %d outside the %d cached teacher outputs", j, n))
			}
			copy(t[i*k:(i+1)*k], cache[j*k:(j+1)*k])
		}
		return KDLoss(logits, t, labels, T, alpha)
	}, nil
}

func checkTA(T, alpha float64) error {
	if !(T > 0) || math.IsInf(T, 0) {
		return fmt.Errorf("distill: temperature %v must be positive", T)
	}
	if !(alpha >= 0 && alpha <= 1) {
		return fmt.Errorf("distill: alpha %v must be in [0, 1]", alpha)
	}
	return nil
}
