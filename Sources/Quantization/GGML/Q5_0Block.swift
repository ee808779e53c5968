// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q5_0`: 32 elements in 22 bytes — f16 `d`, u32 `qh` (bit 4 of each level), 16 bytes of low nibbles;
/// value = (q − 16)·d.
enum Q5_0Block: GGMLBlockEncoding {
    static let type = GGMLType.q5_0
    static let blockSize = 32
    static let typeSize = 22

    /// Same as `dequantize_row_q5_0` in ggml-quants.c.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        LegacyBlock.forEachFiveBitPair(block + 6, qh: block.u32(at: 2)) { j, q0, q1 in
            y[j] = Float(q0 - 16) * d
            y[j + 16] = Float(q1 - 16) * d
        }
    }

    /// Same as `quantize_row_q5_0_ref` in ggml-quants.c (and gguf-py `Q5_0.quantize_blocks`).
    @inline(__always)
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { q in
            guard let q = q.baseAddress else { return }
            let d = LegacyBlock.symmetricLevels(x, half: 16, top: 31, into: q)
            block.storeF16(d, at: 0)
            block.storeU32(LegacyBlock.fifthBits(q), at: 2)
            LegacyBlock.packNibbles(q, into: block + 6)
        }
    }
}
