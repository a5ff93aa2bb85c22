// Package compress chains compression passes and searches for the
// smallest model within an accuracy budget.
//
// A Recipe is an ordered list of passes (prune, quantize, distill,
// finetune, encode) with their options; build one in Go or parse one from
// YAML with ParseRecipe. Run applies a recipe to a copy of a model; Search
// measures each layer's sensitivity and tries per-layer sparsity and
// codebook-bit assignments of growing aggressiveness, keeping the smallest
// (or fastest) whose validation accuracy is within the budget. Both take
// Data, a training part and a validation part carved from the training
// data (Holdout): neither ever sees a test split.
//
// The package is silent: Env.Logf and Env.Progress are hooks, and nil
// hooks print nothing. Functions read their inputs and never change the
// model they are given.
package compress
