package measure_test

import (
	"context"
	"fmt"

	"github.com/shrink-ml/shrink/data"
	"github.com/shrink-ml/shrink/measure"
	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/report"
)

// Two models disagree on 12 test images: the first is right on 10 of them,
// the second on 2. McNemar's exact test says how likely so lopsided a split
// is if both were equally accurate.
func ExampleMcNemar() {
	fmt.Printf("p = %.4f\n", measure.McNemar(10, 2))
	fmt.Printf("p = %.4f\n", measure.McNemar(7, 5))
	// Output:
	// p = 0.0386
	// p = 0.7744
}

// The 95% Wilson interval of an accuracy of 1,880 out of 2,000 test images.
func ExampleWilson() {
	lo, hi := measure.Wilson(1880, 2000)
	fmt.Printf("94.00%% [%.2f%%, %.2f%%]\n", 100*lo, 100*hi)
	// Output: 94.00% [92.87%, 94.96%]
}

// The drop from the first model to the second on 2,000 test images, with
// its 95% interval, and whether it is more than noise.
func ExampleDropCI() {
	p := measure.Pair{Both: 1850, FirstOnly: 30, SecondOnly: 12, Neither: 108}
	lo, hi := measure.DropCI(p)
	fmt.Printf("drop %.2f points [%.2f, %.2f], McNemar p = %.3f\n", 100*p.Drop(), 100*lo, 100*hi, measure.McNemar(p.FirstOnly, p.SecondOnly))
	// Output: drop 0.90 points [0.26, 1.57], McNemar p = 0.008
}

// Compare measures models on a labelled set; every row after the first is
// compared with the first. A model compared with itself disagrees nowhere.
func ExampleCompare() {
	ds, err := data.Load(data.KindMNISTMini, data.Options{})
	if err != nil {
		panic(err)
	}
	test := ds.Test.Head(200)
	in := nn.Shape(test.Shape)
	specs, err := nn.ParseArch("mlp:16", in, test.Classes)
	if err != nil {
		panic(err)
	}
	m, err := nn.Build(in, specs)
	if err != nil {
		panic(err)
	}
	m.Init(1)
	c, err := measure.Compare(context.Background(), []measure.Entry{{Name: "base", Model: m}, {Name: "copy", Model: m}}, test, measure.Options{})
	if err != nil {
		panic(err)
	}
	r := c.Rows[1]
	fmt.Printf("%s: agreement %.0f%%, %s\n", r.Name, 100*r.Agreement, report.Verdict(r))
	fmt.Println("disagreements:", c.Disagreements(1).Total)
	// Output:
	// copy: agreement 100%, within noise (p=1)
	// disagreements: 0
}
