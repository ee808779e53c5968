// SPDX-License-Identifier: Apache-2.0

/// Sixteen-lane `exp` for the softmax, SiLU and log-softmax kernels (sixteen lanes keep several independent
/// polynomial chains in flight on SSE and AVX alike).
///
/// Cephes `expf` scheme: `x = n·ln2 + r` with `|r| ≤ ln2/2` (ln2 split in a high and a low part), a degree-6
/// polynomial for `eʳ`, and `2ⁿ` built in the exponent bits. Relative error is about 2 ulp over the normal range;
/// inputs below −87.3 (including −∞) give 0, inputs above 88.37 give +∞ (a hair below the F32 limit 88.72).
public enum VectorMath {
    /// `eˣ` of every lane.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        var clamped = x
        clamped.replace(with: -87.3, where: x .< -87.3)
        clamped.replace(with: 88.37, where: x .> 88.37)
        // Adding 1.5·2²³ rounds to an integer (ties to even) and leaves it in the low mantissa bits.
        let shifted = clamped * 1.442_695_04 + 12_582_912
        let n = shifted - 12_582_912
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p: SIMD16<Float> = SIMD16(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 1.666_666_55e-1
        p = p * r + 5.000_000_1e-1
        p = p * r * r + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        var result = p * unsafeBitCast(exponent, to: SIMD16<Float>.self)
        result.replace(with: 0, where: x .< -87.3)
        result.replace(with: .infinity, where: x .> 88.37)
        return result
    }

    /// `exp` of one value through the vector path (for loop tails), so every element gets the same rounding.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        exp(SIMD16(repeating: x))[0]
    }
}
