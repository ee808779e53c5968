// SPDX-License-Identifier: Apache-2.0

/// Receives the activations of a forward pass as they are produced.
///
/// The buffers are views into the forward pass's own storage, valid only during the call: copy what must
/// outlive it. When ``LlamaModel/forward(tokens:logitRows:observer:)`` gets no observer, nothing is built
/// or called. Calibration (Gram matrices `XᵀX` per linear layer) implements this protocol.
public protocol ActivationObserving: AnyObject {
    /// The input matrix `X` `(T, in)` of a group of linear layers that share it.
    func observe(_ input: LinearInput)
    /// The residual stream after the embedding, after each block, and after the final norm.
    func observe(_ state: HiddenState)
}

extension ActivationObserving {
    /// Ignores hidden states.
    public func observe(_ state: HiddenState) {}
}

/// Linear layers of one block that read the same input matrix.
public enum LinearGroup: String, Sendable, CaseIterable {
    /// `q_proj`, `k_proj`, `v_proj`: input is the attention-normed hidden state, `(T, C)`.
    case attentionInput
    /// `o_proj`: input is the concatenated attention heads, `(T, H·hd)`.
    case attentionOutput
    /// `gate_proj`, `up_proj`: input is the feed-forward-normed hidden state, `(T, C)`.
    case feedForwardInput
    /// `down_proj`: input is the SwiGLU product `silu(gate) ⊙ up`, `(T, F)`.
    case feedForwardProduct

    /// The HF module names (under `model.layers.N.`) of the layers that read this input.
    public var moduleNames: [String] {
        switch self {
        case .attentionInput: ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"]
        case .attentionOutput: ["self_attn.o_proj"]
        case .feedForwardInput: ["mlp.gate_proj", "mlp.up_proj"]
        case .feedForwardProduct: ["mlp.down_proj"]
        }
    }
}

/// The input of a group of linear layers: a row-major `(rows, columns)` view, one row per token.
public struct LinearInput {
    /// Block index.
    public let layer: Int
    /// Which layers read it.
    public let group: LinearGroup
    /// Tokens, `T`.
    public let rows: Int
    /// Input features.
    public let columns: Int
    /// `rows × columns` values, valid only during the observer call.
    public let values: UnsafeBufferPointer<Float>
}

/// A snapshot of the residual stream, `(T, C)`.
public struct HiddenState {
    /// Where it was taken.
    public enum Stage: Equatable, Sendable {
        /// The token embeddings, before block 0.
        case embeddings
        /// The output of a block.
        case afterLayer(Int)
        /// After the final RMSNorm (the input of the output head).
        case finalNorm
    }

    /// Where it was taken.
    public let stage: Stage
    /// Tokens, `T`.
    public let rows: Int
    /// `C`.
    public let columns: Int
    /// `rows × columns` values, valid only during the observer call.
    public let values: UnsafeBufferPointer<Float>
}
