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

    /// Re-encodes `count` elements of `bytes` (of type `source`) as `target` (F32, F16 or BF16).
    ///
    /// - Throws: ``QuantizationError`` if `source` cannot be dequantized or the sizes disagree.
    static func convert(
        _ bytes: UnsafeRawBufferPointer, count: Int, from source: GGMLType, to target: GGMLType
    ) throws(QuantizationError) -> [UInt8] {
        var floats = [Float](repeating: 0, count: count)
        let result = floats.withUnsafeMutableBufferPointer { destination in
            Result { () throws(QuantizationError) in
                try GGMLCodec.dequantize(bytes, as: source, into: destination)
            }
        }
        try result.get()
        switch target {
        case .f32:
            return floats.withUnsafeBytes { Array($0) }
        case .f16, .bf16:
            var halves = [UInt16](repeating: 0, count: count)
            floats.withUnsafeBufferPointer { source in
                halves.withUnsafeMutableBufferPointer { destination in
                    if target == .f16 {
                        HalfPrecision.convertFloatToF16(source, into: destination)
                    } else {
                        HalfPrecision.convertFloatToBF16(source, into: destination)
                    }
                }
            }
            return halves.withUnsafeBytes { Array($0) }
        default:
            preconditionFailure("convert encodes only F32, F16 and BF16")
        }
    }
}
