// SPDX-License-Identifier: Apache-2.0
import Foundation
import Quantization
import SafeTensors
import TensorCore

/// An HF directory with bitsandbytes pre-quantized weights (NF4/FP4 or LLM.int8), read back to float32.
///
/// Opening checks `config.json`'s `quantization_config`, groups the stored keys into logical tensors
/// (`P.weight` with its `absmax`, `quant_map`, `nested_*` and `quant_state.bitsandbytes__*` keys, or with
/// `P.SCB` and `P.weight_format`; every other key is a float tensor), and validates every quant-state JSON,
/// dtype and shape the way transformers' loaders require (see formats/bitsandbytes.md). Tensor data is read
/// only by ``dequantized(_:)``.
public final class BitsAndBytesCheckpoint: @unchecked Sendable {
    /// How a logical tensor is stored.
    public enum Storage: Sendable, Equatable {
        /// A float tensor (F32, F16 or BF16).
        case float(DType)
        /// NF4/FP4; `dtype` is the quant state's original weight dtype.
        case fourBit(BitsAndBytes4BitType, blockSize: Int, doubleQuantization: Bool, dtype: DType)
        /// LLM.int8.
        case int8
    }

    /// The directory.
    public let directory: URL
    /// The stored tensors.
    public let weights: SafeTensorsCheckpoint
    /// The logical tensor names (`model.layers.0.self_attn.q_proj.weight`, `model.norm.weight`, …), sorted.
    public let tensorNames: [String]
    private let entries: [String: Entry]

    /// A logical tensor: how it is stored, its original shape and, when double-quantized, the JSON offset.
    private struct Entry {
        let storage: Storage
        let shape: [Int]
        let nestedOffset: Float?
    }

    /// Opens and validates `directory`.
    ///
    /// - Throws: ``CheckpointError/invalidField(path:key:expected:)`` for a missing or inconsistent
    ///   `quantization_config`; ``CheckpointError/invalidQuantizedTensor(path:tensor:reason:)`` naming the
    ///   shard and key for a bad quant-state JSON, dtype, shape, a stray statistics key, or a tensor that
    ///   contradicts the config; ``SafeTensorsError`` for unreadable weights.
    public init(directory: URL) throws {
        self.directory = directory
        let configPath = directory.appendingPathComponent("config.json")
        let config = try HFCheckpoint.readJSON(configPath)
        weights = try SafeTensorsCheckpoint(directory: directory)
        guard let block = config["quantization_config"], block.objectValue != nil,
            block["quant_method"]?.stringValue == "bitsandbytes"
        else {
            throw CheckpointError.invalidField(
                path: configPath.path, key: "quantization_config.quant_method", expected: "\"bitsandbytes\"")
        }
        let fourBit = block["load_in_4bit"]?.boolValue ?? false
        let eightBit = block["load_in_8bit"]?.boolValue ?? false
        guard fourBit != eightBit else {
            throw CheckpointError.invalidField(
                path: configPath.path, key: "quantization_config.load_in_4bit",
                expected: "true for 4-bit or false with load_in_8bit true, not both or neither")
        }
        var entries: [String: Entry] = [:]
        var consumed = Set<String>()
        let names = weights.tensorNames
        let present = Set(names)
        for key in names {
            guard let range = key.range(of: ".quant_state.bitsandbytes__") else { continue }
            let weight = String(key[..<range.lowerBound])
            let typeName = String(key[range.upperBound...])
            let entry = try Self.fourBitEntry(
                weight: weight, stateKey: key, typeName: typeName, weights: weights, present: present,
                config: block, configPath: configPath.path, expectFourBit: fourBit)
            entries[weight] = entry.entry
            consumed.formUnion(entry.keys)
        }
        for key in names where key.hasSuffix(".SCB") {
            let prefix = String(key.dropLast(".SCB".count))
            let (entry, keys) = try Self.int8Entry(prefix: prefix, weights: weights, present: present, expectInt8: eightBit)
            entries[prefix + ".weight"] = entry
            consumed.formUnion(keys)
        }
        for key in names where !consumed.contains(key) {
            guard let (file, info) = weights.locate(key) else { continue }
            let statistic = [".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".weight_format"]
            if statistic.contains(where: key.hasSuffix) {
                throw CheckpointError.invalidQuantizedTensor(
                    path: file.url.path, tensor: key, reason: "a quantization statistic without its quantized weight")
            }
            guard info.dtype.isConvertibleFloat else {
                throw CheckpointError.invalidQuantizedTensor(
                    path: file.url.path, tensor: key,
                    reason: "\(info.dtype.rawValue) is neither a float dtype nor part of a quantized weight")
            }
            entries[key] = Entry(storage: .float(info.dtype), shape: info.shape, nestedOffset: nil)
        }
        self.entries = entries
        tensorNames = entries.keys.sorted()
    }

    /// How tensor `name` is stored, or nil when there is no such logical tensor.
    public func storage(of name: String) -> Storage? { entries[name]?.storage }

    /// The logical (original) shape of tensor `name`.
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    /// The float32 values of tensor `name`: float tensors widened exactly; NF4/FP4 as
    /// ``BitsAndBytes4BitCodec/dequantize(_:)`` computes them (before bitsandbytes' cast to the state dtype);
    /// LLM.int8 as ``BitsAndBytesInt8Codec/dequantize(_:)``.
    ///
    /// - Throws: ``CheckpointError/invalidQuantizedTensor(path:tensor:reason:)`` for an unknown name, a
    ///   `quant_map` other than the type's table, a `nested_quant_map` other than bitsandbytes' dynamic map,
    ///   or stored statistics that are not finite.
    public func dequantized(_ name: String) throws(CheckpointError) -> [Float] {
        guard let entry = entries[name] else {
            throw .invalidQuantizedTensor(path: directory.path, tensor: name, reason: "no such tensor")
        }
        switch entry.storage {
        case .float(let dtype):
            let (file, info) = try stored(name, directory: directory)
            var values = [Float](repeating: 0, count: info.shape.reduce(1, *))
            let type = TensorEncoding.ggmlType(for: dtype) ?? .f32
            let result = values.withUnsafeMutableBufferPointer { output in
                Result { () throws(QuantizationError) in try GGMLCodec.dequantize(file.bytes(of: info), as: type, into: output) }
            }
            if case .failure(let error) = result {
                throw .invalidQuantizedTensor(path: file.url.path, tensor: name, reason: error.description)
            }
            return values
        case .fourBit(let type, let blockSize, let double, _):
            return try dequantizeFourBit(
                name, type: type, blockSize: blockSize, double: double, shape: entry.shape,
                offset: entry.nestedOffset)
        case .int8:
            let codes = try storedBytes(name).map { Int8(bitPattern: $0) }
            let scales = try int8Scales(name)
            do {
                let tensor = try BitsAndBytesInt8Tensor(
                    rows: entry.shape[0], columns: entry.shape[1], codes: codes, rowScales: scales)
                return BitsAndBytesInt8Codec.dequantize(tensor)
            } catch {
                throw .invalidQuantizedTensor(path: shardPath(of: name), tensor: name, reason: error.description)
            }
        }
    }

    /// Reads the statistics (not the codes) of every quantized weight and checks them as ``dequantized(_:)``
    /// does, so that a wrong `quant_map` or `nested_quant_map` or a NaN scale is reported when a run opens the
    /// checkpoint rather than when it reaches the layer. Reads about 1/16 of the 4-bit data, 1/(in features)
    /// of the LLM.int8 data.
    ///
    /// - Throws: ``CheckpointError/invalidQuantizedTensor(path:tensor:reason:)`` naming the shard and the key.
    public func validateStatistics() throws(CheckpointError) {
        for name in tensorNames {
            guard let entry = entries[name] else { continue }
            switch entry.storage {
            case .float: continue
            case .fourBit(let type, _, let double, _):
                _ = try fourBitAbsmax(name, type: type, double: double, offset: entry.nestedOffset)
            case .int8: _ = try int8Scales(name)
            }
        }
    }

    private func dequantizeFourBit(
        _ name: String, type: BitsAndBytes4BitType, blockSize: Int, double: Bool, shape: [Int], offset: Float?
    ) throws(CheckpointError) -> [Float] {
        let absmax = try fourBitAbsmax(name, type: type, double: double, offset: offset)
        let packed = try storedBytes(name)
        do {
            let tensor = try BitsAndBytes4BitTensor(
                type: type, blockSize: blockSize, shape: shape, packed: packed, absmax: absmax)
            return BitsAndBytes4BitCodec.dequantize(tensor)
        } catch {
            throw .invalidQuantizedTensor(path: shardPath(of: name), tensor: name, reason: error.description)
        }
    }

    /// The block scales of 4-bit weight `name` after checking its `quant_map` (and, double-quantized, its
    /// `nested_quant_map`) against bitsandbytes' tables and every stored scale for finiteness.
    private func fourBitAbsmax(
        _ name: String, type: BitsAndBytes4BitType, double: Bool, offset: Float?
    ) throws(CheckpointError) -> BitsAndBytesAbsmax {
        let quantMap = try storedFloats(name + ".quant_map")
        guard quantMap.map(\.bitPattern) == type.codebook.map(\.bitPattern) else {
            throw .invalidQuantizedTensor(
                path: shardPath(of: name + ".quant_map"), tensor: name + ".quant_map",
                reason:
                    "differs from the \(type.rawValue) table (bitsandbytes' CPU kernel reads it, its GPU kernel does not)")
        }
        guard double else {
            let values = try storedFloats(name + ".absmax")
            guard values.allSatisfy(\.isFinite) else {
                throw .invalidQuantizedTensor(
                    path: shardPath(of: name + ".absmax"), tensor: name + ".absmax",
                    reason: BitsAndBytesError.nonFiniteStatistic(field: "absmax").description)
            }
            return .plain(values)
        }
        let map = try storedFloats(name + ".nested_quant_map")
        guard map.map(\.bitPattern) == BitsAndBytesDynamicMap.values.map(\.bitPattern) else {
            throw .invalidQuantizedTensor(
                path: shardPath(of: name + ".nested_quant_map"), tensor: name + ".nested_quant_map",
                reason: "differs from bitsandbytes' signed 8-bit dynamic map")
        }
        let codes = try storedBytes(name + ".absmax")
        let nestedAbsmax = try storedFloats(name + ".nested_absmax")
        do {
            return .nested(try BitsAndBytesNestedAbsmax(codes: codes, nestedAbsmax: nestedAbsmax, offset: offset ?? 0))
        } catch {
            throw .invalidQuantizedTensor(
                path: shardPath(of: name + ".nested_absmax"), tensor: name + ".nested_absmax",
                reason: error.description)
        }
    }

    /// The row scales (`SCB`) of LLM.int8 weight `name`, checked for finiteness.
    private func int8Scales(_ name: String) throws(CheckpointError) -> [Float] {
        let key = CheckpointQuantizer.modulePrefix(of: name) + ".SCB"
        let scales = try storedFloats(key)
        guard scales.allSatisfy(\.isFinite) else {
            throw .invalidQuantizedTensor(
                path: shardPath(of: key), tensor: key,
                reason: BitsAndBytesError.nonFiniteStatistic(field: "SCB").description)
        }
        return scales
    }

    /// The shard file holding `key` (the directory when absent), for error messages.
    private func shardPath(of key: String) -> String {
        weights.locate(key)?.file.url.path ?? directory.path
    }

    private func stored(_ key: String, directory: URL) throws(CheckpointError) -> (SafeTensorsFile, SafeTensorsTensorInfo) {
        guard let location = weights.locate(key) else {
            throw .invalidQuantizedTensor(path: directory.path, tensor: key, reason: "key missing")
        }
        return location
    }

    private func storedBytes(_ key: String) throws(CheckpointError) -> [UInt8] {
        let (file, info) = try stored(key, directory: directory)
        return Array(file.bytes(of: info))
    }

    private func storedFloats(_ key: String) throws(CheckpointError) -> [Float] {
        let (file, info) = try stored(key, directory: directory)
        let bytes = file.bytes(of: info)
        return (0..<bytes.count / 4).map {
            Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
        }
    }

    // MARK: - Validation

    /// Validates a 4-bit weight's keys, dtypes, shapes and quant-state JSON; returns the entry and its keys.
    private static func fourBitEntry(
        weight: String, stateKey: String, typeName: String, weights: SafeTensorsCheckpoint, present: Set<String>,
        config: JSONValue, configPath: String, expectFourBit: Bool
    ) throws -> (entry: Entry, keys: [String]) {
        guard let (stateFile, stateInfo) = weights.locate(stateKey) else {
            throw CheckpointError.invalidQuantizedTensor(path: weights.directory.path, tensor: stateKey, reason: "key missing")
        }
        func fail(_ key: String, _ reason: String) -> CheckpointError {
            let path = weights.locate(key)?.file.url.path ?? stateFile.url.path
            return .invalidQuantizedTensor(path: path, tensor: key, reason: reason)
        }
        guard expectFourBit else { throw fail(stateKey, "a 4-bit quant state in a checkpoint configured for load_in_8bit") }
        guard let type = BitsAndBytes4BitType(rawValue: typeName) else {
            throw fail(stateKey, "unknown 4-bit type `\(typeName)` (nf4 or fp4)")
        }
        guard stateInfo.dtype == .u8, stateInfo.shape.count == 1 else {
            throw fail(stateKey, "must be a U8 vector of JSON bytes, not \(stateInfo.dtype.rawValue) \(stateInfo.shape)")
        }
        let state = try QuantStateJSON(
            bytes: Array(stateFile.bytes(of: stateInfo)), suffixType: type, fail: { fail(stateKey, $0) })
        if config["bnb_4bit_quant_type"]?.stringValue != type.rawValue {
            throw CheckpointError.invalidField(
                path: configPath, key: "quantization_config.bnb_4bit_quant_type",
                expected: "\"\(type.rawValue)\" like the key suffix of \(stateKey) (transformers 4.x requires it)")
        }
        if config["bnb_4bit_use_double_quant"]?.boolValue != state.double {
            throw CheckpointError.invalidField(
                path: configPath, key: "quantization_config.bnb_4bit_use_double_quant",
                expected: "\(state.double) like the stored statistics of \(weight) (transformers 4.x requires it)")
        }
        let count = state.shape.reduce(1, *)
        let blocks = (count + state.blockSize - 1) / state.blockSize
        var expected: [(String, DType, Int)] = [
            (weight, .u8, (count + 1) / 2), (weight + ".absmax", state.double ? .u8 : .f32, blocks),
            (weight + ".quant_map", .f32, 16),
        ]
        if state.double {
            let groups = (blocks + BitsAndBytesDynamicMap.nestedBlockSize - 1) / BitsAndBytesDynamicMap.nestedBlockSize
            expected += [(weight + ".nested_absmax", .f32, groups), (weight + ".nested_quant_map", .f32, 256)]
        } else {
            for suffix in [".nested_absmax", ".nested_quant_map"] where present.contains(weight + suffix) {
                throw fail(weight + suffix, "nested statistics without nested_offset in the quant-state JSON")
            }
        }
        for (key, dtype, elements) in expected {
            guard let (_, info) = weights.locate(key) else { throw fail(key, "key missing (bitsandbytes needs it to load)") }
            guard info.dtype == dtype, info.shape.reduce(1, *) == elements else {
                throw fail(key, "expected \(dtype.rawValue) with \(elements) elements, found \(info.dtype.rawValue) \(info.shape)")
            }
        }
        let entry = Entry(
            storage: .fourBit(type, blockSize: state.blockSize, doubleQuantization: state.double, dtype: state.dtype),
            shape: state.shape, nestedOffset: state.offset)
        return (entry, expected.map(\.0) + [stateKey])
    }

    /// Validates an LLM.int8 weight (`P.weight` I8 [out, in], `P.SCB` F32 [out], optional `P.weight_format` 0).
    private static func int8Entry(
        prefix: String, weights: SafeTensorsCheckpoint, present: Set<String>, expectInt8: Bool
    ) throws -> (Entry, [String]) {
        let weight = prefix + ".weight", scale = prefix + ".SCB", format = prefix + ".weight_format"
        func fail(_ key: String, _ reason: String) -> CheckpointError {
            .invalidQuantizedTensor(path: weights.locate(key)?.file.url.path ?? weights.directory.path, tensor: key, reason: reason)
        }
        guard expectInt8 else { throw fail(scale, "an LLM.int8 scale in a checkpoint configured for load_in_4bit") }
        guard let (_, info) = weights.locate(weight) else { throw fail(weight, "key missing beside \(scale)") }
        guard info.dtype == .i8, info.shape.count == 2 else {
            throw fail(weight, "LLM.int8 weights are I8 [out, in], found \(info.dtype.rawValue) \(info.shape)")
        }
        guard let (_, scaleInfo) = weights.locate(scale), scaleInfo.dtype == .f32, scaleInfo.shape == [info.shape[0]] else {
            throw fail(scale, "SCB must be F32 [\(info.shape[0])]")
        }
        var keys = [weight, scale]
        if present.contains(format), let (file, formatInfo) = weights.locate(format) {
            guard formatInfo.dtype == .u8, formatInfo.shape.reduce(1, *) == 1, file.bytes(of: formatInfo).first == 0 else {
                throw fail(format, "weight_format must be the U8 value 0 (row-major); bitsandbytes rejects others")
            }
            keys.append(format)
        }
        return (Entry(storage: .int8, shape: info.shape, nestedOffset: nil), keys)
    }
}

/// The parsed `quant_state.bitsandbytes__*` JSON, checked as bitsandbytes' `QuantState.from_dict` checks it.
private struct QuantStateJSON {
    let blockSize: Int
    let dtype: DType
    let shape: [Int]
    let double: Bool
    let offset: Float?

    init(bytes: [UInt8], suffixType: BitsAndBytes4BitType, fail: (String) -> CheckpointError) throws {
        let json: JSONValue
        do {
            json = try JSONValue(parsing: Data(bytes))
        } catch {
            throw fail("the quant-state bytes are not a JSON object")
        }
        guard let pairs = json.objectValue else { throw fail("the quant-state JSON is not an object") }
        let base: Set<String> = ["quant_type", "blocksize", "dtype", "shape"]
        let nested: Set<String> = ["nested_blocksize", "nested_dtype", "nested_offset"]
        let keys = Set(pairs.map(\.0))
        if let unknown = keys.subtracting(base).subtracting(nested).sorted().first {
            throw fail("unknown quant-state key `\(unknown)` (bitsandbytes' loader rejects it)")
        }
        guard keys.isSuperset(of: base) else {
            throw fail("quant-state JSON lacks \(base.subtracting(keys).sorted().joined(separator: ", "))")
        }
        double = !keys.isDisjoint(with: nested)
        if double, !keys.isSuperset(of: nested) {
            throw fail("quant-state JSON lacks \(nested.subtracting(keys).sorted().joined(separator: ", "))")
        }
        guard json["quant_type"]?.stringValue == suffixType.rawValue else {
            throw fail("quant_type \(json["quant_type"]?.text() ?? "") differs from the key suffix \(suffixType.rawValue)")
        }
        guard let blockSize = json["blocksize"]?.intValue, BitsAndBytes4BitCodec.allowedBlockSizes.contains(blockSize) else {
            throw fail("blocksize must be a power of two from 32 to 4096")
        }
        self.blockSize = blockSize
        switch json["dtype"]?.stringValue {
        case "float32": dtype = .f32
        case "float16": dtype = .f16
        case "bfloat16": dtype = .bf16
        default: throw fail("dtype must be \"float32\", \"float16\" or \"bfloat16\"")
        }
        guard let dims = json["shape"]?.arrayValue?.compactMap(\.intValue), dims.count == json["shape"]?.arrayValue?.count,
            !dims.isEmpty, dims.allSatisfy({ $0 > 0 }), let count = Shape.elementCount(dims), count > 0
        else { throw fail("shape must be a non-empty list of positive integers") }
        shape = dims
        if double {
            guard json["nested_blocksize"]?.intValue == BitsAndBytesDynamicMap.nestedBlockSize else {
                throw fail("nested_blocksize must be 256 (bitsandbytes' forward supports no other)")
            }
            guard json["nested_dtype"]?.stringValue == "float32" else { throw fail("nested_dtype must be \"float32\"") }
            guard let value = json["nested_offset"]?.doubleValue, Float(value).isFinite else {
                throw fail("nested_offset must be a finite number")
            }
            offset = Float(value)
        } else {
            offset = nil
        }
    }
}
