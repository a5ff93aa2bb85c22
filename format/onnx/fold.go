package onnx

import (
	"fmt"

	"github.com/shrink-ml/shrink/budget"
)

// fold computes a node whose inputs are all constant (or Shape of an
// activation, whose shape is fixed once the input's is), and charges the
// bytes of a new result to the import's folding budget.
func (im *importer) fold(n *node) (*constant, error) {
	c, err := im.foldNode(n)
	if err != nil {
		return nil, err
	}
	for k := range n.inputs {
		if v := im.in(n, k); v != nil && v.c != nil && sameData(v.c, c) {
			return c, nil // a view of an input (Identity, Reshape, …): nothing new
		}
	}
	if err := im.charge(bytesOf(c)); err != nil {
		return nil, err
	}
	return c, nil
}

// bytesOf is the memory a constant's values take.
func bytesOf(c *constant) int64 {
	if c.float {
		return 4 * int64(len(c.f))
	}
	return 8 * int64(len(c.i))
}

// sameData reports whether two constants share their values' memory.
func sameData(a, b *constant) bool {
	switch {
	case a.float && b.float && len(a.f) > 0 && len(b.f) > 0:
		return &a.f[0] == &b.f[0]
	case !a.float && !b.float && len(a.i) > 0 && len(b.i) > 0:
		return &a.i[0] == &b.i[0]
	}
	return false
}

// afford checks that bytes more of folded constants fit the budget,
// before they are allocated.
func (im *importer) afford(bytes int64) error {
	return im.budget.CheckFolded(budget.Add(im.foldedBytes, bytes), "constants folded at import")
}

// charge adds bytes to the folded constants, failing beyond the budget.
func (im *importer) charge(bytes int64) error {
	if err := im.afford(bytes); err != nil {
		return err
	}
	im.foldedBytes += bytes
	return nil
}

// foldNode computes the constant value of n.
func (im *importer) foldNode(n *node) (*constant, error) {
	cin := func(k int) (*constant, error) {
		v := im.in(n, k)
		if v == nil {
			return nil, nil
		}
		if v.c == nil {
			return nil, unsupported("input %d must be constant", k)
		}
		return v.c, nil
	}
	need := func(k int) (*constant, error) {
		c, err := cin(k)
		if err == nil && c == nil {
			err = fmt.Errorf("%w: missing input %d", ErrCorrupt, k)
		}
		return c, err
	}
	wrap := func(c *constant, err error) (*constant, error) {
		if err != nil {
			return nil, unsupported("%v", err)
		}
		return c, nil
	}
	switch n.opType {
	case "Constant":
		for _, a := range n.attrs {
			switch a.name {
			case "value":
				if a.t == nil {
					return nil, fmt.Errorf("%w: Constant value without a tensor", ErrCorrupt)
				}
				c, err := toConstant(a.t)
				if err != nil {
					return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
				}
				return c, nil
			case "value_float":
				return &constant{float: true, f: []float32{a.f}}, nil
			case "value_floats":
				return &constant{dims: []int64{int64(len(a.floats))}, float: true, f: append([]float32{}, a.floats...)}, nil
			case "value_int":
				return &constant{i: []int64{a.i}}, nil
			case "value_ints":
				return &constant{dims: []int64{int64(len(a.ints))}, i: append([]int64{}, a.ints...)}, nil
			}
		}
		return nil, unsupported("Constant without a value, value_float(s) or value_int(s)")
	case "Shape":
		v := im.in(n, 0)
		if v == nil {
			return nil, fmt.Errorf("%w: Shape without input", ErrCorrupt)
		}
		dims := v.dims
		if v.c != nil {
			dims = v.c.dims
		}
		r := int64(len(dims))
		start, end := n.attrInt("start", 0), n.attrInt("end", r)
		if start < 0 {
			start += r
		}
		if end < 0 {
			end += r
		}
		start, end = min(max(start, 0), r), min(max(end, 0), r)
		out := &constant{dims: []int64{0}, i: []int64{}}
		if end > start {
			out.i = append(out.i, dims[start:end]...)
			out.dims[0] = end - start
		}
		return out, nil
	case "Identity", "Dropout":
		return need(0)
	case "Gather":
		d, err := need(0)
		if err != nil {
			return nil, err
		}
		ind, err := need(1)
		if err != nil {
			return nil, err
		}
		return wrap(foldGather(d, ind, n.attrInt("axis", 0)))
	case "Unsqueeze", "Squeeze":
		d, err := need(0)
		if err != nil {
			return nil, err
		}
		axes := n.attrInts("axes")
		if im.opset >= 13 {
			a, err := cin(1)
			if err != nil {
				return nil, err
			}
			axes = nil
			if a != nil {
				axes = a.ints()
			}
		}
		return wrap(squeeze(d, axes, n.opType == "Unsqueeze"))
	case "Concat":
		var cs []*constant
		for k := range n.inputs {
			c, err := need(k)
			if err != nil {
				return nil, err
			}
			cs = append(cs, c)
		}
		return wrap(foldConcat(cs, n.attrInt("axis", 0)))
	case "Slice":
		d, err := need(0)
		if err != nil {
			return nil, err
		}
		if im.opset < 10 {
			return wrap(foldSlice(d, n.attrInts("starts"), n.attrInts("ends"), n.attrInts("axes"), nil))
		}
		var args [4][]int64
		for k := 1; k <= 4; k++ {
			c, err := cin(k)
			if err != nil {
				return nil, err
			}
			if c != nil {
				args[k-1] = c.ints()
			} else if k <= 2 {
				return nil, fmt.Errorf("%w: Slice without starts or ends", ErrCorrupt)
			}
		}
		return wrap(foldSlice(d, args[0], args[1], args[2], args[3]))
	case "Cast":
		d, err := need(0)
		if err != nil {
			return nil, err
		}
		return wrap(foldCast(d, n.attrInt("to", 0)))
	case "Reshape":
		d, err := need(0)
		if err != nil {
			return nil, err
		}
		s, err := need(1)
		if err != nil {
			return nil, err
		}
		dims, err := reshapeDims(d.dims, s.ints(), n.attrInt("allowzero", 0) != 0)
		if err != nil {
			return nil, unsupported("%v", err)
		}
		out := *d
		out.dims = dims
		return &out, nil
	case "Transpose":
		d, err := need(0)
		if err != nil {
			return nil, err
		}
		return wrap(foldTranspose(d, n.attrInts("perm")))
	case "ConstantOfShape":
		s, err := need(0)
		if err != nil {
			return nil, err
		}
		dims := s.ints()
		cnt, err := elements(dims, maxFolded)
		if err != nil {
			return nil, unsupported("ConstantOfShape: %v", err)
		}
		fill := &constant{float: true, f: []float32{0}}
		if a := n.attr("value"); a != nil && a.t != nil {
			if fill, err = toConstant(a.t); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			if fill.size() != 1 {
				return nil, fmt.Errorf("%w: ConstantOfShape value has %d elements", ErrCorrupt, fill.size())
			}
		}
		size := int64(8)
		if fill.float {
			size = 4
		}
		if err := im.afford(budget.Mul(cnt, size)); err != nil {
			return nil, err
		}
		out := &constant{dims: append([]int64{}, dims...), float: fill.float}
		if fill.float {
			out.f = make([]float32, cnt)
			for k := range out.f {
				out.f[k] = fill.f[0]
			}
		} else {
			out.i = make([]int64, cnt)
			for k := range out.i {
				out.i[k] = fill.i[0]
			}
		}
		return out, nil
	case "Add", "Sub", "Mul", "Div":
		a, err := need(0)
		if err != nil {
			return nil, err
		}
		b, err := need(1)
		if err != nil {
			return nil, err
		}
		return wrap(foldArith(n.opType, a, b))
	case "DequantizeLinear":
		x, err := need(0)
		if err != nil {
			return nil, err
		}
		sc, err := need(1)
		if err != nil {
			return nil, err
		}
		zp, err := cin(2)
		if err != nil {
			return nil, err
		}
		if n.attrInt("block_size", 0) != 0 {
			return nil, unsupported("blocked DequantizeLinear (block_size)")
		}
		c, err := foldDequantize(x, sc, zp, n.attrInt("axis", 1))
		if err == nil {
			im.dequantized++
		}
		return wrap(c, err)
	}
	return nil, unsupported("%s of constant inputs cannot be folded", n.opType)
}

// foldDequantize computes DequantizeLinear of constant integer codes x with
// a scalar or per-axis scale and optional zero point:
//
//	y = float32(x − zero) · scale   (scale and zero of x's index along axis)
func foldDequantize(x, sc, zp *constant, axis int64) (*constant, error) {
	if x.float {
		return nil, fmt.Errorf("DequantizeLinear of float values")
	}
	if !sc.float {
		return nil, fmt.Errorf("DequantizeLinear with an integer scale")
	}
	if zp != nil && (zp.float || zp.size() != sc.size() || len(zp.dims) != len(sc.dims)) {
		return nil, fmt.Errorf("DequantizeLinear zero point of shape %v for a scale of shape %v", zp.dims, sc.dims)
	}
	out := &constant{dims: append([]int64{}, x.dims...), float: true, f: make([]float32, len(x.i))}
	if sc.size() == 1 && len(sc.dims) <= 1 {
		var z int64
		if zp != nil {
			z = zp.i[0]
		}
		for k, v := range x.i {
			out.f[k] = float32(v-z) * sc.f[0]
		}
		return out, nil
	}
	ax, err := normAxis(axis, len(x.dims))
	if err != nil {
		return nil, err
	}
	if len(sc.dims) != 1 || sc.dims[0] != x.dims[ax] {
		return nil, fmt.Errorf("DequantizeLinear scale of shape %v for axis %d of %v", sc.dims, axis, x.dims)
	}
	inner := int64(1)
	for _, d := range x.dims[ax+1:] {
		inner *= d
	}
	for k, v := range x.i {
		c := (int64(k) / inner) % x.dims[ax]
		var z int64
		if zp != nil {
			z = zp.i[c]
		}
		out.f[k] = float32(v-z) * sc.f[c]
	}
	return out, nil
}

// squeeze implements Unsqueeze (insert=true) and Squeeze on constants.
func squeeze(d *constant, axes []int64, insert bool) (*constant, error) {
	out := *d
	if insert {
		rank := len(d.dims) + len(axes)
		if rank > MaxRank {
			return nil, fmt.Errorf("unsqueeze to rank %d", rank)
		}
		at := make([]bool, rank)
		for _, a := range axes {
			ax, err := normAxis(a, rank)
			if err != nil {
				return nil, err
			}
			if at[ax] {
				return nil, fmt.Errorf("unsqueeze: axis %d twice", ax)
			}
			at[ax] = true
		}
		out.dims = make([]int64, 0, rank)
		k := 0
		for a := 0; a < rank; a++ {
			if at[a] {
				out.dims = append(out.dims, 1)
			} else {
				out.dims = append(out.dims, d.dims[k])
				k++
			}
		}
		return &out, nil
	}
	drop := make([]bool, len(d.dims))
	for _, a := range axes {
		ax, err := normAxis(a, len(d.dims))
		if err != nil {
			return nil, err
		}
		if d.dims[ax] != 1 {
			return nil, fmt.Errorf("squeeze of axis %d of size %d", ax, d.dims[ax])
		}
		drop[ax] = true
	}
	out.dims = nil
	for a, v := range d.dims {
		if drop[a] || (axes == nil && v == 1) {
			continue
		}
		out.dims = append(out.dims, v)
	}
	return &out, nil
}
