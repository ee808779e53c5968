// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q4_1`: 32 elements in 20 bytes — f16 `d`, f16 `m`, 16 bytes of 4-bit levels; value = q·d + m.
enum Q4_1Block: GGMLBlockEncoding {
    static let type = GGMLType.q4_1
    static let blockSize = 32
    static let typeSize = 20

    /// Same as `dequantize_row_q4_1` in ggml-quants.c (`x0*d + m`, two roundings).
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        let m = block.f16(at: 2)
        LegacyBlock.forEachNibblePair(block + 4) { j, q0, q1 in
            y[j] = Float(q0) * d + m
            y[j + 16] = Float(q1) * d + m
        }
    }

    /// Same as `quantize_row_q4_1_ref` in ggml-quants.c (and gguf-py `Q4_1.quantize_blocks`).
    @inline(__always)
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            guard let q = q.baseAddress else { return }
            let (d, m) = LegacyBlock.affineLevels(x, steps: 15, into: q)
            block.storeF16(d, at: 0)
            block.storeF16(m, at: 2)
            LegacyBlock.packNibbles(q, into: block + 4)
        }
    }
}
