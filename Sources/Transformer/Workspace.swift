// SPDX-License-Identifier: Apache-2.0

/// The activation buffers of one forward pass over `T` tokens, allocated once per call.
final class Workspace {
    /// Residual stream `(T, C)`.
    let hidden: UnsafeMutablePointer<Float>
    /// Normed hidden state `(T, C)`: the input of q/k/v and of gate/up.
    let normed: UnsafeMutablePointer<Float>
    /// `(T, H·hd)`.
    let query: UnsafeMutablePointer<Float>
    /// `(T, Hkv·hd)`.
    let key: UnsafeMutablePointer<Float>
    /// `(T, Hkv·hd)`.
    let value: UnsafeMutablePointer<Float>
    /// Attention heads side by side `(T, H·hd)`: the input of o_proj.
    let attention: UnsafeMutablePointer<Float>
    /// `(T, F)`; holds the SwiGLU product after the activation.
    let gate: UnsafeMutablePointer<Float>
    /// `(T, F)`.
    let up: UnsafeMutablePointer<Float>
    private let all: [UnsafeMutablePointer<Float>]

    init(rows: Int, configuration c: LlamaConfiguration) {
        func make(_ width: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: rows * width)
            p.initialize(repeating: 0, count: rows * width)
            return p
        }
        hidden = make(c.hiddenSize)
        normed = make(c.hiddenSize)
        query = make(c.queryWidth)
        key = make(c.keyValueWidth)
        value = make(c.keyValueWidth)
        attention = make(c.queryWidth)
        gate = make(c.intermediateSize)
        up = make(c.intermediateSize)
        all = [hidden, normed, query, key, value, attention, gate, up]
    }

    deinit {
        for p in all { p.deallocate() }
    }
}
