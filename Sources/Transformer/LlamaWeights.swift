// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// The F32 weights of one decoder block, in transformers' `LlamaDecoderLayer` layout.
///
/// Linear weights are `(out, in)` row-major as in the HF state dict, with q/k rows in HF order (RoPE pairs
/// dimension `i` with `i + hd/2`); a GGUF file's permuted rows are restored before they get here.
public struct LlamaLayerWeights: Sendable {
    /// `input_layernorm.weight`, `(C)`.
    public var attentionNorm: [Float]
    /// `self_attn.q_proj.weight`, `(H·hd, C)`.
    public var query: Matrix
    /// `self_attn.k_proj.weight`, `(Hkv·hd, C)`.
    public var key: Matrix
    /// `self_attn.v_proj.weight`, `(Hkv·hd, C)`.
    public var value: Matrix
    /// `self_attn.o_proj.weight`, `(C, H·hd)`.
    public var attentionOutput: Matrix
    /// `post_attention_layernorm.weight`, `(C)`.
    public var feedForwardNorm: [Float]
    /// `mlp.gate_proj.weight`, `(F, C)`.
    public var gate: Matrix
    /// `mlp.up_proj.weight`, `(F, C)`.
    public var up: Matrix
    /// `mlp.down_proj.weight`, `(C, F)`.
    public var down: Matrix
    /// `self_attn.q_proj.bias`, `k_proj.bias` and `v_proj.bias` one after the other, `(H·hd + 2·Hkv·hd)`, for
    /// models with ``LlamaConfiguration/queryKeyValueBias``; nil otherwise.
    public var queryKeyValueBias: [Float]?

    /// Creates the weights of one block.
    public init(
        attentionNorm: [Float], query: Matrix, key: Matrix, value: Matrix, attentionOutput: Matrix,
        feedForwardNorm: [Float], gate: Matrix, up: Matrix, down: Matrix, queryKeyValueBias: [Float]? = nil
    ) {
        self.attentionNorm = attentionNorm
        self.query = query
        self.key = key
        self.value = value
        self.attentionOutput = attentionOutput
        self.feedForwardNorm = feedForwardNorm
        self.gate = gate
        self.up = up
        self.down = down
        self.queryKeyValueBias = queryKeyValueBias
    }

    /// True when every tensor has the shape `configuration` implies, and the q/k/v biases are there exactly when
    /// it has them.
    public func matches(_ configuration: LlamaConfiguration) -> Bool {
        let c = configuration
        func shaped(_ m: Matrix, _ rows: Int, _ columns: Int) -> Bool { m.rows == rows && m.columns == columns }
        return attentionNorm.count == c.hiddenSize && feedForwardNorm.count == c.hiddenSize
            && shaped(query, c.queryWidth, c.hiddenSize) && shaped(key, c.keyValueWidth, c.hiddenSize)
            && shaped(value, c.keyValueWidth, c.hiddenSize) && shaped(attentionOutput, c.hiddenSize, c.queryWidth)
            && shaped(gate, c.intermediateSize, c.hiddenSize) && shaped(up, c.intermediateSize, c.hiddenSize)
            && shaped(down, c.hiddenSize, c.intermediateSize)
            && queryKeyValueBias?.count == (c.queryKeyValueBias ? c.queryWidth + 2 * c.keyValueWidth : nil)
    }
}

/// The final norm and the output projection (`model.norm.weight`, `lm_head.weight` or the tied embedding).
public struct LlamaHeadWeights: Sendable {
    /// `model.norm.weight`, `(C)`.
    public var outputNorm: [Float]
    /// `lm_head.weight`, or `model.embed_tokens.weight` when tied, `(V, C)`.
    public var output: Matrix

    /// Creates the head weights.
    public init(outputNorm: [Float], output: Matrix) {
        self.outputNorm = outputNorm
        self.output = output
    }
}
