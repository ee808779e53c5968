// SPDX-License-Identifier: Apache-2.0
import Transformer

extension LlamaConfiguration {
    /// The forward-pass configuration of validated hyperparameters (``LlamaHyperparameters/validate(path:)``).
    public init(_ h: LlamaHyperparameters) {
        self.init(
            hiddenSize: h.hiddenSize, intermediateSize: h.intermediateSize, layerCount: h.layerCount,
            headCount: h.headCount, kvHeadCount: h.kvHeadCount, headDim: h.headDim, vocabSize: h.vocabSize,
            rmsNormEpsilon: h.rmsNormEpsilon, ropeTheta: h.ropeTheta, tiedEmbeddings: h.tiedEmbeddings,
            queryKeyValueBias: h.hasQueryKeyValueBias, ropeScaling: h.rotaryScaling)
    }
}

extension LlamaHyperparameters {
    /// The forward pass's RoPE scaling: ``ropeScaling`` with ``ropeFrequencyFactors`` multiplied into its divisors
    /// (llama.cpp divides by both the linear factor and `rope_freqs`).
    public var rotaryScaling: RotaryScaling {
        let scaling =
            ropeScaling?.rotaryScaling(headDim: headDim, theta: Double(ropeTheta), contextLength: contextLength)
            ?? .none
        guard let factors = ropeFrequencyFactors else { return scaling }
        switch scaling {
        case .none: return .frequencyDivisors(factors.map(Double.init))
        case .frequencyDivisors(let divisors): return .frequencyDivisors(zip(divisors, factors).map { $0 * Double($1) })
        case .dynamicNTK: preconditionFailure("dynamic scaling comes from config.json, rope_freqs from GGUF")
        }
    }
}
