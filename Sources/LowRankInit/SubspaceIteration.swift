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
///
/// Cost: every iterate lies in `range(E)`. For a tall `E` (`out > in`) the iteration is carried out in
/// coordinates of the thin QR `E = Q_E·R`: `G = Q_E·(R·Hλ·Rᵀ)·Q_Eᵀ`, so each step multiplies by the
/// `in × in` matrix `R·Hλ·Rᵀ` instead of applying `E·Hλ·Eᵀ` (an orthogonal change of basis, exact and
/// stable). Otherwise `G` (`out × out`) is formed once. Per step: one `m × m` by `m × r` product and a thin
/// QR, `m = min(out, in)`.
enum SubspaceIteration {
    /// Runs `steps` alternations from `start` and returns the final subspace and the objective
    /// `f = tr(G) − tr(Uᵀ·G·U)` at the start and after every step.
    static func run(
        _ e: DoubleMatrix, damped h: DoubleMatrix, start: SubspaceProjection, steps: Int
    ) throws(LinearAlgebraError) -> (projection: SubspaceProjection, history: [Double]) {
        // `g` is G in the coordinates of `coordinates` (orthonormal columns), or G itself when nil.
        let coordinates: DoubleMatrix?
        let g: DoubleMatrix
        var v: DoubleMatrix
        if e.rows > e.columns {
            let qr = try LAPACK.qrDecomposition(e)
            let rt = qr.r.transposed()  // Rᵀ is lower triangular
            let hrt = BLAS.multiply(h, lowerTriangular: rt)  // Hλ·Rᵀ, and R·Hλ = (Hλ·Rᵀ)ᵀ
            g = BLAS.multiply(hrt.transposed(), lowerTriangular: rt)
            coordinates = qr.q
            v = BLAS.multiply(qr.q, start.basis, transposeA: true)
        } else {
            g = SubspaceProjection.weightedGram(e, h)
            coordinates = nil
            v = start.basis
        }
        let total = (0..<g.rows).reduce(0.0) { $0 + g[$1, $1] }  // tr(G)
        var image = BLAS.multiply(g, v)
        var history = [total - v.dot(image)]
        for _ in 0..<steps {
            v = try LAPACK.qrDecomposition(image).q
            image = BLAS.multiply(g, v)
            history.append(total - v.dot(image))
        }
        let basis = coordinates.map { BLAS.multiply($0, v) } ?? v
        return (SubspaceProjection(basis: basis), history)
    }
}
