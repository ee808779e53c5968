// SPDX-License-Identifier: Apache-2.0

/// The activation buffers of a forward pass over `rows` tokens; reused while the chunk length stays the same.
final class Workspace {
    let rows: Int
    /// Residual stream `(T, C)`.
    let hidden: UnsafeMutablePointer<Float>
    /// Normed hidden state `(T, C)`: the input of q/k/v and of gate/up.
    let normed: UnsafeMutablePointer<Float>
    /// `[q | k | v]` `(T, H·hd + 2·Hkv·hd)`.
    let queryKeyValue: UnsafeMutablePointer<Float>
    /// Attention heads side by side `(T, H·hd)`: the input of o_proj.
    let attention: UnsafeMutablePointer<Float>
    /// `[gate | up]` `(T, 2F)`.
    let gateUp: UnsafeMutablePointer<Float>
    /// SwiGLU product `(T, F)`: the input of down_proj.
    let product: UnsafeMutablePointer<Float>
    private let all: [UnsafeMutablePointer<Float>]

    init(rows: Int, configuration c: LlamaConfiguration) {
        func make(_ width: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: rows * width)
            p.initialize(repeating: 0, count: rows * width)
            return p
        }
        self.rows = rows
        hidden = make(c.hiddenSize)
        normed = make(c.hiddenSize)
        queryKeyValue = make(c.queryWidth + 2 * c.keyValueWidth)
        attention = make(c.queryWidth)
        gateUp = make(2 * c.intermediateSize)
        product = make(c.intermediateSize)
        all = [hidden, normed, queryKeyValue, attention, gateUp, product]
    }

    deinit {
        for p in all { p.deallocate() }
    }
}
