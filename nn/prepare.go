package nn

// AccelBuilder inspects a dense or convolution layer and returns the
// inference path it should run on (integer, sparse), or nil to keep the
// float32 GEMM. Builders register in init functions of the files that
// implement the paths; Prepare tries them by Priority, lowest first.
type AccelBuilder struct {
	Name     string
	Priority int
	Build    func(l Accelerated) Accel
}

var accelBuilders []AccelBuilder

// RegisterAccel adds a builder used by Prepare. It is meant for init
// functions in this package.
func RegisterAccel(b AccelBuilder) {
	i := len(accelBuilders)
	for i > 0 && accelBuilders[i-1].Priority > b.Priority {
		i--
	}
	accelBuilders = append(accelBuilders, AccelBuilder{})
	copy(accelBuilders[i+1:], accelBuilders[i:])
	accelBuilders[i] = b
}

// Prepare chooses each dense and convolution layer's inference path from
// how its weights are held (quantized codes, sparsity): the first builder
// that returns a path wins; layers no builder claims run the float32 GEMM.
// Call it after loading a model or after a pass changes its weights.
func (m *Model) Prepare() {
	for _, l := range m.Layers {
		a, ok := l.(Accelerated)
		if !ok {
			continue
		}
		a.SetAccel(nil)
		for _, b := range accelBuilders {
			if acc := b.Build(a); acc != nil {
				a.SetAccel(acc)
				break
			}
		}
	}
}

// Paths lists each layer's inference path by name ("float32" when none).
func (m *Model) Paths() map[string]string {
	out := map[string]string{}
	for _, l := range m.Layers {
		if a, ok := l.(Accelerated); ok {
			if acc := a.Accel(); acc != nil {
				out[l.Name()] = acc.Name()
			} else {
				out[l.Name()] = "float32"
			}
		}
	}
	return out
}
