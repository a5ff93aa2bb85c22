package format

import "github.com/shrink-ml/shrink/nn"

// Float16Bits converts f to IEEE 754 binary16 bits, round to nearest even
// (see nn.Float16Bits, the one implementation).
func Float16Bits(f float32) uint16 { return nn.Float16Bits(f) }

// Float16From converts IEEE 754 binary16 bits to float32 exactly.
func Float16From(h uint16) float32 { return nn.Float16From(h) }
