package onnx

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/shrink-ml/shrink/nn"
	"github.com/shrink-ml/shrink/quantize"
)

// quantizedCNN imports the PyTorch CNN fixture (conv, pools, flatten of an
// image, dense) and quantizes its weights with scheme s (nil: int8 per
// channel) and the given activation quantization, by hand (no calibration):
// layer k gets the range [-k, 2+k] so zero points differ from 0.
func quantizedCNN(t testing.TB, s quantize.Scheme, mode nn.ActMode) *nn.Model {
	t.Helper()
	m, _, err := ReadFile("../../testdata/onnx/cnn.onnx")
	require.NoError(t, err)
	if s == nil {
		s = quantize.Int8{}
	}
	k := 0
	for _, l := range m.Layers {
		a, ok := l.(nn.Accelerated)
		if !ok {
			continue
		}
		w := a.Weight()
		q := s.Quantize(w.W, w.Shape[0], w.Shape[1])
		quantize.Dequantize(q, w.W)
		switch mode {
		case nn.ActStatic:
			q.Act = nn.ActParams(float32(-k), float32(2+k))
		case nn.ActDynamic:
			q.Act = nn.ActQuant{Mode: nn.ActDynamic}
		}
		w.Quant = q
		k++
	}
	m.Prepare()
	return m
}

// decoded indexes an exported graph.
type decoded struct {
	nodes map[string]*node     // by first output
	named map[string]*node     // by name
	inits map[string]*constant // by name
	types map[string]int64     // initializer data types
	ops   map[string]int       // operator counts
}

func decodeExport(t *testing.T, b []byte) decoded {
	t.Helper()
	pm, err := decodeModel(b)
	require.NoError(t, err)
	d := decoded{nodes: map[string]*node{}, named: map[string]*node{}, inits: map[string]*constant{}, types: map[string]int64{}, ops: map[string]int{}}
	for _, n := range pm.graph.nodes {
		d.nodes[n.outputs[0]] = n
		d.named[n.name] = n
		d.ops[n.opType]++
	}
	for _, it := range pm.graph.initializers {
		c, err := toConstant(it)
		require.NoError(t, err, it.name)
		d.inits[it.name], d.types[it.name] = c, it.dataType
	}
	return d
}

func TestExportQDQ(t *testing.T) {
	m := quantizedCNN(t, nil, nn.ActStatic)
	b, rep, err := ExportReport(m, ExportOptions{})
	require.NoError(t, err)
	d := decodeExport(t, b)
	fb, err := Export(m, ExportOptions{Float: true})
	require.NoError(t, err)
	fd := decodeExport(t, fb)
	require.Zero(t, fd.ops["DequantizeLinear"]+fd.ops["QuantizeLinear"], "Float: no QDQ")

	var layers []string
	for _, l := range m.Layers {
		a, ok := l.(nn.Accelerated)
		if !ok {
			continue
		}
		name := l.Name()
		layers = append(layers, name)
		q := a.Weight().Quant
		n := d.named[name]
		require.NotNil(t, n, name)
		require.Contains(t, []string{"Gemm", "Conv"}, n.opType)

		// Weight: INT8 codes through DequantizeLinear on axis 0.
		dq := d.nodes[n.inputs[1]]
		require.NotNil(t, dq, name)
		require.Equal(t, "DequantizeLinear", dq.opType)
		require.EqualValues(t, 0, dq.attrInt("axis", 1), name)
		require.Equal(t, []string{name + ".weight_quantized", name + ".weight_scale", name + ".weight_zero_point"}, dq.inputs)
		codes, scales, zeros := d.inits[dq.inputs[0]], d.inits[dq.inputs[1]], d.inits[dq.inputs[2]]
		require.EqualValues(t, typeInt8, d.types[dq.inputs[0]])
		require.EqualValues(t, typeFloat, d.types[dq.inputs[1]])
		require.EqualValues(t, typeInt8, d.types[dq.inputs[2]])
		require.Equal(t, q.Scales, scales.f, name)
		require.Equal(t, []int64{int64(q.Rows)}, scales.dims)
		require.Equal(t, make([]int64, q.Rows), zeros.i)
		require.Equal(t, []int64{int64(q.Rows)}, zeros.dims)
		require.Len(t, codes.i, len(q.Codes))
		// The codes are laid out as the float export's weight: code · scale
		// (axis 0) reproduces it exactly.
		fw := fd.inits[name+".weight"]
		require.Equal(t, fw.dims, codes.dims, name)
		per := len(codes.i) / q.Rows
		for i, c := range codes.i {
			require.Equal(t, fw.f[i], float32(c)*q.Scales[i/per], "%s[%d]", name, i)
		}

		// Input: QuantizeLinear → DequantizeLinear with the calibrated
		// uint8 scale and zero point.
		in := d.nodes[n.inputs[0]]
		require.Equal(t, "DequantizeLinear", in.opType, name)
		ql := d.nodes[in.inputs[0]]
		require.Equal(t, "QuantizeLinear", ql.opType, name)
		require.Equal(t, ql.inputs[1:], in.inputs[1:])
		s, z := d.inits[ql.inputs[1]], d.inits[ql.inputs[2]]
		require.Equal(t, []float32{q.Act.Scale}, s.f)
		require.Empty(t, s.dims)
		require.EqualValues(t, typeUint8, d.types[ql.inputs[2]])
		require.Equal(t, []int64{int64(q.Act.Zero)}, z.i)
	}
	require.Equal(t, layers, rep.QDQWeights)
	require.Equal(t, layers, rep.QDQActivations)
	require.Empty(t, rep.FloatWeights)
	require.Empty(t, rep.Notes)
	require.Equal(t, 2*len(layers), d.ops["DequantizeLinear"])
	require.Equal(t, len(layers), d.ops["QuantizeLinear"])

	// Import of the QDQ graph: float32 with the dequantized weights, the
	// same model as the float export.
	qm, info, err := Import(b)
	require.NoError(t, err)
	require.Len(t, info.Notes, 2)
	fm, _, err := Import(fb)
	require.NoError(t, err)
	x := nn.NewTensor(7, m.Input)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range x.Data {
		x.Data[i] = r.Float32()
	}
	require.Equal(t, fm.Infer(x).Data, qm.Infer(x).Data)
}

func TestExportQDQVariants(t *testing.T) {
	// Per-tensor scale: a scalar, no axis.
	m := quantizedCNN(t, quantize.Int8{PerTensor: true}, nn.ActNone)
	b, rep, err := ExportReport(m, ExportOptions{})
	require.NoError(t, err)
	d := decodeExport(t, b)
	require.Len(t, rep.QDQWeights, 4)
	require.Empty(t, rep.QDQActivations, "weight-only: no activation QDQ")
	require.Zero(t, d.ops["QuantizeLinear"])
	for _, name := range rep.QDQWeights {
		dq := d.nodes[name+".weight"]
		require.Nil(t, dq.attr("axis"))
		require.Empty(t, d.inits[name+".weight_scale"].dims)
		require.Len(t, d.inits[name+".weight_scale"].f, 1)
	}

	// Dynamic activations: DynamicQuantizeLinear → DequantizeLinear for
	// codes 0..255, the range computation spelt out for 7-bit codes.
	m = quantizedCNN(t, nil, nn.ActDynamic)
	b, rep, err = ExportReport(m, ExportOptions{})
	require.NoError(t, err)
	d = decodeExport(t, b)
	if dynamicQmax() == 255 {
		require.Equal(t, 4, d.ops["DynamicQuantizeLinear"])
	} else {
		require.Equal(t, 4, d.ops["QuantizeLinear"])
		require.Equal(t, 4, d.ops["ReduceMax"])
	}
	require.Len(t, rep.QDQActivations, 4)
	require.NotEmpty(t, rep.Notes)
	for _, qmax := range []int{127, 255} {
		e := &exporter{names: map[string]bool{"input": true}, x: "input", rep: &Report{}}
		e.dynamicQDQ("fc", qmax)
		require.Equal(t, "fc.input_dequantized", e.x)
		require.Equal(t, "DequantizeLinear", e.nodes[len(e.nodes)-1].opType)
	}

	// Schemes without a QDQ form: dequantized float weights and a note.
	for _, s := range []quantize.Scheme{quantize.Q4_0{}, quantize.Int4{Block: 32}, quantize.FP16{}, quantize.Codebook{K: 16}} {
		m = quantizedCNN(t, s, nn.ActNone)
		b, rep, err = ExportReport(m, ExportOptions{})
		require.NoError(t, err, s.String())
		d = decodeExport(t, b)
		// int4 in blocks of 32: a layer with at most 32 values per row
		// has one scale per row, an exact QDQ form.
		require.Equal(t, len(rep.QDQWeights), d.ops["DequantizeLinear"], s.String())
		require.Len(t, rep.FloatWeights, 4-len(rep.QDQWeights), s.String())
		if _, ok := s.(quantize.Int4); !ok {
			require.Empty(t, rep.QDQWeights, s.String())
		}
		require.Len(t, rep.Notes, 1, s.String())
		qdq := map[string]bool{}
		for _, n := range rep.QDQWeights {
			qdq[n] = true
		}
		for _, l := range m.Layers {
			if a, ok := l.(nn.Accelerated); ok && !qdq[l.Name()] {
				w := d.inits[l.Name()+".weight"]
				require.EqualValues(t, typeFloat, d.types[l.Name()+".weight"])
				require.ElementsMatch(t, a.Weight().W, w.f, "the dequantized values, in ONNX order")
			}
		}
	}
}

// qdqSeed is a QDQ export of the quantized CNN fixture, a fuzzing seed.
func qdqSeed(tb testing.TB) []byte {
	b, err := Export(quantizedCNN(tb, nil, nn.ActStatic), ExportOptions{})
	require.NoError(tb, err)
	return b
}
