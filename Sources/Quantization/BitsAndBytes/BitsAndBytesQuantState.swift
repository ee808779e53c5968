// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The non-tensor part of a bitsandbytes 4-bit quant state, stored as JSON in
/// `weight.quant_state.bitsandbytes__nf4` (or `__fp4`), a U8 tensor of its UTF-8 bytes.
///
/// Same as bitsandbytes `functional.py` `QuantState.as_dict(packed=True)` and `utils.py`
/// `pack_dict_to_tensor` (`json.dumps` with default separators). Keys, in order: `quant_type`, `blocksize`,
/// `dtype`, `shape`; with double quantization also `nested_blocksize` (256), `nested_dtype` ("float32") and
/// `nested_offset` (the float32 offset as a Python float, written as `repr` writes it). Example:
/// `{"quant_type": "nf4", "blocksize": 64, "dtype": "bfloat16", "shape": [576, 576]}`.
public struct BitsAndBytesQuantState: Sendable, Equatable {
    /// NF4 or FP4 (`quant_type`).
    public let type: BitsAndBytes4BitType
    /// Values per absmax block (`blocksize`).
    public let blockSize: Int
    /// The original weight dtype (`dtype`: "float32", "float16" or "bfloat16").
    public let dtype: DType
    /// The original weight shape (`shape`).
    public let shape: [Int]
    /// The double-quantization offset (`nested_offset`), nil without double quantization.
    public let nestedOffset: Float?

    /// Creates a quant state.
    ///
    /// - Throws: ``BitsAndBytesError/unsupportedDType(_:)`` unless `dtype` is F32, F16 or BF16;
    ///   ``BitsAndBytesError/nonFiniteStatistic(field:)`` for a NaN or infinite offset (JSON has no spelling for it).
    public init(
        type: BitsAndBytes4BitType, blockSize: Int, dtype: DType, shape: [Int], nestedOffset: Float?
    ) throws(BitsAndBytesError) {
        guard Self.torchName(of: dtype) != nil else { throw .unsupportedDType(dtype.rawValue) }
        if let nestedOffset, !nestedOffset.isFinite { throw .nonFiniteStatistic(field: "nested_offset") }
        self.type = type
        self.blockSize = blockSize
        self.dtype = dtype
        self.shape = shape
        self.nestedOffset = nestedOffset
    }

    /// The safetensors key suffix after `weight.`: `quant_state.bitsandbytes__nf4` or `__fp4`.
    public var keySuffix: String { "quant_state.bitsandbytes__\(type.rawValue)" }

    /// The JSON text exactly as bitsandbytes writes it (Python `json.dumps`, default separators).
    public var jsonRepresentation: String {
        let dims = shape.map(String.init).joined(separator: ", ")
        var json = "{\"quant_type\": \"\(type.rawValue)\", \"blocksize\": \(blockSize), "
        json += "\"dtype\": \"\(Self.torchName(of: dtype) ?? "")\", \"shape\": [\(dims)]"
        if let nestedOffset {
            json += ", \"nested_blocksize\": \(BitsAndBytesDynamicMap.nestedBlockSize), \"nested_dtype\": \"float32\""
            json += ", \"nested_offset\": \(PythonFloatRepresentation.repr(Double(nestedOffset)))"
        }
        return json + "}"
    }

    /// `str(torch_dtype).strip("torch.")` for the dtypes a 4-bit weight can have.
    private static func torchName(of dtype: DType) -> String? {
        switch dtype {
        case .f32: "float32"
        case .f16: "float16"
        case .bf16: "bfloat16"
        default: nil
        }
    }
}
