// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra

/// Causal grouped-query self-attention over one chunk (transformers `LlamaAttention` with `eager_attention_forward`:
/// `softmax(Q·Kᵀ/√hd + causal mask) · V`, query head `h` reading key/value head `h / (H/Hkv)`, as `repeat_kv` does).
///
/// Queries are processed in blocks of ``blockRows`` rows; a block only multiplies against the keys it can see,
/// so the masked upper triangle is skipped rather than computed and zeroed. Work items are (head, block) pairs,
/// spread over `threads` threads, largest blocks first.
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
    let scale = 1 / Float(hd).squareRoot()
    let blocks = (rows + blockRows - 1) / blockRows
    let items = configuration.headCount * blocks
    let workers = max(1, min(threads, items))
    // One (blockRows, T) score buffer per worker.
    let scratchCount = min(blockRows, rows) * rows
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * scratchCount)
    defer { scratch.deallocate() }

    Parallel.forEach(items, threads: workers) { index, worker in
        let item = items - 1 - index  // larger blocks (more keys) first
        let h = item % configuration.headCount
        let block = item / configuration.headCount
        let g = h / group
        let first = block * blockRows
        let count = min(blockRows, rows - first)
        let visible = first + count
        let scores = scratch + worker * scratchCount
        // scores (count, visible) = scale · Q_h[first..<visible] · K_g[0..<visible]ᵀ
        BLAS.gemm(
            .none, .transpose, m: count, n: visible, k: hd, alpha: scale, a: query + first * queryStride + h * hd,
            lda: queryStride, b: key + g * hd, ldb: keyValueStride, c: scores, ldc: visible)
        for i in 0..<count {
            maskedSoftmax(scores + i * visible, valid: first + i + 1, count: visible)
        }
        // out_h[first..<visible] (count, hd) = P (count, visible) · V_g[0..<visible] (visible, hd)
        BLAS.gemm(
            .none, .none, m: count, n: hd, k: visible, a: scores, lda: visible, b: value + g * hd,
            ldb: keyValueStride, c: out + first * queryWidth + h * hd, ldc: queryWidth)
    }
}

/// Query rows per attention block.
let blockRows = 128
