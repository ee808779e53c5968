// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra
import LowRankInit
import TensorCore

/// Seeded random layers for the solver tests.
struct ProblemFactory {
    var rng: SplitMix64

    init(seed: UInt64) { rng = SplitMix64(seed: seed) }

    mutating func gaussian(_ rows: Int, _ columns: Int, scale: Double = 1) -> DoubleMatrix {
        DoubleMatrix(
            rows: rows, columns: columns, values: (0..<(rows * columns)).map { _ in scale * rng.nextGaussian() })
    }

    /// Rounds to a grid of step 1/4: a crude 'quantizer' whose error is not low-rank.
    static func gridQuantize(_ m: Matrix) -> Matrix {
        Matrix(rows: m.rows, columns: m.columns, values: m.values.map { ($0 * 4).rounded() / 4 })
    }

    /// A Gram matrix `XᵀX` of `tokens` activations whose features have scales spanning `spread` decades,
    /// plus one feature-correlated direction: ill-conditioned, and singular when `tokens < columns`.
    mutating func gram(columns: Int, tokens: Int, spread: Double = 3) -> DoubleMatrix {
        var x = gaussian(tokens, columns)
        let shared = (0..<tokens).map { _ in rng.nextGaussian() }
        for j in 0..<columns {
            let scale = pow(10, -spread * Double(j) / Double(max(columns - 1, 1)))
            for t in 0..<tokens { x[t, j] = scale * x[t, j] + 0.5 * shared[t] }
        }
        return BLAS.gram(x, transpose: true)
    }

    /// A layer with a grid-quantized base and an ill-conditioned Gram matrix.
    mutating func problem(rows: Int, columns: Int, tokens: Int) throws -> LowRankInitProblem {
        let w = Matrix(gaussian(rows, columns))
        return try LowRankInitProblem(
            layer: "test.\(rows)x\(columns)", weight: w, base: Self.gridQuantize(w),
            gram: gram(columns: columns, tokens: tokens))
    }
}

/// `tr(R·H·Rᵀ)` and `‖R‖²` of `R = W − base − b·a`, computed directly.
func directErrors(
    _ problem: LowRankInitProblem, _ factors: LowRankFactors, base: Matrix? = nil
) -> (calibrated: Double, weight: Double) {
    let correction = BLAS.multiply(DoubleMatrix(factors.b), DoubleMatrix(factors.a))
    let r = DoubleMatrix(problem.weight).subtracting(DoubleMatrix(base ?? problem.base)).subtracting(correction)
    return (BLAS.multiply(r, problem.gram).dot(r), r.squaredNorm)
}

/// The largest element-wise difference relative to the largest element of `b`.
func relativeDifference(_ a: Matrix, _ b: Matrix) -> Double {
    let scale = b.values.map { abs(Double($0)) }.max() ?? 0
    let diff = zip(a.values, b.values).map { abs(Double($0) - Double($1)) }.max() ?? 0
    return scale > 0 ? diff / scale : diff
}
