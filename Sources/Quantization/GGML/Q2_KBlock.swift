// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q2_K`: 256 elements in 84 bytes — `scales[16]` (low nibble scale, high nibble min per 16 elements),
/// `qs[64]` (2-bit levels), f16 `d`, f16 `dmin`; value = d·scale·q − dmin·min.
enum Q2_KBlock: GGMLBlockEncoding {
    static let type = GGMLType.q2_K
    static let blockSize = 256
    static let typeSize = 84

    /// Same as `dequantize_row_q2_K` in ggml-quants.c (`dl = d·scale`, `ml = dmin·min`, then `dl·q − ml`).
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 80)
        let dmin = block.f16(at: 82)
        var out = y
        for half in 0..<2 {
            let q = block + 16 + 32 * half
            for shift in stride(from: 0, to: 8, by: 2) {
                for group in 0..<2 {
                    let sc = block.byte(at: 8 * half + shift + group)
                    let dl = d * Float(sc & 0xF)
                    let ml = dmin * Float(sc >> 4)
                    for l in 0..<16 {
                        out[l] = dl * Float((q.byte(at: 16 * group + l) >> UInt8(shift)) & 3) - ml
                    }
                    out += 16
                }
            }
        }
    }

    /// Same as `quantize_row_q2_K_ref` in ggml-quants.c (what `quantize_q2_K` runs without an importance
    /// matrix).
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 48) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256 + 16) { bytes in
                guard let weights = floats.baseAddress, let levels = bytes.baseAddress else {
                    return
                }
                let scales = weights + 16
                let mins = weights + 32
                let search = KQuantSearch.AffineSearch(
                    nmax: 3, rmin: -0.5, rdelta: 0.1, steps: 15, absoluteError: true)
                var maxScale: Float = 0
                var maxMin: Float = 0
                for j in 0..<16 {
                    for l in 0..<16 { weights[l] = abs(x[16 * j + l]) }
                    (scales[j], mins[j]) = KQuantSearch.affineLevels(
                        x + 16 * j, weights: weights, count: 16, search: search,
                        into: levels + 16 * j,
                        scratch: levels + 256)
                    if scales[j] > maxScale { maxScale = scales[j] }
                    if mins[j] > maxMin { maxMin = mins[j] }
                }
                storeScales(scales, mins, maxScale: maxScale, maxMin: maxMin, into: block)
                let d = block.f16(at: 80)
                let dmin = block.f16(at: 82)
                for j in 0..<16 {
                    let sc = block.byte(at: j)
                    KQuantSearch.requantize(
                        x + 16 * j, count: 16, d: d * Float(sc & 0xF), dm: dmin * Float(sc >> 4),
                        low: 0, high: 3,
                        bias: 0, into: levels + 16 * j)
                }
                KQuantPacking.packTwoBitLevels(levels, into: block + 16)
            }
        }
    }

    /// Rounds the 16 scales and mins to 4 bits against their maxima and stores them with `d` and `dmin`.
    private static func storeScales(
        _ scales: UnsafePointer<Float>, _ mins: UnsafePointer<Float>, maxScale: Float,
        maxMin: Float,
        into block: UnsafeMutableRawPointer
    ) {
        if maxScale > 0 {
            let iscale = 15 / maxScale
            for j in 0..<16 {
                block.storeByte(
                    UInt8(truncatingIfNeeded: GGMLRounding.nearestInt(iscale * scales[j])), at: j)
            }
            block.storeF16(maxScale / 15, at: 80)
        } else {
            for j in 0..<16 { block.storeByte(0, at: j) }
            block.storeF16(0, at: 80)
        }
        if maxMin > 0 {
            let iscale = 15 / maxMin
            for j in 0..<16 {
                let l = GGMLRounding.nearestInt(iscale * mins[j])
                block.orByte(UInt8(truncatingIfNeeded: l << 4), at: j)
            }
            block.storeF16(maxMin / 15, at: 82)
        } else {
            block.storeF16(0, at: 82)
        }
    }
}
