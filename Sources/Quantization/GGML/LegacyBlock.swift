// SPDX-License-Identifier: Apache-2.0

/// Pieces shared by the 32-element ggml formats (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL).
///
/// Element order: byte `j` of the nibble array holds element `j` in its low nibble and element `j + 16` in its
/// high nibble; bit `j` of the 32-bit `qh` word holds bit 4 of element `j` (ggml-common.h `block_q5_0`).
enum LegacyBlock {
    /// Elements per block (`QK4_0`, `QK4_1`, `QK5_0`, `QK5_1`, `QK8_0`, `QK4_NL`).
    static let size = 32

    /// The value with the largest magnitude, the first one on ties (`if (amax < fabsf(v))` in ggml).
    @inline(__always)
    static func signedMax(_ x: UnsafePointer<Float>) -> Float {
        var amax: Float = 0
        var max: Float = 0
        for j in 0..<size where amax < abs(x[j]) {
            amax = abs(x[j])
            max = x[j]
        }
        return max
    }

    /// Symmetric levels: `d = max / -half`, `q = min(top, trunc(x·(1/d) + half + 0.5))`; returns `d` in f32.
    ///
    /// Same as the level computation of `quantize_row_q4_0_ref` (half 8) and `quantize_row_q5_0_ref` (half 16)
    /// in ggml-quants.c. `x·id` and the addition are separate roundings (no fused multiply-add), as in gguf-py.
    @inline(__always)
    static func symmetricLevels(
        _ x: UnsafePointer<Float>, half: Float, top: UInt8, into q: UnsafeMutablePointer<UInt8>
    ) -> Float {
        let d = signedMax(x) / -half
        let id: Float = d != 0 ? 1 / d : 0
        let offset = half + 0.5
        for j in 0..<size {
            let scaled = x[j] * id
            q[j] = GGMLRounding.truncatedLevel(scaled + offset, top: top)
        }
        return d
    }

    /// Affine levels: `d = (max − min) / steps`, `q = min(top, trunc((x − min)·(1/d) + 0.5))`; returns `(d, min)`.
    ///
    /// Same as the level computation of `quantize_row_q4_1_ref` (15 steps) and `quantize_row_q5_1_ref`
    /// (31 steps) in ggml-quants.c.
    @inline(__always)
    static func affineLevels(
        _ x: UnsafePointer<Float>, steps: Float, into q: UnsafeMutablePointer<UInt8>
    ) -> (d: Float, min: Float) {
        var lo = Float.greatestFiniteMagnitude
        var hi = -Float.greatestFiniteMagnitude
        for j in 0..<size {
            if x[j] < lo { lo = x[j] }
            if x[j] > hi { hi = x[j] }
        }
        let d = (hi - lo) / steps
        let id: Float = d != 0 ? 1 / d : 0
        let top = UInt8(steps)
        for j in 0..<size {
            let scaled = (x[j] - lo) * id
            q[j] = GGMLRounding.truncatedLevel(scaled + 0.5, top: top)
        }
        return (d, lo)
    }

    /// Writes the low nibbles of 32 levels as 16 bytes (element j low, element j+16 high).
    @inline(__always)
    static func packNibbles(_ q: UnsafePointer<UInt8>, into qs: UnsafeMutableRawPointer) {
        for j in 0..<size / 2 {
            qs.storeByte((q[j] & 0x0F) | (q[j + 16] << 4), at: j)
        }
    }

    /// Bit 4 of each of 32 levels gathered into one word (bit j for element j).
    @inline(__always)
    static func fifthBits(_ q: UnsafePointer<UInt8>) -> UInt32 {
        var qh: UInt32 = 0
        for j in 0..<size {
            qh |= UInt32((q[j] >> 4) & 1) &<< UInt32(j)
        }
        return qh
    }

    /// Runs `body(j, lowLevel, highLevel)` for j in 0..<16 with the 4-bit levels of elements j and j + 16.
    @inline(__always)
    static func forEachNibblePair(_ qs: UnsafeRawPointer, _ body: (Int, Int32, Int32) -> Void) {
        for j in 0..<size / 2 {
            let byte = qs.byte(at: j)
            body(j, Int32(byte & 0x0F), Int32(byte >> 4))
        }
    }

    /// Runs `body(j, lowLevel, highLevel)` with the 5-bit levels of elements j and j + 16 (nibble plus `qh` bit).
    @inline(__always)
    static func forEachFiveBitPair(
        _ qs: UnsafeRawPointer, qh: UInt32, _ body: (Int, Int32, Int32) -> Void
    ) {
        for j in 0..<size / 2 {
            let byte = qs.byte(at: j)
            let high0 = Int32((qh &>> UInt32(j)) & 1) &<< 4
            let high1 = Int32((qh &>> UInt32(j + 16)) & 1) &<< 4
            body(j, Int32(byte & 0x0F) | high0, Int32(byte >> 4) | high1)
        }
    }
}
