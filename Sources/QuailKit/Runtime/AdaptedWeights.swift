// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra
import Transformer

/// A model's weights with a LoRA adapter merged into each block as it is decoded (`W' = W + s·B·A`).
///
/// The forward pass is unchanged: it sees ordinary F32 block weights. With no adapter the base weights pass through.
public struct AdaptedWeights<Base: LayerWeightsSource>: LayerWeightsSource {
    /// Decoding fails as the base weights do.
    public typealias Failure = Base.Failure

    /// The base model's weights.
    public let base: Base
    /// The adapter merged into the blocks, if any.
    public let adapter: LoRAAdapter?

    /// Wraps `base`, merging `adapter` (already checked against the model) into each block.
    public init(base: Base, adapter: LoRAAdapter?) {
        self.base = base
        self.adapter = adapter
    }

    /// The base embedding rows (adapters on the embedding are rejected when opened).
    public func embeddings(of tokens: [Int]) throws(Base.Failure) -> Matrix {
        try base.embeddings(of: tokens)
    }

    /// Block `index` with the adapter's updates added.
    public func layerWeights(at index: Int) throws(Base.Failure) -> LlamaLayerWeights {
        var weights = try base.layerWeights(at: index)
        adapter?.merge(into: &weights, block: index)
        return weights
    }

    /// The base head weights (adapters on the output head are rejected when opened).
    public func headWeights() throws(Base.Failure) -> LlamaHeadWeights {
        try base.headWeights()
    }

    /// The base final norm.
    public func outputNorm() throws(Base.Failure) -> [Float] {
        try base.outputNorm()
    }

    /// The base output rows.
    public func outputRows(_ range: Range<Int>) throws(Base.Failure) -> Matrix {
        try base.outputRows(range)
    }
}
