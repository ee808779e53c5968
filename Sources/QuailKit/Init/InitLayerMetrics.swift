// SPDX-License-Identifier: Apache-2.0
import LowRankInit

/// The outcome of solving one adapted layer.
public struct InitLayerMetrics: Sendable {
    /// Block index.
    public let layer: Int
    /// Layer kind.
    public let target: AdapterTarget
    /// `‖(W − Q − B·A)X‖² / ‖(W − Q)X‖²` of the solved float32 factors (the stored ones are these divided by
    /// `√s`, exact when `√s` is a power of two).
    public let relativeCalibratedError: Double
    /// `‖W − Q − s·B·A‖² / ‖W − Q‖²`.
    public let relativeWeightError: Double
    /// The method made the layer worse than zero-init; zero factors were stored.
    public let fellBackToZero: Bool
    /// `Q = W` on the calibration data (`‖(W − Q)X‖ = 0`): there is nothing to correct.
    public let nothingToCorrect: Bool
    /// Solver seconds.
    public let seconds: Double

    /// The HF module name (`model.layers.3.self_attn.q_proj`).
    public var module: String { "model.layers.\(layer).\(target.moduleName)" }

    init(layer: Int, target: AdapterTarget, result: LowRankInitResult, seconds: Double) {
        self.layer = layer
        self.target = target
        relativeCalibratedError = result.errors.relativeCalibrated
        relativeWeightError = result.errors.relativeWeight
        fellBackToZero = result.fellBackToZero
        nothingToCorrect = result.errors.zeroInitCalibrated == 0 && result.errors.zeroInitWeight == 0
        self.seconds = seconds
    }
}
