// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// `Q8_0`: 32 elements in 34 bytes — f16 `d`, then 32 signed bytes; value = q·d.
enum Q8_0Block: GGMLBlockEncoding {
    static let type = GGMLType.q8_0
    static let blockSize = 32
    static let typeSize = 34

    /// Same as `dequantize_row_q8_0` in ggml-quants.c.
    @inline(__always)
    static func dequantize(block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let d = block.f16(at: 0)
        for j in 0..<32 {
            y[j] = Float(Int8(bitPattern: block.byte(at: 2 + j))) * d
        }
    }

    /// Same as `quantize_row_q8_0_ref` in ggml-quants.c: `d = amax/127`, `q = roundf(x·(1/d))` (half away from
    /// zero), `d` stored as f16 after the levels are computed with the f32 `d`.
    @inline(__always)
    static func quantize(block x: UnsafePointer<Float>, into block: UnsafeMutableRawPointer) {
        var amax: Float = 0
        for j in 0..<32 { amax = max(amax, abs(x[j])) }
        let d = amax / 127
        let id: Float = d != 0 ? 1 / d : 0
        block.storeF16(d, at: 0)
        for j in 0..<32 {
            let scaled = x[j] * id
            block.storeByte(GGMLRounding.roundedLevel(scaled), at: 2 + j)
        }
    }
}
