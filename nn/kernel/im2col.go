package kernel

// ConvOut returns the output size of a convolution along one axis: input
// size, kernel size k, stride and zero padding pad on each side. It is 0 when
// the padded input is smaller than the kernel, and panics if k or stride is
// not positive or pad is negative.
func ConvOut(size, k, stride, pad int) int {
	if k <= 0 || stride <= 0 || pad < 0 || size < 0 {
		panic("kernel: bad convolution geometry")
	}
	if size+2*pad < k {
		return 0
	}
	return (size+2*pad-k)/stride + 1
}

// Im2col lays out the patches of one NHWC image for convolution as a GEMM.
// src is the image (h, w, c) row-major; dst receives (outH·outW, kh·kw·c)
// row-major, outH = ConvOut(h, kh, stride, pad) and outW = ConvOut(w, kw,
// stride, pad): row oy·outW+ox holds the patch at output (oy, ox) in element
// order (ky, kx, c), with zeros where the patch overlaps the padding. A
// convolution with weights W (outC, kh·kw·c) is then dst·Wᵀ (see
// SgemmBiasAct). It panics if src or dst is too short.
func Im2col(src []float32, h, w, c, kh, kw, stride, pad int, dst []float32) {
	outH, outW := ConvOut(h, kh, stride, pad), ConvOut(w, kw, stride, pad)
	checkIm2col(len(src), len(dst), h, w, c, kh, kw, outH, outW)
	rowLen := kw * c
	i := 0
	for oy := 0; oy < outH; oy++ {
		for ox := 0; ox < outW; ox++ {
			x0 := ox*stride - pad
			// The columns [kx0, kx1) of the patch fall inside the image.
			kx0, kx1 := max(0, -x0), min(kw, w-x0)
			for ky := 0; ky < kh; ky++ {
				y := oy*stride - pad + ky
				d := dst[i : i+rowLen]
				i += rowLen
				if y < 0 || y >= h || kx0 >= kx1 {
					clear(d)
					continue
				}
				clear(d[:kx0*c])
				copy(d[kx0*c:kx1*c], src[(y*w+x0+kx0)*c:(y*w+x0+kx1)*c])
				clear(d[kx1*c:])
			}
		}
	}
}

// Col2im is the adjoint of Im2col: it adds every element of the patch matrix
// src (outH·outW, kh·kw·c) back onto the image position it was copied from in
// dst (h, w, c), dropping the padding. dst is accumulated into, so the caller
// zeroes it first (this is the input gradient of a convolution). It panics if
// src or dst is too short.
func Col2im(src []float32, h, w, c, kh, kw, stride, pad int, dst []float32) {
	outH, outW := ConvOut(h, kh, stride, pad), ConvOut(w, kw, stride, pad)
	checkIm2col(len(dst), len(src), h, w, c, kh, kw, outH, outW)
	rowLen := kw * c
	i := 0
	for oy := 0; oy < outH; oy++ {
		for ox := 0; ox < outW; ox++ {
			x0 := ox*stride - pad
			kx0, kx1 := max(0, -x0), min(kw, w-x0)
			for ky := 0; ky < kh; ky++ {
				y := oy*stride - pad + ky
				s := src[i : i+rowLen]
				i += rowLen
				if y < 0 || y >= h || kx0 >= kx1 {
					continue
				}
				d := dst[(y*w+x0+kx0)*c : (y*w+x0+kx1)*c]
				for j, v := range s[kx0*c : kx1*c] {
					d[j] += v
				}
			}
		}
	}
}

func checkIm2col(lenImg, lenCols, h, w, c, kh, kw, outH, outW int) {
	if h < 0 || w < 0 || c < 0 {
		panic("kernel: negative image dimension")
	}
	if lenImg < h*w*c {
		panic("kernel: image slice too short")
	}
	if lenCols < outH*outW*kh*kw*c {
		panic("kernel: column slice too short")
	}
}
