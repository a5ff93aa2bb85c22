package distill_test

import (
	"context"
	"fmt"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/distill"
	"github.com/shrink-ml/shrink/nn"
)

// A pass that fine-tunes a model (pruning, quantization-aware training) can
// fine-tune against a teacher instead of labels alone by setting the
// distillation loss as nn.TrainConfig.Loss. The teacher's logits on the
// training images are computed once, by distill.Loss.
func ExampleLoss() {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	if err != nil {
		panic(err)
	}
	train := ds.Train.Head(500)
	in := nn.Shape(train.Shape)
	build := func(arch string, seed uint64) *nn.Model {
		specs, err := nn.ParseArch(arch, in, train.Classes)
		if err != nil {
			panic(err)
		}
		m, err := nn.Build(in, specs)
		if err != nil {
			panic(err)
		}
		m.Init(seed)
		return m
	}
	teacher, student := build("mlp:64", 1), build("mlp:16", 2)

	loss, err := distill.Loss(teacher, train.X, 4, 0.9) // T = 4, alpha = 0.9
	if err != nil {
		panic(err)
	}
	cfg := nn.TrainConfig{Epochs: 1, Batch: 50, Optimizer: "adam", Schedule: nn.Schedule{Base: 0.001}, Seed: 1, Loss: loss}
	if _, err := nn.Train(context.Background(), student, train.X, train.Y, cfg); err != nil {
		panic(err)
	}
	fmt.Println("fine-tuned against the teacher")
	// Output: fine-tuned against the teacher
}
