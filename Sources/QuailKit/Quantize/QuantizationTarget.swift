// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore

/// How one tensor is stored after quantization: a ggml type (GGUF output) or a bitsandbytes scheme
/// (HF output).
public enum QuantizationTarget: Hashable, Sendable, CustomStringConvertible {
    /// A ggml element or block type (F32, F16, BF16, Q4_0 … Q6_K, IQ4_NL).
    case ggml(GGMLType)
    /// bitsandbytes NF4 or FP4 with a block size and optional double quantization.
    case bitsAndBytes4Bit(BitsAndBytes4BitType, blockSize: Int, doubleQuantization: Bool)
    /// bitsandbytes LLM.int8 (row-wise absmax, `weight` I8 + `SCB`).
    case bitsAndBytesInt8

    /// The ggml types `quail quantize` writes: everything ``GGMLCodec`` can quantize.
    public static let ggmlTypes: [GGMLType] = GGMLType.allCases.filter(GGMLCodec.canQuantize)

    /// Every type name `--type` accepts, lower case: `nf4`, `fp4`, `int8`, then the ggml names.
    public static var typeNames: [String] {
        BitsAndBytes4BitType.allCases.map(\.rawValue) + ["int8"] + ggmlTypes.map { $0.name.lowercased() }
    }

    /// Parses a `--type` name (case-insensitive); bitsandbytes 4-bit names take `blockSize` and
    /// `doubleQuantization`.
    ///
    /// - Throws: ``CheckpointError/invalidOption(path:option:value:reason:)`` naming `path` for an unknown
    ///   name or a block size bitsandbytes rejects.
    public init(
        name: String, blockSize: Int = BitsAndBytes4BitCodec.defaultBlockSize, doubleQuantization: Bool = true,
        option: String = "--type", path: String
    ) throws(CheckpointError) {
        let lower = name.lowercased()
        if let type = BitsAndBytes4BitType(rawValue: lower) {
            guard BitsAndBytes4BitCodec.allowedBlockSizes.contains(blockSize) else {
                throw .invalidOption(
                    path: path, option: "--blocksize", value: String(blockSize),
                    reason: "bitsandbytes accepts only powers of two from 32 to 4096")
            }
            self = .bitsAndBytes4Bit(type, blockSize: blockSize, doubleQuantization: doubleQuantization)
        } else if lower == "int8" {
            self = .bitsAndBytesInt8
        } else if let type = GGMLType(name: lower), GGMLCodec.canQuantize(type) {
            self = .ggml(type)
        } else {
            throw .invalidOption(
                path: path, option: option, value: name,
                reason: "unknown quantization type; use one of \(Self.typeNames.joined(separator: ", "))")
        }
    }

    /// The name as `--type` spells it (`nf4`, `int8`, `q4_k`, `f16`).
    public var name: String {
        switch self {
        case .ggml(let type): type.name.lowercased()
        case .bitsAndBytes4Bit(let type, _, _): type.rawValue
        case .bitsAndBytesInt8: "int8"
        }
    }

    /// ``name`` plus the bitsandbytes settings (`nf4/64+dq`).
    public var description: String {
        switch self {
        case .bitsAndBytes4Bit(_, let blockSize, let double): "\(name)/\(blockSize)\(double ? "+dq" : "")"
        default: name
        }
    }

    /// True for the bitsandbytes schemes (which need an HF output).
    public var isBitsAndBytes: Bool {
        if case .ggml = self { false } else { true }
    }

    /// The ggml type, for ``ggml(_:)``.
    public var ggmlType: GGMLType? {
        if case .ggml(let type) = self { type } else { nil }
    }

    /// True when values are rounded to a coarser grid than F16 (block types and bitsandbytes).
    public var isQuantized: Bool {
        switch self {
        case .ggml(let type): type.isQuantized
        default: true
        }
    }

    /// Bytes this target stores for a tensor of `shape` (outermost first) whose original dtype is
    /// `sourceDType`, with every serialized part (absmax, code tables, quant-state JSON), or nil when the shape
    /// does not fit a ggml block type. With double quantization the JSON's `nested_offset` is assumed to take
    /// its longest form.
    public func byteCount(shape: [Int], sourceDType: DType = .f32) -> Int? {
        guard let count = Shape.elementCount(shape) else { return nil }
        switch self {
        case .ggml(let type):
            let row = shape.last ?? 1
            guard let rowBytes = type.rowByteCount(elements: row) else { return nil }
            return row == 0 ? 0 : rowBytes * (count / row)
        case .bitsAndBytes4Bit(let type, let blockSize, let double):
            return BitsAndBytesSerialization.fourBitParts(
                type: type, elementCount: count, blockSize: blockSize, doubleQuantization: double,
                stateJSONByteCount: BitsAndBytesSerialization.stateJSONByteCountEstimate(
                    shape: shape, dtype: sourceDType, double: double)
            ).reduce(0) { $0 + $1.byteCount }
        case .bitsAndBytesInt8:
            return count + 4 * (shape.first ?? 0) + 1
        }
    }

    /// The nominal bits per weight of the scheme itself (data plus per-block scales, ignoring per-tensor
    /// constants): Q4_0 4.5, Q4_K 4.5, NF4/64 4.5, NF4/64 with double quantization 4.127, int8 8.
    public var nominalBitsPerWeight: Double {
        switch self {
        case .ggml(let type): Double(type.typeSize * 8) / Double(type.blockSize)
        case .bitsAndBytes4Bit(_, let blockSize, let double):
            4 + (double ? 8 + 32.0 / 256 : 32) / Double(blockSize)
        case .bitsAndBytesInt8: 8
        }
    }
}
