package kernel

import (
	"math"
	"runtime"
	"sync"
)

// Kernels for graph models (convolutional and attention networks): direct
// depthwise convolution, 1×1 convolution without im2col, batched matrix
// products, and fused row-wise softmax, LayerNorm and activations. Each has
// a plain reference in graph_test.go. The row-wise ones are portable Go for
// now (their inner loops run over contiguous memory, ready for a SIMD
// level); the products run on the Sgemm levels.

// Conv1x1 computes a 1×1 convolution of one NHWC image without im2col:
//
//	dst[oy, ox, o] = Σ_c src[oy·stride, ox·stride, c]·w[o, c] + bias[o], ReLU if relu
//
// with src (h, w, c) row-major, weights w (outC, c) row-major (the PyTorch
// layout with the 1×1 kernel dropped), bias of length outC or nil, and dst
// (outH, outW, outC), outH = ConvOut(h, 1, stride, 0). With stride 1 the
// image is the GEMM's A as it stands (one row per pixel); with a larger
// stride each kept row of pixels is one strided GEMM (lda = stride·c). It
// panics if a slice is too short.
func Conv1x1(src []float32, h, w, c int, wt []float32, outC int, bias []float32, relu bool, stride int, dst []float32) {
	outH, outW := ConvOut(h, 1, stride, 0), ConvOut(w, 1, stride, 0)
	if len(src) < h*w*c || len(wt) < outC*c || len(dst) < outH*outW*outC {
		panic("kernel: Conv1x1 slice too short")
	}
	if outH == 0 || outW == 0 || outC == 0 {
		return
	}
	if stride == 1 {
		SgemmBiasAct(h*w, outC, c, src, c, wt, c, bias, relu, dst, outC)
		return
	}
	pb := PackB(true, c, outC, wt, c)
	for oy := range outH {
		row := src[oy*stride*w*c:]
		SgemmBiasActPacked(outW, row, stride*c, pb, bias, relu, dst[oy*outW*outC:], outC)
	}
}

// DepthwiseConv2D computes a depthwise convolution (one kh×kw filter per
// channel) of one NHWC image directly:
//
//	dst[oy, ox, ch] = Σ_{ky,kx} src[oy·stride−pad+ky, ox·stride−pad+kx, ch]·w[ky, kx, ch] + bias[ch]
//
// (terms outside the image are zero), then ReLU if relu. src is (h, w, c),
// w is (kh, kw, c) (channels last, so the inner loop runs over contiguous
// channels), bias has c entries or is nil, dst is (outH, outW, c) with
// outH = ConvOut(h, kh, stride, pad), outW likewise. It panics if a slice
// is too short.
func DepthwiseConv2D(src []float32, h, w, c int, wt []float32, kh, kw int, bias []float32, relu bool, stride, pad int, dst []float32) {
	outH, outW := ConvOut(h, kh, stride, pad), ConvOut(w, kw, stride, pad)
	if len(src) < h*w*c || len(wt) < kh*kw*c || len(dst) < outH*outW*c || (bias != nil && len(bias) < c) {
		panic("kernel: DepthwiseConv2D slice too short")
	}
	for oy := range outH {
		for ox := range outW {
			out := dst[(oy*outW+ox)*c : (oy*outW+ox+1)*c]
			if bias != nil {
				copy(out, bias[:c])
			} else {
				clear(out)
			}
			for ky := range kh {
				y := oy*stride - pad + ky
				if y < 0 || y >= h {
					continue
				}
				for kx := range kw {
					x := ox*stride - pad + kx
					if x < 0 || x >= w {
						continue
					}
					in := src[(y*w+x)*c : (y*w+x+1)*c]
					f := wt[(ky*kw+kx)*c : (ky*kw+kx+1)*c]
					for ch := range out {
						out[ch] += in[ch] * f[ch]
					}
				}
			}
			if relu {
				for ch, v := range out {
					if !(v > 0) {
						out[ch] = 0
					}
				}
			}
		}
	}
}

// SgemmBatched computes batch independent products
//
//	C_b = alpha·op(A_b)·op(B_b) + beta·C_b,  b < batch
//
// (attention's Q·Kᵀ and P·V per head), where matrix b of each operand starts
// at b·stride in its slice (strideA, strideB, strideC), each laid out as
// Sgemm expects. Small products run in parallel over the batch on
// GOMAXPROCS goroutines; large ones split themselves (see Sgemm). It panics
// if a slice is too short for its shape.
func SgemmBatched(batch int, transA, transB bool, m, n, k int, alpha float32, a []float32, lda, strideA int, b []float32, ldb, strideB int, beta float32, c []float32, ldc, strideC int) {
	if batch < 0 {
		panic("kernel: negative batch")
	}
	if batch == 0 {
		return
	}
	// Check the last matrix of each operand: the others start earlier.
	last := batch - 1
	checkGemm(transA, transB, m, n, k, max(0, len(a)-last*strideA), lda, max(0, len(b)-last*strideB), ldb, max(0, len(c)-last*strideC), ldc)
	one := func(i int) {
		Sgemm(transA, transB, m, n, k, alpha, a[i*strideA:], lda, b[i*strideB:], ldb, beta, c[i*strideC:], ldc)
	}
	procs := runtime.GOMAXPROCS(0)
	flops := 2 * float64(m) * float64(n) * float64(k)
	if procs < 2 || batch < 2 || flops >= parMin[level] || flops*float64(batch) < parMin[level] {
		for i := range batch {
			one(i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (batch + procs - 1) / procs
	for b0 := 0; b0 < batch; b0 += per {
		b1 := min(batch, b0+per)
		wg.Go(func() {
			for i := b0; i < b1; i++ {
				one(i)
			}
		})
	}
	wg.Wait()
}

// Softmax replaces each of the rows rows of x (n values each, leading
// dimension ld) by its softmax, in one fused pass per row:
//
//	x[j] = exp(x[j] − max) / Σ_t exp(x[t] − max)
//
// (subtracting the row maximum keeps exp in range; a row of −Inf and finite
// values puts zero on the −Inf entries; a NaN, or a row of only −Inf,
// makes the row NaN). It
// panics if x is too short.
func Softmax(rows, n int, x []float32, ld int) {
	if rows == 0 || n == 0 {
		return
	}
	if ld < n || len(x) < (rows-1)*ld+n {
		panic("kernel: Softmax slice too short")
	}
	for i := range rows {
		r := x[i*ld : i*ld+n]
		mx := r[0]
		for _, v := range r[1:] {
			if v > mx || v != v {
				mx = v
			}
		}
		var s float32
		for j, v := range r {
			e := float32(math.Exp(float64(v - mx)))
			r[j] = e
			s += e
		}
		inv := 1 / s
		for j := range r {
			r[j] *= inv
		}
	}
}

// LayerNorm normalizes each of the rows rows of x (n values, leading
// dimension ldx) into dst (leading dimension ldd; it may be x itself):
//
//	dst[j] = (x[j] − mean)/√(var + eps)·gamma[j] + beta[j]
//
// with the row's mean and (biased) variance accumulated in float64; gamma
// and beta have n entries, or are nil for 1 and 0. It panics if a slice is
// too short.
func LayerNorm(rows, n int, x []float32, ldx int, gamma, beta []float32, eps float32, dst []float32, ldd int) {
	if rows == 0 || n == 0 {
		return
	}
	if ldx < n || ldd < n || len(x) < (rows-1)*ldx+n || len(dst) < (rows-1)*ldd+n ||
		(gamma != nil && len(gamma) < n) || (beta != nil && len(beta) < n) {
		panic("kernel: LayerNorm slice too short")
	}
	for i := range rows {
		r := x[i*ldx : i*ldx+n]
		var s float64
		for _, v := range r {
			s += float64(v)
		}
		mean := s / float64(n)
		var q float64
		for _, v := range r {
			d := float64(v) - mean
			q += d * d
		}
		inv := float32(1 / math.Sqrt(q/float64(n)+float64(eps)))
		m32 := float32(mean)
		o := dst[i*ldd : i*ldd+n]
		for j, v := range r {
			y := (v - m32) * inv
			if gamma != nil {
				y *= gamma[j]
			}
			if beta != nil {
				y += beta[j]
			}
			o[j] = y
		}
	}
}

// Activation names an elementwise activation for Activate.
type Activation int

// The activations Activate applies.
const (
	ActGELU      Activation = iota // x·Φ(x), Φ the standard normal CDF (erf form)
	ActGELUTanh                    // 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
	ActSiLU                        // x·σ(x) = x/(1 + exp(−x))
	ActHardSwish                   // x·min(max(x + 3, 0), 6)/6
)

// Activate applies act to every element of x in place.
func Activate(act Activation, x []float32) {
	switch act {
	case ActGELU:
		for i, v := range x {
			x[i] = float32(0.5 * float64(v) * (1 + math.Erf(float64(v)/math.Sqrt2)))
		}
	case ActGELUTanh:
		const c = 0.7978845608028654 // √(2/π)
		for i, v := range x {
			u := float64(v)
			x[i] = float32(0.5 * u * (1 + math.Tanh(c*(u+0.044715*u*u*u))))
		}
	case ActSiLU:
		for i, v := range x {
			x[i] = float32(float64(v) / (1 + math.Exp(-float64(v))))
		}
	case ActHardSwish:
		for i, v := range x {
			x[i] = v * min(max(v+3, 0), 6) / 6
		}
	default:
		panic("kernel: unknown activation")
	}
}
