package kernel

import (
	"runtime"
	"sync"
)

// Blocking geometry shared by every level, so that packed panels (and a
// PackedB) are valid whichever micro-kernel runs them.
//
// The micro-kernel computes an mr×nr tile of C from an mr-row panel of A and
// an nr-column panel of B, both packed k-major. kcBlock bounds the depth so a
// B panel (kc·nr·4 = 16 KiB) stays in L1 and the A block (mcBlock·kc·4 =
// 144 KiB) in L2; ncBlock bounds the packed B block (3 MiB) kept in L3.
const (
	mr      = 6
	nr      = 16
	kcBlock = 256
	mcBlock = 144 // multiple of mr
	ncBlock = 3072
)

// parMinFlops is the GEMM size (2·m·n·k flops) from which a call is split
// across GOMAXPROCS goroutines; smaller calls run on the calling goroutine.
//
// Measured with BenchmarkSgemmCrossover (square n×n×n, AVX2 level, one
// goroutine vs both cores) on the 2-core AMD EPYC (AVX2+FMA) development VM,
// GFLOP/s serial/parallel over three runs on a shared, noisy machine:
// n=32 (66 KFLOP) 11/8, n=48 (0.22 MFLOP) 20-27/12-15, n=64 (0.52 MFLOP)
// 13-20/15-18, n=80 (1.0 MFLOP) 16-21/14-24, n=96 (1.8 MFLOP) 16-19/20-28,
// n=128 (4.2 MFLOP) 16-25/25-30. Parallel wins from about n=80, so the
// threshold is 2·80³ ≈ 2^20 flops.
const parMinFlops = 1 << 20

// rowParMinBytes is the size of B from which a one-row GEMM (m = 1, run by
// the row kernels) is split over the columns across GOMAXPROCS goroutines,
// so that each core streams only its share of B (and keeps it in its own
// L2 when the share fits).
//
// It is off (no size qualifies): measured with BenchmarkSgemmRowPar (best of
// 25 alternating rounds of wall time, packed B, bias+ReLU) on the shared
// 2-core AMD EPYC at load 10, split/serial time was 1.18–1.25 at 1×784×300
// (lenet300 fc1, 13–16 µs serial), 2.3 at 1×300×100, 1.04 at 1×1024×1024
// and 1.58 at 1×512×256: waking a second goroutine costs more than half of
// the stream saves when the other core is not idle. Re-measure on an idle
// machine before lowering it.
var rowParMinBytes float64 = 1 << 62

// parMinFlops512 is parMinFlops at the AVX512 level, whose serial GEMM is
// about twice as fast, so a parallel split pays off later. Measured with
// BenchmarkSgemmCrossover (AVX512 level, wall GFLOP/s serial/parallel, two
// runs) on the shared 2-core AMD EPYC Zen 5 at load average 8.8:
// n=64 32-46/29-30, n=80 49-53/34-56, n=96 56-74/56-61, n=128 39-83/73-82.
// Parallel wins from about n=112, 2·112³ ≈ 2^21.5 flops; 2^21 is kept
// since an idle second core favours the split. Re-measure on an idle machine.
const parMinFlops512 = 1 << 21

// parMin is the parallel threshold per level (parMinFlops, parMinFlops512),
// variables so the crossover benchmark can force the parallel path.
var parMin = [...]float64{Generic: parMinFlops, AVX2: parMinFlops, AVX512: parMinFlops512, AMX: parMinFlops512}

// rowMaxM is the largest m that gemmSerial runs as m one-row GEMMs with the
// row kernel when B is pre-packed. Measured with BenchmarkSgemmRowM (CPU time, alternating
// rounds, lenet300 fc1 784→300 packed, 2-core AMD EPYC): tile/rows time
// 1.43 at m = 2, 0.95 at m = 3, 0.91 at m = 4.
var rowMaxM = 2

// rowKernels enables the m = 1 row kernels (a variable so that benchmarks
// can compare them with the micro-kernel).
var rowKernels = true

// Epilogue flags passed to the micro-kernel.
const (
	flagBeta = 1 << iota // C = alpha·acc + beta·C (else C = alpha·acc)
	flagBias             // then add bias[j] per column
	flagRelu             // then clamp at zero (NaN propagates)
)

// microKernel computes the mr×nr tile
//
//	C[i][j] = alpha·Σ_p a[p·mr+i]·b[p·nr+j] (+ beta·C[i][j]) (+ bias[j]), ReLU
//
// over k ≥ 1 packed steps, with the flags choosing the optional terms. c holds
// the tile at leading dimension ldc; bias (len ≥ nr) is read only with
// flagBias.
type microKernel func(k int, a, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int)

// rowKernel computes one row of C (m = 1) over an nc-column block from a
// (kc floats) and the packed B panels bp (kc deep):
//
//	c[j] = alpha·Σ_p a[p]·bp(p, j) (+ beta·c[j]) (+ bias[j]), ReLU
//
// The 6×16 micro-kernel would waste five of its six rows on it.
type rowKernel func(kc int, a, bp []float32, nc int, c []float32, alpha, beta float32, bias []float32, flags int)

// rowKernelFor returns the level's row kernel, or nil to use the
// micro-kernel for m = 1 as well.
func rowKernelFor() rowKernel {
	if use.avx2 && rowKernels {
		return rowAVX2
	}
	return nil
}

// directKernel is a microKernel that reads its mr rows of A in place from
// a row-major A (row i at a[i·lda:]) instead of a packed panel, so that a
// non-transposed A needs no packing.
type directKernel func(k int, a []float32, lda int, b, c []float32, ldc int, alpha, beta float32, bias []float32, flags int)

// directMaxN is the width (columns of C on this goroutine) below which a
// non-transposed A is read in place rather than packed. Packing A costs
// O(mc·kc) per block, amortized over nc/nr B panels: for narrow C it is a
// visible share, for wide C the packed panel's contiguous reads win.
// Measured with BenchmarkSgemmDirect (CPU time, alternating rounds, AVX2,
// 2-core AMD EPYC, two runs): packed/direct time 1.09–1.11 at 128×784×300
// (x·Wᵀ, 150 columns per worker), 1.00–1.07 at 128×300×784 (392 per
// worker), 1.09–1.10 at the packed-weight inference shape 128×784×300, but
// 0.92 at 1024³ (one goroutine, direct A forced).
const directMaxN = 512

// directMaxN512 is directMaxN at the AVX512 level, and direct512Kernels
// enables its direct-A kernels (a variable for the benchmarks). Reading A
// in place won everywhere it was measured, with BenchmarkSgemmDirect (CPU
// time, alternating rounds, AVX512 level, shared 2-core AMD EPYC Zen 5):
// packed/direct time 1.18 at fwd 128×784×300, 1.12 at dx 128×300×784, 1.13
// at infer 128×784×300 (packed B), 1.61 at conv 3136×576×64, and 1.00-1.03
// at 1024³ (one goroutine, two runs, with the limit lifted). The limit is
// kept at four times the largest width measured.
const directMaxN512 = 4096

var direct512Kernels = true

// directKernels enables the direct-A kernels (a variable so that
// benchmarks can compare them with packing A).
var directKernels = true

// directKernelFor returns the level's direct-A kernel, or nil to pack A.
func directKernelFor() directKernel {
	if use.avx2 && !use.avx512 && directKernels {
		return directAVX2
	}
	return nil
}

func kernelFor() microKernel {
	if use.avx2 {
		return kernelAVX2
	}
	return kernelGeneric
}

// gemmArgs describes one GEMM (or a slice of one, for a worker).
type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a              []float32
	lda            int
	b              []float32 // unused when pb is set
	ldb            int
	c              []float32
	ldc            int
	bias           []float32 // nil, or len ≥ n: added per column
	relu           bool
	pb             *PackedB // pre-packed B, or nil
	pbCol          int      // first column of pb this call uses (multiple of nr)
}

// workspace holds a goroutine's packing buffers.
type workspace struct {
	pa, pb []float32
	tile   [4 * mr * nr]float32 // an edge tile, up to 12×32 (AVX-512)
}

var workPool = sync.Pool{New: func() any { return new(workspace) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemm runs g at the current level, on several goroutines when it is big.
func gemm(g *gemmArgs) {
	if g.m == 0 || g.n == 0 {
		return
	}
	if g.k == 0 {
		scaleOnly(g)
		return
	}
	kern := kernelFor()
	procs := runtime.GOMAXPROCS(0)
	flops := 2 * float64(g.m) * float64(g.n) * float64(g.k)
	if g.m == 1 && procs >= 2 && rowKernelFor() != nil {
		// A row (batch-1 inference) is bound by streaming B, not by
		// flops: split by the size of B instead.
		if float64(g.n)*float64(g.k)*4 >= rowParMinBytes {
			gemmParallel(g, kern, procs)
		} else {
			gemmSerial(g, kern)
		}
		return
	}
	if procs < 2 || flops < parMin[level] {
		gemmSerial(g, kern)
		return
	}
	gemmParallel(g, kern, procs)
}

// gemmParallel splits C into procs slabs of whole tiles, over N or M: over N
// each worker packs all of A (m·k extra work), over M each packs all of B
// (k·n extra, nothing with a PackedB), so it splits the side whose
// duplicate packing is cheaper, if it has enough tiles.
func gemmParallel(g *gemmArgs, kern microKernel, procs int) {
	mt := (g.m + mr - 1) / mr
	nt := (g.n + nr - 1) / nr
	splitN := g.m < g.n
	if g.pb != nil {
		splitN = mt < procs
	}
	if splitN && nt < 2 {
		splitN = false
	} else if !splitN && mt < 2 {
		splitN = true
	}
	tiles := mt
	if splitN {
		tiles = nt
	}
	if tiles < 2 {
		gemmSerial(g, kern)
		return
	}
	workers := min(procs, tiles)
	per := (tiles + workers - 1) / workers
	var wg sync.WaitGroup
	for t0 := 0; t0 < tiles; t0 += per {
		s := *g
		if splitN {
			j0 := t0 * nr
			s.n = min(per*nr, g.n-j0)
			if s.pb != nil {
				s.pbCol += j0
			} else if s.transB {
				s.b = s.b[j0*s.ldb:]
			} else {
				s.b = s.b[j0:]
			}
			s.c = s.c[j0:]
			if s.bias != nil {
				s.bias = s.bias[j0:]
			}
		} else {
			i0 := t0 * mr
			s.m = min(per*mr, g.m-i0)
			if s.transA {
				s.a = s.a[i0:]
			} else {
				s.a = s.a[i0*s.lda:]
			}
			s.c = s.c[i0*s.ldc:]
		}
		if t0+per >= tiles {
			gemmSerial(&s, kern) // last slab on this goroutine
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			gemmSerial(&s, kern)
		}()
	}
	wg.Wait()
}

// gemmSerial is the blocked GEMM loop nest (jc over NC, pc over KC, ic over
// MC, then tiles) on the calling goroutine.
func gemmSerial(g *gemmArgs, kern microKernel) {
	w := workPool.Get().(*workspace)
	defer workPool.Put(w)
	m, n, k := g.m, g.n, g.k
	var dk directKernel
	if !g.transA && n < directMaxN {
		dk = directKernelFor()
	}
	if m == 1 || (m <= rowMaxM && g.pb != nil) {
		if rk := rowKernelFor(); rk != nil {
			// One row at a time: each streams B once more, which beats
			// the 6-row tile's wasted rows up to rowMaxM rows (with B
			// pre-packed; otherwise each row would pack B again).
			r := *g
			r.m = 1
			for i := 0; i < m; i++ {
				if g.transA {
					r.a = g.a[i:]
				} else {
					r.a = g.a[i*g.lda:]
				}
				r.c = g.c[i*g.ldc:]
				gemvSerial(&r, rk, w)
			}
			return
		}
	}
	for jc := 0; jc < n; jc += ncBlock {
		nc := min(ncBlock, n-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			bp := g.panelB(w, pc, jc, kc, nc)
			beta, bias, flags := g.epilogue(pc, kc, jc, nc)
			for ic := 0; ic < m; ic += mcBlock {
				mc := min(mcBlock, m-ic)
				if use.avx512 && direct512Kernels && !g.transA && n < directMaxN512 {
					macroKernelDirect512(w, mc, nc, kc, g.a, g.lda, ic, pc, bp, g.c[ic*g.ldc+jc:], g.ldc, g.alpha, beta, bias, flags)
					continue
				}
				if dk != nil {
					macroKernelDirect(dk, kern, w, mc, nc, kc, g.a, g.lda, ic, pc, bp, g.c[ic*g.ldc+jc:], g.ldc, g.alpha, beta, bias, flags)
					continue
				}
				mcPad := (mc + mr - 1) / mr * mr
				w.pa = grow(w.pa, kc*mcPad)
				packA(w.pa, g.transA, g.a, g.lda, ic, pc, mc, kc)
				if use.avx512 {
					macroKernel512(w, mc, nc, kc, w.pa, bp, g.c[ic*g.ldc+jc:], g.ldc, g.alpha, beta, bias, flags)
					continue
				}
				macroKernel(kern, w, mc, nc, kc, w.pa, bp, g.c[ic*g.ldc+jc:], g.ldc, g.alpha, beta, bias, flags)
			}
		}
	}
}

// panelB returns the packed panels of op(B) for depth block pc (of depth
// kc) and column block jc (of width nc): the pre-packed ones, or B packed
// into the workspace.
func (g *gemmArgs) panelB(w *workspace, pc, jc, kc, nc int) []float32 {
	if g.pb != nil {
		return g.pb.block(pc, g.pbCol+jc, kc)
	}
	w.pb = grow(w.pb, kc*((nc+nr-1)/nr*nr))
	packB(w.pb, g.transB, g.b, g.ldb, pc, jc, kc, nc)
	return w.pb
}

// epilogue returns what the micro-kernels apply to depth block pc (of depth
// kc) in column block jc (of width nc): beta (the first block scales C, the
// later ones accumulate), the bias and ReLU on the last block only, and the
// matching flags.
func (g *gemmArgs) epilogue(pc, kc, jc, nc int) (beta float32, bias []float32, flags int) {
	beta = g.beta
	if pc > 0 {
		beta = 1
	}
	if beta != 0 {
		flags |= flagBeta
	}
	if pc+kc == g.k {
		if g.bias != nil {
			flags |= flagBias
			bias = g.bias[jc : jc+nc]
		}
		if g.relu {
			flags |= flagRelu
		}
	}
	return beta, bias, flags
}

// gemvSerial is gemmSerial for m = 1 with a row kernel: A's single row is
// used in place (gathered when transposed), B packed or pre-packed.
func gemvSerial(g *gemmArgs, rk rowKernel, w *workspace) {
	n, k := g.n, g.k
	for jc := 0; jc < n; jc += ncBlock {
		nc := min(ncBlock, n-jc)
		for pc := 0; pc < k; pc += kcBlock {
			kc := min(kcBlock, k-pc)
			bp := g.panelB(w, pc, jc, kc, nc)
			var a []float32
			if g.transA {
				w.pa = grow(w.pa, kc)
				for p := range kc {
					w.pa[p] = g.a[(pc+p)*g.lda]
				}
				a = w.pa
			} else {
				a = g.a[pc : pc+kc]
			}
			beta, bias, flags := g.epilogue(pc, kc, jc, nc)
			rk(kc, a, bp, nc, g.c[jc:jc+nc], g.alpha, beta, bias, flags)
		}
	}
}

// epilogueRow writes row[j] = alpha·acc[j] (+ beta·row[j]) (+ bias[j]),
// ReLU, for j < len(acc), the terms chosen by flags.
func epilogueRow(row, acc []float32, alpha, beta float32, bias []float32, flags int) {
	row = row[:len(acc)]
	for j := range row {
		v := alpha * acc[j]
		if flags&flagBeta != 0 {
			v += beta * row[j]
		}
		if flags&flagBias != 0 {
			v += bias[j]
		}
		if flags&flagRelu != 0 && v < 0 {
			v = 0
		}
		row[j] = v
	}
}

// macroKernelDirect is macroKernel with the full row panels of A read in
// place by dk from op(A) = a (rows ic.., depth pc..); only a last partial
// row panel is packed, for kern.
func macroKernelDirect(dk directKernel, kern microKernel, w *workspace, mc, nc, kc int, a []float32, lda, ic, pc int, pb, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	full := mc / mr * mr
	if full < mc {
		w.pa = grow(w.pa, kc*mr)
		packA(w.pa, false, a, lda, ic+full, pc, mc-full, kc)
	}
	for jr := 0; jr < nc; jr += nr {
		nn := min(nr, nc-jr)
		bpanel := pb[jr*kc : (jr+nr)*kc]
		var bb []float32
		if bias != nil {
			bb = bias[jr : jr+nn]
		}
		t := w.tile[:]
		for ir := 0; ir < full; ir += mr {
			ar := a[(ic+ir)*lda+pc:]
			if nn == nr {
				dk(kc, ar, lda, bpanel, c[ir*ldc+jr:], ldc, alpha, beta, bb, flags)
				continue
			}
			dk(kc, ar, lda, bpanel, t, nr, 1, 0, nil, 0)
			for i := 0; i < mr; i++ {
				epilogueRow(c[(ir+i)*ldc+jr:], t[i*nr:i*nr+nn], alpha, beta, bb, flags)
			}
		}
		if full < mc {
			kern(kc, w.pa, bpanel, t, nr, 1, 0, nil, 0)
			for i := 0; i < mc-full; i++ {
				epilogueRow(c[(full+i)*ldc+jr:], t[i*nr:i*nr+nn], alpha, beta, bb, flags)
			}
		}
	}
}

// macroKernel runs the micro-kernel over an mc×nc block from packed panels.
// Full tiles are written in place; edge tiles go through w.tile.
func macroKernel(kern microKernel, w *workspace, mc, nc, kc int, pa, pb, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	for jr := 0; jr < nc; jr += nr {
		nn := min(nr, nc-jr)
		bpanel := pb[jr*kc : (jr+nr)*kc]
		var bb []float32
		if bias != nil {
			bb = bias[jr : jr+nn]
		}
		for ir := 0; ir < mc; ir += mr {
			mm := min(mr, mc-ir)
			apanel := pa[ir*kc : (ir+mr)*kc]
			if mm == mr && nn == nr {
				kern(kc, apanel, bpanel, c[ir*ldc+jr:], ldc, alpha, beta, bb, flags)
				continue
			}
			t := w.tile[:]
			kern(kc, apanel, bpanel, t, nr, 1, 0, nil, 0)
			for i := 0; i < mm; i++ {
				epilogueRow(c[(ir+i)*ldc+jr:], t[i*nr:i*nr+nn], alpha, beta, bb, flags)
			}
		}
	}
}

// macroKernelDirect512 is macroKernel512 with the row panels of A read in
// place from op(A) = a (rows ic.., depth pc..) by the direct kernels: the
// rows in whole groups of six, the last mc mod 6 rows packed.
func macroKernelDirect512(w *workspace, mc, nc, kc int, a []float32, lda, ic, pc int, pb, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	full := mc / mr * mr
	if full < mc {
		w.pa = grow(w.pa, kc*mr)
		packA(w.pa, false, a, lda, ic+full, pc, mc-full, kc)
	}
	t := w.tile[:]
	for jr := 0; jr < nc; jr += 2 * nr {
		nn := min(2*nr, nc-jr)
		np := (nn + nr - 1) / nr
		bpanel := pb[jr*kc : (jr+np*nr)*kc]
		var bb []float32
		if bias != nil {
			bb = bias[jr : jr+nn]
		}
		for ir := 0; ir < full; ir += 2 * mr {
			rp := min(2, (full-ir)/mr)
			dk := direct512[rp-1][np-1]
			ar := a[(ic+ir)*lda+pc:]
			if nn == np*nr {
				dk(kc, ar, lda, bpanel, c[ir*ldc+jr:], ldc, alpha, beta, bb, flags)
				continue
			}
			dk(kc, ar, lda, bpanel, t, 2*nr, 1, 0, nil, 0)
			for i := 0; i < rp*mr; i++ {
				epilogueRow(c[(ir+i)*ldc+jr:], t[i*2*nr:i*2*nr+nn], alpha, beta, bb, flags)
			}
		}
		if full < mc {
			kernels512[0][np-1](kc, w.pa, bpanel, t, 2*nr, 1, 0, nil, 0)
			for i := 0; i < mc-full; i++ {
				epilogueRow(c[(full+i)*ldc+jr:], t[i*2*nr:i*2*nr+nn], alpha, beta, bb, flags)
			}
		}
	}
}

// macroKernel512 is macroKernel at the AVX-512 level: tiles of up to
// 12×32 (two A panels by two B panels, adjacent in the packed buffers), the
// edges with the 6- or 16-wide kernels, partial tiles through w.tile.
func macroKernel512(w *workspace, mc, nc, kc int, pa, pb, c []float32, ldc int, alpha, beta float32, bias []float32, flags int) {
	for jr := 0; jr < nc; jr += 2 * nr {
		nn := min(2*nr, nc-jr)
		np := (nn + nr - 1) / nr
		bpanel := pb[jr*kc : (jr+np*nr)*kc]
		var bb []float32
		if bias != nil {
			bb = bias[jr : jr+nn]
		}
		for ir := 0; ir < mc; ir += 2 * mr {
			mm := min(2*mr, mc-ir)
			rp := (mm + mr - 1) / mr
			kern := kernels512[rp-1][np-1]
			apanel := pa[ir*kc : (ir+rp*mr)*kc]
			if mm == rp*mr && nn == np*nr {
				kern(kc, apanel, bpanel, c[ir*ldc+jr:], ldc, alpha, beta, bb, flags)
				continue
			}
			t := w.tile[:]
			kern(kc, apanel, bpanel, t, 2*nr, 1, 0, nil, 0)
			for i := 0; i < mm; i++ {
				epilogueRow(c[(ir+i)*ldc+jr:], t[i*2*nr:i*2*nr+nn], alpha, beta, bb, flags)
			}
		}
	}
}

// scaleOnly handles k == 0: C = beta·C (+ bias), ReLU.
func scaleOnly(g *gemmArgs) {
	for i := 0; i < g.m; i++ {
		row := g.c[i*g.ldc:][:g.n]
		for j := range row {
			var v float32
			if g.beta != 0 {
				v = g.beta * row[j]
			}
			if g.bias != nil {
				v += g.bias[j]
			}
			if g.relu && v < 0 {
				v = 0
			}
			row[j] = v
		}
	}
}

// packA copies op(A)[i0:i0+mc, p0:p0+kc] into dst as mr-row panels, each
// stored k-major (panel[p·mr+r]), zero-padding the last panel's rows.
func packA(dst []float32, transA bool, a []float32, lda, i0, p0, mc, kc int) {
	for ip := 0; ip < mc; ip += mr {
		rows := min(mr, mc-ip)
		panel := dst[ip*kc : ip*kc+mr*kc]
		if transA {
			// op(A)[i][p] = a[p·lda+i]: a row of the panel is contiguous.
			if rows == mr {
				// Six assignments, not a copy call per k step.
				for p := 0; p < kc; p++ {
					src := (*[mr]float32)(a[(p0+p)*lda+i0+ip:])
					*(*[mr]float32)(panel[p*mr:]) = *src
				}
				continue
			}
			for p := 0; p < kc; p++ {
				src := a[(p0+p)*lda+i0+ip:][:rows]
				d := panel[p*mr : p*mr+mr]
				copy(d, src)
				clear(d[rows:])
			}
			continue
		}
		if rows == mr {
			base := (i0 + ip) * lda
			r0 := a[base+p0:][:kc]
			r1 := a[base+lda+p0:][:kc]
			r2 := a[base+2*lda+p0:][:kc]
			r3 := a[base+3*lda+p0:][:kc]
			r4 := a[base+4*lda+p0:][:kc]
			r5 := a[base+5*lda+p0:][:kc]
			for p := range kc {
				d := panel[p*mr : p*mr+mr : p*mr+mr]
				d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
			continue
		}
		for r := 0; r < mr; r++ {
			if r >= rows {
				for p := 0; p < kc; p++ {
					panel[p*mr+r] = 0
				}
				continue
			}
			src := a[(i0+ip+r)*lda+p0:][:kc]
			for p, v := range src {
				panel[p*mr+r] = v
			}
		}
	}
}

// packB copies op(B)[p0:p0+kc, j0:j0+nc] into dst as nr-column panels, each
// stored k-major (panel[p·nr+j]), zero-padding the last panel's columns.
func packB(dst []float32, transB bool, b []float32, ldb, p0, j0, kc, nc int) {
	for jp := 0; jp < nc; jp += nr {
		cols := min(nr, nc-jp)
		panel := dst[jp*kc : jp*kc+nr*kc]
		if !transB {
			if cols == nr {
				copyPanel16(panel, b[p0*ldb+j0+jp:], ldb, kc)
				continue
			}
			for p := 0; p < kc; p++ {
				d := panel[p*nr : p*nr+nr]
				copy(d, b[(p0+p)*ldb+j0+jp:][:cols])
				clear(d[cols:])
			}
			continue
		}
		// op(B)[p][j] = b[j·ldb+p]: gather each column of the panel.
		if cols < nr {
			clear(panel)
		}
		j := 0
		for ; j+8 <= cols; j += 8 {
			// Eight columns at a time: eight read streams, 32-byte
			// contiguous writes per k step.
			base := (j0+jp+j)*ldb + p0
			s0 := b[base:][:kc]
			s1 := b[base+ldb:][:kc]
			s2 := b[base+2*ldb:][:kc]
			s3 := b[base+3*ldb:][:kc]
			s4 := b[base+4*ldb:][:kc]
			s5 := b[base+5*ldb:][:kc]
			s6 := b[base+6*ldb:][:kc]
			s7 := b[base+7*ldb:][:kc]
			for p := range kc {
				d := (*[8]float32)(panel[p*nr+j:])
				d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = s0[p], s1[p], s2[p], s3[p], s4[p], s5[p], s6[p], s7[p]
			}
		}
		for ; j < cols; j++ {
			src := b[(j0+jp+j)*ldb+p0:][:kc]
			for p, v := range src {
				panel[p*nr+j] = v
			}
		}
	}
}

// copyPanel16Go is copyPanel16 in Go.
func copyPanel16Go(dst, src []float32, ldb, kc int) {
	for p := 0; p < kc; p++ {
		*(*[nr]float32)(dst[p*nr:]) = [nr]float32(src[p*ldb:])
	}
}
