// SPDX-License-Identifier: Apache-2.0
import Foundation
import LinearAlgebra

/// Causal grouped-query self-attention over one chunk (transformers `LlamaAttention` with `eager_attention_forward`:
/// `softmax(Q·Kᵀ/√hd + causal mask) · V`, query head `h` reading key/value head `h / (H/Hkv)`, as `repeat_kv` does),
/// with RoPE applied to the queries on the way in.
///
/// Queries are processed in blocks of ``blockRows`` rows; a block only multiplies against the keys it can see,
/// so the masked upper triangle is skipped rather than computed and zeroed. Work items are (key/value head, block)
/// pairs, spread over `threads` threads, largest blocks first. An item stacks the block's rows of all query heads
/// that share the key/value head into one `(count·H/Hkv, hd)` matrix, rotating them as it copies, so each of its
/// two GEMMs packs that head's keys or values once for the whole group. The softmax is left unnormalized until
/// the end: `softmax(s)·V = (exp(s − max)·V) / Σ exp(s − max)`, so the division touches `hd` values per row
/// instead of every visible score.
///
/// - Parameters:
///   - query: `(T, H·hd)` with row stride `queryStride`, before RoPE (left unchanged).
///   - key: `(T, Hkv·hd)` with row stride `keyValueStride`, RoPE applied.
///   - value: `(T, Hkv·hd)` with row stride `keyValueStride`.
///   - rotary: the angles of positions `0..<T`.
///   - out: `(T, H·hd)`, contiguous: the heads side by side (the input of `o_proj`).
func causalAttention(
    query: UnsafePointer<Float>, queryStride: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
    keyValueStride: Int, rows: Int, rotary: RotaryTable, configuration: LlamaConfiguration,
    into out: UnsafeMutablePointer<Float>, threads: Int
) {
    precondition(rows == rotary.positions.count, "rotary table covers \(rotary.positions.count) rows, not \(rows)")
    let hd = configuration.headDim
    let half = rotary.halfDim
    let queryWidth = configuration.queryWidth
    let group = configuration.headsPerKeyValueHead
    let groupWidth = group * hd
    let scale = 1 / Float(hd).squareRoot()
    let blocks = (rows + blockRows - 1) / blockRows
    let items = configuration.kvHeadCount * blocks
    let workers = max(1, min(threads, items))
    // Per worker: the stacked queries and outputs (blockRows·group, hd), the scores (blockRows·group, T) and the
    // softmax denominators (blockRows·group).
    let stackedRows = min(blockRows, rows) * group
    let stackedCount = stackedRows * hd
    let scratchCount = 2 * stackedCount + stackedRows * rows + stackedRows
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: workers * scratchCount)
    defer { scratch.deallocate() }

    rotary.cosines.withUnsafeBufferPointer { cosines in
        rotary.sines.withUnsafeBufferPointer { sines in
            guard let cosBase = cosines.baseAddress, let sinBase = sines.baseAddress else { return }
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
                let sums = scores + stackedRows * rows
                // Row i·group + j of the stacked matrices is position first + i of query head g·group + j: the
                // group's heads are adjacent in a row of Q and of the output, so each position reads one run.
                for i in 0..<count {
                    let position = first + i
                    let source = query + position * queryStride + g * groupWidth
                    for j in 0..<group {
                        rotateHead(
                            source + j * hd, into: stacked + i * groupWidth + j * hd,
                            cosines: cosBase + position * half,
                            sines: sinBase + position * half, half: half)
                    }
                }
                // scores (count·group, visible) = scale · Q_stacked · K_g[0..<visible]ᵀ
                BLAS.gemm(
                    .none, .transpose, m: count * group, n: visible, k: hd, alpha: scale, a: stacked, lda: hd,
                    b: key + g * hd, ldb: keyValueStride, c: scores, ldc: visible)
                for r in 0..<count * group {
                    sums[r] = maskedExponentials(scores + r * visible, valid: first + r / group + 1, count: visible)
                }
                // heads (count·group, hd) = E (count·group, visible) · V_g[0..<visible] (visible, hd)
                BLAS.gemm(
                    .none, .none, m: count * group, n: hd, k: visible, a: scores, lda: visible, b: value + g * hd,
                    ldb: keyValueStride, c: heads, ldc: hd)
                for i in 0..<count {
                    let target = out + (first + i) * queryWidth + g * groupWidth
                    for j in 0..<group {
                        let r = i * group + j
                        scaled(heads + r * hd, by: 1 / sums[r], count: hd, into: target + j * hd)
                    }
                }
            }
        }
    }
}

/// `out[0..<count] = x[0..<count] · factor`, sixteen lanes at a time.
@inline(__always)
private func scaled(_ x: UnsafePointer<Float>, by factor: Float, count: Int, into out: UnsafeMutablePointer<Float>) {
    var i = 0
    while i + 16 <= count {
        let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: v * factor, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        out[i] = x[i] * factor
        i += 1
    }
}

/// Query rows per attention block.
let blockRows = 64
