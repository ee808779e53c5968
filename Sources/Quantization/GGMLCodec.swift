// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// Converts between `Float` and ggml tensor types, bit-exact with ggml's reference C code and gguf-py.
///
/// Dequantization covers F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and IQ4_NL.
/// Quantization covers the same types and produces what ggml's `ggml_quantize_chunk` writes without an
/// importance matrix (the `quantize_row_*_ref` functions; `quantize_iq4_nl` for IQ4_NL). Buffers hold whole
/// blocks; large buffers are processed in parallel, chunked on block boundaries, with identical results.
public enum GGMLCodec {
    /// Expands whole blocks of `type` into floats.
    ///
    /// - Parameters:
    ///   - bytes: The encoded blocks; must hold exactly `type.rowByteCount(elements: destination.count)` bytes.
    ///   - type: The ggml type of `bytes`.
    ///   - destination: Receives one float per element.
    /// - Throws: ``QuantizationError/unsupportedType(_:)`` when `type` has no decoder,
    ///   ``QuantizationError/lengthNotMultipleOfBlock(elements:blockSize:type:)`` when `destination.count` is not
    ///   a whole number of blocks, ``QuantizationError/bufferSizeMismatch(expected:actual:)`` when `bytes` has
    ///   the wrong length.
    public static func dequantize(
        _ bytes: UnsafeRawBufferPointer, as type: GGMLType,
        into destination: UnsafeMutableBufferPointer<Float>
    ) throws(QuantizationError) {
        guard canDequantize(type) else { throw .unsupportedType(type) }
        let blocks = try blockCount(elements: destination.count, bytes: bytes.count, type: type)
        guard blocks > 0, let source = bytes.baseAddress, let output = destination.baseAddress
        else { return }
        let halves = UnsafeBufferPointer(
            start: source.assumingMemoryBound(to: UInt16.self), count: destination.count)
        let isHalfAligned = Int(bitPattern: source) % MemoryLayout<UInt16>.alignment == 0
        switch type {
        case .f32: BlockRunner.dequantize(F32Element.self, source, into: output, blockCount: blocks)
        case .f16 where isHalfAligned: HalfPrecision.convertF16ToFloat(halves, into: destination)
        case .bf16 where isHalfAligned: HalfPrecision.convertBF16ToFloat(halves, into: destination)
        case .f16: BlockRunner.dequantize(F16Element.self, source, into: output, blockCount: blocks)
        case .bf16:
            BlockRunner.dequantize(BF16Element.self, source, into: output, blockCount: blocks)
        case .q4_0: BlockRunner.dequantize(Q4_0Block.self, source, into: output, blockCount: blocks)
        case .q4_1: BlockRunner.dequantize(Q4_1Block.self, source, into: output, blockCount: blocks)
        case .q5_0: BlockRunner.dequantize(Q5_0Block.self, source, into: output, blockCount: blocks)
        case .q5_1: BlockRunner.dequantize(Q5_1Block.self, source, into: output, blockCount: blocks)
        case .q8_0: BlockRunner.dequantize(Q8_0Block.self, source, into: output, blockCount: blocks)
        case .q2_K: BlockRunner.dequantize(Q2_KBlock.self, source, into: output, blockCount: blocks)
        case .q3_K: BlockRunner.dequantize(Q3_KBlock.self, source, into: output, blockCount: blocks)
        case .q4_K: BlockRunner.dequantize(Q4_KBlock.self, source, into: output, blockCount: blocks)
        case .q5_K: BlockRunner.dequantize(Q5_KBlock.self, source, into: output, blockCount: blocks)
        case .q6_K: BlockRunner.dequantize(Q6_KBlock.self, source, into: output, blockCount: blocks)
        case .iq4_NL:
            BlockRunner.dequantize(IQ4_NLBlock.self, source, into: output, blockCount: blocks)
        default: throw .unsupportedType(type)
        }
    }

    /// Encodes floats as whole blocks of `type`.
    ///
    /// - Parameters:
    ///   - source: The values; a whole number of blocks. Block types require finite values.
    ///   - type: The ggml type to produce.
    ///   - destination: Receives exactly `type.rowByteCount(elements: source.count)` bytes.
    /// - Throws: ``QuantizationError/unsupportedType(_:)``,
    ///   ``QuantizationError/lengthNotMultipleOfBlock(elements:blockSize:type:)``,
    ///   ``QuantizationError/bufferSizeMismatch(expected:actual:)``, or
    ///   ``QuantizationError/nonFiniteValue(index:type:)`` when a block type meets a NaN or an infinity
    ///   (the destination is then incomplete).
    public static func quantize(
        _ source: UnsafeBufferPointer<Float>, as type: GGMLType,
        into destination: UnsafeMutableRawBufferPointer
    ) throws(QuantizationError) {
        guard canQuantize(type) else { throw .unsupportedType(type) }
        let blocks = try blockCount(elements: source.count, bytes: destination.count, type: type)
        guard blocks > 0, let input = source.baseAddress, let output = destination.baseAddress
        else { return }
        let bad: Int?
        let halves = UnsafeMutableBufferPointer(
            start: output.assumingMemoryBound(to: UInt16.self), count: source.count)
        let isHalfAligned = Int(bitPattern: output) % MemoryLayout<UInt16>.alignment == 0
        switch type {
        case .f16 where isHalfAligned:
            HalfPrecision.convertFloatToF16(source, into: halves)
            bad = nil
        case .bf16 where isHalfAligned:
            HalfPrecision.convertFloatToBF16(source, into: halves)
            bad = nil
        case .f32:
            bad = BlockRunner.quantize(F32Element.self, input, into: output, blockCount: blocks)
        case .f16:
            bad = BlockRunner.quantize(F16Element.self, input, into: output, blockCount: blocks)
        case .bf16:
            bad = BlockRunner.quantize(BF16Element.self, input, into: output, blockCount: blocks)
        case .q4_0:
            bad = BlockRunner.quantize(Q4_0Block.self, input, into: output, blockCount: blocks)
        case .q4_1:
            bad = BlockRunner.quantize(Q4_1Block.self, input, into: output, blockCount: blocks)
        case .q5_0:
            bad = BlockRunner.quantize(Q5_0Block.self, input, into: output, blockCount: blocks)
        case .q5_1:
            bad = BlockRunner.quantize(Q5_1Block.self, input, into: output, blockCount: blocks)
        case .q8_0:
            bad = BlockRunner.quantize(Q8_0Block.self, input, into: output, blockCount: blocks)
        case .q2_K:
            bad = BlockRunner.quantize(Q2_KBlock.self, input, into: output, blockCount: blocks)
        case .q3_K:
            bad = BlockRunner.quantize(Q3_KBlock.self, input, into: output, blockCount: blocks)
        case .q4_K:
            bad = BlockRunner.quantize(Q4_KBlock.self, input, into: output, blockCount: blocks)
        case .q5_K:
            bad = BlockRunner.quantize(Q5_KBlock.self, input, into: output, blockCount: blocks)
        case .q6_K:
            bad = BlockRunner.quantize(Q6_KBlock.self, input, into: output, blockCount: blocks)
        case .iq4_NL:
            bad = BlockRunner.quantize(IQ4_NLBlock.self, input, into: output, blockCount: blocks)
        default: throw .unsupportedType(type)
        }
        if let bad { throw .nonFiniteValue(index: bad, type: type) }
    }

    /// True when ``dequantize(_:as:into:)`` accepts `type`.
    public static func canDequantize(_ type: GGMLType) -> Bool {
        supportedTypes.contains(type)
    }

    /// True when ``quantize(_:as:into:)`` accepts `type`.
    public static func canQuantize(_ type: GGMLType) -> Bool {
        supportedTypes.contains(type)
    }

    /// The types with both a decoder and an encoder.
    private static let supportedTypes: Set<GGMLType> = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
        .iq4_NL,
    ]

    /// Checks that `elements` is whole blocks and `bytes` is their exact encoded size; returns the block count.
    private static func blockCount(elements: Int, bytes: Int, type: GGMLType)
        throws(QuantizationError) -> Int
    {
        guard elements % type.blockSize == 0 else {
            throw .lengthNotMultipleOfBlock(
                elements: elements, blockSize: type.blockSize, type: type)
        }
        guard let expected = type.rowByteCount(elements: elements), expected == bytes else {
            throw .bufferSizeMismatch(
                expected: type.rowByteCount(elements: elements) ?? -1, actual: bytes)
        }
        return elements / type.blockSize
    }
}
