// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// QuAILoRA's alternation in its numerically stable form (algorithms.md §5.2–5.4).
///
/// The paper alternates exact block minimisations of `f(A, B) = tr((E − ABᵀ)·Hλ·(E − ABᵀ)ᵀ)`:
/// `A ← E·Hλ·B·(Bᵀ·Hλ·B)⁻¹`, then `Bᵀ ← (AᵀA)⁻¹·Aᵀ·E`. After each B-step the product is the projection
/// `P_A·E`, and substituting one step into the next gives `range(A') = range(G·A)` with `G = E·Hλ·Eᵀ`: block
/// power iteration. Running it as `U ← orth(G·U)` (Householder QR) yields the same products step by step
/// without forming `(BᵀHλB)⁻¹` or `(AᵀA)⁻¹`, so a singular `H` or a rank-deficient iterate cannot break it.
/// Every step is an exact block minimisation, so `f` never increases.
enum SubspaceIteration {
    /// Runs `steps` alternations from `start` and returns the final subspace and the objective
    /// `f = tr(G) − tr(Uᵀ·G·U)` at the start and after every step.
    static func run(
        _ e: DoubleMatrix, damped h: DoubleMatrix, start: SubspaceProjection, steps: Int
    ) throws(LinearAlgebraError) -> (projection: SubspaceProjection, history: [Double]) {
        let (out, inner, rank) = (e.rows, e.columns, start.basis.columns)
        let k = BLAS.multiply(e, h)  // E·Hλ
        let totalEnergy = k.dot(e)  // tr(G)
        // G·U either from a precomputed G (out² per step after out²·in once) or as K·(Eᵀ·U)
        // (2·out·in per step): pick the cheaper for this shape and step count.
        let applications = steps + 1
        let precompute = out * inner + applications * out * rank < 2 * applications * inner * rank
        let g = precompute ? BLAS.multiply(k, e, transposeB: true) : nil
        func applyG(_ u: DoubleMatrix) -> DoubleMatrix {
            if let g { return BLAS.multiply(g, u) }
            return BLAS.multiply(k, BLAS.multiply(e, u, transposeA: true))
        }
        var projection = start
        var image = applyG(projection.basis)
        var history = [totalEnergy - projection.basis.dot(image)]
        for _ in 0..<steps {
            projection = try SubspaceProjection(spanning: image)
            image = applyG(projection.basis)
            history.append(totalEnergy - projection.basis.dot(image))
        }
        return (projection, history)
    }
}
