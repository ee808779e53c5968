// SPDX-License-Identifier: Apache-2.0

/// Bit layouts shared by the 256-element K-quant super-blocks (ggml-common.h `block_q*_K`).
enum KQuantPacking {
    /// Packs 256 two-bit levels into 64 bytes: byte `32·h + l` holds elements `128·h + l + 32·s` at bit `2·s`.
    ///
    /// The `qs` layout of Q2_K and Q3_K (`quantize_row_q2_K_ref`, `quantize_row_q3_K_ref`).
    @inline(__always)
    static func packTwoBitLevels(_ levels: UnsafePointer<UInt8>, into qs: UnsafeMutableRawPointer) {
        for half in 0..<2 {
            let l = levels + 128 * half
            for i in 0..<32 {
                let byte =
                    (l[i] & 3) | (l[i + 32] & 3) << 2 | (l[i + 64] & 3) << 4 | (l[i + 96] & 3) << 6
                qs.storeByte(byte, at: 32 * half + i)
            }
        }
    }

    /// The 6-bit scale and min of sub-block `j` (0..<8) from the 12-byte `scales` field of Q4_K/Q5_K.
    ///
    /// Same as `get_scale_min_k4` in ggml-quants.c.
    @inline(__always)
    static func scaleMin(_ j: Int, _ scales: UnsafeRawPointer) -> (scale: UInt8, min: UInt8) {
        if j < 4 {
            return (scales.byte(at: j) & 63, scales.byte(at: j + 4) & 63)
        }
        let scale = (scales.byte(at: j + 4) & 0xF) | ((scales.byte(at: j - 4) >> 6) << 4)
        let min = (scales.byte(at: j + 4) >> 4) | ((scales.byte(at: j) >> 6) << 4)
        return (scale, min)
    }

    /// The search and scale packing shared by Q4_K and Q5_K: writes f16 `d` at 0, f16 `dmin` at 2, the 12
    /// scale bytes at 4, and leaves the final levels (0...nmax) in `levels`.
    ///
    /// Same as the first part of `quantize_row_q4_K_ref` / `quantize_row_q5_K_ref` in ggml-quants.c: weights
    /// `sqrt(mean(x²)) + |x|`, one `make_qkx2_quants` search per 32-element sub-block, scales and mins rounded
    /// to 6 bits against their maxima, then levels recomputed from the stored scales.
    static func quantizeScaleMinBlock(
        _ x: UnsafePointer<Float>, search: KQuantSearch.AffineSearch,
        into block: UnsafeMutableRawPointer,
        levels: UnsafeMutablePointer<UInt8>
    ) {
        let (scales, mins) = KQuantSearch.affineLevels8(x, search: search, into: levels)
        var maxScale: Float = 0
        var maxMin: Float = 0
        for j in 0..<8 {
            if scales[j] > maxScale { maxScale = scales[j] }
            if mins[j] > maxMin { maxMin = mins[j] }
        }
        let inverseScale: Float = maxScale > 0 ? 63 / maxScale : 0
        let inverseMin: Float = maxMin > 0 ? 63 / maxMin : 0
        let packed = block + 4
        for j in 0..<8 {
            let ls = Swift.min(
                63,
                UInt8(truncatingIfNeeded: GGMLRounding.nearestInt(inverseScale * scales[j]))
            )
            let lm = Swift.min(
                63, UInt8(truncatingIfNeeded: GGMLRounding.nearestInt(inverseMin * mins[j]))
            )
            if j < 4 {
                packed.storeByte(ls, at: j)
                packed.storeByte(lm, at: j + 4)
            } else {
                packed.storeByte((ls & 0xF) | ((lm & 0xF) << 4), at: j + 4)
                packed.orByte((ls >> 4) << 6, at: j - 4)
                packed.orByte((lm >> 4) << 6, at: j)
            }
        }
        block.storeF16(maxScale / 63, at: 0)
        block.storeF16(maxMin / 63, at: 2)
        let d = block.f16(at: 0)
        let dmin = block.f16(at: 2)
        for j in 0..<8 {
            let (sc, m) = scaleMin(j, packed)
            KQuantSearch.requantize(
                x + 32 * j, count: 32, d: d * Float(sc), dm: dmin * Float(m), low: 0,
                high: search.nmax,
                bias: 0, into: levels + 32 * j)
        }
    }
}
