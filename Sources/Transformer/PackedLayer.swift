// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// One block's weights as the forward pass multiplies them. q, k and v (and gate and up) read the same input and
/// write side by side into one activation buffer, `[q | k | v]` `(T, H·hd + 2·Hkv·hd)` and `[gate | up]` `(T, 2F)`.
///
/// Kept weights are stacked into one `(H·hd + 2·Hkv·hd, C)` and one `(2F, C)` matrix, so each shared input is
/// packed once per product; stacking `(out, in)` row-major matrices along `out` is concatenation of their values.
/// Weights used once (streamed) stay separate: one product each into its columns of the buffer costs less than
/// copying them into a stack.
struct PackedLayer {
    let attentionNorm: [Float]
    /// `[q; k; v]` as one matrix, or `[q, k, v]`.
    let queryKeyValue: [Matrix]
    let attentionOutput: Matrix
    let feedForwardNorm: [Float]
    /// `[gate; up]` as one matrix, or `[gate, up]`.
    let gateUp: [Matrix]
    let down: Matrix
    /// `[q | k | v]` biases, added to every row of the `[q | k | v]` buffer.
    let queryKeyValueBias: [Float]?

    init(_ w: LlamaLayerWeights, stacked: Bool) {
        attentionNorm = w.attentionNorm
        queryKeyValue = stacked ? [Self.stacked([w.query, w.key, w.value])] : [w.query, w.key, w.value]
        attentionOutput = w.attentionOutput
        feedForwardNorm = w.feedForwardNorm
        gateUp = stacked ? [Self.stacked([w.gate, w.up])] : [w.gate, w.up]
        down = w.down
        queryKeyValueBias = w.queryKeyValueBias
    }

    /// The matrices' rows one after the other, copied once into a single uninitialized buffer.
    private static func stacked(_ parts: [Matrix]) -> Matrix {
        let count = parts.reduce(0) { $0 + $1.values.count }
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            var offset = 0
            for part in parts {
                _ = UnsafeMutableBufferPointer(rebasing: buffer[offset..<offset + part.values.count])
                    .initialize(fromContentsOf: part.values)
                offset += part.values.count
            }
            initialized = count
        }
        return Matrix(rows: parts.reduce(0) { $0 + $1.rows }, columns: parts[0].columns, values: values)
    }
}
