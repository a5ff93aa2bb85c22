package nn

// Accel is an alternative inference implementation of a dense or
// convolution layer's matrix product: an integer path for quantized weights
// or a sparse kernel for pruned ones. When a layer has an Accel, Infer uses
// it; training (Forward/Backward) always uses the float32 weights, which
// hold exactly the values the Accel encodes.
type Accel interface {
	// Run computes y (n, out) = x (n, in) · Wᵀ + b, then ReLU when relu is
	// set. x and y are row-major with rows of in and out values. It must be
	// safe for concurrent use.
	Run(n int, x, y []float32, relu bool)
	// Name says which path runs ("int8", "sparse", …), for reports.
	Name() string
}

// Accelerated is a layer that can run through an Accel.
type Accelerated interface {
	Layer
	// Weight is the layer's (out, in) weight parameter.
	Weight() *Param
	// Bias is the layer's bias parameter.
	Bias() *Param
	// SetAccel installs (or, with nil, removes) the inference path.
	SetAccel(a Accel)
	// Accel returns the installed inference path, or nil.
	Accel() Accel
}

// Weight implements Accelerated.
func (d *Dense) Weight() *Param { return d.W }

// Bias implements Accelerated.
func (d *Dense) Bias() *Param { return d.B }

// SetAccel implements Accelerated.
func (d *Dense) SetAccel(a Accel) { d.accel = a }

// Accel implements Accelerated.
func (d *Dense) Accel() Accel { return d.accel }

// Weight implements Accelerated. The convolution's weight is (F, KH·KW·C)
// and its input rows are im2col patches.
func (c *Conv2D) Weight() *Param { return c.W }

// Bias implements Accelerated.
func (c *Conv2D) Bias() *Param { return c.B }

// SetAccel implements Accelerated.
func (c *Conv2D) SetAccel(a Accel) { c.accel = a }

// Accel implements Accelerated.
func (c *Conv2D) Accel() Accel { return c.accel }
