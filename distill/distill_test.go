package distill

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// refKD is the KD loss written directly in float64, as the specification.
func refKD(s, t []float64, y []int, n, k int, T, alpha float64) float64 {
	softmax := func(v []float64, T float64) []float64 {
		m := math.Inf(-1)
		for _, x := range v {
			m = math.Max(m, x/T)
		}
		out := make([]float64, len(v))
		var sum float64
		for j, x := range v {
			out[j] = math.Exp(x/T - m)
			sum += out[j]
		}
		for j := range out {
			out[j] /= sum
		}
		return out
	}
	var loss float64
	for i := 0; i < n; i++ {
		p := softmax(t[i*k:(i+1)*k], T)
		q := softmax(s[i*k:(i+1)*k], T)
		h := softmax(s[i*k:(i+1)*k], 1)
		var kl float64
		for j := range p {
			kl += p[j] * math.Log(p[j]/q[j])
		}
		loss += alpha*T*T*kl - (1-alpha)*math.Log(h[y[i]])
	}
	return loss / float64(n)
}

func randLogits(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func TestKDLossGradient(t *testing.T) {
	const n, k = 5, 7
	rng := rand.New(rand.NewPCG(1, 2))
	for _, T := range []float64{1, 2, 4, 8} {
		for _, alpha := range []float64{0.1, 0.5, 0.9, 1} {
			s := nn.FromData(n, nn.Shape{k}, randLogits(rng, n*k, 3))
			tz := randLogits(rng, n*k, 4)
			y := make([]int, n)
			for i := range y {
				y[i] = rng.IntN(k)
			}
			loss, g := KDLoss(s, tz, y, T, alpha)
			s64 := make([]float64, n*k)
			t64 := make([]float64, n*k)
			for i := range s64 {
				s64[i], t64[i] = float64(s.Data[i]), float64(tz[i])
			}
			want := refKD(s64, t64, y, n, k, T, alpha)
			require.InDelta(t, want, loss, 1e-5*math.Max(1, math.Abs(want)), "T=%v alpha=%v", T, alpha)
			require.Greater(t, loss, 0.0)
			const eps = 1e-5
			for i := range s64 {
				old := s64[i]
				s64[i] = old + eps
				up := refKD(s64, t64, y, n, k, T, alpha)
				s64[i] = old - eps
				down := refKD(s64, t64, y, n, k, T, alpha)
				s64[i] = old
				fd := (up - down) / (2 * eps)
				require.InDelta(t, fd, float64(g.Data[i]), 1e-5+1e-4*math.Abs(fd), "T=%v alpha=%v d/ds[%d]", T, alpha, i)
			}
		}
	}
}

func TestKDLossAlphaZeroIsLabelLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	s := nn.FromData(6, nn.Shape{10}, randLogits(rng, 60, 2))
	y := []int{0, 3, 9, 2, 2, 7}
	tz := randLogits(rng, 60, 5)
	wl, wg := nn.SoftmaxCrossEntropy(s, y)
	l, g := KDLoss(s, tz, y, 4, 0)
	require.Equal(t, wl, l)
	require.Equal(t, wg.Data, g.Data)

	// The LossFunc for other passes reduces the same way.
	teacher := tinyModel(t, 10, 5)
	x := make([]float32, 6*10)
	f, err := Loss(teacher, x, 4, 0)
	require.NoError(t, err)
	l, g = f(s, y, []int{0, 1, 2, 3, 4, 5})
	require.Equal(t, wl, l)
	require.Equal(t, wg.Data, g.Data)
}

func tinyModel(t *testing.T, in, classes int) *nn.Model {
	specs, err := nn.ParseArch("mlp:8", nn.Shape{in}, classes)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape{in}, specs)
	require.NoError(t, err)
	m.Init(7)
	return m
}

func TestLossLooksUpCachedTeacher(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	teacher := tinyModel(t, 4, 3)
	x := randLogits(rng, 20*4, 1) // 20 samples
	f, err := Loss(teacher, x, 2, 0.7)
	require.NoError(t, err)
	idx := []int{17, 3, 8}
	s := nn.FromData(3, nn.Shape{3}, randLogits(rng, 9, 1))
	y := []int{0, 1, 2}
	l, g := f(s, y, idx)

	sub := make([]float32, 0, 12)
	for _, j := range idx {
		sub = append(sub, x[j*4:(j+1)*4]...)
	}
	tz, err := nn.Logits(teacher, sub)
	require.NoError(t, err)
	wl, wg := KDLoss(s, tz, y, 2, 0.7)
	require.Equal(t, wl, l)
	require.Equal(t, wg.Data, g.Data)

	_, err = Loss(teacher, x, 0, 0.5)
	require.Error(t, err)
	_, err = Loss(teacher, x, 1, 1.5)
	require.Error(t, err)
}

func TestHintGradient(t *testing.T) {
	const n, ds, dt = 3, 5, 4
	rng := rand.New(rand.NewPCG(7, 8))
	p := NewProjection(Hint{Teacher: "a", Student: "b", Weight: 0.7}, ds, dt, 9)
	for i := range p.Dense.B.W {
		p.Dense.B.W[i] = float32(rng.NormFloat64())
	}
	s := nn.FromData(n, nn.Shape{ds}, randLogits(rng, n*ds, 1))
	tf := nn.FromData(n, nn.Shape{dt}, randLogits(rng, n*dt, 1))
	for _, q := range p.Params() {
		clear(q.Grad)
	}
	loss, g := p.Loss(s, tf)

	// Reference in float64.
	W := make([]float64, len(p.Dense.W.W))
	B := make([]float64, dt)
	S := make([]float64, n*ds)
	for i := range W {
		W[i] = float64(p.Dense.W.W[i])
	}
	for i := range B {
		B[i] = float64(p.Dense.B.W[i])
	}
	for i := range S {
		S[i] = float64(s.Data[i])
	}
	ref := func() float64 {
		var l float64
		for i := 0; i < n; i++ {
			for o := 0; o < dt; o++ {
				v := B[o]
				for j := 0; j < ds; j++ {
					v += S[i*ds+j] * W[o*ds+j]
				}
				r := v - float64(tf.Data[i*dt+o])
				l += r * r
			}
		}
		return 0.7 * l / float64(n*dt)
	}
	require.InDelta(t, ref(), loss, 1e-5)
	check := func(name string, v []float64, got []float32) {
		const eps = 1e-6
		for i := range v {
			old := v[i]
			v[i] = old + eps
			up := ref()
			v[i] = old - eps
			down := ref()
			v[i] = old
			fd := (up - down) / (2 * eps)
			require.InDelta(t, fd, float64(got[i]), 1e-5+1e-4*math.Abs(fd), "%s[%d]", name, i)
		}
	}
	check("student", S, g.Data)
	check("weight", W, p.Dense.W.Grad)
	check("bias", B, p.Dense.B.Grad)
}

func TestShift(t *testing.T) {
	x := nn.NewTensor(50, nn.Shape{6, 6, 1})
	for i := 0; i < 50; i++ {
		x.Row(i)[2*6+3] = 1 // one lit pixel at (2, 3)
	}
	Shift(x, 2, rand.New(rand.NewPCG(1, 1)))
	moved := 0
	for i := 0; i < 50; i++ {
		var sum float32
		at := -1
		for j, v := range x.Row(i) {
			sum += v
			if v == 1 {
				at = j
			}
		}
		require.Equal(t, float32(1), sum, "the pixel stays inside a 6×6 image")
		r, c := at/6, at%6
		require.LessOrEqual(t, math.Abs(float64(r-2)), 2.0)
		require.LessOrEqual(t, math.Abs(float64(c-3)), 2.0)
		if at != 2*6+3 {
			moved++
		}
	}
	require.Greater(t, moved, 30)
}

// mini returns small slices of mnist-mini.
func mini(t *testing.T, nTrain, nTest int) (*data.Set, *data.Set) {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	return ds.Train.Head(nTrain), ds.Test.Head(nTest)
}

func build(t *testing.T, arch string, s *data.Set, seed uint64) *nn.Model {
	specs, err := nn.ParseArch(arch, nn.Shape(s.Shape), s.Classes)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape(s.Shape), specs)
	require.NoError(t, err)
	m.Init(seed)
	return m
}

func agreement(t *testing.T, a, b *nn.Model, x []float32) float64 {
	pa, err := nn.Predict(a, x)
	require.NoError(t, err)
	pb, err := nn.Predict(b, x)
	require.NoError(t, err)
	return nn.Agreement(pa, pb)
}

func TestDistillAgreesWithTeacher(t *testing.T) {
	train, test := mini(t, 1500, 500)
	ctx := context.Background()
	teacher := build(t, "mlp:128", train, 1)
	_, err := nn.Train(ctx, teacher, train.X, train.Y, nn.TrainConfig{Epochs: 4, Batch: 64, Optimizer: "adam", Schedule: nn.Schedule{Base: 0.002}, Seed: 1})
	require.NoError(t, err)

	student := build(t, "mlp:16", train, 2)
	before := agreement(t, teacher, student, test.X)
	epochs := 0
	cfg := nn.TrainConfig{Epochs: 3, Batch: 64, Optimizer: "adam", Momentum: 0.9, Schedule: nn.Schedule{Kind: "cosine", Base: 0.003}, Seed: 3,
		OnEpoch: func(nn.EpochInfo) { epochs++ }}
	opt := Options{Temperature: 4, Alpha: 0.9,
		Hints: []Hint{{Teacher: "relu1", Student: "relu1", Weight: 0.1}}}
	rep, err := Distill(ctx, teacher, student, train, opt, cfg)
	require.NoError(t, err)
	after := agreement(t, teacher, student, test.X)
	t.Logf("agreement with teacher: before %.3f after %.3f", before, after)
	require.Greater(t, after, before+0.3)
	require.Equal(t, 3, epochs)
	require.True(t, rep.TeacherCached)
	require.EqualValues(t, train.Len(), rep.TeacherPasses)
	require.Len(t, rep.Hints, 1)
	require.Equal(t, 16, rep.Hints[0].StudentDim)
	require.Equal(t, 128, rep.Hints[0].TeacherDim)
	require.Greater(t, rep.Hints[0].Loss, 0.0)

	// Augmented: the teacher runs on every batch; the run is seeded.
	small := train.Head(300)
	run := func() (*nn.Model, Report) {
		s := build(t, "mlp:16", small, 2)
		r, err := Distill(ctx, teacher, s, small, Options{Temperature: 2, Alpha: 0.5, Augment: true},
			nn.TrainConfig{Epochs: 2, Batch: 50, Optimizer: "sgd", Momentum: 0.9, Schedule: nn.Schedule{Kind: "cosine", Base: 0.003}, Seed: 4})
		require.NoError(t, err)
		return s, r
	}
	s1, r1 := run()
	s2, _ := run()
	require.False(t, r1.TeacherCached)
	require.EqualValues(t, 2*small.Len(), r1.TeacherPasses)
	require.Equal(t, s1.Layers[1].Params()[0].W, s2.Layers[1].Params()[0].W)
}

func TestDistillErrors(t *testing.T) {
	train, _ := mini(t, 50, 0)
	teacher := build(t, "mlp:8", train, 1)
	ok := Options{Temperature: 2, Alpha: 0.5}
	okCfg := nn.TrainConfig{Epochs: 1, Batch: 10, Optimizer: "adam", Schedule: nn.Schedule{Kind: "cosine", Base: 0.01}}
	cases := map[string]func(o *Options, c *nn.TrainConfig){
		"temperature": func(o *Options, c *nn.TrainConfig) { o.Temperature = 0 },
		"alpha":       func(o *Options, c *nn.TrainConfig) { o.Alpha = -0.1 },
		"batch":       func(o *Options, c *nn.TrainConfig) { c.Batch = 0 },
		"optimizer":   func(o *Options, c *nn.TrainConfig) { c.Optimizer = "lbfgs" },
		"nosuch":      func(o *Options, c *nn.TrainConfig) { o.Hints = []Hint{{Teacher: "nosuch", Student: "fc1", Weight: 1}} },
		"weight": func(o *Options, c *nn.TrainConfig) {
			o.Hints = []Hint{{Teacher: "fc1", Student: "fc1", Weight: math.NaN()}}
		},
	}
	for want, mod := range cases {
		o, c := ok, okCfg
		mod(&o, &c)
		_, err := Distill(context.Background(), teacher, build(t, "mlp:4", train, 2), train, o, c)
		require.ErrorContains(t, err, want)
	}
	other := build(t, "mlp:4", &data.Set{Shape: []int{5}, Classes: 10}, 1)
	_, err := Distill(context.Background(), teacher, other, train, ok, okCfg)
	require.Error(t, err)
}
