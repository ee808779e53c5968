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
        queryKeyValue = Matrix(
            rows: w.query.rows + w.key.rows + w.value.rows, columns: w.query.columns,
            values: w.query.values + w.key.values + w.value.values)
        attentionOutput = w.attentionOutput
        feedForwardNorm = w.feedForwardNorm
        gateUp = Matrix(rows: w.gate.rows + w.up.rows, columns: w.gate.columns, values: w.gate.values + w.up.values)
        down = w.down
    }
}
