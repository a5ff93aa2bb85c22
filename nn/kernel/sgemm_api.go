package kernel

// SgemmBiasAct computes the dense-layer forward pass
//
//	C = A·Bᵀ + bias, then max(C, 0) if relu
//
// with A (m, k) row-major at leading dimension lda, bT (n, k) row-major at
// leading dimension ldb (the PyTorch Linear weight layout W(out, in)), bias
// of length n added to every row (nil for none) and C (m, n) at leading
// dimension ldc, overwritten without being read. The bias and the ReLU are
// applied in the micro-kernel's epilogue, while the tile is in registers.
// It panics on a slice too short for its shape.
func SgemmBiasAct(m, n, k int, a []float32, lda int, bT []float32, ldb int, bias []float32, relu bool, c []float32, ldc int) {
	checkGemm(false, true, m, n, k, len(a), lda, len(bT), ldb, len(c), ldc)
	checkBias(bias, n)
	gemm(&gemmArgs{
		transB: true, m: m, n: n, k: k, alpha: 1,
		a: a, lda: lda, b: bT, ldb: ldb, c: c, ldc: ldc,
		bias: bias, relu: relu,
	})
}

func checkBias(bias []float32, n int) {
	if bias != nil && len(bias) < n {
		panic("kernel: bias too short")
	}
}

// PackedB is a B operand packed once into the micro-kernel's panel layout,
// for a weight matrix reused across many calls (inference): packing B costs
// O(k·n) per call, which dominates small-batch GEMMs. Build it with PackB and
// use it with SgemmPacked or SgemmBiasActPacked. The layout is shared by every
// kernel level, so a PackedB stays valid after SetLevel. It is read-only once
// built and safe for concurrent use.
//
// Layout: for each depth block of kcBlock rows of op(B), the columns in
// panels of nr, each panel kc×nr k-major, the last panel zero-padded.
type PackedB struct {
	k, n int
	nPad int // n rounded up to nr
	data []float32
}

// PackB packs op(B), a (k, n) matrix, where op(B) is B or Bᵀ as transB says
// and B is stored row-major with leading dimension ldb. For a PyTorch weight
// W(out, in) used as x·Wᵀ, call PackB(true, in, out, W, in).
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	checkGemm(false, transB, 0, n, k, 0, 0, len(b), ldb, 0, 0)
	nPad := (n + nr - 1) / nr * nr
	p := &PackedB{k: k, n: n, nPad: nPad, data: make([]float32, k*nPad)}
	for pc := 0; pc < k; pc += kcBlock {
		kc := min(kcBlock, k-pc)
		packB(p.data[pc*nPad:], transB, b, ldb, pc, 0, kc, n)
	}
	return p
}

// K returns the depth (rows of op(B)) of p.
func (p *PackedB) K() int { return p.k }

// N returns the width (columns of op(B)) of p.
func (p *PackedB) N() int { return p.n }

// block returns the packed panels of depth block pc (of depth kc) from
// column col (a multiple of nr) on.
func (p *PackedB) block(pc, col, kc int) []float32 {
	return p.data[pc*p.nPad+col*kc : pc*p.nPad+p.nPad*kc]
}

// SgemmPacked computes C = alpha·op(A)·B + beta·C like Sgemm, with B
// pre-packed by PackB (k = pb.K(), n = pb.N()).
func SgemmPacked(transA bool, m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	checkGemm(transA, false, m, pb.n, pb.k, len(a), lda, pb.k*pb.n, pb.n, len(c), ldc)
	gemm(&gemmArgs{
		transA: transA, m: m, n: pb.n, k: pb.k, alpha: alpha, beta: beta,
		a: a, lda: lda, c: c, ldc: ldc, pb: pb,
	})
}

// SgemmBiasActPacked is SgemmBiasAct with the weight pre-packed by
// PackB(true, k, n, W, ldw): C = A·Wᵀ + bias, then ReLU if relu.
func SgemmBiasActPacked(m int, a []float32, lda int, pb *PackedB, bias []float32, relu bool, c []float32, ldc int) {
	checkGemm(false, false, m, pb.n, pb.k, len(a), lda, pb.k*pb.n, pb.n, len(c), ldc)
	checkBias(bias, pb.n)
	gemm(&gemmArgs{
		m: m, n: pb.n, k: pb.k, alpha: 1,
		a: a, lda: lda, c: c, ldc: ldc, pb: pb,
		bias: bias, relu: relu,
	})
}
