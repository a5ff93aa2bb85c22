package format

import (
	"fmt"
	"math"
	"slices"

	"github.com/shrink-ml/shrink/nn"
)

// Encodings returns every encoding this version of the format knows, in tag
// order (Float32 first).
func Encodings() []Encoding {
	out := make([]Encoding, 0, len(codecs))
	for e := range codecs {
		out = append(out, e)
	}
	slices.Sort(out)
	return out
}

// ChooseOptions says which encodings Choose may pick.
type ChooseOptions struct {
	// Candidates, when set, are the only encodings tried, each for the
	// tensors it can store; nil tries every encoding (Encodings).
	Candidates []Encoding
	// Lossy admits encodings that round a tensor's values (Float16 and the
	// sparse encodings with float16 values, for a float tensor). Without
	// it every tensor reads back bit for bit.
	Lossy bool
}

// Choose is the one answer to "which encoding stores this tensor in the
// fewest bytes": it sets f.Encodings to, for every tensor of f.Model, the
// candidate whose stored bytes (compressed as f.Compress says, the way the
// writer stores it) are fewest; ties go to the earlier in tag order. A
// candidate must encode the tensor, and must keep its codes when it is
// quantized (Param.Quant set) and add none when it is not; without
// opt.Lossy it must also give back its values exactly. A tensor no
// candidate can store is Float32.
func Choose(f *File, opt ChooseOptions) error {
	if f == nil || f.Model == nil {
		return fmt.Errorf("format: choose: no model")
	}
	cands := opt.Candidates
	if cands == nil {
		cands = Encodings()
	}
	for _, e := range cands {
		if !e.known() {
			return fmt.Errorf("format: choose: unknown encoding %v", e)
		}
	}
	cands = slices.Clone(cands)
	slices.Sort(cands)
	cands = slices.Compact(cands)
	encs := make(map[string]Encoding, len(f.Encodings))
	for _, t := range f.Model.NamedParams() {
		encs[t.Name] = chooseTensor(t.Param, cands, f.Compress, opt.Lossy)
	}
	f.Encodings = encs
	return nil
}

// chooseTensor is Choose for one tensor.
func chooseTensor(p *nn.Param, cands []Encoding, compress, lossy bool) Encoding {
	best, bestSize := Float32, math.MaxInt
	for _, e := range cands {
		st, err := storeTensor(p, e, compress)
		if err != nil || len(st.stored) >= bestSize || !keeps(p, st, lossy) {
			continue
		}
		best, bestSize = e, len(st.stored)
	}
	return best
}

// keeps reports whether a tensor stored as st decodes to p: with its
// codes if p is quantized (and without codes if not), and, unless lossy,
// with exactly p's values.
func keeps(p *nn.Param, st stored, lossy bool) bool {
	back := &nn.Param{Name: p.Name, Shape: p.Shape, W: make([]float32, len(p.W))}
	if err := decodeTensor(back, st.raw, st.enc); err != nil {
		return false
	}
	if (back.Quant == nil) != (p.Quant == nil) {
		return false
	}
	if lossy {
		return true
	}
	for i, v := range p.W {
		if math.Float32bits(v) != math.Float32bits(back.W[i]) {
			return false
		}
	}
	return true
}
