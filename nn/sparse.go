package nn

import "github.com/shrink-ml/shrink/nn/kernel"

// sparseF32 is the sparse inference path of a pruned dense or convolution
// layer: the float32 weights in CSR form, run with kernel.SpMM for batches
// where kernel.SparseFaster says the sparse kernel wins, and with the
// packed dense GEMM otherwise (the crossover depends on the batch size, so
// the choice is made per call).
type sparseF32 struct {
	csr  *kernel.CSR
	pb   *kernel.PackedB
	bias []float32
}

// Run implements Accel.
func (s *sparseF32) Run(n int, x, y []float32, relu bool) {
	if kernel.SparseFaster(n, s.csr.Rows, s.csr.Cols, s.csr.NNZ()) {
		kernel.SpMM(n, x, s.csr.Cols, s.csr, s.bias, relu, y, s.csr.Rows)
		return
	}
	kernel.SgemmBiasActPacked(n, x, s.csr.Cols, s.pb, s.bias, relu, y, s.csr.Rows)
}

// Name implements Accel.
func (s *sparseF32) Name() string { return "sparse-csr" }

// sparseBatches are the batch sizes at which a layer is worth a sparse
// path: single images (latency) and large batches (throughput).
var sparseBatches = []int{1, 256}

// buildSparse returns the sparse path for a float32 layer whose weights are
// sparse enough for the sparse kernel to win at some batch size, or nil.
func buildSparse(l Accelerated) Accel {
	w := l.Weight()
	if w.Quant != nil || len(w.Shape) != 2 {
		return nil
	}
	rows, cols := w.Shape[0], w.Shape[1]
	nnz := int(w.NonZero())
	faster := false
	for _, m := range sparseBatches {
		faster = faster || kernel.SparseFaster(m, rows, cols, nnz)
	}
	if !faster {
		return nil
	}
	return &sparseF32{
		csr:  kernel.NewCSR(w.W, rows, cols),
		pb:   kernel.PackB(true, cols, rows, w.W, cols),
		bias: l.Bias().W,
	}
}

func init() {
	// After the integer paths (which take quantized layers, sparse or not),
	// before the packed float32 GEMM.
	RegisterAccel(AccelBuilder{Name: "sparse", Priority: 20, Build: buildSparse})
}
