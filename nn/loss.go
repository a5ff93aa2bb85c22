package nn

import "math"

// SoftmaxCrossEntropy returns the mean cross-entropy of the logits against
// integer labels and its gradient with respect to the logits:
//
//	loss = −(1/N) Σ_n log softmax(z_n)[y_n]
//	dz   = (softmax(z) − onehot(y)) / N
func SoftmaxCrossEntropy(logits *Tensor, labels []int) (float64, *Tensor) {
	k := logits.Shape.Size()
	n := logits.N
	grad := NewTensor(n, logits.Shape)
	var loss float64
	inv := 1 / float64(n)
	for i := 0; i < n; i++ {
		z := logits.Data[i*k : (i+1)*k]
		p := grad.Data[i*k : (i+1)*k]
		softmaxRow(z, p, 1)
		y := labels[i]
		loss -= math.Log(math.Max(float64(p[y]), 1e-30))
		for j := range p {
			g := float64(p[j])
			if j == y {
				g--
			}
			p[j] = float32(g * inv)
		}
	}
	return loss * inv, grad
}

// Argmax returns the index of the largest value (the first on ties).
func Argmax(v []float32) int {
	best := 0
	for j, x := range v {
		if x > v[best] {
			best = j
		}
	}
	return best
}
