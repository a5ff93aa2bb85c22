package budget_test

import (
	"errors"
	"fmt"

	"github.com/shrink-ml/shrink/budget"
)

// A command fills a Budget from its flags, then every reader and run
// checks against it; an error names the limit, the value and the flag.
func Example() {
	var b budget.Budget // zero: the defaults
	if err := b.Set("--max-memory", "512MiB"); err != nil {
		fmt.Println(err)
	}
	err := b.CheckClasses(30001, "label 30000")
	fmt.Println(err, errors.Is(err, budget.ErrExceeded))

	// Evaluation shrinks its batch to fit: 64 MiB of parameters, 2 MiB a
	// sample.
	n, err := b.Batch(512, 2<<20, 64<<20, "evaluation")
	fmt.Println(n, err)

	// Hostile sizes saturate instead of wrapping round.
	fmt.Println(budget.Mul(1<<40, 1<<40) == budget.Product(1<<40, 1<<40))
	// Output:
	// classes: 30001 (label 30000) is above the limit of 4096 (raise it with --max-classes) true
	// 224 <nil>
	// true
}

// The flags a command registers, with their defaults.
func ExampleFlags() {
	for _, f := range budget.Flags() {
		fmt.Printf("--%s %s\n", f.Name, f.Default)
	}
	// Output:
	// --max-memory 1GiB
	// --max-macs 2000000000
	// --max-classes 4096
	// --max-folded 256MiB
	// --max-inflate-ratio 100
	// --max-data-bytes 256MiB
	// --max-rows 10000000
	// --max-fields 65536
	// --max-line-bytes 1MiB
}
