// SPDX-License-Identifier: Apache-2.0

/// The float-to-integer conversions ggml's reference quantizers rely on, reproduced bit for bit.
enum GGMLRounding {
    /// ggml's `nearest_int`: adds 1.5·2^23 and reads the low mantissa bits, which rounds half to even.
    ///
    /// Same as `nearest_int` in ggml-quants.c, including its (unasserted in release builds) results for
    /// magnitudes above 2^22, infinities and NaN.
    @inline(__always)
    static func nearestInt(_ value: Float) -> Int32 {
        let shifted = value + 12_582_912
        return (Int32(bitPattern: shifted.bitPattern) & 0x007F_FFFF) - 0x0040_0000
    }

    /// 1.5·2²³: adding then subtracting it rounds a float below 2²² in magnitude to an integer, ties to even.
    static let roundingShift: Float = 12_582_912

    /// The low byte of an integral float of magnitude at most 2²² (read from the mantissa, no conversion).
    @inline(__always)
    static func integerLowByte(_ integral: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: (integral + roundingShift).bitPattern)
    }

    /// Sixteen float lanes: one per sub-block of a Q6_K super-block.
    typealias Lanes = SIMD16<Float>

    /// Eight float lanes: one per sub-block of a Q4_K or Q5_K super-block.
    typealias Lanes8 = SIMD8<Float>

    /// `fabsf` per lane (clears the sign bit).
    @inline(__always)
    static func magnitude(_ v: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(v, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Lanes.self)
    }

    /// `fabsf` per lane (clears the sign bit).
    @inline(__always)
    static func magnitude(_ v: Lanes8) -> Lanes8 {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Lanes8.self)
    }

    /// ``nearestInt(_:)`` per lane, clamped to `0...top` (`MAX(0, MIN(top, nearest_int(v)))`), for every input.
    @inline(__always)
    static func nearestLevel(_ v: Lanes8, top: Int32) -> SIMD8<Int32> {
        let shifted = v + Lanes8(repeating: roundingShift)
        let l = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) & 0x007F_FFFF) &- 0x0040_0000
        return pointwiseMax(SIMD8(repeating: 0), pointwiseMin(SIMD8(repeating: top), l))
    }

    /// `min(top, trunc(value))` for the level computations of the 32-element quantizers, with NaN and ±inf
    /// giving level 0.
    ///
    /// ggml casts with `(int8_t)`/`(uint8_t)` and numpy with `astype(np.uint8)`; on x86-64 both truncate to a 32-bit
    /// integer (`cvttss2si`, which yields `INT32_MIN` for NaN and infinities) and keep the low byte, so non-finite
    /// values — which arise when `1/d` overflows for blocks of tiny values — become 0. Finite arguments here lie in
    /// [0, top + 1.5] because |x·(1/d)| never exceeds the block's level range, so clamping first is exact. The
    /// computation is branch-free float arithmetic so that the block loops vectorize.
    @inline(__always)
    static func truncatedLevel(_ value: Float, top: UInt8) -> UInt8 {
        let v = value.isFinite ? Swift.min(Swift.max(value, 0), Float(top)) : 0
        let nearest = (v + roundingShift) - roundingShift
        return integerLowByte(nearest > v ? nearest - 1 : nearest)
    }

    /// `roundf(value)` (ties away from zero) as the byte of an `int8_t`, for Q8_0, with NaN and ±inf giving 0.
    ///
    /// Same reasoning as ``truncatedLevel(_:top:)``: ggml's `roundf` result stored into `int8_t` and gguf-py's
    /// `np_roundf(...).astype(np.int8)` both give 0 for non-finite values on x86-64, and finite arguments lie within
    /// ±127.5 (|x·(1/d)| ≤ 127 up to the rounding of `1/d`).
    @inline(__always)
    static func roundedLevel(_ value: Float) -> UInt8 {
        let v = value.isFinite ? Swift.min(Swift.max(value, -255), 255) : 0
        let nearest = (v + roundingShift) - roundingShift
        let awayFromZero = v + (v < 0 ? -0.5 : 0.5)
        return integerLowByte(abs(v - nearest) == 0.5 ? awayFromZero : nearest)
    }
}
