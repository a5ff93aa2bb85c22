package nn

import "math"

// Float16Bits converts f to IEEE 754 binary16, rounding to nearest with ties
// to even. Values too large for half precision become ±Inf, values too small
// become ±0 (or a subnormal), NaN stays NaN, keeping the top 10 payload bits
// (so every half NaN survives Float16From and back).
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		m := uint16(mant >> 13)
		if m == 0 {
			m = 0x200 // payload only in the dropped bits: make it a quiet NaN
		}
		return sign | 0x7c00 | m
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e >= 1 {
		// Normal: keep 10 mantissa bits, round on the 13 dropped. A carry
		// out of the mantissa correctly bumps the exponent (up to Inf).
		h := sign | uint16(e)<<10 | uint16(mant>>13)
		rem := mant & 0x1fff
		if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
			h++
		}
		return h
	}
	// Subnormal or zero: value = m24 × 2^(exp−150) = (m24 >> shift) × 2^−24.
	shift := uint(126 - exp)
	if shift > 24 {
		return sign
	}
	m24 := mant | 0x800000
	h := uint16(m24 >> shift)
	rem := m24 & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && h&1 == 1) {
		h++
	}
	return sign | h
}

// Float16From converts IEEE 754 binary16 bits to float32 (exactly).
func Float16From(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	e := uint32(h>>10) & 0x1f
	m := uint32(h & 0x3ff)
	switch e {
	case 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | m<<13)
	case 0:
		v := float32(m) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (e+112)<<23 | m<<13)
}
