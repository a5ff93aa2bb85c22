package compress_test

import (
	"context"
	"fmt"

	"github.com/shrink-ml/shrink/compress"
	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/nn"
)

// baseline trains a small MLP on the first 2,000 images of the embedded
// mnist-mini: the model the examples compress.
func baseline() (*nn.Model, *data.Data) {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	if err != nil {
		panic(err)
	}
	ds.Train = ds.Train.Head(2000)
	specs, err := nn.ParseArch("mlp:32", nn.Shape(ds.Train.Shape), 10)
	if err != nil {
		panic(err)
	}
	m, err := nn.Build(nn.Shape(ds.Train.Shape), specs)
	if err != nil {
		panic(err)
	}
	m.Init(1)
	cfg := nn.TrainConfig{Epochs: 3, Batch: 64, Optimizer: "adam", Schedule: nn.Schedule{Kind: "cosine", Base: 0.002}, Seed: 1}
	if _, err := nn.Train(context.Background(), m, ds.Train.X, ds.Train.Y, cfg); err != nil {
		panic(err)
	}
	return m, ds
}

// Run chains passes by a recipe: here prune half of the weights with two
// epochs of fine-tuning, share the remaining weights through a 16-entry
// codebook, and store every tensor in its smallest encoding. The recipe is
// a Go value; ParseRecipe makes the same from YAML.
func ExampleRun() {
	m, ds := baseline()
	r := &compress.Recipe{Name: "small", Steps: []compress.Step{
		{Pass: "prune", Options: compress.Options{"sparsity": 0.5, "epochs": 2, "lr": 0.001}},
		{Pass: "quantize", Options: compress.Options{"scheme": "cluster:16", "epochs": 1}},
		{Pass: "encode"},
	}}
	d := compress.Holdout(ds.Train, 0.2, 1) // validation carved from the training data
	res, err := compress.Run(context.Background(), m, d, r, &compress.Env{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range res.Steps {
		fmt.Println(st.Pass, st.ValAccuracy > 0.8)
	}
	fmt.Println("passes in provenance:", len(res.File.Provenance.Passes))
	fmt.Println("within 5 points on validation:", res.BaseVal-res.ValAccuracy < 0.05)
	fmt.Println("4x smaller than the pruned float32 model:", res.Steps[2].FileBytes*4 < res.Steps[0].FileBytes)
	// Output:
	// prune true
	// quantize true
	// encode true
	// passes in provenance: 3
	// within 5 points on validation: true
	// 4x smaller than the pruned float32 model: true
}

// Search finds the smallest model within an accuracy budget on a
// validation split carved from the training data; it never sees a test
// split.
func ExampleSearch() {
	m, ds := baseline()
	d := compress.Holdout(ds.Train, 0.2, 1)
	b := compress.Budget{MaxDrop: 0.02, Objective: compress.Size, Epochs: 1, Ratios: []float64{8, 32}}
	res, err := compress.Search(context.Background(), m, d, b, &compress.Env{Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	best := res.Candidates[res.Best]
	fmt.Println("found a candidate within budget:", best.Within)
	fmt.Println("its validation drop is within 2 points:", res.BaseVal-best.ValAccuracy <= 0.02)
	fmt.Println("passes recorded:", len(res.File.Provenance.Passes))
	// Output:
	// found a candidate within budget: true
	// its validation drop is within 2 points: true
	// passes recorded: 3
}
