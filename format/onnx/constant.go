package onnx

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/shrink-ml/shrink/format"
)

// maxFolded caps the number of elements a constant-folded value may have
// (shape arithmetic is tiny; this stops ConstantOfShape and friends from
// allocating from a hostile shape).
const maxFolded = 1 << 24

// constant is a value known at import time: an initializer, a Constant
// node, or the result of folding. Float types are held in f (float32),
// integer and boolean types in i (int64).
type constant struct {
	dims  []int64
	float bool
	f     []float32
	i     []int64
}

func (c *constant) size() int {
	if c.float {
		return len(c.f)
	}
	return len(c.i)
}

// ints returns the values as int64 (floats truncated).
func (c *constant) ints() []int64 {
	if !c.float {
		return c.i
	}
	out := make([]int64, len(c.f))
	for k, v := range c.f {
		out[k] = int64(v)
	}
	return out
}

// elements returns the product of dims, or an error when a dimension is
// negative or the product exceeds max.
func elements(dims []int64, max int64) (int64, error) {
	if len(dims) > MaxRank {
		return 0, fmt.Errorf("rank %d above %d", len(dims), MaxRank)
	}
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in %v", dims)
		}
		if d > 0 && n > max/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", dims, max)
		}
		n *= d
	}
	if n > max {
		return 0, fmt.Errorf("shape %v has more than %d elements", dims, max)
	}
	return n, nil
}

// toConstant converts a decoded TensorProto into a constant, checking that
// the stored data matches the declared shape and type.
func toConstant(t *tensor) (*constant, error) {
	if t.external {
		return nil, fmt.Errorf("tensor %q: external data is not supported", t.name)
	}
	if t.segment {
		return nil, fmt.Errorf("tensor %q: segmented tensors are not supported", t.name)
	}
	n64, err := elements(t.dims, MaxElements)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", t.name, err)
	}
	n := int(n64)
	c := &constant{dims: append([]int64{}, t.dims...)}
	raw := t.raw
	width := 0
	switch t.dataType {
	case typeFloat, typeUint32, typeInt32:
		width = 4
	case typeDouble, typeInt64, typeUint64:
		width = 8
	case typeFloat16, typeBfloat16, typeInt16, typeUint16:
		width = 2
	case typeInt8, typeUint8, typeBool:
		width = 1
	default:
		return nil, fmt.Errorf("tensor %q: data type %d is not supported", t.name, t.dataType)
	}
	c.float = t.dataType == typeFloat || t.dataType == typeDouble || t.dataType == typeFloat16 || t.dataType == typeBfloat16
	have := 0
	for _, l := range []int{len(t.floats), len(t.int32s), len(t.int64s), len(t.doubles), len(t.uint64s)} {
		if l > 0 {
			have++
		}
	}
	if raw != nil {
		have++
	}
	if have > 1 {
		return nil, fmt.Errorf("tensor %q: values stored in more than one field", t.name)
	}
	bad := func(got int) error {
		return fmt.Errorf("tensor %q: shape %v needs %d values, the data holds %d", t.name, t.dims, n, got)
	}
	if raw != nil {
		if len(raw) != n*width {
			return nil, fmt.Errorf("tensor %q: shape %v of type %d needs %d bytes of raw_data, got %d", t.name, t.dims, t.dataType, n*width, len(raw))
		}
		if c.float {
			c.f = make([]float32, n)
		} else {
			c.i = make([]int64, n)
		}
		for k := 0; k < n; k++ {
			b := raw[k*width:]
			switch t.dataType {
			case typeFloat:
				c.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(b))
			case typeDouble:
				c.f[k] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b)))
			case typeFloat16:
				c.f[k] = format.Float16From(binary.LittleEndian.Uint16(b))
			case typeBfloat16:
				c.f[k] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16)
			case typeInt64, typeUint64:
				c.i[k] = int64(binary.LittleEndian.Uint64(b))
			case typeInt32:
				c.i[k] = int64(int32(binary.LittleEndian.Uint32(b)))
			case typeUint32:
				c.i[k] = int64(binary.LittleEndian.Uint32(b))
			case typeInt16:
				c.i[k] = int64(int16(binary.LittleEndian.Uint16(b)))
			case typeUint16:
				c.i[k] = int64(binary.LittleEndian.Uint16(b))
			case typeInt8:
				c.i[k] = int64(int8(b[0]))
			case typeUint8, typeBool:
				c.i[k] = int64(b[0])
			}
		}
		return c, nil
	}
	switch t.dataType {
	case typeFloat:
		if len(t.floats) != n {
			return nil, bad(len(t.floats))
		}
		c.f = append([]float32{}, t.floats...)
	case typeDouble:
		if len(t.doubles) != n {
			return nil, bad(len(t.doubles))
		}
		c.f = make([]float32, n)
		for k, v := range t.doubles {
			c.f[k] = float32(v)
		}
	case typeFloat16, typeBfloat16:
		if len(t.int32s) != n {
			return nil, bad(len(t.int32s))
		}
		c.f = make([]float32, n)
		for k, v := range t.int32s {
			if t.dataType == typeFloat16 {
				c.f[k] = format.Float16From(uint16(v))
			} else {
				c.f[k] = math.Float32frombits(uint32(uint16(v)) << 16)
			}
		}
	case typeInt64:
		if len(t.int64s) != n {
			return nil, bad(len(t.int64s))
		}
		c.i = append([]int64{}, t.int64s...)
	case typeUint64, typeUint32:
		if len(t.uint64s) != n {
			return nil, bad(len(t.uint64s))
		}
		c.i = make([]int64, n)
		for k, v := range t.uint64s {
			c.i[k] = int64(v)
		}
	default:
		if len(t.int32s) != n {
			return nil, bad(len(t.int32s))
		}
		c.i = make([]int64, n)
		for k, v := range t.int32s {
			c.i[k] = int64(int32(v))
		}
	}
	if c.float && c.f == nil {
		c.f = []float32{}
	}
	if !c.float && c.i == nil {
		c.i = []int64{}
	}
	return c, nil
}

// strides returns row-major strides for dims.
func strides(dims []int64) []int64 {
	s := make([]int64, len(dims))
	acc := int64(1)
	for k := len(dims) - 1; k >= 0; k-- {
		s[k] = acc
		acc *= dims[k]
	}
	return s
}

// take builds a constant of the given dims from c's elements at idx.
func (c *constant) take(dims []int64, idx []int64) *constant {
	out := &constant{dims: dims, float: c.float}
	if c.float {
		out.f = make([]float32, len(idx))
		for k, j := range idx {
			out.f[k] = c.f[j]
		}
	} else {
		out.i = make([]int64, len(idx))
		for k, j := range idx {
			out.i[k] = c.i[j]
		}
	}
	return out
}

// gatherIndex walks every multi-index of out dims and maps it through src,
// a function from an output multi-index to an input flat index.
func gatherIndex(dims []int64, src func(ix []int64) int64) ([]int64, error) {
	n, err := elements(dims, maxFolded)
	if err != nil {
		return nil, err
	}
	idx := make([]int64, 0, n)
	ix := make([]int64, len(dims))
	for k := int64(0); k < n; k++ {
		idx = append(idx, src(ix))
		for a := len(dims) - 1; a >= 0; a-- {
			ix[a]++
			if ix[a] < dims[a] {
				break
			}
			ix[a] = 0
		}
	}
	return idx, nil
}

// normAxis maps a possibly negative axis onto [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < 0 {
		axis += int64(rank)
	}
	if axis < 0 || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d out of range for rank %d", axis, rank)
	}
	return int(axis), nil
}

func foldGather(data, ind *constant, axis int64) (*constant, error) {
	if len(data.dims) == 0 {
		return nil, fmt.Errorf("gather from a scalar")
	}
	ax, err := normAxis(axis, len(data.dims))
	if err != nil {
		return nil, err
	}
	if len(data.dims)+len(ind.dims)-1 > MaxRank {
		return nil, fmt.Errorf("result rank too high")
	}
	indices := ind.ints()
	for k, v := range indices {
		if v < 0 {
			v += data.dims[ax]
		}
		if v < 0 || v >= data.dims[ax] {
			return nil, fmt.Errorf("index %d out of range for dimension %d", indices[k], data.dims[ax])
		}
	}
	var dims []int64
	dims = append(dims, data.dims[:ax]...)
	dims = append(dims, ind.dims...)
	dims = append(dims, data.dims[ax+1:]...)
	st := strides(data.dims)
	ist := strides(ind.dims)
	r := len(ind.dims)
	idx, err := gatherIndex(dims, func(ix []int64) int64 {
		var off int64
		for a := 0; a < ax; a++ {
			off += ix[a] * st[a]
		}
		var flat int64
		for a := 0; a < r; a++ {
			flat += ix[ax+a] * ist[a]
		}
		v := indices[flat]
		if v < 0 {
			v += data.dims[ax]
		}
		off += v * st[ax]
		for a := ax + 1; a < len(data.dims); a++ {
			off += ix[a+r-1] * st[a]
		}
		return off
	})
	if err != nil {
		return nil, err
	}
	return data.take(dims, idx), nil
}

func foldConcat(cs []*constant, axis int64) (*constant, error) {
	if len(cs) == 0 {
		return nil, fmt.Errorf("concat of nothing")
	}
	rank := len(cs[0].dims)
	ax, err := normAxis(axis, rank)
	if err != nil {
		return nil, err
	}
	dims := append([]int64{}, cs[0].dims...)
	dims[ax] = 0
	for _, c := range cs {
		if len(c.dims) != rank || c.float != cs[0].float {
			return nil, fmt.Errorf("concat of tensors of different rank or type")
		}
		for a := range c.dims {
			if a != ax && c.dims[a] != cs[0].dims[a] {
				return nil, fmt.Errorf("concat of shapes %v and %v", cs[0].dims, c.dims)
			}
		}
		dims[ax] += c.dims[ax]
	}
	if _, err := elements(dims, maxFolded); err != nil {
		return nil, err
	}
	out := &constant{dims: dims, float: cs[0].float}
	outer := int64(1)
	for _, d := range dims[:ax] {
		outer *= d
	}
	for o := int64(0); o < outer; o++ {
		for _, c := range cs {
			chunk := int64(c.size()) / max(outer, 1)
			if c.float {
				out.f = append(out.f, c.f[o*chunk:(o+1)*chunk]...)
			} else {
				out.i = append(out.i, c.i[o*chunk:(o+1)*chunk]...)
			}
		}
	}
	if out.float && out.f == nil {
		out.f = []float32{}
	}
	if !out.float && out.i == nil {
		out.i = []int64{}
	}
	return out, nil
}

func foldSlice(data *constant, starts, ends, axes, steps []int64) (*constant, error) {
	rank := len(data.dims)
	if len(starts) != len(ends) || (axes != nil && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
		return nil, fmt.Errorf("slice: starts, ends, axes and steps differ in length")
	}
	begin := make([]int64, rank)
	step := make([]int64, rank)
	dims := append([]int64{}, data.dims...)
	for a := range step {
		step[a] = 1
	}
	seen := map[int]bool{}
	for k := range starts {
		ax := int64(k)
		if axes != nil {
			ax = axes[k]
		}
		a, err := normAxis(ax, rank)
		if err != nil {
			return nil, err
		}
		if seen[a] {
			return nil, fmt.Errorf("slice: axis %d twice", a)
		}
		seen[a] = true
		st := int64(1)
		if steps != nil {
			st = steps[k]
		}
		if st == 0 {
			return nil, fmt.Errorf("slice: step 0")
		}
		d := data.dims[a]
		s, e := starts[k], ends[k]
		if s < 0 {
			s = max(s, -d) + d // avoids overflow on huge negatives
		}
		if e < 0 {
			e = max(e, -d-1) + d
		}
		if st > 0 {
			s, e = min(max(s, 0), d), min(max(e, 0), d)
			dims[a] = max(0, (e-s+st-1)/st)
		} else {
			s, e = min(max(s, 0), d-1), min(max(e, -1), d-1)
			dims[a] = max(0, (s-e+(-st)-1)/(-st))
		}
		begin[a], step[a] = s, st
	}
	st := strides(data.dims)
	idx, err := gatherIndex(dims, func(ix []int64) int64 {
		var off int64
		for a := range ix {
			off += (begin[a] + ix[a]*step[a]) * st[a]
		}
		return off
	})
	if err != nil {
		return nil, err
	}
	return data.take(dims, idx), nil
}

func foldTranspose(data *constant, perm []int64) (*constant, error) {
	rank := len(data.dims)
	if perm == nil {
		for a := rank - 1; a >= 0; a-- {
			perm = append(perm, int64(a))
		}
	}
	if len(perm) != rank {
		return nil, fmt.Errorf("transpose: perm %v for rank %d", perm, rank)
	}
	seen := make([]bool, rank)
	dims := make([]int64, rank)
	for a, p := range perm {
		if p < 0 || p >= int64(rank) || seen[p] {
			return nil, fmt.Errorf("transpose: bad perm %v", perm)
		}
		seen[p] = true
		dims[a] = data.dims[p]
	}
	st := strides(data.dims)
	idx, err := gatherIndex(dims, func(ix []int64) int64 {
		var off int64
		for a := range ix {
			off += ix[a] * st[perm[a]]
		}
		return off
	})
	if err != nil {
		return nil, err
	}
	return data.take(dims, idx), nil
}

// reshapeDims applies ONNX Reshape's rules (0 copies, -1 infers) to in.
func reshapeDims(in []int64, shape []int64, allowZero bool) ([]int64, error) {
	if len(shape) > MaxRank {
		return nil, fmt.Errorf("reshape to rank %d", len(shape))
	}
	n, err := elements(in, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(shape))
	infer := -1
	known := int64(1)
	for a, d := range shape {
		switch {
		case d == 0 && !allowZero:
			if a >= len(in) {
				return nil, fmt.Errorf("reshape: 0 at axis %d of a rank %d input", a, len(in))
			}
			d = in[a]
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("reshape: more than one -1 in %v", shape)
			}
			infer = a
			continue
		case d < 0:
			return nil, fmt.Errorf("reshape: bad dimension %d", d)
		}
		out[a] = d
		if d > 0 && known > math.MaxInt64/d {
			return nil, fmt.Errorf("reshape: shape %v too large", shape)
		}
		known *= d
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			return nil, fmt.Errorf("reshape: cannot infer -1 reshaping %v to %v", in, shape)
		}
		out[infer] = n / known
		known = n
	}
	if known != n {
		return nil, fmt.Errorf("reshape: %v to %v changes the number of elements", in, shape)
	}
	return out, nil
}

// foldArith folds Add, Sub, Mul and Div when the shapes are equal or one
// side has a single element.
func foldArith(op string, a, b *constant) (*constant, error) {
	if a.float != b.float {
		return nil, fmt.Errorf("%s of a float and an integer tensor", op)
	}
	na, nb := a.size(), b.size()
	dims := a.dims
	switch {
	case na == nb && len(a.dims) >= len(b.dims):
	case na == nb:
		dims = b.dims
	case nb == 1:
	case na == 1:
		dims = b.dims
	default:
		return nil, fmt.Errorf("%s of shapes %v and %v: broadcasting is not supported in constant folding", op, a.dims, b.dims)
	}
	n := max(na, nb)
	out := &constant{dims: append([]int64{}, dims...), float: a.float}
	if a.float {
		out.f = make([]float32, n)
	} else {
		out.i = make([]int64, n)
	}
	for k := 0; k < n; k++ {
		ia, ib := min(k, na-1), min(k, nb-1)
		if a.float {
			x, y := a.f[ia], b.f[ib]
			switch op {
			case "Add":
				out.f[k] = x + y
			case "Sub":
				out.f[k] = x - y
			case "Mul":
				out.f[k] = x * y
			case "Div":
				out.f[k] = x / y
			}
			continue
		}
		x, y := a.i[ia], b.i[ib]
		switch op {
		case "Add":
			out.i[k] = x + y
		case "Sub":
			out.i[k] = x - y
		case "Mul":
			out.i[k] = x * y
		case "Div":
			if y == 0 {
				return nil, fmt.Errorf("integer division by zero")
			}
			out.i[k] = x / y
		}
	}
	return out, nil
}

func foldCast(c *constant, to int64) (*constant, error) {
	out := &constant{dims: append([]int64{}, c.dims...)}
	switch to {
	case typeFloat, typeDouble, typeFloat16, typeBfloat16:
		out.float = true
		if c.float {
			out.f = append([]float32{}, c.f...)
		} else {
			out.f = make([]float32, len(c.i))
			for k, v := range c.i {
				out.f[k] = float32(v)
			}
		}
		if to == typeFloat16 {
			for k, v := range out.f {
				out.f[k] = format.Float16From(format.Float16Bits(v))
			}
		}
	case typeInt64, typeInt32, typeInt16, typeInt8, typeUint8, typeUint16, typeUint32, typeUint64, typeBool:
		if c.float {
			out.i = make([]int64, len(c.f))
			for k, v := range c.f {
				if math.IsNaN(float64(v)) || math.Abs(float64(v)) > 1<<62 {
					return nil, fmt.Errorf("cast of %v to an integer", v)
				}
				out.i[k] = int64(v)
			}
		} else {
			out.i = append([]int64{}, c.i...)
		}
		if to == typeBool {
			for k, v := range out.i {
				if v != 0 {
					out.i[k] = 1
				}
			}
		}
	default:
		return nil, fmt.Errorf("cast to data type %d is not supported", to)
	}
	return out, nil
}
