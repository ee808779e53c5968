// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// LoRA factors in PEFT's orientation: the correction to the base weight is `b · a`.
public struct LowRankFactors: Equatable, Sendable {
    /// PEFT `lora_A.weight`: `rank × in`.
    public let a: Matrix
    /// PEFT `lora_B.weight`: `out × rank`.
    public let b: Matrix

    /// Pairs `a` (`rank × in`) with `b` (`out × rank`). Traps if the ranks differ.
    public init(a: Matrix, b: Matrix) {
        precondition(a.rows == b.columns, "factor ranks differ")
        self.a = a
        self.b = b
    }

    /// Both factors zero, so the product is exactly zero.
    ///
    /// PEFT's own default draws `lora_A` at random and zeroes `lora_B`; the product is zero either way.
    public static func zero(rows: Int, columns: Int, rank: Int) -> LowRankFactors {
        LowRankFactors(a: Matrix(zeros: rank, columns), b: Matrix(zeros: rows, rank))
    }

    /// The rank `r`.
    public var rank: Int { a.rows }

    /// The correction `b · a` (`out × in`, float32).
    public func product() -> Matrix { BLAS.multiply(b, a) }

    /// The factors to store for a runtime that multiplies `b · a` by `scale`: both divided by `√scale`,
    /// so that `scale · b' · a' = b · a`.
    ///
    /// Each element is rounded to float32 once; when `scale` is a power of four (α = 16, r = 64 gives
    /// 0.25) `√scale` is a power of two and the split is exact to the bit.
    /// - Throws: ``LowRankInitError/invalidScale(_:)`` unless `scale` is positive and finite.
    public func splittingScale(_ scale: Double) throws(LowRankInitError) -> LowRankFactors {
        guard scale > 0, scale.isFinite else { throw .invalidScale(scale) }
        let divisor = scale.squareRoot()
        func divided(_ m: Matrix) -> Matrix {
            Matrix(rows: m.rows, columns: m.columns, values: m.values.map { Float(Double($0) / divisor) })
        }
        return LowRankFactors(a: divided(a), b: divided(b))
    }
}
