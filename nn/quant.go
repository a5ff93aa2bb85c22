package nn

// Quant holds a weight tensor's quantized form: integer codes and the
// parameters that map them back to real values. The owning Param's W holds
// exactly the dequantized values, so float paths, accounting and integer
// paths agree. The quantize package creates it; the format package stores it.
type Quant struct {
	Scheme string // stable scheme name from the quantize package's table
	Bits   int    // bits per code
	Rows   int    // output channels (first dimension of the weight)
	Cols   int    // values per row
	Block  int    // codes per scale group along a row (Cols = per channel)
	Codes  []int16
	Scales []float32
	Zeros  []float32 // asymmetric schemes: per-group zero point; nil when symmetric
	// Codebook, for weight sharing: value = Codebook[code].
	Codebook []float32
}
