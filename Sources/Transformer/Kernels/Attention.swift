// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra

/// Causal grouped-query self-attention over one chunk (transformers `LlamaAttention` with `eager_attention_forward`:
/// `softmax(Q·Kᵀ/√hd + causal mask) · V`, query head `h` reading key/value head `h / (H/Hkv)`, as `repeat_kv` does).
///
/// Queries are processed in blocks of ``blockRows`` rows; a block only multiplies against the keys it can see,
/// so the masked upper triangle is skipped rather than computed and zeroed. Work items are (head, block) pairs,
/// spread over `threads` threads.
///
/// - Parameters:
///   - query: `(T, H·hd)`, RoPE applied.
///   - key: `(T, Hkv·hd)`, RoPE applied.
///   - value: `(T, Hkv·hd)`.
///   - out: `(T, H·hd)`, the heads side by side (the input of `o_proj`).
func causalAttention(
    query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>, rows: Int,
    configuration: LlamaConfiguration, into out: UnsafeMutablePointer<Float>, threads: Int
) {
    let hd = configuration.headDim
    let queryWidth = configuration.queryWidth
    let keyValueWidth = configuration.keyValueWidth
    let group = configuration.headsPerKeyValueHead
    let scale = 1 / Float(hd).squareRoot()
    let blocks = (rows + blockRows - 1) / blockRows
    let items = configuration.headCount * blocks

    func run(_ item: Int, scores: UnsafeMutablePointer<Float>) {
        let h = item % configuration.headCount
        let block = item / configuration.headCount
        let g = h / group
        let first = block * blockRows
        let count = min(blockRows, rows - first)
        let visible = first + count
        // scores (count, visible) = scale · Q_h[first..<visible] · K_g[0..<visible]ᵀ
        BLAS.gemm(
            .none, .transpose, m: count, n: visible, k: hd, alpha: scale, a: query + first * queryWidth + h * hd,
            lda: queryWidth, b: key + g * hd, ldb: keyValueWidth, c: scores, ldc: visible)
        for i in 0..<count {
            maskedSoftmax(scores + i * visible, valid: first + i + 1, count: visible)
        }
        // out_h[first..<visible] (count, hd) = P (count, visible) · V_g[0..<visible] (visible, hd)
        BLAS.gemm(
            .none, .none, m: count, n: hd, k: visible, a: scores, lda: visible, b: value + g * hd,
            ldb: keyValueWidth, c: out + first * queryWidth + h * hd, ldc: queryWidth)
    }

    let scratchCount = blockRows * rows
    if threads == 1 || items == 1 {
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        defer { scores.deallocate() }
        for item in 0..<items { run(item, scores: scores) }
        return
    }
    // Larger blocks (more keys) first, so the longest items do not end up last on one thread.
    Parallel.forEach(items, threads: threads) { index in
        let scores = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount)
        defer { scores.deallocate() }
        run(items - 1 - index, scores: scores)
    }
}

/// Query rows per attention block.
let blockRows = 128
