package quantize_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/quantize"
)

func TestInt8KnownVectors(t *testing.T) {
	w := []float32{
		1, -0.5, 0.25, 0, // amax 1 → s = 1/127
		0, 0, 0, 0, // all-zero row
		2, 2, 2, 2, // min == max
	}
	q := quantize.Int8{}.Quantize(w, 3, 4)
	require.Equal(t, []float32{float32(1) / 127, 0, float32(2) / 127}, q.Scales)
	require.Equal(t, []int16{127, -64, 32, 0, 0, 0, 0, 0, 127, 127, 127, 127}, q.Codes) // −63.5 → −64 (half to even), 31.75 → 32
	out := make([]float32, len(w))
	q.Dequantize(out)
	require.Equal(t, float32(0), out[4])
	require.InDelta(t, 2, out[8], 1e-6)

	pt := quantize.Int8{PerTensor: true}.Quantize(w, 3, 4)
	require.Equal(t, []float32{float32(2) / 127}, pt.Scales)
	require.Equal(t, int16(64), pt.Codes[0]) // 63.5 → 64
	require.Equal(t, int16(-32), pt.Codes[1])
}

func TestInt4Sym(t *testing.T) {
	w := []float32{0.7, -0.35, 0.1, 0, 0, 0}
	q := quantize.Int4{Block: 2}.Quantize(w, 2, 3)
	require.Len(t, q.Scales, 4)
	s0 := fp16(0.7 / 7)
	require.Equal(t, s0, q.Scales[0])
	require.Equal(t, fp16(float32(0.1)/7), q.Scales[1])
	require.Equal(t, []float32{0, 0}, q.Scales[2:]) // all-zero row
	require.Equal(t, int16(7), q.Codes[0])
	require.Equal(t, int16(math.RoundToEven(float64(float32(-0.35)/s0))), q.Codes[1])
	require.Equal(t, int16(7), q.Codes[2])
	require.Equal(t, []int16{0, 0, 0}, q.Codes[3:])

	a := quantize.Int4{Block: 4, Asym: true}.Quantize([]float32{1, 1, 1, 1, -1, 0, 0.5, 2}, 2, 4)
	require.Equal(t, []float32{0, fp16(0.2)}, a.Scales) // min == max: scale 0, value = min
	require.Equal(t, []float32{1, -1}, a.Mins)
	require.Equal(t, []int16{0, 0, 0, 0, 0, 5, 8, 15}, a.Codes) // 7.5 → 8 (half to even)
	out := make([]float32, 8)
	a.Dequantize(out)
	require.Equal(t, []float32{1, 1, 1, 1}, out[:4])
	require.InDelta(t, 2, out[7], 1e-3)

	// Rows of 784 and 300 values are padded, not refused.
	for _, cols := range []int{784, 300} {
		w := randW(3, 2*cols)
		q := quantize.Int4{Block: 32}.Quantize(w, 2, cols)
		require.Len(t, q.Scales, 2*((cols+31)/32))
		require.NoError(t, q.Validate(2*cols))
		out := make([]float32, len(w))
		q.Dequantize(out)
		require.Greater(t, quantize.SQNR(w, out), 15.0)
	}
}

func fp16(f float32) float32 { return format.Float16From(format.Float16Bits(f)) }

func randW(seed uint64, n int) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.05)
	}
	return w
}

func TestQ8Q4KnownBlocks(t *testing.T) {
	// One block of 32, hand-computed: x_i = (i − 16)/16.
	w := make([]float32, 32)
	for i := range w {
		w[i] = float32(i-16) / 16
	}
	q := quantize.Q8_0{}.Quantize(w, 1, 32)
	d := float32(1) / 127 // amax = 1 (i = 0)
	require.Equal(t, fp16(d), q.Scales[0])
	id := 1 / d
	for i, x := range w {
		require.Equal(t, int16(math.Round(float64(x*id))), q.Codes[i], i)
	}
	require.Equal(t, int16(-127), q.Codes[0])
	require.Equal(t, int16(64), q.Codes[24]) // 0.5·127 = 63.5 → 64 (half away from zero)

	q4 := quantize.Q4_0{}.Quantize(w, 1, 32)
	// max magnitude is x_0 = −1: d = −1/−8 = 0.125, id = 8; n = int8(x·8 + 8.5).
	require.Equal(t, float32(0.125), q4.Scales[0])
	require.Equal(t, int16(-8), q4.Codes[0]) // n = 0
	require.Equal(t, int16(0), q4.Codes[16]) // x = 0 → n = 8
	require.Equal(t, int16(7), q4.Codes[31]) // x = 15/16 → 7.5+8.5 = 16 → min(15)
	require.Equal(t, int16(-4), q4.Codes[8]) // x = −0.5 → 4.5 → n = 4
	require.Equal(t, int16(4), q4.Codes[24]) // 0.5·8 + 8.5 = 12.5 → 12

	// Partial blocks: 784 and 300 columns.
	for _, cols := range []int{784, 300} {
		w := randW(5, cols)
		for _, s := range []quantize.Scheme{quantize.Q8_0{}, quantize.Q4_0{}} {
			q := s.Quantize(w, 1, cols)
			require.Len(t, q.Scales, (cols+31)/32)
			out := make([]float32, cols)
			q.Dequantize(out)
			require.Greater(t, quantize.SQNR(w, out), 15.0, s.Name())
		}
	}
}

func TestCodebook(t *testing.T) {
	w := []float32{0, 0.1, 0.9, 1, 0.05, 0.95}
	q := quantize.Codebook{K: 2}.Quantize(w, 2, 3)
	require.Equal(t, 1, q.Bits)
	require.InDelta(t, 0.05, q.Codebook[0], 1e-6)
	require.InDelta(t, 0.95, q.Codebook[1], 1e-6)
	require.Equal(t, []int16{0, 0, 1, 1, 0, 1}, q.Codes)
	// min == max: every centroid equals the value.
	c := quantize.Codebook{K: 4}.Quantize([]float32{3, 3, 3}, 1, 3)
	require.Equal(t, []float32{3, 3, 3, 3}, c.Codebook)
	require.Equal(t, []int16{0, 0, 0}, c.Codes)
	// 5-bit codebook on Gaussian weights keeps the error small.
	g := randW(7, 30000)
	q5 := quantize.Codebook{K: 32}.Quantize(g, 100, 300)
	out := make([]float32, len(g))
	q5.Dequantize(out)
	require.Greater(t, quantize.SQNR(g, out), 20.0)
}

func TestSQNRPerScheme(t *testing.T) {
	w := randW(11, 100*784)
	want := map[string]float64{"int8": 38, "int8_tensor": 30, "int4": 17, "int4_asym": 17, "q8_0": 40, "q4_0": 17, "fp16": 60, "codebook": 20}
	for id, s := range quantize.Schemes {
		q := s.Quantize(w, 100, 784)
		require.Equal(t, id, s.ID())
		out := make([]float32, len(w))
		quantize.Dequantize(q, out)
		require.Greater(t, quantize.SQNR(w, out), want[s.Name()], s.Name())
	}
	require.Equal(t, float64(quantize.MaxSQNR), quantize.SQNR(w, w))
}

func TestFP16MatchesFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	w := make([]float32, 1000)
	for i := range w {
		w[i] = float32(r.NormFloat64() * math.Pow(10, float64(i%12-6)))
	}
	q := quantize.FP16{}.Quantize(w, 1, len(w))
	for i, x := range w {
		require.Equal(t, format.Float16Bits(x), uint16(q.Codes[i]))
	}
}

func TestParse(t *testing.T) {
	s, err := quantize.Parse("int4", "block:64")
	require.NoError(t, err)
	require.Equal(t, quantize.Int4{Block: 64}, s)
	s, err = quantize.Parse("cluster:32", "")
	require.NoError(t, err)
	require.Equal(t, quantize.Codebook{K: 32}, s)
	s, err = quantize.Parse("int8", "tensor")
	require.NoError(t, err)
	require.Equal(t, quantize.Int8{PerTensor: true}, s)
	for _, bad := range [][2]string{{"int3", ""}, {"int4", "block:3"}, {"int8", "block:32"}, {"cluster:1", ""}, {"q4_0", "channel"}} {
		_, err := quantize.Parse(bad[0], bad[1])
		require.Error(t, err, bad)
	}
}

func TestObservers(t *testing.T) {
	// Uniform [0, 1] with rare outliers at 100: clipping observers ignore
	// the outliers, min-max does not.
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 200000)
	for i := range x {
		x[i] = r.Float32()
		if i%20000 == 0 {
			x[i] = 100
		}
	}
	for _, c := range []struct {
		spec   string
		lo, hi float32
	}{
		{"minmax", 99, 100}, {"ema", 1, 100}, {"percentile:99.9", 0.99, 1.0}, {"mse", 0.5, 100}, {"entropy", 0.5, 13},
	} {
		o, err := quantize.NewObserver(c.spec, 1)
		require.NoError(t, err)
		for i := 0; i < len(x); i += 10000 {
			o.Observe(x[i : i+10000])
		}
		lo, hi := o.Range()
		require.GreaterOrEqual(t, hi, c.lo, c.spec)
		require.LessOrEqual(t, hi, c.hi, c.spec)
		require.GreaterOrEqual(t, lo, float32(0), c.spec)
	}
	// Gaussian: the MSE-optimal uint8 clip of N(0, 1) is near ±4 (wider
	// than the ±2.6 for 4 bits, narrower than the sample's extremes).
	g := make([]float32, 100000)
	for i := range g {
		g[i] = float32(r.NormFloat64())
	}
	o, _ := quantize.NewObserver("mse", 1)
	o.Observe(g)
	lo, hi := o.Range()
	require.Greater(t, hi, float32(2.5))
	require.Less(t, lo, float32(-2.5))
	// All zero: the parameters represent 0 exactly.
	for _, spec := range []string{"minmax", "mse", "entropy", "percentile:99"} {
		o, _ := quantize.NewObserver(spec, 1)
		o.Observe(make([]float32, 100))
		p := nn.ActParams(o.Range())
		require.Equal(t, nn.ActQuant{Mode: nn.ActStatic, Scale: 1, Zero: 0}, p, spec)
	}
	_, err := quantize.NewObserver("percentile:0", 1)
	require.Error(t, err)
}

func TestActParams(t *testing.T) {
	p := nn.ActParams(0, 2.55)
	require.Equal(t, int32(0), p.Zero)
	require.InDelta(t, 0.01, p.Scale, 1e-7)
	p = nn.ActParams(-1, 1)
	require.Equal(t, int32(math.RoundToEven(1/float64(p.Scale))), p.Zero)
	require.Equal(t, uint8(p.Zero), p.Quantize(0))
	require.Equal(t, float32(0), p.FakeQuant(0))
	require.Equal(t, uint8(255), p.Quantize(5))
	p = nn.ActParams(0.5, 1) // widened to include 0
	require.Equal(t, int32(0), p.Zero)
}

// mini loads mnist-mini once.
var mini = func() func(t *testing.T) *data.Data {
	var d *data.Data
	return func(t *testing.T) *data.Data {
		if d == nil {
			var err error
			d, err = data.Load("mnist-mini", data.Options{})
			require.NoError(t, err)
		}
		return d
	}
}()

// trained returns a small model trained briefly on mnist-mini.
func trained(t *testing.T, arch string, epochs int) (*nn.Model, *data.Data) {
	d := mini(t)
	specs, err := nn.ParseArch(arch, nn.Shape(d.Train.Shape), 10)
	require.NoError(t, err)
	m, err := nn.Build(nn.Shape(d.Train.Shape), specs)
	require.NoError(t, err)
	m.Init(1)
	tr := d.Train.Head(3000)
	_, err = nn.Train(context.Background(), m, tr.X, tr.Y, nn.TrainConfig{Epochs: epochs, Batch: 64, Optimizer: "adam",
		Schedule: nn.Schedule{Kind: "const", Base: 0.002}, Seed: 1})
	require.NoError(t, err)
	m.Prepare()
	return m, d
}

// simulate computes the integer model's logits in float64 arithmetic that
// mirrors the integer path exactly: uint8 activations, exact integer
// accumulation, then the float32 epilogue of kernel.DequantizeF32.
func simulate(t *testing.T, m *nn.Model, x []float32, n int) []float32 {
	h := append([]float32(nil), x...)
	for i := 0; i < len(m.Layers); i++ {
		l := m.Layers[i]
		relu := i+1 < len(m.Layers) && m.Layers[i+1].Kind() == "relu"
		d, ok := l.(*nn.Dense)
		if !ok {
			require.Contains(t, []string{"relu", "flatten"}, l.Kind())
			continue
		}
		q := d.W.Quant
		require.NotNil(t, q)
		in, out := q.Cols, q.Rows
		a := q.Act
		if a.Mode == nn.ActDynamic {
			a = nn.DynamicParams(h)
		}
		y := make([]float32, n*out)
		for s := 0; s < n; s++ {
			for j := 0; j < out; j++ {
				var acc float64
				for k := 0; k < in; k++ {
					xq := float64(a.Quantize(h[s*in+k])) - float64(a.Zero)
					acc += xq * float64(q.Codes[j*in+k])
				}
				sc := q.Scales[0]
				if len(q.Scales) > 1 {
					sc = q.Scales[j]
				}
				v := float32(float32(acc)*(a.Scale*sc)) + d.B.W[j]
				if relu && !(v > 0) {
					v = 0
				}
				y[s*out+j] = v
			}
		}
		h = y
		if relu {
			i++
		}
	}
	return h
}

func TestInt8PathMatchesSimulation(t *testing.T) {
	m, d := trained(t, "mlp:64,32", 1)
	test := d.Test.Head(300)
	for _, mode := range []nn.ActMode{nn.ActStatic, nn.ActDynamic} {
		c := m.Clone()
		rep, err := quantize.Quantize(c, d.Train, quantize.Options{Scheme: quantize.Int8{}, Activations: mode, Calib: 200, Seed: 1})
		require.NoError(t, err)
		require.Len(t, rep.Layers, 3)
		for _, p := range c.Paths() {
			require.Contains(t, p, "int8")
		}
		// One sample per call for dynamic mode (its range is per call).
		got := make([]float32, 0, test.Len()*10)
		if mode == nn.ActDynamic {
			for i := 0; i < 20; i++ {
				z := c.Infer(nn.FromData(1, c.Input, test.Sample(i)))
				require.Equal(t, simulate(t, c, test.Sample(i), 1), z.Data)
			}
			continue
		}
		z := c.Infer(nn.FromData(test.Len(), c.Input, test.X))
		got = append(got, z.Data...)
		require.Equal(t, simulate(t, c, test.X, test.Len()), got, "bit-exact logits")
	}
}

func TestStaticInt8AgreesWithFakeQuant(t *testing.T) {
	m, d := trained(t, "conv:4:5,relu,maxpool:2,dense:32,relu", 1)
	_, err := quantize.Quantize(m, d.Train, quantize.Options{Scheme: quantize.Int8{}, Activations: nn.ActStatic, Observer: "percentile:99.99", Seed: 2})
	require.NoError(t, err)
	require.Equal(t, "int8", m.Paths()["conv1"])
	fq, err := quantize.FakeQuantModel(m)
	require.NoError(t, err)
	test := d.Test.Head(500)
	a, err := nn.Logits(m, test.X)
	require.NoError(t, err)
	b, err := nn.Logits(fq, test.X)
	require.NoError(t, err)
	for i := range a {
		require.InDelta(t, b[i], a[i], 1e-3*(1+math.Abs(float64(b[i]))))
	}
	pa, _ := nn.Predict(m, test.X)
	pb, _ := nn.Predict(fq, test.X)
	require.Equal(t, pb, pa)
}

func TestQuantizePass(t *testing.T) {
	m, d := trained(t, "lenet300", 1)
	before, err := nn.Evaluate(m, d.Test.X, d.Test.Y)
	require.NoError(t, err)
	w0 := append([]float32(nil), m.Layer("fc1").Params()[0].W...)
	rep, err := quantize.Quantize(m, d.Train, quantize.Options{Scheme: quantize.Int8{}, Activations: nn.ActStatic, DryRun: true, Seed: 1})
	require.NoError(t, err)
	require.Equal(t, w0, m.Layer("fc1").Params()[0].W, "dry run leaves the model alone")
	require.Nil(t, m.Layer("fc1").Params()[0].Quant)
	require.Len(t, rep.Layers, 3)
	require.EqualValues(t, 266200, rep.Params)
	require.InDelta(t, 8.1, rep.BitsPerWeight, 0.1)
	for _, l := range rep.Layers {
		require.Greater(t, l.SQNR, 30.0)
		require.Equal(t, "static", l.Activation)
	}

	rep, err = quantize.Quantize(m, d.Train, quantize.Options{Scheme: quantize.Int8{}, Activations: nn.ActStatic, KeepFloat: []string{"fc3"}, BiasCorrection: true, Seed: 1})
	require.NoError(t, err)
	require.True(t, rep.Layers[2].Kept)
	require.Equal(t, map[string]string{"fc1": "int8", "fc2": "int8", "fc3": "float32"}, m.Paths())
	after, err := nn.Evaluate(m, d.Test.X, d.Test.Y)
	require.NoError(t, err)
	require.InDelta(t, before.Accuracy, after.Accuracy, 0.01)

	_, err = quantize.Quantize(m, nil, quantize.Options{Scheme: quantize.Int4{Block: 32}, Activations: nn.ActStatic})
	require.ErrorContains(t, err, "int8")
	_, err = quantize.Quantize(m, nil, quantize.Options{Scheme: quantize.Int8{}, KeepFloat: []string{"nope"}})
	require.ErrorContains(t, err, "nope")
}

func TestSensitivity(t *testing.T) {
	m, d := trained(t, "mlp:32", 1)
	s, err := quantize.Sensitivity(m, d.Train, d.Test.Head(500), quantize.Options{Scheme: quantize.Int4{Block: 16}})
	require.NoError(t, err)
	require.Len(t, s, 2)
	require.Equal(t, "fc1", s[0].Layer)
	require.Less(t, math.Abs(s[0].Drop), 0.1)
}

func TestQATAgreesWithFakeQuant(t *testing.T) {
	m, d := trained(t, "mlp:32", 1)
	opt := quantize.Options{Scheme: quantize.Int8{}, Activations: nn.ActStatic, Seed: 1, Calib: 256}
	res, err := quantize.QAT(context.Background(), m, d.Train.Head(2000), d.Train, opt,
		nn.TrainConfig{Epochs: 1, Batch: 64, Optimizer: "adam", Schedule: nn.Schedule{Kind: "const", Base: 1e-4}, Seed: 1})
	require.NoError(t, err)
	require.Len(t, res.Act, 2)
	opt.Act = res.Act
	_, err = quantize.Quantize(m, d.Train, opt)
	require.NoError(t, err)
	require.Equal(t, "int8", m.Paths()["fc1"])
	fq, err := quantize.FakeQuantModel(m)
	require.NoError(t, err)
	test := d.Test.Head(500)
	pa, _ := nn.Predict(m, test.X)
	pb, _ := nn.Predict(fq, test.X)
	require.Equal(t, pb, pa, "integer model agrees with fake-quant on every image")
	ev, _ := nn.Evaluate(m, test.X, test.Y)
	require.Greater(t, ev.Accuracy, 0.8)
}

func TestCodebookFineTune(t *testing.T) {
	m, d := trained(t, "mlp:32", 1)
	_, err := quantize.Quantize(m, nil, quantize.Options{Scheme: quantize.Codebook{K: 4}})
	require.NoError(t, err)
	q := m.Layer("fc1").Params()[0].Quant
	codes := append([]int16(nil), q.Codes...)
	before, _ := nn.Evaluate(m, d.Test.X, d.Test.Y)
	_, err = quantize.FineTuneCodebook(context.Background(), m, d.Train.Head(3000),
		nn.TrainConfig{Epochs: 1, Batch: 64, Optimizer: "adam", Schedule: nn.Schedule{Kind: "const", Base: 5e-4}, Seed: 1})
	require.NoError(t, err)
	q = m.Layer("fc1").Params()[0].Quant
	require.Equal(t, codes, q.Codes)
	w := m.Layer("fc1").Params()[0].W
	for i, c := range q.Codes {
		require.Equal(t, q.Codebook[c], w[i])
	}
	after, _ := nn.Evaluate(m, d.Test.X, d.Test.Y)
	require.GreaterOrEqual(t, after.Accuracy, before.Accuracy-0.01)
}
