// SPDX-License-Identifier: Apache-2.0
import LinearAlgebra

/// One block's weights as the forward pass multiplies them: q, k and v stacked into one `(H·hd + 2·Hkv·hd, C)`
/// matrix and gate and up into one `(2F, C)` matrix, so that each shared input is multiplied once.
///
/// Stacking `(out, in)` row-major matrices along `out` is concatenation of their values.
struct PackedLayer {
    let attentionNorm: [Float]
    /// Rows `[q; k; v]`.
    let queryKeyValue: Matrix
    let attentionOutput: Matrix
    let feedForwardNorm: [Float]
    /// Rows `[gate; up]`.
    let gateUp: Matrix
    let down: Matrix

    init(_ w: LlamaLayerWeights) {
        attentionNorm = w.attentionNorm
        queryKeyValue = Self.stacked([w.query, w.key, w.value])
        attentionOutput = w.attentionOutput
        feedForwardNorm = w.feedForwardNorm
        gateUp = Self.stacked([w.gate, w.up])
        down = w.down
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
