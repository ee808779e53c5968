// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// Supplies a model's weights piece by piece, just before the forward pass uses them.
///
/// Implementations typically decode one block from a memory-mapped file per call (QuailKit dequantizes GGUF
/// blocks and undoes the Q/K permutation there), so that a forward pass holds about one block of F32 weights at a
/// time. ``LlamaModel`` decides what to keep (see ``WeightResidency``).
public protocol LayerWeightsSource {
    /// The error a load can fail with (`Never` for weights already in memory).
    associatedtype Failure: Error

    /// Rows of the token embedding matrix for `tokens`, `(T, C)`. Token ids are in `0..<V`.
    func embeddings(of tokens: [Int]) throws(Failure) -> Matrix
    /// The weights of block `index` (`0..<layerCount`).
    func layerWeights(at index: Int) throws(Failure) -> LlamaLayerWeights
    /// The final norm and the output projection.
    func headWeights() throws(Failure) -> LlamaHeadWeights
    /// The final norm alone, `(C)` (a streamed pass reads the output projection by ``outputRows(_:)``).
    func outputNorm() throws(Failure) -> [Float]
    /// Rows `range` of the output projection (the embedding matrix when tied), `(range.count, C)`, so that a
    /// streamed pass never expands the whole `(V, C)` matrix.
    func outputRows(_ range: Range<Int>) throws(Failure) -> Matrix
}

extension LayerWeightsSource {
    /// The norm of ``headWeights()``.
    public func outputNorm() throws(Failure) -> [Float] { try headWeights().outputNorm }

    /// Rows of ``headWeights()``'s output projection (sources that can decode rows alone override this).
    public func outputRows(_ range: Range<Int>) throws(Failure) -> Matrix {
        try headWeights().output.rows(range)
    }
}

/// What ``LlamaModel`` keeps in memory between forward passes.
public enum WeightResidency: String, Sendable, CaseIterable {
    /// Load each block (and the head) on first use and keep it: F32 weights of the whole model stay in memory,
    /// so later chunks pay no decoding. The right choice when `4 × parameters` bytes fit comfortably.
    case resident
    /// Load each block just before use and drop it right after, and the output projection a few megabytes of
    /// rows at a time: memory stays at about one block of F32 weights plus activations and logits, and every chunk
    /// pays the decoding again.
    case streamed
}

/// A model whose F32 weights are all in memory; the source of the unit tests and of small models.
public struct InMemoryWeights: LayerWeightsSource, Sendable {
    /// `model.embed_tokens.weight`, `(V, C)`.
    public var embedding: Matrix
    /// The decoder blocks in order.
    public var layers: [LlamaLayerWeights]
    /// The final norm and the output projection.
    public var head: LlamaHeadWeights

    /// Creates the weights.
    public init(embedding: Matrix, layers: [LlamaLayerWeights], head: LlamaHeadWeights) {
        self.embedding = embedding
        self.layers = layers
        self.head = head
    }

    /// Copies the rows of `embedding` for `tokens`. Traps on an id outside the vocabulary.
    public func embeddings(of tokens: [Int]) -> Matrix {
        let width = embedding.columns
        var rows = Matrix(zeros: tokens.count, width)
        for (t, token) in tokens.enumerated() {
            precondition(token >= 0 && token < embedding.rows, "token id out of range")
            rows.values.replaceSubrange(
                t * width..<(t + 1) * width, with: embedding.values[token * width..<(token + 1) * width])
        }
        return rows
    }

    /// The weights of block `index`.
    public func layerWeights(at index: Int) -> LlamaLayerWeights { layers[index] }

    /// The final norm and the output projection.
    public func headWeights() -> LlamaHeadWeights { head }
}
