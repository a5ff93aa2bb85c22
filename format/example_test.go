package format_test

import (
	"bytes"
	"fmt"

	"github.com/shrink-ml/shrink/format"
	"github.com/shrink-ml/shrink/nn"
)

// Choose picks, for every tensor, the encoding that stores it in the fewest
// bytes. Here the first layer's weight is 90% zeros, as after pruning, so a
// sparse encoding wins for it; without Lossy every tensor reads back exactly.
func ExampleChoose() {
	m, err := nn.Build(nn.Shape{64}, []nn.LayerSpec{{Kind: "dense", Units: 32}, {Kind: "relu"}, {Kind: "dense", Units: 10}})
	if err != nil {
		panic(err)
	}
	m.Init(1)
	w := m.Layers[0].Params()[0].W
	for i := range w {
		if i%10 != 0 {
			w[i] = 0 // pruned
		}
	}
	f := format.New(m, format.Provenance{Tool: "example"})
	var dense bytes.Buffer
	if err := format.Encode(&dense, f); err != nil {
		panic(err)
	}
	if err := format.Choose(f, format.ChooseOptions{}); err != nil {
		panic(err)
	}
	var chosen bytes.Buffer
	if err := format.Encode(&chosen, f); err != nil {
		panic(err)
	}
	back, err := format.Decode(chosen.Bytes())
	if err != nil {
		panic(err)
	}
	fmt.Println("fc1.weight:", f.Encodings["fc1.weight"])
	fmt.Println("smaller than float32:", chosen.Len() < dense.Len())
	fmt.Println("exact:", fmt.Sprint(back.Model.Tensors()) == fmt.Sprint(m.Tensors()))
	// Output:
	// fc1.weight: sparse-bitmask
	// smaller than float32: true
	// exact: true
}
