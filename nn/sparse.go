package nn

import "github.com/shrink-ml/shrink/nn/kernel"

// sparseF32 is the sparse inference path of a pruned dense or convolution
// layer: the float32 weights in SELL-8 form for batches of one to three
// rows (kernel.SpMV) and in CSR form for larger ones (kernel.SpMM), used
// where kernel.SparseFaster says the sparse kernel wins, and the packed
// dense GEMM otherwise (the crossover depends on the batch size, so the
// choice is made per call).
type sparseF32 struct {
	csr  *kernel.CSR
	sell *kernel.SELL // batch-1 layout, nil when the layer is too wide
	pb   *kernel.PackedB
	bias []float32
}

// Run implements Accel.
func (s *sparseF32) Run(n int, x, y []float32, relu bool) {
	rows, cols := s.csr.Rows, s.csr.Cols
	if !kernel.SparseFaster(n, rows, cols, s.csr.NNZ()) {
		kernel.SgemmBiasActPacked(n, x, cols, s.pb, s.bias, relu, y, rows)
		return
	}
	if n < kernel.SpMVMaxBatch && s.sell != nil {
		for i := range n {
			kernel.SpMV(x[i*cols:(i+1)*cols], s.sell, s.bias, relu, y[i*rows:(i+1)*rows])
		}
		return
	}
	kernel.SpMM(n, x, cols, s.csr, s.bias, relu, y, rows)
}

// Name implements Accel.
func (s *sparseF32) Name() string { return "sparse" }

// sparseBatches are the batch sizes at which a layer is worth a sparse
// path: single images (latency) and large batches (throughput).
var sparseBatches = []int{1, 256}

// buildSparse returns the sparse path for a layer whose weights are sparse
// enough for the sparse kernel to win at some batch size, or nil. It runs on
// the float32 values W, so it also serves quantized layers that have no
// integer path (codebook, int4, float16: W holds their dequantized values,
// as for the packed float32 path); the integer path, registered first, keeps
// the layers it takes.
func buildSparse(l Accelerated) Accel {
	w := l.Weight()
	if len(w.Shape) != 2 {
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
	csr := kernel.NewCSR(w.W, rows, cols)
	var sell *kernel.SELL
	if cols <= kernel.SELLMaxCols {
		sell = kernel.NewSELL(csr)
	}
	return &sparseF32{
		csr:  csr,
		sell: sell,
		pb:   kernel.PackB(true, cols, rows, w.W, cols),
		bias: l.Bias().W,
	}
}

func init() {
	// After the integer paths (which take quantized layers, sparse or not),
	// before the packed float32 GEMM.
	RegisterAccel(AccelBuilder{Name: "sparse", Priority: 20, Build: buildSparse})
}
