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

    /// Truncates toward zero to a 32-bit integer as x86-64 `cvttss2si` does (NaN and out-of-range values give
    /// `Int32.min`), then keeps the low byte.
    ///
    /// This is what both ggml's `(int8_t)`/`(uint8_t)` casts and numpy's `astype(np.uint8)` compile to on x86-64,
    /// so it also defines the result for the non-finite intermediates a block of tiny values produces.
    @inline(__always)
    static func truncatedLowByte(_ value: Float) -> UInt8 {
        let inRange = value >= -2_147_483_648 && value < 2_147_483_648  // false for NaN
        return UInt8(truncatingIfNeeded: inRange ? Int32(value) : Int32.min)
    }
}
