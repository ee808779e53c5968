// SPDX-License-Identifier: Apache-2.0

/// The shape of a llama-family model as the forward pass needs it.
///
/// Field meanings follow transformers' `LlamaConfig` (`hidden_size`, `intermediate_size`, `num_hidden_layers`,
/// `num_attention_heads`, `num_key_value_heads`, `head_dim`, `vocab_size`, `rms_norm_eps`, `rope_theta`,
/// `tie_word_embeddings`, `rope_scaling`; Qwen2's q/k/v biases). QuailKit builds it from a checkpoint's
/// hyperparameters after validating them.
public struct LlamaConfiguration: Equatable, Sendable {
    /// Width of the residual stream, `C`.
    public var hiddenSize: Int
    /// Width of the SwiGLU hidden layer, `F`.
    public var intermediateSize: Int
    /// Number of decoder blocks.
    public var layerCount: Int
    /// Query heads, `H`.
    public var headCount: Int
    /// Key/value heads, `Hkv` (grouped-query attention when smaller than `H`).
    public var kvHeadCount: Int
    /// Width of one head, `hd` (even).
    public var headDim: Int
    /// Vocabulary size, `V`.
    public var vocabSize: Int
    /// RMSNorm epsilon.
    public var rmsNormEpsilon: Float
    /// RoPE base frequency.
    public var ropeTheta: Float
    /// RoPE frequency scaling (`rope_scaling`).
    public var ropeScaling: RotaryScaling
    /// True when the output head reuses the token embedding matrix.
    public var tiedEmbeddings: Bool
    /// True when q, k and v have bias vectors (Qwen2's `q_proj.bias`, `k_proj.bias`, `v_proj.bias`).
    public var queryKeyValueBias: Bool

    /// Creates a configuration. Traps if the numbers cannot describe a model (QuailKit validates input first).
    public init(
        hiddenSize: Int, intermediateSize: Int, layerCount: Int, headCount: Int, kvHeadCount: Int, headDim: Int,
        vocabSize: Int, rmsNormEpsilon: Float, ropeTheta: Float, tiedEmbeddings: Bool, queryKeyValueBias: Bool = false,
        ropeScaling: RotaryScaling = .none
    ) {
        precondition(hiddenSize > 0 && intermediateSize > 0 && layerCount >= 0 && vocabSize > 0, "bad sizes")
        precondition(headCount > 0 && kvHeadCount > 0 && headCount % kvHeadCount == 0, "bad head counts")
        precondition(headDim > 0 && headDim % 2 == 0, "head_dim must be even")
        if case .frequencyDivisors(let divisors) = ropeScaling {
            precondition(divisors.count == headDim / 2 && divisors.allSatisfy { $0 > 0 }, "bad RoPE divisors")
        }
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.tiedEmbeddings = tiedEmbeddings
        self.queryKeyValueBias = queryKeyValueBias
        self.ropeScaling = ropeScaling
    }

    /// Width of the concatenated query heads, `H·hd`.
    public var queryWidth: Int { headCount * headDim }
    /// Width of the concatenated key (or value) heads, `Hkv·hd`.
    public var keyValueWidth: Int { kvHeadCount * headDim }
    /// Query heads that share one key/value head.
    public var headsPerKeyValueHead: Int { headCount / kvHeadCount }

    /// Weights in the linear layers of one block (q, k, v, o, gate, up, down).
    public var linearParametersPerLayer: Int {
        hiddenSize * (2 * queryWidth + 2 * keyValueWidth) + 3 * hiddenSize * intermediateSize
    }
}
