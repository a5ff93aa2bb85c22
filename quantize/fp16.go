package quantize

import (
	"math"

	"github.com/shrink-ml/shrink/nn"
)

// fp16Round rounds f to the nearest IEEE 754 binary16 value (ties to even)
// and returns it as float32. Magnitudes beyond the largest half (65504)
// saturate to ±65504 so that scales stay finite.
func fp16Round(f float32) float32 {
	v := fp16From(fp16Bits(f))
	if math.IsInf(float64(v), 0) && !math.IsInf(float64(f), 0) {
		return float32(math.Copysign(65504, float64(f)))
	}
	return v
}

// fp16Bits converts f to binary16 bits, round to nearest even.
func fp16Bits(f float32) uint16 { return nn.Float16Bits(f) }

// fp16From converts binary16 bits to float32 exactly.
func fp16From(h uint16) float32 { return nn.Float16From(h) }
