package nn_test

import (
	"math/rand/v2"
	"testing"

	"github.com/shrink-ml/shrink/nn"
)

// int8Model returns lenet300 with random int8 codes and static activation
// parameters on every dense layer (fc3's output kept float), or its float
// twin with the same (dequantized) weights.
func int8Model(tb testing.TB, quant bool) *nn.Model {
	specs, err := nn.ParseArch("lenet300", nn.Shape{784}, 10)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := nn.Build(nn.Shape{784}, specs)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, l := range m.Layers {
		d, ok := l.(*nn.Dense)
		if !ok {
			continue
		}
		rows, cols := d.W.Shape[0], d.W.Shape[1]
		q := &nn.Quant{Scheme: "int8", Bits: 8, Rows: rows, Cols: cols, Block: cols, Codes: make([]int16, rows*cols), Scales: make([]float32, rows),
			Act: nn.ActQuant{Mode: nn.ActStatic, Scale: 0.01, Zero: 0}}
		for i := range q.Scales {
			q.Scales[i] = 0.001 * float32(1+r.IntN(10))
		}
		for i := range q.Codes {
			q.Codes[i] = int16(r.IntN(255) - 127)
		}
		for i := range d.B.W {
			d.B.W[i] = float32(r.NormFloat64())
		}
		q.Dequantize(d.W.W)
		if quant {
			d.W.Quant = q
		}
	}
	m.Prepare()
	return m
}

func benchInfer(b *testing.B, quant bool, batch int) {
	m := int8Model(b, quant)
	x := nn.NewTensor(batch, m.Input)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	b.ResetTimer()
	for b.Loop() {
		m.Infer(x)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
}

func BenchmarkInferFloat32Batch256(b *testing.B) { benchInfer(b, false, 256) }
func BenchmarkInferInt8Batch256(b *testing.B)    { benchInfer(b, true, 256) }
func BenchmarkInferFloat32Batch1(b *testing.B)   { benchInfer(b, false, 1) }
func BenchmarkInferInt8Batch1(b *testing.B)      { benchInfer(b, true, 1) }
