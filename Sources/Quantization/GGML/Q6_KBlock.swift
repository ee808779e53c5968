// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q6_K`: 256 elements in 210 bytes — `ql[128]` (low nibbles), `qh[64]` (high 2 bits), `scales[16]` (int8 per
/// 16 elements), f16 `d`; value = d·scale·(q − 32).
enum Q6_KBlock: GGMLBlockEncoding {
    static let type = GGMLType.q6_K
    static let blockSize = 256
    static let typeSize = 210

    /// Same as `dequantize_row_q6_K` in ggml-quants.c (`d·scale` first, then times `q − 32`); elements
    /// `l`, `l + 32`, `l + 64`, `l + 96` of each half use scales `l/16`, `+2`, `+4`, `+6`.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 208)
        for half in 0..<2 {
            let ql = block + 64 * half
            let qh = block + 128 + 32 * half
            let sc = block + 192 + 8 * half
            let out = y + 128 * half
            for group in 0..<2 {
                let scale = { (k: Int) in d * Float(Int8(bitPattern: sc.byte(at: group + 2 * k))) }
                let (d1, d2, d3, d4) = (scale(0), scale(1), scale(2), scale(3))
                for l in 16 * group..<16 * group + 16 {
                    let low0 = ql.byte(at: l)
                    let low1 = ql.byte(at: l + 32)
                    let high = qh.byte(at: l)
                    out[l] = d1 * Float(Int32((low0 & 0xF) | (high & 3) << 4) - 32)
                    out[l + 32] = d2 * Float(Int32((low1 & 0xF) | ((high >> 2) & 3) << 4) - 32)
                    out[l + 64] = d3 * Float(Int32((low0 >> 4) | ((high >> 4) & 3) << 4) - 32)
                    out[l + 96] = d4 * Float(Int32((low1 >> 4) | ((high >> 6) & 3) << 4) - 32)
                }
            }
        }
    }

    /// Same as `quantize_row_q6_K_ref` in ggml-quants.c (what `quantize_q6_K` runs without an importance
    /// matrix): `make_qx_quants(16, 32, …, rmse_type 1)` per 16 elements, int8 scales against the largest.
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { bytes in
            guard let levels = bytes.baseAddress else { return }
            let scales = KQuantSearch.symmetricLevels16(x, nmax: 32, into: levels)
            var maxScale: Float = 0
            var maxAbsScale: Float = 0
            for j in 0..<16 where abs(scales[j]) > maxAbsScale {
                maxAbsScale = abs(scales[j])
                maxScale = scales[j]
            }
            guard maxAbsScale >= KQuantSearch.groupMaxEpsilon else {
                block.initializeMemory(as: UInt8.self, repeating: 0, count: typeSize)
                return
            }
            let iscale = -128 / maxScale
            block.storeF16(1 / iscale, at: 208)
            for j in 0..<16 {
                let rounded = min(127, GGMLRounding.nearestInt(iscale * scales[j]))
                block.storeByte(UInt8(truncatingIfNeeded: rounded), at: 192 + j)
            }
            let d = block.f16(at: 208)
            for j in 0..<16 {
                let sc = Int8(bitPattern: block.byte(at: 192 + j))
                KQuantSearch.requantize(
                    x + 16 * j, count: 16, d: d * Float(sc), dm: 0, low: -32, high: 31, bias: 32,
                    into: levels + 16 * j)
            }
            pack(levels, into: block)
        }
    }

    /// Splits 6-bit levels into `ql` (low nibbles) and `qh` (high 2 bits) as `quantize_row_q6_K_ref` does.
    private static func pack(_ levels: UnsafePointer<UInt8>, into block: UnsafeMutableRawPointer) {
        for half in 0..<2 {
            let l = levels + 128 * half
            for i in 0..<32 {
                block.storeByte((l[i] & 0xF) | (l[i + 64] & 0xF) << 4, at: 64 * half + i)
                block.storeByte((l[i + 32] & 0xF) | (l[i + 96] & 0xF) << 4, at: 64 * half + 32 + i)
                let high =
                    (l[i] >> 4) | (l[i + 32] >> 4) << 2 | (l[i + 64] >> 4) << 4 | (l[i + 96] >> 4)
                    << 6
                block.storeByte(high, at: 128 + 32 * half + i)
            }
        }
    }
}
