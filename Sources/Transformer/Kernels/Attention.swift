// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra

/// Causal grouped-query self-attention over one chunk (transformers `LlamaAttention` with `eager_attention_forward`:
/// `softmax(Q·Kᵀ/√hd + causal mask) · V`, query head `h` reading key/value head `h / (H/Hkv)`, as `repeat_kv` does).
///
/// Queries are processed in blocks of ``blockRows`` rows; a block only multiplies against the keys it can see,
/// so the masked upper triangle is skipped rather than computed and zeroed. Work items are (key/value head, block)
/// pairs, spread over `threads` threads, largest blocks first. An item stacks the block's rows of all query heads
/// that share the key/value head into one `(count·H/Hkv, hd)` matrix, so each of its two GEMMs packs that head's
/// keys or values once for the whole group.
///
/// - Parameters:
///   - query: `(T, H·hd)` with row stride `queryStride`, RoPE applied.
///   - key: `(T, Hkv·hd)` with row stride `keyValueStride`, RoPE applied.
///   - value: `(T, Hkv·hd)` with row stride `keyValueStride`.
///   - out: `(T, H·hd)`, contiguous: the heads side by side (the input of `o_proj`).
func causalAttention(
    query: UnsafePointer<Float>, queryStride: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
    keyValueStride: Int, rows: Int, configuration: LlamaConfiguration, into out: UnsafeMutablePointer<Float>,
    threads: Int
) {
    let hd = configuration.headDim
    let queryWidth = configuration.queryWidth
    let group = configuration.headsPerKeyValueHead
    let groupWidth = group * hd
    let scale = 1 / Float(hd).squareRoot()
    let blocks = (rows + blockRows - 1) / blockRows
    let items = configuration.kvHeadCount * blocks
    let workers = max(1, min(threads, items))
    // Per worker: the stacked queries and outputs (blockRows·group, hd) and the scores (blockRows·group, T).
    let stackedCount = min(blockRows, rows) * groupWidth
    let scratchCount = 2 * stackedCount + min(blockRows, rows) * group * rows
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * scratchCount)
    defer { scratch.deallocate() }

    Parallel.forEach(items, threads: workers) { index, worker in
        let item = items - 1 - index  // larger blocks (more keys) first
        let g = item % configuration.kvHeadCount
        let block = item / configuration.kvHeadCount
        let first = block * blockRows
        let count = min(blockRows, rows - first)
        let visible = first + count
        let stacked = scratch + worker * scratchCount
        let heads = stacked + stackedCount
        let scores = heads + stackedCount
        // Row i·group + j of the stacked matrices is position first + i of query head g·group + j: the group's
        // heads are adjacent in a row of Q and of the output, so each position copies one contiguous run.
        for i in 0..<count {
            (stacked + i * groupWidth).update(
                from: query + (first + i) * queryStride + g * groupWidth, count: groupWidth)
        }
        // scores (count·group, visible) = scale · Q_stacked · K_g[0..<visible]ᵀ
        BLAS.gemm(
            .none, .transpose, m: count * group, n: visible, k: hd, alpha: scale, a: stacked, lda: hd,
            b: key + g * hd, ldb: keyValueStride, c: scores, ldc: visible)
        for r in 0..<count * group {
            maskedSoftmax(scores + r * visible, valid: first + r / group + 1, count: visible)
        }
        // heads (count·group, hd) = P (count·group, visible) · V_g[0..<visible] (visible, hd)
        BLAS.gemm(
            .none, .none, m: count * group, n: hd, k: visible, a: scores, lda: visible, b: value + g * hd,
            ldb: keyValueStride, c: heads, ldc: hd)
        for i in 0..<count {
            (out + (first + i) * queryWidth + g * groupWidth).update(from: heads + i * groupWidth, count: groupWidth)
        }
    }
}

/// Query rows per attention block.
let blockRows = 64
