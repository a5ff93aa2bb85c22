// Package prune removes weights from trained models: unstructured magnitude
// (or random, as a control) pruning per layer or with one global threshold,
// N:M semi-structured sparsity, structured pruning that physically removes
// dense units and convolution filters, gradual (Zhu & Gupta) and iterative
// (Han et al.) schedules interleaved with fine-tuning, and a per-layer
// sensitivity scan.
//
// Unstructured and N:M pruning set each weight's nn.Param.Mask, so the
// pruned weights stay exactly zero through nn.Train; the model keeps its
// shape, and the sparse file encodings and the sparse inference path make it
// smaller and faster. Structured pruning returns an ordinary smaller model.
//
// Every pass returns a per-layer Report (parameters, non-zero parameters,
// sparsity, bytes and MACs before and after); with Options.DryRun the report
// is filled and the model left untouched.
package prune

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/shrink-ml/shrink/nn"
)

// Method is how weights are chosen for removal.
type Method string

// Methods.
const (
	Magnitude  Method = "magnitude"  // smallest |w| first
	Random     Method = "random"     // uniformly at random (seeded): the control
	Structured Method = "structured" // whole dense units / conv filters, ranked by Criterion
	NM         Method = "nm"         // N:M: at most N non-zero weights in each group of M along a row
)

// Scope says where the magnitude threshold is chosen.
type Scope string

// Scopes.
const (
	PerLayer Scope = "layer"  // each layer loses its own fraction of weights
	Global   Scope = "global" // one threshold across all layers without an override
)

// Criterion ranks units and filters for structured pruning.
type Criterion string

// Criteria.
const (
	L1     Criterion = "l1"     // Σ|w| of the unit's incoming weights
	L2     Criterion = "l2"     // √Σw² of the unit's incoming weights
	Taylor Criterion = "taylor" // (Σ g·w)² over the unit's weights and bias, first-order Taylor (Molchanov et al. 2019); needs data
)

// Options configure a pruning pass.
type Options struct {
	Method Method
	// Sparsity is the fraction of weights removed (magnitude, random), or
	// of units and filters removed per layer (structured), in [0, 1).
	Sparsity float64
	Scope    Scope
	// Layers overrides Sparsity for the named layers (0 leaves a layer
	// dense). With Global scope, overridden layers are pruned on their own.
	Layers map[string]float64
	// N and M give the N:M pattern (keep N of every M consecutive weights
	// of a row), for Method NM.
	N, M int
	// Criterion ranks units for Structured (default L1).
	Criterion Criterion
	// X, Y are samples used to compute Taylor scores (a few hundred are
	// enough); they should come from the training data.
	X []float32
	Y []int
	// Seed drives Random.
	Seed uint64
	// DryRun fills the report without changing the model.
	DryRun bool
}

// LayerReport is one layer's line of a Report. Bytes are float32 bytes of
// the layer's parameters: before as stored dense, after as stored with the
// smaller of dense and bitmask-plus-values (the file format's actual sizes,
// which may be smaller still, are reported by the CLI).
type LayerReport struct {
	Layer          string  `json:"layer"`
	Kind           string  `json:"kind"`
	Target         float64 `json:"target"` // requested fraction removed
	UnitsBefore    int     `json:"units_before"`
	UnitsAfter     int     `json:"units_after"`
	ParamsBefore   int64   `json:"params_before"`
	ParamsAfter    int64   `json:"params_after"`
	NonZeroBefore  int64   `json:"nonzero_before"`
	NonZeroAfter   int64   `json:"nonzero_after"`
	Sparsity       float64 `json:"sparsity"` // fraction of the original weight entries that are zero or gone
	BytesBefore    int64   `json:"bytes_before"`
	BytesAfter     int64   `json:"bytes_after"`
	MACsBefore     int64   `json:"macs_before"` // effective: only non-zero weights count
	MACsAfter      int64   `json:"macs_after"`
	DenseMACsAfter int64   `json:"dense_macs_after"` // MACs of the (possibly smaller) layer, zeros included
}

// Report is the result of a pass: one line per dense or convolution layer
// plus the totals over the whole model (all trainable parameters).
type Report struct {
	Method Method        `json:"method"`
	DryRun bool          `json:"dry_run"`
	Layers []LayerReport `json:"layers"`
	Total  LayerReport   `json:"total"`
}

// prunable lists the dense and convolution layers, in order.
func prunable(m *nn.Model) []nn.Accelerated {
	var ls []nn.Accelerated
	for _, l := range m.Layers {
		if a, ok := l.(nn.Accelerated); ok {
			ls = append(ls, a)
		}
	}
	return ls
}

func (o *Options) validate(m *nn.Model) error {
	ok := func(s float64) bool { return s >= 0 && s < 1 }
	switch o.Method {
	case Magnitude, Random, Structured:
		if !ok(o.Sparsity) {
			return fmt.Errorf("prune: sparsity %v not in [0, 1)", o.Sparsity)
		}
	case NM:
		if o.N <= 0 || o.M < 2 || o.N >= o.M || o.M > 64 {
			return fmt.Errorf("prune: N:M %d:%d: want 0 < N < M ≤ 64", o.N, o.M)
		}
	default:
		return fmt.Errorf("prune: unknown method %q (want magnitude, random, structured or nm)", o.Method)
	}
	switch o.Scope {
	case "", PerLayer, Global:
	default:
		return fmt.Errorf("prune: unknown scope %q (want layer or global)", o.Scope)
	}
	switch o.Criterion {
	case "", L1, L2:
	case Taylor:
		if o.Method == Structured && len(o.Y) == 0 {
			return fmt.Errorf("prune: the taylor criterion needs samples (Options.X, Y)")
		}
	default:
		return fmt.Errorf("prune: unknown criterion %q (want l1, l2 or taylor)", o.Criterion)
	}
	names := map[string]bool{}
	for _, l := range prunable(m) {
		names[l.Name()] = true
	}
	for name, s := range o.Layers {
		if !names[name] {
			return fmt.Errorf("prune: layer %q is not a dense or convolution layer of the model", name)
		}
		if !ok(s) {
			return fmt.Errorf("prune: layer %s: sparsity %v not in [0, 1)", name, s)
		}
	}
	return nil
}

// target is the sparsity asked of layer name.
func (o *Options) target(name string) float64 {
	if s, ok := o.Layers[name]; ok {
		return s
	}
	return o.Sparsity
}

// Prune applies one pruning pass to m and reports what it did. Magnitude,
// random and N:M pruning set masks and zero the pruned weights; structured
// pruning replaces m's layers with smaller ones. Installed inference paths
// are rebuilt (m.Prepare) when the model changes.
func Prune(m *nn.Model, opt Options) (Report, error) {
	if err := opt.validate(m); err != nil {
		return Report{}, err
	}
	before := snapshot(m)
	rep := Report{Method: opt.Method, DryRun: opt.DryRun}
	if opt.Method == Structured {
		small, err := structured(m, opt)
		if err != nil {
			return Report{}, err
		}
		rep.Layers, rep.Total = compare(before, snapshot(small), opt)
		if !opt.DryRun {
			m.Input, m.Layers = small.Input, small.Layers
			m.Prepare()
		}
		return rep, nil
	}
	masks, err := unstructuredMasks(m, opt)
	if err != nil {
		return Report{}, err
	}
	target := m
	if opt.DryRun {
		target = m.Clone()
	}
	for _, l := range prunable(target) {
		if mk, ok := masks[l.Name()]; ok {
			w := l.Weight()
			w.Mask = mk
			w.ApplyMask()
		}
	}
	rep.Layers, rep.Total = compare(before, snapshot(target), opt)
	if !opt.DryRun {
		m.Prepare()
	}
	return rep, nil
}

// unstructuredMasks computes the new mask of every layer that is pruned.
func unstructuredMasks(m *nn.Model, opt Options) (map[string][]bool, error) {
	masks := map[string][]bool{}
	layers := prunable(m)
	if opt.Method == NM {
		for _, l := range layers {
			if s, ok := opt.Layers[l.Name()]; ok && s == 0 {
				continue // explicitly left dense
			}
			masks[l.Name()] = nmMask(l.Weight(), opt.N, opt.M)
		}
		return masks, nil
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b9))
	var pooled []nn.Accelerated
	for _, l := range layers {
		_, over := opt.Layers[l.Name()]
		if opt.Scope == Global && !over {
			pooled = append(pooled, l)
			continue
		}
		if opt.target(l.Name()) == 0 {
			continue // left as it is (existing masks included)
		}
		w := l.Weight()
		masks[l.Name()] = topMask([]*nn.Param{w}, removeCount(len(w.W), opt.target(l.Name())), opt.Method, rng)[0]
	}
	if len(pooled) > 0 && opt.Sparsity > 0 {
		ps := make([]*nn.Param, len(pooled))
		n := 0
		for i, l := range pooled {
			ps[i] = l.Weight()
			n += len(ps[i].W)
		}
		ms := topMask(ps, removeCount(n, opt.Sparsity), opt.Method, rng)
		for i, l := range pooled {
			masks[l.Name()] = ms[i]
		}
	}
	return masks, nil
}

// removeCount is how many of n weights a sparsity s removes.
func removeCount(n int, s float64) int {
	return min(n, int(math.Round(s*float64(n))))
}

// topMask removes exactly k of the weights of ps taken together: weights
// already masked out first, then the smallest |w| (Magnitude; ties broken
// by position) or a seeded uniform choice (Random). It returns one mask
// per parameter.
func topMask(ps []*nn.Param, k int, method Method, rng *rand.Rand) [][]bool {
	type ref struct {
		p, i   int
		masked bool
		mag    float32
	}
	var all []ref
	for pi, p := range ps {
		for i, v := range p.W {
			all = append(all, ref{pi, i, p.Mask != nil && !p.Mask[i], float32(math.Abs(float64(v)))})
		}
	}
	if method == Random {
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		sort.SliceStable(all, func(i, j int) bool { return all[i].masked && !all[j].masked })
	} else {
		slices.SortStableFunc(all, func(a, b ref) int {
			if a.masked != b.masked {
				if a.masked {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.mag, b.mag)
		})
	}
	out := make([][]bool, len(ps))
	for pi, p := range ps {
		out[pi] = make([]bool, len(p.W))
	}
	for _, r := range all[k:] {
		out[r.p][r.i] = true
	}
	return out
}

// nmMask keeps the N largest |w| of every group of M consecutive weights of
// each row (ties broken by position); a shorter last group keeps at most N.
// Weights already masked out are never kept.
func nmMask(w *nn.Param, n, m int) []bool {
	rows := w.Shape[0]
	cols := len(w.W) / rows
	mask := make([]bool, len(w.W))
	idx := make([]int, 0, m)
	for r := 0; r < rows; r++ {
		for g := 0; g < cols; g += m {
			idx = idx[:0]
			for c := g; c < min(g+m, cols); c++ {
				i := r*cols + c
				if w.Mask == nil || w.Mask[i] {
					idx = append(idx, i)
				}
			}
			slices.SortStableFunc(idx, func(a, b int) int {
				return cmp.Compare(math.Abs(float64(w.W[b])), math.Abs(float64(w.W[a])))
			})
			for _, i := range idx[:min(n, len(idx))] {
				mask[i] = true
			}
		}
	}
	return mask
}

// layerStat is what a report needs of one layer.
type layerStat struct {
	name, kind        string
	units             int
	params, nonzero   int64
	weights, wnonzero int64
	bytes             int64
	macs, denseMACs   int64
}

type modelStat struct {
	layers []layerStat
	all    layerStat
}

func snapshot(m *nn.Model) modelStat {
	var s modelStat
	for _, l := range m.Layers {
		var ls layerStat
		ls.name, ls.kind = l.Name(), l.Kind()
		ls.denseMACs = l.MACs()
		ls.macs = ls.denseMACs
		for _, p := range l.Params() {
			if !p.Trainable {
				continue
			}
			nz := p.NonZero()
			ls.params += int64(len(p.W))
			ls.nonzero += nz
			ls.bytes += sparseBytes(int64(len(p.W)), nz)
			if p.Name == "weight" {
				ls.weights, ls.wnonzero = int64(len(p.W)), nz
				if len(p.W) > 0 {
					ls.macs = ls.denseMACs * nz / int64(len(p.W))
				}
				ls.units = p.Shape[0]
			}
		}
		s.all.params += ls.params
		s.all.nonzero += ls.nonzero
		s.all.weights += ls.weights
		s.all.wnonzero += ls.wnonzero
		s.all.bytes += ls.bytes
		s.all.macs += ls.macs
		s.all.denseMACs += ls.denseMACs
		if _, ok := l.(nn.Accelerated); ok {
			s.layers = append(s.layers, ls)
		}
	}
	return s
}

// sparseBytes is the smaller of n dense float32 values and a bitmask plus
// the nz non-zero float32 values.
func sparseBytes(n, nz int64) int64 {
	return min(4*n, (n+7)/8+4*nz)
}

func compare(b, a modelStat, opt Options) ([]LayerReport, LayerReport) {
	line := func(x, y layerStat) LayerReport {
		r := LayerReport{
			Layer: x.name, Kind: x.kind, UnitsBefore: x.units, UnitsAfter: y.units,
			ParamsBefore: x.params, ParamsAfter: y.params, NonZeroBefore: x.nonzero, NonZeroAfter: y.nonzero,
			BytesBefore: 4 * x.params, BytesAfter: y.bytes,
			MACsBefore: x.macs, MACsAfter: y.macs, DenseMACsAfter: y.denseMACs,
		}
		if x.weights > 0 {
			r.Sparsity = 1 - float64(y.wnonzero)/float64(x.weights)
		}
		return r
	}
	var out []LayerReport
	for i := range b.layers {
		r := line(b.layers[i], a.layers[i])
		if opt.Method == NM {
			r.Target = 1 - float64(opt.N)/float64(opt.M)
		} else {
			r.Target = opt.target(r.Layer)
		}
		out = append(out, r)
	}
	t := line(b.all, a.all)
	t.Layer, t.Kind = "total", ""
	if opt.Method == NM {
		t.Target = 1 - float64(opt.N)/float64(opt.M)
	} else {
		t.Target = opt.Sparsity
	}
	return out, t
}

// Sparsity returns the fraction of zero entries among the weights of the
// dense and convolution layers.
func Sparsity(m *nn.Model) float64 {
	var n, nz int64
	for _, l := range prunable(m) {
		w := l.Weight()
		n += int64(len(w.W))
		nz += w.NonZero()
	}
	if n == 0 {
		return 0
	}
	return 1 - float64(nz)/float64(n)
}
