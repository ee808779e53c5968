// SPDX-License-Identifier: Apache-2.0
import Quantization
import TensorCore

/// The safetensors keys, dtypes and shapes of a bitsandbytes-quantized Linear, and the `quantization_config`
/// block of config.json, exactly as transformers' `save_pretrained` writes them.
///
/// Sources: bitsandbytes `nn/modules.py` `Linear4bit._save_to_state_dict` / `Linear8bitLt._save_to_state_dict`,
/// `functional.py` `QuantState.as_dict(packed=True)`, `utils.py` `pack_dict_to_tensor`; transformers
/// `BitsAndBytesConfig.to_dict`. Confirmed by loading in transformers 4.57 and 5.24 (shared note
/// bnb-peft-confirmed.md); see formats/bitsandbytes.md.
enum BitsAndBytesSerialization {
    /// One stored tensor of a quantized Linear: key suffix after the module prefix, dtype and shape.
    struct Part: Equatable {
        /// The key after `<module>.`: `weight`, `weight.absmax`, `SCB`, …
        let suffix: String
        let dtype: DType
        let shape: [Int]

        /// Bytes of the stored tensor.
        var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }
    }

    /// The parts of a 4-bit weight in bitsandbytes' order: `weight` U8[(n+1)/2, 1], `weight.absmax`
    /// (F32, or U8 with double quantization), `weight.quant_map` F32[16], with double quantization
    /// `weight.nested_absmax` F32[ceil(blocks/256)] and `weight.nested_quant_map` F32[256], then
    /// `weight.quant_state.bitsandbytes__<type>` U8[JSON length].
    static func fourBitParts(
        type: BitsAndBytes4BitType, elementCount n: Int, blockSize: Int, doubleQuantization: Bool,
        stateJSONByteCount: Int
    ) -> [Part] {
        let blocks = (n + blockSize - 1) / blockSize
        var parts = [
            Part(suffix: "weight", dtype: .u8, shape: [(n + 1) / 2, 1]),
            Part(suffix: "weight.absmax", dtype: doubleQuantization ? .u8 : .f32, shape: [blocks]),
            Part(suffix: "weight.quant_map", dtype: .f32, shape: [16]),
        ]
        if doubleQuantization {
            let nested = BitsAndBytesDynamicMap.nestedBlockSize
            parts.append(Part(suffix: "weight.nested_absmax", dtype: .f32, shape: [(blocks + nested - 1) / nested]))
            parts.append(Part(suffix: "weight.nested_quant_map", dtype: .f32, shape: [BitsAndBytesDynamicMap.values.count]))
        }
        parts.append(
            Part(suffix: "weight.quant_state.bitsandbytes__\(type.rawValue)", dtype: .u8, shape: [stateJSONByteCount]))
        return parts
    }

    /// The length of the quant-state JSON for `shape`: exact without double quantization; with it, the
    /// `nested_offset` digits depend on the data, so the longest Python `repr` of a float32 (24 characters,
    /// e.g. `-1.2345678901234567e-05`) is assumed.
    static func stateJSONByteCountEstimate(shape: [Int], dtype: DType, double: Bool) -> Int {
        let state = try? BitsAndBytesQuantState(
            type: .nf4, blockSize: 64, dtype: dtype, shape: shape, nestedOffset: double ? 0 : nil)
        let zeroOffsetLength = PythonFloatRepresentation.repr(0).count
        return (state?.jsonRepresentation.utf8.count ?? 0) + (double ? 24 - zeroOffsetLength : 0)
    }

    /// The parts and their bytes for a quantized 4-bit weight whose original dtype was `dtype`.
    ///
    /// - Throws: ``BitsAndBytesError/unsupportedDType(_:)`` unless `dtype` is F32, F16 or BF16.
    static func encode(
        _ tensor: BitsAndBytes4BitTensor, dtype: DType
    ) throws(BitsAndBytesError) -> [(part: Part, bytes: [UInt8])] {
        let json = Array(try tensor.quantState(dtype: dtype).jsonRepresentation.utf8)
        let parts = fourBitParts(
            type: tensor.type, elementCount: tensor.elementCount, blockSize: tensor.blockSize,
            doubleQuantization: tensor.isDoubleQuantized, stateJSONByteCount: json.count)
        var payloads: [[UInt8]] = [tensor.packed]
        switch tensor.absmax {
        case .plain(let values):
            payloads += [littleEndianBytes(values), littleEndianBytes(tensor.quantMap)]
        case .nested(let nested):
            payloads += [
                nested.codes, littleEndianBytes(tensor.quantMap), littleEndianBytes(nested.nestedAbsmax),
                littleEndianBytes(BitsAndBytesDynamicMap.values),
            ]
        }
        payloads.append(json)
        return Array(zip(parts, payloads))
    }

    /// The parts of an LLM.int8 weight: `weight` I8[out, in], `SCB` F32[out], `weight_format` U8 scalar.
    static func int8Parts(rows: Int, columns: Int) -> [Part] {
        [
            Part(suffix: "weight", dtype: .i8, shape: [rows, columns]),
            Part(suffix: "SCB", dtype: .f32, shape: [rows]),
            Part(suffix: "weight_format", dtype: .u8, shape: []),
        ]
    }

    /// The parts and their bytes for an LLM.int8 weight (`weight_format` 0 means row-major, the only
    /// format bitsandbytes accepts).
    static func encode(_ tensor: BitsAndBytesInt8Tensor) -> [(part: Part, bytes: [UInt8])] {
        let codes = tensor.codes.map { UInt8(bitPattern: $0) }
        return Array(
            zip(int8Parts(rows: tensor.rows, columns: tensor.columns), [codes, littleEndianBytes(tensor.rowScales), [0]]))
    }

    /// The `quantization_config` object of config.json (the 13 keys transformers writes, sorted as it sorts
    /// them). `computeDType` is the torch name of the model dtype; `skipModules` lists Linear modules kept in
    /// float (nil when bitsandbytes' default, `lm_head` only, applies).
    static func configBlock(
        for target: QuantizationTarget, computeDType: String, skipModules: [String]?
    ) -> JSONValue {
        var fourBit = false
        var quantType = "fp4"
        var double = false
        if case .bitsAndBytes4Bit(let type, _, let doubleQuantization) = target {
            fourBit = true
            quantType = type.rawValue
            double = doubleQuantization
        }
        return .object([
            ("_load_in_4bit", .bool(fourBit)),
            ("_load_in_8bit", .bool(!fourBit)),
            ("bnb_4bit_compute_dtype", .string(fourBit ? computeDType : "float32")),
            ("bnb_4bit_quant_storage", .string("uint8")),
            ("bnb_4bit_quant_type", .string(quantType)),
            ("bnb_4bit_use_double_quant", .bool(double)),
            ("llm_int8_enable_fp32_cpu_offload", .bool(false)),
            ("llm_int8_has_fp16_weight", .bool(false)),
            ("llm_int8_skip_modules", skipModules.map { .array($0.map { .string($0) }) } ?? .null),
            ("llm_int8_threshold", .number(6.0)),
            ("load_in_4bit", .bool(fourBit)),
            ("load_in_8bit", .bool(!fourBit)),
            ("quant_method", .string("bitsandbytes")),
        ])
    }

    /// `str(dtype).removeprefix("torch.")` for the float dtypes.
    static func torchName(of dtype: DType) -> String {
        switch dtype {
        case .f16: "float16"
        case .bf16: "bfloat16"
        default: "float32"
        }
    }

    /// The bytes of `values` in little-endian order.
    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }
}
