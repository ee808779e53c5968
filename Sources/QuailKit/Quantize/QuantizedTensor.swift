// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore

/// One tensor quantized to a ``QuantizationTarget``: ggml blocks or a bitsandbytes tensor.
///
/// Large tensors are quantized in parallel on ``ParallelWork`` threads; the result does not depend on the
/// thread count.
public enum QuantizedTensor: Sendable {
    /// ggml blocks (or F32/F16/BF16 elements), row after row.
    case ggml(GGMLType, bytes: [UInt8])
    /// A bitsandbytes NF4/FP4 tensor.
    case bitsAndBytes4Bit(BitsAndBytes4BitTensor)
    /// An LLM.int8 tensor.
    case bitsAndBytesInt8(BitsAndBytesInt8Tensor)

    /// Quantizes a row-major tensor of `shape` (outermost first; rows run along the last dimension).
    ///
    /// - Parameters:
    ///   - path, tensor: name the checkpoint and tensor in errors.
    /// - Throws: ``CheckpointError/cannotQuantize(path:tensor:reason:)`` for NaN or infinite values, a row
    ///   length that is not a whole number of ggml blocks, a shape LLM.int8 cannot take (not 2-D), or any
    ///   other rule the codec enforces.
    public init(
        quantizing values: UnsafeBufferPointer<Float>, shape: [Int], as target: QuantizationTarget,
        path: String = "<memory>", tensor: String = "tensor"
    ) throws(CheckpointError) {
        func fail(_ reason: String) -> CheckpointError { .cannotQuantize(path: path, tensor: tensor, reason: reason) }
        guard Shape.elementCount(shape) == values.count else {
            throw fail("shape \(shape) does not hold \(values.count) values")
        }
        do {
            switch target {
            case .ggml(let type):
                let row = shape.last ?? 1
                guard row % type.blockSize == 0, let byteCount = type.rowByteCount(elements: values.count) else {
                    throw fail("rows of \(row) values are not a whole number of \(type.name) blocks of \(type.blockSize)")
                }
                var bytes = [UInt8](repeating: 0, count: byteCount)
                let result = bytes.withUnsafeMutableBytes { output in
                    Result { () throws(QuantizationError) in try GGMLCodec.quantize(values, as: type, into: output) }
                }
                try result.get()
                self = .ggml(type, bytes: bytes)
            case .bitsAndBytes4Bit(let type, let blockSize, let double):
                self = .bitsAndBytes4Bit(
                    try ParallelBitsAndBytes.quantize4Bit(
                        values, shape: shape, type: type, blockSize: blockSize, doubleQuantization: double))
            case .bitsAndBytesInt8:
                guard shape.count == 2 else { throw fail("LLM.int8 quantizes 2-D weights only, not shape \(shape)") }
                self = .bitsAndBytesInt8(try BitsAndBytesInt8Codec.quantize(values, rows: shape[0], columns: shape[1]))
            }
        } catch let error as CheckpointError {
            throw error
        } catch let error as QuantizationError {
            throw fail(error.description)
        } catch let error as BitsAndBytesError {
            throw fail(error.description)
        } catch {
            throw fail("\(error)")
        }
    }

    /// Expands the tensor back to float32 values (exactly what the runtime computes before any cast to
    /// the compute dtype).
    ///
    /// Traps unless `output.count` equals the element count (a programmer error).
    public func dequantize(into output: UnsafeMutableBufferPointer<Float>) {
        switch self {
        case .ggml(let type, let bytes):
            bytes.withUnsafeBytes { input in
                do {
                    try GGMLCodec.dequantize(input, as: type, into: output)
                } catch {
                    preconditionFailure("output holds \(output.count) values, not the tensor's element count")
                }
            }
        case .bitsAndBytes4Bit(let tensor):
            precondition(output.count == tensor.elementCount, "output size differs from the element count")
            _ = output.update(fromContentsOf: BitsAndBytes4BitCodec.dequantize(tensor))
        case .bitsAndBytesInt8(let tensor):
            precondition(output.count == tensor.codes.count, "output size differs from the element count")
            _ = output.update(fromContentsOf: BitsAndBytesInt8Codec.dequantize(tensor))
        }
    }
}

/// `dequantize(quantize(W))` for one tensor: the quantized base weight Q the init solvers measure W − Q on.
public enum QuantizationRoundTrip {
    /// Writes `dequantize(quantize(values))` for `target` into `output` (same count as `values`).
    ///
    /// Uses exactly the quantizers `quail quantize` writes with (ggml reference quantizers; bitsandbytes
    /// NF4/FP4 with the block size and double quantization of `target`; LLM.int8), so the result is the Q a
    /// runtime loading that file computes. Allocates the encoded tensor once; nothing per element.
    ///
    /// - Throws: as ``QuantizedTensor/init(quantizing:shape:as:path:tensor:)``.
    public static func apply(
        _ target: QuantizationTarget, to values: UnsafeBufferPointer<Float>, shape: [Int],
        into output: UnsafeMutableBufferPointer<Float>, tensor: String = "tensor"
    ) throws(CheckpointError) {
        precondition(output.count == values.count, "output must hold one value per input value")
        let quantized = try QuantizedTensor(quantizing: values, shape: shape, as: target, tensor: tensor)
        quantized.dequantize(into: output)
    }

    /// `dequantize(quantize(values))` for `target` as a new array.
    ///
    /// - Throws: as ``QuantizedTensor/init(quantizing:shape:as:path:tensor:)``.
    public static func apply(
        _ target: QuantizationTarget, to values: [Float], shape: [Int], tensor: String = "tensor"
    ) throws(CheckpointError) -> [Float] {
        let quantized = values.withUnsafeBufferPointer { input in
            Result { () throws(CheckpointError) in
                try QuantizedTensor(quantizing: input, shape: shape, as: target, tensor: tensor)
            }
        }
        var output = [Float](repeating: 0, count: values.count)
        let encoded = try quantized.get()
        output.withUnsafeMutableBufferPointer { encoded.dequantize(into: $0) }
        return output
    }
}
