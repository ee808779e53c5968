// SPDX-License-Identifier: Apache-2.0

/// The row permutation llama.cpp applies to `q_proj`/`k_proj` weights when converting HF to GGUF.
///
/// HF llama checkpoints pair RoPE dimensions as (i, i + hd/2) ("rotate half"); llama.cpp's kernel pairs
/// (2i, 2i+1). The converter (llama.cpp `LlamaModel.permute`) therefore reorders the rows of each head:
/// GGUF row `h·hd + 2i + s` holds HF row `h·hd + s·hd/2 + i`, for `s ∈ {0, 1}`, `i < hd/2`.
/// Rows are moved as opaque byte runs, so this works for any element or block type.
public enum QKPermutation {
    /// The direction of the permutation.
    public enum Direction: Sendable {
        /// HF row order to GGUF row order.
        case hfToGGUF
        /// GGUF row order back to HF row order.
        case ggufToHF
    }

    /// Permutes the rows of `source` into `destination`.
    ///
    /// - Parameters:
    ///   - heads: attention heads of the tensor (`num_attention_heads` for Q, `num_key_value_heads` for K).
    ///   - rowByteCount: bytes per row.
    /// Traps if the buffers differ in size or the rows do not split into `heads` heads of even size.
    public static func permuteRows(
        _ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer,
        heads: Int, rowByteCount: Int, direction: Direction
    ) {
        precondition(source.count == destination.count && rowByteCount > 0, "buffer sizes differ")
        let rows = source.count / rowByteCount
        precondition(rows * rowByteCount == source.count && heads > 0 && rows % heads == 0, "bad row count")
        let headDim = rows / heads
        precondition(headDim % 2 == 0, "head dimension must be even")
        guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
        let half = headDim / 2
        for h in 0..<heads {
            for i in 0..<half {
                for s in 0..<2 {
                    let ggufRow = h * headDim + 2 * i + s
                    let hfRow = h * headDim + s * half + i
                    let (from, to) = direction == .hfToGGUF ? (hfRow, ggufRow) : (ggufRow, hfRow)
                    (dst + to * rowByteCount).copyMemory(from: src + from * rowByteCount, byteCount: rowByteCount)
                }
            }
        }
    }
}
