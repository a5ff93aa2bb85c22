package nn

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestKindShapeRulesMatchBuild: for every registered kind, the shape rule's
// output shape and parameter count are those of the built layer, the layer
// reports the registered tag, and Spec gives back the spec it was built from.
func TestKindShapeRulesMatchBuild(t *testing.T) {
	specs := map[string]struct {
		in Shape
		sp LayerSpec
	}{
		"dense":     {Shape{11}, LayerSpec{Kind: "dense", Units: 7}},
		"conv2d":    {Shape{9, 8, 3}, LayerSpec{Kind: "conv2d", Filters: 5, Kernel: 3, Stride: 2, Pad: 1}},
		"maxpool2d": {Shape{9, 8, 3}, LayerSpec{Kind: "maxpool2d", Kernel: 3, Stride: 2}},
		"avgpool2d": {Shape{9, 8, 3}, LayerSpec{Kind: "avgpool2d", Kernel: 2, Stride: 3}},
		"flatten":   {Shape{9, 8, 3}, LayerSpec{Kind: "flatten"}},
		"relu":      {Shape{9, 8, 3}, LayerSpec{Kind: "relu"}},
		"batchnorm": {Shape{9, 8, 3}, LayerSpec{Kind: "batchnorm", Eps: 1e-3, Momentum: 0.3}},
		"dropout":   {Shape{13}, LayerSpec{Kind: "dropout", Rate: 0.2}},
		"softmax":   {Shape{13}, LayerSpec{Kind: "softmax"}},
	}
	for _, k := range Kinds() {
		c, ok := specs[k.Tag]
		require.True(t, ok, "kind %q has no case here", k.Tag)
		out, n, err := PlanLayer(c.in, c.sp)
		require.NoError(t, err, k.Tag)
		l, err := k.Build(c.in, c.sp)
		require.NoError(t, err, k.Tag)
		require.Equal(t, k.Tag, l.Kind())
		require.Equal(t, l.Out(), out, k.Tag)
		var got int64
		for _, p := range l.Params() {
			got += int64(len(p.W))
		}
		require.Equal(t, got, n, k.Tag)
		sp := LayerSpec{Kind: l.Kind()}
		if k.Spec != nil {
			k.Spec(l, &sp)
		}
		require.Equal(t, c.sp, sp, k.Tag)
		if k.Coupling == Units {
			require.NotNil(t, k.UnitsField, k.Tag)
			require.Equal(t, l.Out()[len(l.Out())-1], *k.UnitsField(&sp), k.Tag)
		}
	}
	_, _, err := PlanLayer(Shape{4}, LayerSpec{Kind: "gelu"})
	require.ErrorContains(t, err, "unknown layer kind")
	_, _, err = PlanLayer(Shape{4, 4, 1}, LayerSpec{Kind: "conv2d", Filters: 2, Kernel: 5, Stride: 1})
	require.ErrorContains(t, err, "does not fit")
}
