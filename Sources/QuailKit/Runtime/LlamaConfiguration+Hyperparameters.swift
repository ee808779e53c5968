// SPDX-License-Identifier: Apache-2.0
import Transformer

extension LlamaConfiguration {
    /// The forward-pass configuration of validated hyperparameters (``LlamaHyperparameters/validate(path:)``).
    public init(_ h: LlamaHyperparameters) {
        self.init(
            hiddenSize: h.hiddenSize, intermediateSize: h.intermediateSize, layerCount: h.layerCount,
            headCount: h.headCount, kvHeadCount: h.kvHeadCount, headDim: h.headDim, vocabSize: h.vocabSize,
            rmsNormEpsilon: h.rmsNormEpsilon, ropeTheta: h.ropeTheta, tiedEmbeddings: h.tiedEmbeddings)
    }
}
