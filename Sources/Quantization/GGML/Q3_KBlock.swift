// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q3_K`: 256 elements in 110 bytes — `hmask[32]` (bit 2 of each level), `qs[64]` (low 2 bits), `scales[12]`
/// (sixteen 6-bit signed scales), f16 `d`; value = d·(scale − 32)·(q − 4·(1 − hbit)).
enum Q3_KBlock: GGMLBlockEncoding {
    static let type = GGMLType.q3_K
    static let blockSize = 256
    static let typeSize = 110

    /// The 6-bit scale `k` (0..<16) of the 12-byte scales field, before subtracting 32.
    @inline(__always)
    static func scale(_ k: Int, _ scales: UnsafeRawPointer) -> Int32 {
        let low = k < 8 ? scales.byte(at: k) & 0xF : scales.byte(at: k - 8) >> 4
        let high = (scales.byte(at: 8 + k % 4) >> UInt8(2 * (k / 4))) & 3
        return Int32(low | high << 4)
    }

    /// Same as `dequantize_row_q3_K` in ggml-quants.c (`dl = d·(scale − 32)`, then `dl·q`).
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 108)
        let hmask = block
        var out = y
        var k = 0
        var mask: UInt8 = 1
        for half in 0..<2 {
            let q = block + 32 + 32 * half
            for shift in stride(from: 0, to: 8, by: 2) {
                for group in 0..<2 {
                    let dl = d * Float(scale(k, block + 96) - 32)
                    k += 1
                    for l in 0..<16 {
                        let low = Int32((q.byte(at: 16 * group + l) >> UInt8(shift)) & 3)
                        let high: Int32 = hmask.byte(at: 16 * group + l) & mask != 0 ? 0 : 4
                        out[l] = dl * Float(low - high)
                    }
                    out += 16
                }
                mask <<= 1
            }
        }
    }

    /// Same as `quantize_row_q3_K_ref` in ggml-quants.c (what `quantize_q3_K` runs without an importance
    /// matrix).
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { floats in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { bytes in
                guard let scales = floats.baseAddress, let levels = bytes.baseAddress else {
                    return
                }
                var maxScale: Float = 0
                var amax: Float = 0
                for j in 0..<16 {
                    scales[j] = KQuantSearch.iterativeLevels(
                        x + 16 * j, count: 16, nmax: 4, into: levels + 16 * j)
                    if abs(scales[j]) > amax {
                        amax = abs(scales[j])
                        maxScale = scales[j]
                    }
                }
                storeScales(scales, maxScale: maxScale, into: block)
                let d = block.f16(at: 108)
                for j in 0..<16 {
                    let sc = scale(j, block + 96) - 32
                    KQuantSearch.requantize(
                        x + 16 * j, count: 16, d: d * Float(sc), dm: 0, low: -4, high: 3, bias: 4,
                        into: levels + 16 * j)
                }
                for m in 0..<32 { block.storeByte(0, at: m) }
                for j in 0..<256 where levels[j] > 3 {
                    let m = j % 32
                    block.orByte(UInt8(1) << UInt8(j / 32), at: m)
                    levels[j] -= 4
                }
                KQuantPacking.packTwoBitLevels(levels, into: block + 32)
            }
        }
    }

    /// Rounds the 16 signed scales to 6 bits against the largest-magnitude one and stores them with `d`.
    private static func storeScales(
        _ scales: UnsafePointer<Float>, maxScale: Float, into block: UnsafeMutableRawPointer
    ) {
        let packed = block + 96
        for i in 0..<12 { packed.storeByte(0, at: i) }
        guard maxScale != 0 else {
            block.storeF16(0, at: 108)
            return
        }
        let iscale = -32 / maxScale
        for j in 0..<16 {
            let rounded = Int8(truncatingIfNeeded: GGMLRounding.nearestInt(iscale * scales[j]))
            let l = UInt8(truncatingIfNeeded: max(-32, min(31, rounded)) + 32)
            if j < 8 {
                packed.storeByte(l & 0xF, at: j)
            } else {
                packed.orByte((l & 0xF) << 4, at: j - 8)
            }
            let slot = 8 + j % 4
            packed.orByte((l >> 4) << UInt8(2 * (j / 4)), at: slot)
        }
        block.storeF16(1 / iscale, at: 108)
    }
}
