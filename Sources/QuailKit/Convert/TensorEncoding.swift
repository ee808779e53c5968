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
    /// then encoded by ``GGMLCodec`` (F32, F16, BF16 or a ggml block type).
    ///
    /// - Throws: ``QuantizationError`` if either type has no codec, the sizes disagree, or a block type meets
    ///   a NaN or an infinity.
    static func convert(
        _ bytes: UnsafeRawBufferPointer, count: Int, from source: GGMLType, to target: GGMLType
    ) throws(QuantizationError) -> [UInt8] {
        var floats = [Float](repeating: 0, count: count)
        let decoded = floats.withUnsafeMutableBufferPointer { destination in
            Result { () throws(QuantizationError) in
                try GGMLCodec.dequantize(bytes, as: source, into: destination)
            }
        }
        try decoded.get()
        guard let byteCount = target.rowByteCount(elements: count) else {
            throw .lengthNotMultipleOfBlock(elements: count, blockSize: target.blockSize, type: target)
        }
        var output = [UInt8](repeating: 0, count: byteCount)
        let encoded = floats.withUnsafeBufferPointer { values in
            output.withUnsafeMutableBytes { destination in
                Result { () throws(QuantizationError) in try GGMLCodec.quantize(values, as: target, into: destination) }
            }
        }
        try encoded.get()
        return output
    }
}
