// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// The calibrated and weight-space errors of a correction, next to those of the zero correction.
///
/// With `E0 = W − Q` (the caller's `Q`) and the residual `R = W − Q' − B·A` (`Q' = Q` except for `loftq`):
/// calibrated errors are `tr(R·H·Rᵀ) = ‖R·X‖²`, weight errors `‖R‖²_F`, both computed from the float32
/// factors actually returned.
public struct LowRankInitErrors: Equatable, Sendable {
    /// `tr(R·H·Rᵀ)`.
    public let calibrated: Double
    /// `tr(E0·H·E0ᵀ)`, the error of plain QLoRA.
    public let zeroInitCalibrated: Double
    /// `‖R‖²_F`.
    public let weight: Double
    /// `‖E0‖²_F`.
    public let zeroInitWeight: Double

    /// `‖R·X‖² / ‖E0·X‖²`; 0 when both are 0.
    public var relativeCalibrated: Double { Self.ratio(calibrated, zeroInitCalibrated) }
    /// `‖R‖² / ‖E0‖²`; 0 when both are 0.
    public var relativeWeight: Double { Self.ratio(weight, zeroInitWeight) }

    static func ratio(_ value: Double, _ reference: Double) -> Double {
        reference > 0 ? value / reference : (value > 0 ? .infinity : 0)
    }
}

/// The outcome of solving one layer.
public struct LowRankInitResult: Sendable {
    /// The method that was asked for.
    public let method: LowRankInitMethod
    /// The correction, PEFT orientation, unscaled: the runtime's effective weight should be `Q' + b·a`
    /// (use ``LowRankFactors/splittingScale(_:)`` before storing for a runtime that scales the product).
    public let factors: LowRankFactors
    /// The dequantized base `Q'` the factors belong to when the method replaced the caller's `Q`
    /// (`loftq`), `nil` when `Q` is unchanged.
    public let base: Matrix?
    /// The errors of what is returned.
    public let errors: LowRankInitErrors
    /// The method's own errors when it was worse than the zero correction on the calibrated error and
    /// zero factors were returned instead; `nil` otherwise.
    public let rejectedErrors: LowRankInitErrors?
    /// The absolute ridge `λ` of the objective the method minimised (0 for `zero`, `svd`, `loftq`).
    public let damping: Double
    /// `quailora` only: the damped objective `tr(R·(H + λI)·Rᵀ)` in float64 at the SVD start (index 0) and
    /// after each alternation step; never increasing. Empty for the other methods.
    public let objectiveHistory: [Double]

    /// True when the method made the layer worse than plain QLoRA and zero factors were returned.
    public var fellBackToZero: Bool { rejectedErrors != nil }

    /// The damped objective `calibrated + λ · weight` of what is returned.
    public var objective: Double { errors.calibrated + damping * errors.weight }
}
