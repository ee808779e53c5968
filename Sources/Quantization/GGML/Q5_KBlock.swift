// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q5_K`: 256 elements in 176 bytes — f16 `d`, f16 `dmin`, `scales[12]`, `qh[32]` (bit 4 of each level),
/// `qs[128]` (low nibbles); value = d·scale·q − dmin·min per 32-element sub-block.
enum Q5_KBlock: GGMLBlockEncoding {
    static let type = GGMLType.q5_K
    static let blockSize = 256
    static let typeSize = 176

    /// Same as `dequantize_row_q5_K` in ggml-quants.c.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        let dmin = block.f16(at: 2)
        let qh = block + 16
        for pair in 0..<4 {
            let ql = block + 48 + 32 * pair
            let (sc1, m1) = KQuantPacking.scaleMin(2 * pair, block + 4)
            let (sc2, m2) = KQuantPacking.scaleMin(2 * pair + 1, block + 4)
            let d1 = d * Float(sc1)
            let min1 = dmin * Float(m1)
            let d2 = d * Float(sc2)
            let min2 = dmin * Float(m2)
            let bit1 = UInt8(1) << UInt8(2 * pair)
            let bit2 = UInt8(2) << UInt8(2 * pair)
            let out = y + 64 * pair
            for l in 0..<32 {
                let byte = ql.byte(at: l)
                let high = qh.byte(at: l)
                out[l] = d1 * Float((byte & 0xF) + (high & bit1 != 0 ? 16 : 0)) - min1
                out[l + 32] = d2 * Float((byte >> 4) + (high & bit2 != 0 ? 16 : 0)) - min2
            }
        }
    }

    /// Same as `quantize_row_q5_K_ref` in ggml-quants.c (what `quantize_q5_K` runs without an importance
    /// matrix): `make_qkx2_quants(32, 31, …, rmin −0.5, rdelta 0.1, nstep 15)` per sub-block.
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { bytes in
            guard let levels = bytes.baseAddress else { return }
            let search = KQuantSearch.AffineSearch(
                nmax: 31, rmin: -0.5, rdelta: 0.1, steps: 15, absoluteError: false)
            KQuantPacking.quantizeScaleMinBlock(x, search: search, into: block, levels: levels)
            for j in 0..<32 { block.storeByte(0, at: 16 + j) }
            for pair in 0..<4 {
                let l = levels + 64 * pair
                let bit1 = UInt8(1) << UInt8(2 * pair)
                let bit2 = UInt8(2) << UInt8(2 * pair)
                for i in 0..<32 {
                    var high = block.byte(at: 16 + i)
                    if l[i] > 15 { high |= bit1 }
                    if l[i + 32] > 15 { high |= bit2 }
                    block.storeByte(high, at: 16 + i)
                    block.storeByte((l[i] & 0xF) | (l[i + 32] & 0xF) << 4, at: 48 + 32 * pair + i)
                }
            }
        }
    }
}
