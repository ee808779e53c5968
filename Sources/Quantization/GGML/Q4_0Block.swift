// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q4_0`: 32 elements in 18 bytes — f16 `d`, then 16 bytes of 4-bit levels; value = (q − 8)·d.
enum Q4_0Block: GGMLBlockEncoding {
    static let type = GGMLType.q4_0
    static let blockSize = 32
    static let typeSize = 18

    /// Same as `dequantize_row_q4_0` in ggml-quants.c.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        LegacyBlock.forEachNibblePair(block + 2) { j, q0, q1 in
            y[j] = Float(q0 - 8) * d
            y[j + 16] = Float(q1 - 8) * d
        }
    }

    /// Same as `quantize_row_q4_0_ref` in ggml-quants.c (and gguf-py `Q4_0.quantize_blocks`).
    @inline(__always)
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            guard let q = q.baseAddress else { return }
            let d = LegacyBlock.symmetricLevels(x, half: 8, top: 15, into: q)
            block.storeF16(d, at: 0)
            LegacyBlock.packNibbles(q, into: block + 2)
        }
    }
}
