// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Cosines and sines of the rotary angles `pos · θ^(−2i/hd)` (scaled as ``RotaryScaling`` says) for a run of
/// positions, `(T, hd/2)` each.
///
/// Same frequencies as transformers' `LlamaRotaryEmbedding` with its `rope_type`; angles are computed in double
/// precision and rounded once, so they do not drift with the position.
struct RotaryTable {
    let positions: Range<Int>
    let halfDim: Int
    /// `(T, hd/2)`.
    let cosines: [Float]
    /// `(T, hd/2)`.
    let sines: [Float]

    init(positions: Range<Int>, headDim: Int, theta: Float, scaling: RotaryScaling = .none) {
        let half = headDim / 2
        let inverseFrequencies = scaling.inverseFrequencies(
            headDim: headDim, theta: Double(theta), positions: positions.upperBound)
        var cosines = [Float](repeating: 0, count: positions.count * half)
        var sines = cosines
        for (t, position) in positions.enumerated() {
            for i in 0..<half {
                let angle = Double(position) * inverseFrequencies[i]
                cosines[t * half + i] = Float(cos(angle))
                sines[t * half + i] = Float(sin(angle))
            }
        }
        self.positions = positions
        self.halfDim = half
        self.cosines = cosines
        self.sines = sines
    }
}

/// Rotates every head of `x` in place with the HF "rotate half" convention: dimension `i` pairs with `i + hd/2`,
/// `x'ᵢ = xᵢ·cos − xᵢ₊ₕ·sin`, `x'ᵢ₊ₕ = xᵢ₊ₕ·cos + xᵢ·sin` (transformers `apply_rotary_pos_emb` / `rotate_half`).
///
/// - Parameters:
///   - x: `(T, heads·hd)` with row stride `rowStride`; row `t` is at position `table.positions[t]`.
func applyRotary(
    _ x: UnsafeMutablePointer<Float>, rows: Int, heads: Int, rowStride: Int, table: RotaryTable, threads: Int
) {
    precondition(rows == table.positions.count, "rotary table covers \(table.positions.count) rows, not \(rows)")
    let half = table.halfDim
    table.cosines.withUnsafeBufferPointer { cosines in
        table.sines.withUnsafeBufferPointer { sines in
            guard let cosBase = cosines.baseAddress, let sinBase = sines.baseAddress else { return }
            Parallel.forRanges(rows, threads: threads, grain: 16) { range in
                for t in range {
                    for h in 0..<heads {
                        let head = x + t * rowStride + h * 2 * half
                        rotateHead(head, into: head, cosines: cosBase + t * half, sines: sinBase + t * half, half: half)
                    }
                }
            }
        }
    }
}

/// Rotates one head `x` (`2·half` values) by one position's angles into `out`, which may be `x` itself:
/// `outᵢ = xᵢ·cos − xᵢ₊ₕ·sin`, `outᵢ₊ₕ = xᵢ₊ₕ·cos + xᵢ·sin` (the "rotate half" convention of ``applyRotary``).
@inline(__always)
func rotateHead(
    _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, cosines: UnsafePointer<Float>,
    sines: UnsafePointer<Float>, half: Int
) {
    var i = 0
    while i + 16 <= half {
        let a = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
        let b = UnsafeRawPointer(x + i + half).loadUnaligned(as: SIMD16<Float>.self)
        let c = UnsafeRawPointer(cosines + i).loadUnaligned(as: SIMD16<Float>.self)
        let s = UnsafeRawPointer(sines + i).loadUnaligned(as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(out + i).storeBytes(of: a * c - b * s, as: SIMD16<Float>.self)
        UnsafeMutableRawPointer(out + i + half).storeBytes(of: b * c + a * s, as: SIMD16<Float>.self)
        i += 16
    }
    while i < half {
        let a = x[i]
        let b = x[i + half]
        out[i] = a * cosines[i] - b * sines[i]
        out[i + half] = b * cosines[i] + a * sines[i]
        i += 1
    }
}
