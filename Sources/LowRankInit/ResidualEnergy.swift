// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// A residual `E` with its calibrated energy `tr(E·H·Eᵀ)` and weight energy `‖E‖²`, from which the errors
/// of `E − b·a` follow by low-rank algebra instead of forming the `out × in` difference:
/// `tr((E − BA)·H·(E − BA)ᵀ) = tr(E·H·Eᵀ) − 2·⟨A·H, Bᵀ·E⟩ + ⟨BᵀB, A·H·Aᵀ⟩` and
/// `‖E − BA‖² = ‖E‖² − 2·⟨A, Bᵀ·E⟩ + ⟨BᵀB, A·Aᵀ⟩` (`⟨·,·⟩` the element-wise inner product), which costs
/// `O(r·in·(in + out))` per method. Cancellation limits the absolute accuracy to about 1e-15 of the
/// zero-correction energies; results are clamped at 0.
struct ResidualEnergy {
    let residual: DoubleMatrix
    let gram: DoubleMatrix
    let calibrated: Double
    let weight: Double

    init(_ residual: DoubleMatrix, _ gram: DoubleMatrix) {
        self.residual = residual
        self.gram = gram
        calibrated = BLAS.gram(residual, transpose: true).dot(gram)  // tr(H·EᵀE) = tr(E·H·Eᵀ)
        weight = residual.squaredNorm
    }

    /// The errors of `residual − b·a` (of `residual` when `factors` is nil) next to `reference`'s.
    func errors(of factors: LowRankFactors?, relativeTo reference: ResidualEnergy) -> LowRankInitErrors {
        var calibratedError = calibrated
        var weightError = weight
        if let factors {
            let a = DoubleMatrix(factors.a)
            let b = DoubleMatrix(factors.b)
            let btE = BLAS.multiply(b, residual, transposeA: true)
            let aH = BLAS.multiply(a, gram)
            let btB = BLAS.gram(b, transpose: true)
            calibratedError += -2 * aH.dot(btE) + btB.dot(BLAS.multiply(aH, a, transposeB: true))
            weightError += -2 * a.dot(btE) + btB.dot(BLAS.gram(a))
        }
        return LowRankInitErrors(
            calibrated: max(0, calibratedError), zeroInitCalibrated: reference.calibrated,
            weight: max(0, weightError), zeroInitWeight: reference.weight)
    }
}
