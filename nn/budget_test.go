package nn

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/budget"
)

// hostileConv is the 1.3 KB model of issue 14 (finding 2): a 1×1
// convolution with padding 64 and 689 filters on 28×28 images, whose
// activation is 156×156×689 = 16.8 M values per sample.
func hostileConv(t testing.TB) *Model {
	c, err := NewConv2D(Shape{28, 28, 1}, 689, 1, 1, 64)
	require.NoError(t, err)
	p, err := NewMaxPool2D(c.Out(), 156, 156)
	require.NoError(t, err)
	f := NewFlatten(p.Out())
	m, err := NewModel(Shape{28, 28, 1}, c, p, f, NewDense(689, 10))
	require.NoError(t, err)
	return m
}

func TestFootprintAgainstNaive(t *testing.T) {
	input := Shape{13, 11, 3}
	specs, err := ParseArch("conv:5:3:1:1,relu,maxpool:2,conv:7:3,bn,relu,avgpool:2,dense:9,relu,dense:4", input, 4)
	require.NoError(t, err)
	m, err := Build(input, specs)
	require.NoError(t, err)
	f := m.Footprint()
	st := m.Stats()
	require.Equal(t, st.MACs, f.MACs)
	require.Equal(t, st.Bytes, 4*f.Params)
	require.Equal(t, st.Params, f.Trainable)
	require.Equal(t, int64(4), f.Classes)
	// Naive: the largest shape, the costliest inference step, the sum of
	// what training keeps.
	largest, at := int64(input.Size()), "input"
	var peak, kept int64 = 0, int64(input.Size())
	var outs []int64
	prev := int64(input.Size())
	for _, l := range m.Layers {
		out := int64(l.Out().Size())
		ws := int64(0)
		if c, ok := l.(*Conv2D); ok {
			ws = int64(c.Out()[0] * c.Out()[1] * c.KH * c.KW * c.In()[2])
		}
		if p, ok := l.(*Pool2D); ok && p.Max {
			ws = out
		}
		if out > largest {
			largest, at = out, l.Name()
		}
		peak = max(peak, 4*(prev+2*(out+ws)))
		kept += out + ws
		outs = append(outs, out)
		prev = out
	}
	require.Equal(t, largest, f.Largest)
	require.Equal(t, at, f.LargestAt)
	require.Equal(t, peak, f.InferBytes)
	slicesSortDesc(outs)
	require.Equal(t, 4*(kept+outs[0]+outs[1]), f.TrainBytes)
}

func slicesSortDesc(v []int64) {
	for i := range v {
		for j := i + 1; j < len(v); j++ {
			if v[j] > v[i] {
				v[i], v[j] = v[j], v[i]
			}
		}
	}
}

// TestFootprintBoundsInference: the memory a real inference allocates
// stays within the footprint's estimate (parameters aside) for a batch.
func TestFootprintBoundsInference(t *testing.T) {
	input := Shape{15, 13, 3}
	specs, err := ParseArch("conv:6:3:1:1,relu,maxpool:2,conv:5:3,relu,dense:7,relu,dense:5", input, 5)
	require.NoError(t, err)
	m, err := Build(input, specs)
	require.NoError(t, err)
	m.Init(3)
	const batch = 37
	x := NewTensor(batch, input)
	for i := range x.Data {
		x.Data[i] = float32(i%17) * 0.1
	}
	prev := runtime.GOMAXPROCS(1) // one worker: the estimate is per run
	defer runtime.GOMAXPROCS(prev)
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	m.Infer(x)
	runtime.ReadMemStats(&b)
	peakEstimate := int64(batch) * m.Footprint().InferBytes
	// Infer allocates every layer's output once (recycling only later):
	// its total is within the per-layer peak times the number of layers.
	require.LessOrEqual(t, int64(b.TotalAlloc-a.TotalAlloc), peakEstimate*int64(len(m.Layers)))
	require.Positive(t, peakEstimate)
}

// TestHostileModels (issue 14, findings 1, 2 and 5): huge activations
// shrink the evaluation batch; compute, classes and a huge training batch
// are refused with errors that name the flag, before anything is
// allocated.
func TestHostileModels(t *testing.T) {
	b := budget.Default()
	m := hostileConv(t)
	f := m.Footprint()
	require.Equal(t, int64(156*156*689), f.Largest)
	require.Equal(t, "conv1", f.LargestAt)
	require.NoError(t, m.CheckBudget(b))
	n, err := m.EvalBatch(b, EvalBatch, 2000)
	require.NoError(t, err)
	require.Less(t, n, 10) // not 512: 512 × 16.8 M values would be 32 GiB
	require.Positive(t, n)
	require.LessOrEqual(t, int64(n)*f.InferBytes, int64(budget.DefaultMemory))
	// Lowered memory: even one sample does not fit.
	_, err = m.EvalBatch(budget.Budget{Memory: 64 << 20}, EvalBatch, 2000)
	require.ErrorIs(t, err, budget.ErrExceeded)
	require.ErrorContains(t, err, "--max-memory")
	require.ErrorContains(t, err, `largest activation 16767504 values at "conv1"`)
	// Training at the default batch does not fit either.
	err = m.CheckTrain(b, 64, "adam")
	require.ErrorContains(t, err, "training; largest activation 16767504 values")
	require.ErrorContains(t, err, "at batch 64")

	// 38.6 G MACs per sample.
	c, err := NewConv2D(Shape{256, 256, 256}, 256, 3, 1, 1)
	require.NoError(t, err)
	p, err := NewMaxPool2D(c.Out(), 256, 256)
	require.NoError(t, err)
	big, err := NewModel(Shape{256, 256, 256}, c, p, NewFlatten(p.Out()), NewDense(256, 2))
	require.NoError(t, err)
	err = big.CheckBudget(b)
	macs := int64(256*256)*256*3*3*256 + 256*2 // conv + dense
	require.ErrorContains(t, err, fmt.Sprintf("MACs per sample: %d is above the limit of 2000000000 (raise it with --max-macs)", macs))
	require.ErrorContains(t, big.CheckTrain(b, 1, "sgd"), "--max-macs")

	// 65,536 outputs.
	wide, err := NewModel(Shape{3}, NewDense(3, 65536))
	require.NoError(t, err)
	require.ErrorContains(t, wide.CheckBudget(b), "classes: 65536 (model outputs) is above the limit of 4096 (raise it with --max-classes)")
	_, err = wide.EvalBatch(b, 1, 1)
	require.ErrorContains(t, err, "--max-classes")
	require.ErrorContains(t, wide.CheckTrain(b, 1, "sgd"), "--max-classes")
	require.NoError(t, wide.CheckBudget(budget.Budget{Classes: 65536}))

	// The shipped architectures fit the defaults at their default batches.
	for _, arch := range []string{"lenet5", "lenet300", "mlp:1000,1000"} {
		specs, err := ParseArch(arch, Shape{28, 28, 1}, 10)
		require.NoError(t, err)
		a, err := Build(Shape{28, 28, 1}, specs)
		require.NoError(t, err)
		require.NoError(t, a.CheckTrain(b, 256, "adam"), arch)
		n, err := a.EvalBatch(b, EvalBatch, 60000)
		require.NoError(t, err)
		require.Equal(t, EvalBatch, n, arch)
	}
	// A wider CNN (2.1 MB of patches per sample) evaluates in smaller batches.
	specs, err := ParseArch("conv:32:3:1:1,relu,conv:32:3:1:1,relu,maxpool:2,dense:256", Shape{28, 28, 1}, 10)
	require.NoError(t, err)
	a, err := Build(Shape{28, 28, 1}, specs)
	require.NoError(t, err)
	n, err = a.EvalBatch(b, EvalBatch, 60000)
	require.NoError(t, err)
	require.Less(t, n, EvalBatch)
	require.Greater(t, n, EvalBatch/2)

	// --batch 100000000000 and 20000000 on lenet300.
	specs, err = ParseArch("lenet300", Shape{28, 28, 1}, 10)
	require.NoError(t, err)
	l, err := Build(Shape{28, 28, 1}, specs)
	require.NoError(t, err)
	for _, batch := range []int{100000000000, 20000000} {
		err := l.CheckTrain(b, batch, "sgd")
		require.ErrorIs(t, err, budget.ErrExceeded)
		require.ErrorContains(t, err, "--max-memory")
	}
	require.NoError(t, l.CheckTrain(b, 64, "adam"))
	require.Error(t, l.CheckTrain(b, 0, "sgd"))
	n, err = l.EvalBatch(b, EvalBatch, 10000)
	require.NoError(t, err)
	require.Equal(t, EvalBatch, n)
	n, err = l.EvalBatch(b, math.MaxInt, 10000)
	require.NoError(t, err)
	require.Less(t, n, math.MaxInt)
}

// FuzzFootprint: for any convolution shape the constructor accepts, the
// footprint agrees with the shapes and the budget checks answer without
// panicking; a budget error always names a flag.
func FuzzFootprint(f *testing.F) {
	f.Add(28, 28, 1, 689, 1, 1, 64, 512)
	f.Add(5, 7, 3, 4, 3, 2, 1, 100000000000)
	f.Add(1<<20, 1<<20, 1, 1, 1, 1, 0, 1)
	f.Fuzz(func(t *testing.T, h, w, c, filters, k, stride, pad, batch int) {
		if h <= 0 || w <= 0 || c <= 0 || filters <= 0 || k <= 0 || filters*k*k*c > 1<<16 || filters*k*k*c <= 0 {
			return
		}
		conv, err := NewConv2D(Shape{h, w, c}, filters, k, stride, pad)
		if err != nil {
			return
		}
		flat := NewFlatten(conv.Out())
		if flat.Out()[0] > 1<<12 {
			return // keep the dense layer small
		}
		m, err := NewModel(Shape{h, w, c}, conv, flat, NewDense(flat.Out()[0], 3))
		require.NoError(t, err)
		fp := m.Footprint()
		require.Equal(t, m.Stats().MACs, fp.MACs)
		require.GreaterOrEqual(t, fp.Largest, int64(conv.Out().Size()))
		b := budget.Default()
		for _, err := range []error{m.CheckBudget(b), m.CheckTrain(b, batch, "adam")} {
			if err != nil && errors.Is(err, budget.ErrExceeded) {
				require.Contains(t, err.Error(), "(raise it with --max-")
			}
		}
		if n, err := m.EvalBatch(b, max(batch, 1), 100); err == nil {
			require.GreaterOrEqual(t, n, 1)
			require.LessOrEqual(t, budget.Mul(int64(n), fp.InferBytes), int64(budget.DefaultMemory))
		}
	})
}

// TestEvaluateWithin: the budgeted evaluation gives Evaluate's result, and
// refuses what does not fit before running anything.
func TestEvaluateWithin(t *testing.T) {
	input := Shape{9, 7, 2}
	specs, err := ParseArch("conv:3:3:1:1,relu,maxpool:2,dense:5", input, 4)
	require.NoError(t, err)
	m, err := Build(input, specs)
	require.NoError(t, err)
	m.Init(5)
	const n = 1031
	x := make([]float32, n*input.Size())
	y := make([]int, n)
	for i := range x {
		x[i] = float32((i*7919)%101)/50 - 1
	}
	for i := range y {
		y[i] = (i * 31) % 4
	}
	want, err := Evaluate(m, x, y)
	require.NoError(t, err)
	// A memory limit that forces batches of a few samples.
	f := m.Footprint()
	small := budget.Budget{Memory: 4*f.Params + 4*n*4 + 8*16 + 3*f.InferBytes}
	batch, err := m.EvalBatch(small, EvalBatch, n)
	require.NoError(t, err)
	require.Equal(t, 3, batch)
	got, err := EvaluateWithin(m, x, y, small)
	require.NoError(t, err)
	require.Equal(t, want.Accuracy, got.Accuracy)
	require.Equal(t, want.Confusion, got.Confusion)
	require.InDelta(t, want.Loss, got.Loss, 1e-6)
	_, err = EvaluateWithin(m, x, y, budget.Budget{MACs: 10})
	require.ErrorContains(t, err, "--max-macs")
	_, err = EvaluateWithin(m, x, y[:5], budget.Budget{})
	require.Error(t, err)
	_, err = LogitsWithin(m, x[:5], budget.Budget{})
	require.Error(t, err)
}
