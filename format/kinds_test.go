package format_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// kindModels holds, for every registered layer kind, a small model that
// uses it with non-default settings. A kind added to nn's registry without
// an entry here fails TestEveryKindRoundTrips.
var kindModels = map[string]struct {
	in    nn.Shape
	specs []nn.LayerSpec
}{
	"dense":     {nn.Shape{7}, []nn.LayerSpec{{Kind: "dense", Units: 5}}},
	"conv2d":    {nn.Shape{7, 6, 2}, []nn.LayerSpec{{Kind: "conv2d", Filters: 3, Kernel: 3, Stride: 2, Pad: 1}, {Kind: "flatten"}, {Kind: "dense", Units: 4}}},
	"maxpool2d": {nn.Shape{7, 6, 2}, []nn.LayerSpec{{Kind: "maxpool2d", Kernel: 3, Stride: 2}, {Kind: "flatten"}, {Kind: "dense", Units: 4}}},
	"avgpool2d": {nn.Shape{7, 6, 2}, []nn.LayerSpec{{Kind: "avgpool2d", Kernel: 2, Stride: 1}, {Kind: "flatten"}, {Kind: "dense", Units: 4}}},
	"flatten":   {nn.Shape{3, 3, 3}, []nn.LayerSpec{{Kind: "flatten"}, {Kind: "dense", Units: 4}}},
	"relu":      {nn.Shape{7}, []nn.LayerSpec{{Kind: "dense", Units: 6}, {Kind: "relu"}, {Kind: "dense", Units: 3}}},
	"batchnorm": {nn.Shape{5, 5, 3}, []nn.LayerSpec{{Kind: "batchnorm", Eps: 1e-3, Momentum: 0.25}, {Kind: "flatten"}, {Kind: "dense", Units: 4}}},
	"dropout":   {nn.Shape{7}, []nn.LayerSpec{{Kind: "dropout", Rate: 0.3}, {Kind: "dense", Units: 3}}},
	"softmax":   {nn.Shape{7}, []nn.LayerSpec{{Kind: "dense", Units: 4}, {Kind: "softmax"}}},
}

// TestEveryKindRoundTrips writes and reads a model of every registered
// layer kind: the same architecture (settings included), the same tensors
// and the same outputs.
func TestEveryKindRoundTrips(t *testing.T) {
	for _, k := range nn.Kinds() {
		t.Run(k.Tag, func(t *testing.T) {
			c, ok := kindModels[k.Tag]
			require.True(t, ok, "layer kind %q has no round-trip model in kindModels", k.Tag)
			m, err := nn.Build(c.in, c.specs)
			require.NoError(t, err)
			m.Init(5)
			rng := rand.New(rand.NewPCG(9, 9))
			for _, p := range m.Params() { // every tensor non-zero, batch-norm statistics included
				for i := range p.W {
					p.W[i] = rng.Float32() + 0.1
				}
			}
			var b bytes.Buffer
			require.NoError(t, format.Encode(&b, format.New(m, provenance())))
			back, err := format.Decode(b.Bytes())
			require.NoError(t, err)
			require.Equal(t, m.Spec(), back.Model.Spec())
			require.Equal(t, m.Tensors(), back.Model.Tensors())
			x := randomInputs(m, 3, 4)
			require.Equal(t, logits(t, m, x), logits(t, back.Model, x))
			uses := false
			for _, l := range back.Model.Layers {
				uses = uses || l.Kind() == k.Tag
			}
			require.True(t, uses)
			for _, l := range back.Model.Layers { // parameter names come from the registry
				info, ok := nn.LookupKind(l.Kind())
				require.True(t, ok)
				var names []string
				for _, p := range l.Params() {
					names = append(names, p.Name)
				}
				require.Equal(t, info.Params, names, l.Kind())
			}
		})
	}
}
