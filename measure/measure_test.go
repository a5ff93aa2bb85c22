package measure

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// testSet returns the first n test images of mnist-mini.
func testSet(t *testing.T, n int) *data.Set {
	t.Helper()
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	require.NoError(t, err)
	return ds.Test.Head(n)
}

// build returns an initialised, untrained model for set.
func build(t testing.TB, set *data.Set, arch string, seed uint64) *nn.Model {
	in := nn.Shape(set.Shape)
	specs, err := nn.ParseArch(arch, in, set.Classes)
	require.NoError(t, err)
	m, err := nn.Build(in, specs)
	require.NoError(t, err)
	m.Init(seed)
	return m
}

func TestCompare(t *testing.T) {
	set := testSet(t, 301)
	a, b := build(t, set, "mlp:13", 1), build(t, set, "mlp:7", 2)
	es := []Entry{{Name: "a", Model: a, FileBytes: 1000}, {Name: "b", Model: b, FileBytes: 250}, {Name: "a2", Model: a, FileBytes: 1000}}
	var logged int
	c, err := Compare(context.Background(), es, set, Options{LatencyRuns: 1, Seed: 3, Logf: func(string, ...any) { logged++ }})
	require.NoError(t, err)
	require.Len(t, c.Rows, 3)
	require.Equal(t, 1, logged)

	// Against a naive count from nn.Predict.
	pa, err := nn.Predict(a, set.X)
	require.NoError(t, err)
	pb, err := nn.Predict(b, set.X)
	require.NoError(t, err)
	require.Equal(t, pa, c.Pred[0])
	require.Equal(t, pb, c.Pred[1])
	var rightA, rightB, lost, gained, agree int
	for i, y := range set.Y {
		ra, rb := pa[i] == y, pb[i] == y
		if ra {
			rightA++
		}
		if rb {
			rightB++
		}
		if ra && !rb {
			lost++
		}
		if rb && !ra {
			gained++
		}
		if pa[i] == pb[i] {
			agree++
		}
	}
	n := float64(len(set.Y))
	r0, r1, r2 := c.Rows[0], c.Rows[1], c.Rows[2]
	require.InDelta(t, float64(rightA)/n, r0.Accuracy, 1e-12)
	require.InDelta(t, float64(rightB)/n, r1.Accuracy, 1e-12)
	require.InDelta(t, float64(agree)/n, r1.Agreement, 1e-12)
	require.Equal(t, 1.0, r0.Agreement)
	require.Equal(t, 4.0, r1.Ratio)
	require.Equal(t, 1.0, r0.Ratio)
	require.Equal(t, a.Stats().Params, r0.Params)
	require.Equal(t, b.Stats().MACs, r1.MACs)
	for _, r := range c.Rows {
		require.Greater(t, r.LatencyUS, 0.0)
		require.Zero(t, r.ImagesPerS)
		require.NotNil(t, r.Uncertainty)
	}

	// Statistics: the first row is the reference, the others against it.
	lo, hi := Wilson(rightB, len(set.Y))
	require.Equal(t, [2]float64{lo, hi}, r1.AccuracyCI)
	require.Equal(t, lost, r1.Lost)
	require.Equal(t, gained, r1.Gained)
	require.InDelta(t, float64(lost-gained)/n, r1.Drop, 1e-12)
	require.InDelta(t, r0.Accuracy-r1.Accuracy, r1.Drop, 1e-12)
	require.Equal(t, McNemar(lost, gained), r1.DropPValue)
	lo, hi = DropCI(Pair{Both: rightA - lost, FirstOnly: lost, SecondOnly: gained, Neither: len(set.Y) - rightA - gained})
	require.Equal(t, [2]float64{lo, hi}, r1.DropCI)
	require.Equal(t, [2]float64{}, r0.DropCI)
	require.Equal(t, 1.0, r0.DropPValue)
	// The same model again: no disagreement, p = 1, interval around 0.
	require.Equal(t, 1.0, r2.DropPValue)
	require.Zero(t, r2.Drop)
	require.Less(t, r2.DropCI[0], 0.0)
	require.Greater(t, r2.DropCI[1], 0.0)

	// Disagreements: every one listed up to the limit, pixels from the set.
	d := c.Disagreements(1)
	require.Equal(t, len(set.Y)-agree, d.Total)
	require.Equal(t, min(d.Total, 24), len(d.Samples))
	dim := set.Dim()
	for _, s := range d.Samples {
		require.NotEqual(t, s.Reference, s.Prediction)
		require.Equal(t, pa[s.Index], s.Reference)
		require.Equal(t, pb[s.Index], s.Prediction)
		require.Equal(t, set.Y[s.Index], s.Label)
		require.Equal(t, set.X[s.Index*dim:(s.Index+1)*dim], s.Pixels)
		require.Equal(t, set.Shape, s.Shape)
	}
	require.Zero(t, c.Disagreements(2).Total)

	// Throughput on request.
	c, err = Compare(context.Background(), es[:2], set, Options{ThroughputBatch: 16, ThroughputRuns: 1})
	require.NoError(t, err)
	require.Greater(t, c.Rows[1].ImagesPerS, 0.0)
	require.Zero(t, c.Rows[1].LatencyUS)

	// Errors.
	_, err = Compare(context.Background(), nil, set, Options{})
	require.Error(t, err)
	_, err = Compare(context.Background(), es, &data.Set{Shape: set.Shape}, Options{})
	require.Error(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Compare(ctx, es, set, Options{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestLayersAndSections(t *testing.T) {
	set := testSet(t, 50)
	m := build(t, set, "mlp:17", 4)
	// Zero every third weight of the first dense layer.
	var first string
	var zeroed, weights int
	for _, l := range m.Layers {
		for _, p := range l.Params() {
			if p.Name == "weight" && first == "" {
				first = l.Name()
				for i := range p.W {
					if i%3 == 0 {
						p.W[i] = 0
						zeroed++
					}
				}
				weights = len(p.W)
			}
		}
	}
	require.NotEmpty(t, first)
	f := format.New(m, format.Provenance{})
	f.Encodings = map[string]format.Encoding{first + ".weight": format.Float16}
	f.Compress = false
	ls := Layers(f)
	require.Len(t, ls, len(m.Layers))
	var params int64
	for _, l := range ls {
		params += l.Params
		if l.Name == first {
			// Count zeros naively over the layer's trainable tensors.
			var zeros, all int
			for _, layer := range m.Layers {
				if layer.Name() != first {
					continue
				}
				for _, p := range layer.Params() {
					for _, v := range p.W {
						if v == 0 {
							zeros++
						}
					}
					all += len(p.W)
				}
			}
			require.GreaterOrEqual(t, zeros, zeroed)
			require.Equal(t, weights, all-17) // plus 17 biases
			require.InDelta(t, float64(zeros)/float64(all), l.Sparsity, 1e-12)
			require.InDelta(t, 16, l.BitsPerWeight, 0.5)
		}
	}
	require.Equal(t, m.Stats().Params, params)

	c, err := Compare(context.Background(), []Entry{{Name: "m", Model: m}, {Name: "n", Model: build(t, set, "mlp:5", 9)}}, set, Options{})
	require.NoError(t, err)
	ss := c.Sections([]*format.File{f, nil})
	require.Len(t, ss, 2)
	require.NotNil(t, ss[0].Disagree)
	require.Equal(t, "n", ss[0].Disagree.Model)
	require.Equal(t, ls, ss[1].Layers)
}

func TestThroughput(t *testing.T) {
	set := testSet(t, 10)
	ms := []*nn.Model{build(t, set, "mlp:9", 1), build(t, set, "mlp:3", 2)}
	ts := Throughput(ms, 5, 3, 1)
	require.Len(t, ts, 2)
	for _, x := range ts {
		require.Equal(t, 5, x.Batch)
		require.Greater(t, x.PerBatch.Nanoseconds(), int64(0))
		require.InDelta(t, x.ImagesPerS(), 5/x.PerBatch.Seconds(), 1e-6*x.ImagesPerS())
		require.InDelta(t, x.BatchLatencyUS()/5, x.LatencyUS(), 1e-9)
	}
	require.Greater(t, Latency(ms[0], 1, 1), 0.0)
	require.Panics(t, func() { Throughput(ms, 0, 1, 1) })
}
