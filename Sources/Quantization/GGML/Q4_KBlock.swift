// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q4_K`: 256 elements in 144 bytes — f16 `d`, f16 `dmin`, `scales[12]` (eight 6-bit scale/min pairs),
/// `qs[128]` (4-bit levels); value = d·scale·q − dmin·min per 32-element sub-block.
enum Q4_KBlock: GGMLBlockEncoding {
    static let type = GGMLType.q4_K
    static let blockSize = 256
    static let typeSize = 144

    /// Same as `dequantize_row_q4_K` in ggml-quants.c (`d1 = d·scale`, `m1 = dmin·min`, then `d1·q − m1`).
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        let dmin = block.f16(at: 2)
        for pair in 0..<4 {
            let q = block + 16 + 32 * pair
            let (sc1, m1) = KQuantPacking.scaleMin(2 * pair, block + 4)
            let (sc2, m2) = KQuantPacking.scaleMin(2 * pair + 1, block + 4)
            let d1 = d * Float(sc1)
            let min1 = dmin * Float(m1)
            let d2 = d * Float(sc2)
            let min2 = dmin * Float(m2)
            let out = y + 64 * pair
            for l in 0..<32 {
                let byte = q.byte(at: l)
                out[l] = d1 * Float(byte & 0xF) - min1
                out[l + 32] = d2 * Float(byte >> 4) - min2
            }
        }
    }

    /// Same as `quantize_row_q4_K_ref` in ggml-quants.c (what `quantize_q4_K` runs without an importance
    /// matrix): `make_qkx2_quants(32, 15, …, rmin −1, rdelta 0.1, nstep 20)` per sub-block.
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 256) { bytes in
            guard let levels = bytes.baseAddress else { return }
            let search = KQuantSearch.AffineSearch(
                nmax: 15, rmin: -1, rdelta: 0.1, steps: 20, absoluteError: false)
            KQuantPacking.quantizeScaleMinBlock(x, search: search, into: block, levels: levels)
            for pair in 0..<4 {
                let l = levels + 64 * pair
                for i in 0..<32 {
                    block.storeByte(l[i] | l[i + 32] << 4, at: 16 + 32 * pair + i)
                }
            }
        }
    }
}
