package distill

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/shrink-ml/shrink/nn"
)

// Hint asks a student layer's output to match a teacher layer's output
// (FitNets, Romero et al. 2015) through a learned linear projection from the
// student's feature size to the teacher's. Layer names are the model's
// (fc1, relu2, conv1, …; see `shrink inspect`).
type Hint struct {
	Teacher string  `json:"teacher"` // teacher layer whose output is the target
	Student string  `json:"student"` // student layer whose output is projected
	Weight  float64 `json:"weight"`  // weight of the hint loss in the total loss
}

// Projection is the learned linear map of a hint: a dense layer from the
// student feature size to the teacher feature size, trained jointly with the
// student and discarded afterwards.
type Projection struct {
	Hint
	Dense *nn.Dense
}

// NewProjection returns a projection from studentDim to teacherDim features
// with Glorot-uniform weights drawn from seed and zero bias.
func NewProjection(h Hint, studentDim, teacherDim int, seed uint64) *Projection {
	d := nn.NewDense(studentDim, teacherDim)
	rng := rand.New(rand.NewPCG(seed, 0x4147))
	limit := math.Sqrt(6 / float64(studentDim+teacherDim))
	for i := range d.W.W {
		d.W.W[i] = float32((rng.Float64()*2 - 1) * limit)
	}
	return &Projection{Hint: h, Dense: d}
}

// Loss is the hint loss of a batch and its gradient with respect to the
// student features; it accumulates the projection's parameter gradients
// (zero them first). Features of any shape are flattened per sample:
//
//	s: (N, Ds), t: (N, Dt),  r = s·Pᵀ + b − t
//	loss = w · (1/(N·Dt)) Σ r²
//	ds   = (2w/(N·Dt)) · r·P,  dP += (2w/(N·Dt)) · rᵀ·s,  db += Σ_n (2w/(N·Dt)) · r_n
func (p *Projection) Loss(student, teacher *nn.Tensor) (float64, *nn.Tensor) {
	ds, dt := p.Dense.In()[0], p.Dense.Out()[0]
	if student.Shape.Size() != ds || teacher.Shape.Size() != dt || student.N != teacher.N {
		panic(fmt.Sprintf("distill: hint %s→%s: student %d×%v, teacher %d×%v, projection %d→%d",
			p.Student, p.Teacher, student.N, student.Shape, teacher.N, teacher.Shape, ds, dt))
	}
	n := student.N
	y := p.Dense.Forward(nn.FromData(n, nn.Shape{ds}, student.Data))
	scale := 1 / float64(n*dt)
	g := nn.NewTensor(n, nn.Shape{dt})
	var loss float64
	for i, v := range y.Data {
		r := float64(v) - float64(teacher.Data[i])
		loss += r * r
		g.Data[i] = float32(2 * p.Weight * scale * r)
	}
	dx := p.Dense.Backward(g)
	out := nn.NewTensor(n, student.Shape)
	copy(out.Data, dx.Data)
	return p.Weight * scale * loss, out
}

// Params are the projection's trainable parameters.
func (p *Projection) Params() []*nn.Param { return p.Dense.Params() }
