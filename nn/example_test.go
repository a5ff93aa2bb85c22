package nn_test

import (
	"context"
	"fmt"
	"slices"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// Train a small MLP on part of the embedded mnist-mini data set and
// measure it on the test images. Every random choice (weights, shuffling)
// comes from a seed.
func ExampleTrain() {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	if err != nil {
		panic(err)
	}
	train, test := ds.Train.Head(2000), ds.Test.Head(500)
	in := nn.Shape(train.Shape)
	specs, err := nn.ParseArch("mlp:64", in, train.Classes) // flatten, dense 64, relu, dense 10
	if err != nil {
		panic(err)
	}
	m, err := nn.Build(in, specs)
	if err != nil {
		panic(err)
	}
	m.Init(1)
	cfg := nn.TrainConfig{Epochs: 3, Batch: 32, Optimizer: "adam", Schedule: nn.Schedule{Base: 0.002}, Seed: 1}
	if _, err := nn.Train(context.Background(), m, train.X, train.Y, cfg); err != nil {
		panic(err)
	}
	ev, err := nn.Evaluate(m, test.X, test.Y)
	if err != nil {
		panic(err)
	}
	fmt.Println("parameters:", m.Stats().Params)
	fmt.Println("test accuracy above 80%:", ev.Accuracy > 0.8)
	// Output:
	// parameters: 50890
	// test accuracy above 80%: true
}

// Clone makes an independent copy of a model: a pass can change the copy
// (prune it, quantize it, fine-tune it) and keep the original to compare.
func ExampleModel_Clone() {
	in := nn.Shape{4}
	m, err := nn.Build(in, []nn.LayerSpec{{Kind: "dense", Units: 3}, {Kind: "relu"}, {Kind: "dense", Units: 2}})
	if err != nil {
		panic(err)
	}
	m.Init(7)
	c := m.Clone()
	x := nn.FromData(1, in, []float32{0.5, -1, 2, 0.25})
	same := slices.Equal(m.Infer(x).Data, c.Infer(x).Data)

	c.Tensors()["fc1.weight"][0] = 0 // change the copy only
	fmt.Println("same outputs:", same)
	fmt.Println("original untouched:", m.Tensors()["fc1.weight"][0] != 0)
	fmt.Println("tensors:", len(c.Tensors()))
	// Output:
	// same outputs: true
	// original untouched: true
	// tensors: 4
}
