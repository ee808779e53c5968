// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore

/// Element-type conversions used when a conversion changes a tensor's type.
enum TensorEncoding {
    /// The ggml type that stores a safetensors dtype bit-for-bit, for the float types convert handles.
    static func ggmlType(for dtype: DType) -> GGMLType? {
        switch dtype {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
    }

    /// The safetensors dtype that stores a ggml type bit-for-bit, if any.
    static func dtype(for type: GGMLType) -> DType? {
        switch type {
        case .f32: .f32
        case .f16: .f16
        case .bf16: .bf16
        default: nil
        }
    }

    /// True when every value of `source` is exactly representable in `target`.
    static func isLossless(from source: GGMLType, to target: GGMLType) -> Bool {
        source == target || target == .f32 && (source == .f16 || source == .bf16)
    }

    /// Re-encodes `count` elements of `bytes` (of type `source`) as `target`: dequantized to float32 exactly,
    /// then encoded by ``GGMLCodec`` (F32, F16, BF16 or a ggml block type). Aligned F32 sources are encoded in
    /// place, without a float copy. `clock`, when given, times the encoding.
    ///
    /// - Throws: ``QuantizationError`` if either type has no codec, the sizes disagree, or a block type meets
    ///   a NaN or an infinity.
    static func convert(
        _ bytes: UnsafeRawBufferPointer, count: Int, from source: GGMLType, to target: GGMLType,
        clock: EncodingClock? = nil
    ) throws(QuantizationError) -> [UInt8] {
        guard let byteCount = target.rowByteCount(elements: count) else {
            throw .lengthNotMultipleOfBlock(elements: count, blockSize: target.blockSize, type: target)
        }
        var output = [UInt8](repeating: 0, count: byteCount)
        func encode(_ values: UnsafeBufferPointer<Float>) throws(QuantizationError) {
            let encoded = output.withUnsafeMutableBytes { destination in
                Result { () throws(QuantizationError) in
                    if let clock {
                        try clock.measure { () throws(QuantizationError) in
                            try GGMLCodec.quantize(values, as: target, into: destination)
                        }
                    } else {
                        try GGMLCodec.quantize(values, as: target, into: destination)
                    }
                }
            }
            try encoded.get()
        }
        if source == .f32, bytes.count == count * MemoryLayout<Float>.size,
            let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0
        {
            try encode(UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: count))
            return output
        }
        var floats = [Float](repeating: 0, count: count)
        let decoded = floats.withUnsafeMutableBufferPointer { destination in
            Result { () throws(QuantizationError) in
                try GGMLCodec.dequantize(bytes, as: source, into: destination)
            }
        }
        try decoded.get()
        try floats.withUnsafeBufferPointer { values throws(QuantizationError) in try encode(values) }
        return output
    }
}
