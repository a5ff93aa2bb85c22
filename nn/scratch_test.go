package nn

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInferScratchNotShared checks that recycling layer outputs never
// touches what a caller holds: earlier results, the input, and an output
// fed back in as an input, for a dense and a convolutional model, on one
// goroutine and split across several.
func TestInferScratchNotShared(t *testing.T) {
	for _, arch := range []struct {
		spec string
		in   Shape
	}{{"lenet300", Shape{784}}, {"conv:4:3,relu,maxpool:2,flatten,dense:10", Shape{9, 9, 2}}} {
		specs, err := ParseArch(arch.spec, arch.in, 10)
		require.NoError(t, err)
		m, err := Build(arch.in, specs)
		require.NoError(t, err)
		m.Init(3)
		m.Prepare()
		rng := rand.New(rand.NewPCG(5, 6))
		for _, n := range []int{1, 3, 300} {
			x := FromData(n, arch.in, randn(rng, n*arch.in.Size()))
			x0 := slices.Clone(x.Data)
			y1 := m.Infer(x)
			want := slices.Clone(y1.Data)
			x2 := FromData(n, arch.in, randn(rng, n*arch.in.Size()))
			y2 := m.Infer(x2)
			require.NotEqual(t, want, y2.Data)
			y3 := m.Infer(x)
			require.Equal(t, want, y1.Data, "%s n=%d: an earlier result changed", arch.spec, n)
			require.Equal(t, want, y3.Data, "%s n=%d: same input, different result", arch.spec, n)
			require.Equal(t, x0, x.Data, "input changed")
		}
	}
	// An output fed back as an input (10 → 10 model) stays intact.
	specs, err := ParseArch("dense:16,relu", Shape{10}, 10)
	require.NoError(t, err)
	m, err := Build(Shape{10}, specs)
	require.NoError(t, err)
	m.Init(4)
	y := m.Infer(FromData(2, Shape{10}, randn(rand.New(rand.NewPCG(1, 2)), 20)))
	y0 := slices.Clone(y.Data)
	z := m.Infer(y)
	_ = m.Infer(z)
	require.Equal(t, y0, y.Data)
}
