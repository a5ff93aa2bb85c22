package nn

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// packedTol bounds |packed − unpacked| relative to the largest logit: both
// run the same kernels in the same order, so they should agree closely.
const packedTol = 1e-5

func TestPreparePackedMatches(t *testing.T) {
	specs, err := ParseArch("conv:6:3:1:1,relu,maxpool:2,dense:33,relu,dense:7", Shape{9, 9, 2}, 7)
	require.NoError(t, err)
	m, err := Build(Shape{9, 9, 2}, specs)
	require.NoError(t, err)
	m.Init(3)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, n := range []int{1, 5, 300} {
		x := FromData(n, m.Input, randn(rng, n*m.Input.Size()))
		want := m.Infer(x)
		m.Prepare()
		require.Equal(t, map[string]string{"conv1": "float32", "fc1": "float32", "fc2": "float32"}, m.Paths())
		got := m.Infer(x)
		m.ClearAccel()
		var scale float64
		for _, v := range want.Data {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		for i := range want.Data {
			require.InDelta(t, want.Data[i], got.Data[i], packedTol*scale)
		}
	}
}
