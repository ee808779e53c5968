// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q5_1`: 32 elements in 24 bytes — f16 `d`, f16 `m`, u32 `qh`, 16 bytes of low nibbles; value = q·d + m.
enum Q5_1Block: GGMLBlockEncoding {
    static let type = GGMLType.q5_1
    static let blockSize = 32
    static let typeSize = 24

    /// Same as `dequantize_row_q5_1` in ggml-quants.c.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        let m = block.f16(at: 2)
        LegacyBlock.forEachFiveBitPair(block + 8, qh: block.u32(at: 4)) { j, q0, q1 in
            y[j] = Float(q0) * d + m
            y[j + 16] = Float(q1) * d + m
        }
    }

    /// Same as `quantize_row_q5_1_ref` in ggml-quants.c (and gguf-py `Q5_1.quantize_blocks`).
    @inline(__always)
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            guard let q = q.baseAddress else { return }
            let (d, m) = LegacyBlock.affineLevels(x, steps: 31, into: q)
            block.storeF16(d, at: 0)
            block.storeF16(m, at: 2)
            block.storeU32(LegacyBlock.fifthBits(q), at: 4)
            LegacyBlock.packNibbles(q, into: block + 8)
        }
    }
}
