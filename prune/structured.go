package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/shrink-ml/shrink/nn"
)

// group is a prunable layer with the layers its units feed: the
// channel-wise layers (nn.PerChannel) up to the next layer that mixes
// channels into units (nn.Units, the consumer).
type group struct {
	layer    int   // index of the dense or conv layer whose units are removed
	between  []int // indices of the per-channel layers in between (relu, batchnorm, pool, dropout, flatten)
	consumer int   // index of the next dense or conv layer
}

// coupling is the registry's coupling of l's kind (Opaque when unknown).
func coupling(l nn.Layer) nn.Coupling {
	if k, ok := nn.LookupKind(l.Kind()); ok {
		return k.Coupling
	}
	return nn.Opaque
}

// groups finds the units that can be removed: every dense or convolution
// layer whose output reaches another Units layer through per-channel layers
// only. The logits layer has no consumer and is kept.
func groups(m *nn.Model) []group {
	var gs []group
	for i, l := range m.Layers {
		if _, ok := l.(nn.Accelerated); !ok || coupling(l) != nn.Units {
			continue
		}
		g := group{layer: i, consumer: -1}
		for j := i + 1; j < len(m.Layers); j++ {
			c := coupling(m.Layers[j])
			if c == nn.PerChannel {
				g.between = append(g.between, j)
				continue
			}
			if c == nn.Units {
				g.consumer = j
			}
			break // a consumer, or an opaque layer whose units are visible outside
		}
		if g.consumer >= 0 {
			gs = append(gs, g)
		}
	}
	return gs
}

// unitScores scores each output unit (row of the weight) of every layer in
// gs by the criterion; larger is more important.
func unitScores(m *nn.Model, gs []group, opt Options) (map[int][]float64, error) {
	scores := map[int][]float64{}
	var grads map[int][]float64
	if opt.Criterion == Taylor {
		var err error
		if grads, err = taylor(m, gs, opt.X, opt.Y); err != nil {
			return nil, err
		}
	}
	for _, g := range gs {
		a := m.Layers[g.layer].(nn.Accelerated)
		w := a.Weight()
		rows := w.Shape[0]
		cols := len(w.W) / rows
		s := make([]float64, rows)
		for r := range rows {
			row := w.W[r*cols : (r+1)*cols]
			switch opt.Criterion {
			case Taylor:
				s[r] = grads[g.layer][r]
			case L2:
				var q float64
				for _, v := range row {
					q += float64(v) * float64(v)
				}
				s[r] = math.Sqrt(q)
			default:
				for _, v := range row {
					s[r] += math.Abs(float64(v))
				}
			}
		}
		scores[g.layer] = s
	}
	return scores, nil
}

// taylor computes (Σ g·w)² per unit over its weights and bias, with the
// gradients of the cross-entropy accumulated over the samples (x, y).
func taylor(m *nn.Model, gs []group, x []float32, y []int) (map[int][]float64, error) {
	d := m.Input.Size()
	if len(x) != len(y)*d {
		return nil, fmt.Errorf("prune: taylor: %d values for %d samples of %v", len(x), len(y), m.Input)
	}
	for i, l := range y {
		if l < 0 || l >= m.Classes() {
			return nil, fmt.Errorf("prune: taylor: label %d of sample %d outside [0, %d)", l, i, m.Classes())
		}
	}
	work := m.Clone()
	work.ZeroGrad()
	const batch = 128
	for lo := 0; lo < len(y); lo += batch {
		hi := min(lo+batch, len(y))
		z := work.Forward(nn.FromData(hi-lo, work.Input, x[lo*d:hi*d]))
		_, g := nn.SoftmaxCrossEntropy(z, y[lo:hi])
		work.Backward(g)
	}
	out := map[int][]float64{}
	for _, g := range gs {
		a := work.Layers[g.layer].(nn.Accelerated)
		w, b := a.Weight(), a.Bias()
		rows := w.Shape[0]
		cols := len(w.W) / rows
		s := make([]float64, rows)
		for r := range rows {
			t := float64(b.W[r]) * float64(b.Grad[r])
			for c := range cols {
				t += float64(w.W[r*cols+c]) * float64(w.Grad[r*cols+c])
			}
			s[r] = t * t
		}
		out[g.layer] = s
	}
	return out, nil
}

// structured returns a smaller copy of m with the lowest-scoring units of
// each group removed, and the following layers shrunk to match.
func structured(m *nn.Model, opt Options) (*nn.Model, error) {
	gs := groups(m)
	scores, err := unitScores(m, gs, opt)
	if err != nil {
		return nil, err
	}
	keep := map[int][]int{} // layer index → kept output units, increasing
	for _, g := range gs {
		s := scores[g.layer]
		n := len(s)
		drop := min(n-1, removeCount(n, opt.target(m.Layers[g.layer].Name())))
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(s[b], s[a]) })
		k := slices.Clone(order[:n-drop])
		slices.Sort(k)
		keep[g.layer] = k
	}
	return shrink(m, gs, keep)
}

// shrink builds the model that keeps only the given output units of each
// group's layer, removing the matching channels of the layers in between
// and the matching input columns of the consumer.
func shrink(m *nn.Model, gs []group, keep map[int][]int) (*nn.Model, error) {
	specs := m.Spec()
	inKeep := map[int][]int{}   // consumer layer → kept channels of its input
	chanKeep := map[int][]int{} // per-channel layer with parameters → kept channels
	for _, g := range gs {
		k := keep[g.layer]
		info, _ := nn.LookupKind(specs[g.layer].Kind)
		*info.UnitsField(&specs[g.layer]) = len(k)
		for _, j := range g.between {
			if len(m.Layers[j].Params()) > 0 {
				chanKeep[j] = k
			}
		}
		inKeep[g.consumer] = k
	}
	small, err := nn.Build(m.Input, specs)
	if err != nil {
		return nil, fmt.Errorf("prune: building the smaller model: %w", err)
	}
	channels := map[int]int{} // consumer → channels of its original input
	for _, g := range gs {
		channels[g.consumer] = m.Layers[g.layer].Out()[len(m.Layers[g.layer].Out())-1]
	}
	for i, l := range m.Layers {
		if src, ok := l.(nn.Accelerated); ok {
			dst := small.Layers[i].(nn.Accelerated)
			rows := keep[i]
			if rows == nil {
				rows = seq(src.Weight().Shape[0])
			}
			sw := src.Weight()
			cols := len(sw.W) / sw.Shape[0]
			var colKeep []int
			if k, ok := inKeep[i]; ok {
				colKeep = expandChannels(k, channels[i], cols)
			} else {
				colKeep = seq(cols)
			}
			copyRows(dst.Weight(), sw, rows, colKeep)
			copyRows(dst.Bias(), src.Bias(), rows, []int{0})
			continue
		}
		// Per-channel parameters (batch norm's scale, shift and statistics):
		// one value per channel.
		src, dst := l.Params(), small.Layers[i].Params()
		for j, p := range src {
			ch := chanKeep[i]
			if ch == nil {
				ch = seq(len(p.W))
			}
			copyRows(dst[j], p, ch, []int{0})
		}
	}
	return small, nil
}

// expandChannels maps kept input channels of a consumer whose input has c
// channels (fastest-varying) to its kept weight columns: column q·c + ch
// for every position q (one for dense after dense; KH·KW kernel taps for a
// convolution; H·W positions for a dense layer after a flatten).
func expandChannels(keep []int, c, cols int) []int {
	out := make([]int, 0, cols/c*len(keep))
	for q := 0; q < cols/c; q++ {
		for _, ch := range keep {
			out = append(out, q*c+ch)
		}
	}
	return out
}

// copyRows copies the kept rows and columns of src (rows × cols, cols
// taken as len/rows; a vector is rows × 1) into dst, masks included.
func copyRows(dst, src *nn.Param, rows, cols []int) {
	srcCols := len(src.W) / src.Shape[0]
	if src.Mask != nil {
		dst.Mask = make([]bool, len(dst.W))
	}
	t := 0
	for _, r := range rows {
		for _, c := range cols {
			dst.W[t] = src.W[r*srcCols+c]
			if src.Mask != nil {
				dst.Mask[t] = src.Mask[r*srcCols+c]
			}
			t++
		}
	}
	if t != len(dst.W) {
		panic(fmt.Sprintf("prune: copied %d values into a tensor of %d", t, len(dst.W)))
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
