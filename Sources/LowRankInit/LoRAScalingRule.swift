// SPDX-License-Identifier: Apache-2.0

/// How a runtime scales the LoRA product `B·A` before adding it to the base weight.
public enum LoRAScalingRule: String, CaseIterable, Sendable {
    /// `α / r`: PEFT's default (`LoraLayer.update_layer`, `scaling = lora_alpha / r`) and llama.cpp
    /// (`adapter.lora.alpha` divided by the rank in `llama-adapter.cpp`).
    case standard
    /// `α / √r`: PEFT with `use_rslora=True`.
    case rankStabilized

    /// The factor the runtime multiplies `B·A` by.
    ///
    /// - Throws: ``LowRankInitError/invalidScale(_:)`` unless `alpha` is positive and finite and `rank ≥ 1`.
    public func scale(alpha: Double, rank: Int) throws(LowRankInitError) -> Double {
        guard rank >= 1 else { throw .invalidScale(.nan) }
        let value =
            switch self {
            case .standard: alpha / Double(rank)
            case .rankStabilized: alpha / Double(rank).squareRoot()
            }
        guard alpha > 0, value.isFinite, value > 0 else { throw .invalidScale(value) }
        return value
    }
}
