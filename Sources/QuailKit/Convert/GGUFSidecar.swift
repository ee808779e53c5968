// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import TensorCore

/// `gguf-metadata.json`: what an HF directory written from a GGUF file needs to turn back into the same
/// GGUF bytes, beyond what `config.json` and the tokenizer files already say.
///
/// It holds the GGUF key order, the values of keys that the HF files cannot express or express
/// differently (for example `general.name`, or token types llama.cpp assigned), keys to leave out, and the
/// tensor order when it is not llama.cpp's natural order, and the type of 1-D tensors the GGUF did not hold as
/// F32 (HF → GGUF writes them F32 otherwise). Keys that describe the tensor data
/// (`general.file_type`, `general.quantization_version`) are never stored: they follow the data.
/// See formats/hf-gguf-conversion.md.
public struct GGUFSidecar: Equatable, Sendable {
    /// The file name inside the HF directory.
    public static let fileName = "gguf-metadata.json"
    /// Keys whose values follow the tensors rather than the sidecar.
    static let dataDescribingKeys: Set<String> = ["general.file_type", "general.quantization_version"]

    /// All keys of the original file in order.
    public var keyOrder: [String]
    /// Values that replace or add to the derived metadata.
    public var overrides: [(key: String, value: GGUFValue)]
    /// Derived keys that the original file did not have.
    public var removedKeys: [String]
    /// HF tensor names in the original order, or nil when it is the natural order.
    public var tensorOrder: [String]?
    /// GGUF types of 1-D tensors (by HF name) that were not F32 in the original file.
    public var tensorTypes: [(tensor: String, type: GGMLType)]

    public static func == (lhs: GGUFSidecar, rhs: GGUFSidecar) -> Bool {
        lhs.keyOrder == rhs.keyOrder && lhs.removedKeys == rhs.removedKeys && lhs.tensorOrder == rhs.tensorOrder
            && lhs.overrides.count == rhs.overrides.count
            && zip(lhs.overrides, rhs.overrides).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            && lhs.tensorTypes.map(\.tensor) == rhs.tensorTypes.map(\.tensor)
            && lhs.tensorTypes.map(\.type) == rhs.tensorTypes.map(\.type)
    }

    /// The residual between what Quail derives from HF files and the original GGUF metadata, or nil if none;
    /// `tensorTypes` are the 1-D tensors whose original type HF → GGUF would not reproduce.
    public static func residual(
        original: GGUFMetadata, derived: GGUFMetadata, originalTensorOrder: [String], naturalTensorOrder: [String],
        tensorTypes: [(tensor: String, type: GGMLType)] = []
    ) -> GGUFSidecar? {
        let originalKeys = original.keys
        let overrides = original.entries.filter { entry in
            !dataDescribingKeys.contains(entry.key) && derived[entry.key] != entry.value
        }
        let originalSet = Set(originalKeys)
        let removed = derived.keys.filter { !originalSet.contains($0) && !dataDescribingKeys.contains($0) }
        let tensorOrder = originalTensorOrder == naturalTensorOrder ? nil : originalTensorOrder
        let sameOrder = derived.keys.filter { originalSet.contains($0) } == originalKeys.filter { derived[$0] != nil }
        if overrides.isEmpty, removed.isEmpty, tensorOrder == nil, sameOrder, tensorTypes.isEmpty { return nil }
        return GGUFSidecar(
            keyOrder: originalKeys, overrides: overrides.map { ($0.key, $0.value) }, removedKeys: removed,
            tensorOrder: tensorOrder, tensorTypes: tensorTypes)
    }

    /// Applies the sidecar to derived metadata: overrides, removals, then the recorded key order
    /// (keys not in the recorded order keep their relative order at the end).
    public func apply(to derived: GGUFMetadata) -> GGUFMetadata {
        var merged = derived
        for (key, value) in overrides { merged[key] = value }
        for key in removedKeys { merged[key] = nil }
        var ordered = GGUFMetadata()
        for key in keyOrder { if let value = merged[key] { ordered[key] = value } }
        for (key, value) in merged.entries where ordered[key] == nil { ordered[key] = value }
        return ordered
    }

    /// `plan` (HF → GGUF, lossless mode) with the recorded tensors written in their recorded type.
    ///
    /// - Throws: ``CheckpointError/invalidField(path:key:expected:)`` naming `path` when a recorded tensor is
    ///   not a 1-D tensor of the checkpoint.
    func applyTensorTypes(to plan: [PlannedTensor], path: String) throws(CheckpointError) -> [PlannedTensor] {
        var types: [String: GGMLType] = [:]
        for (tensor, type) in tensorTypes { types[tensor] = type }
        let vectors = Set(plan.filter { $0.shape.count < 2 }.map(\.hfName))
        for tensor in types.keys where !vectors.contains(tensor) {
            throw .invalidField(path: path, key: "tensor_types.\(tensor)", expected: "a 1-D tensor of the checkpoint")
        }
        return plan.map { tensor in
            guard let type = types[tensor.hfName] else { return tensor }
            return tensor.retyped(type, valuesCheckedExact: tensor.survivesRoundTrip(through: type))
        }
    }

    /// The JSON document.
    public var jsonRepresentation: JSONValue {
        var pairs: [(String, JSONValue)] = [
            ("format", .string("quail-gguf-sidecar")), ("version", .integer(1)),
            ("key_order", .array(keyOrder.map { .string($0) })),
            ("overrides", .object(overrides.map { ($0.key, $0.value.jsonRepresentation) })),
            ("removed_keys", .array(removedKeys.map { .string($0) })),
        ]
        if let tensorOrder { pairs.append(("tensor_order", .array(tensorOrder.map { .string($0) }))) }
        if !tensorTypes.isEmpty {
            pairs.append(("tensor_types", .object(tensorTypes.map { ($0.tensor, .string($0.type.name)) })))
        }
        return .object(pairs)
    }

    /// Reads a sidecar document.
    ///
    /// - Throws: ``CheckpointError`` naming the file and the field that is wrong.
    public init(json: JSONValue, path: String) throws(CheckpointError) {
        guard json["format"]?.stringValue == "quail-gguf-sidecar", json["version"]?.intValue == 1 else {
            throw .invalidField(path: path, key: "format", expected: "\"quail-gguf-sidecar\" version 1")
        }
        func strings(_ key: String) throws(CheckpointError) -> [String] {
            guard let items = json[key]?.arrayValue else {
                throw .invalidField(path: path, key: key, expected: "an array of strings")
            }
            var result: [String] = []
            for item in items {
                guard let text = item.stringValue else {
                    throw .invalidField(path: path, key: key, expected: "an array of strings")
                }
                result.append(text)
            }
            return result
        }
        keyOrder = try strings("key_order")
        removedKeys = try strings("removed_keys")
        tensorOrder = json["tensor_order"] == nil ? nil : try strings("tensor_order")
        guard let pairs = json["overrides"]?.objectValue else {
            throw .invalidField(path: path, key: "overrides", expected: "an object")
        }
        var overrides: [(key: String, value: GGUFValue)] = []
        for (key, value) in pairs {
            overrides.append((key, try GGUFValue(json: value, path: path, key: "overrides.\(key)")))
        }
        self.overrides = overrides
        var tensorTypes: [(tensor: String, type: GGMLType)] = []
        if let entries = json["tensor_types"] {
            guard let pairs = entries.objectValue else {
                throw .invalidField(path: path, key: "tensor_types", expected: "an object")
            }
            for (tensor, value) in pairs {
                guard let name = value.stringValue, let type = GGMLType(name: name), TensorEncoding.dtype(for: type) != nil
                else { throw .invalidField(path: path, key: "tensor_types.\(tensor)", expected: "\"F32\", \"F16\" or \"BF16\"") }
                tensorTypes.append((tensor, type))
            }
        }
        self.tensorTypes = tensorTypes
    }

    init(
        keyOrder: [String], overrides: [(key: String, value: GGUFValue)], removedKeys: [String], tensorOrder: [String]?,
        tensorTypes: [(tensor: String, type: GGMLType)]
    ) {
        self.keyOrder = keyOrder
        self.overrides = overrides
        self.removedKeys = removedKeys
        self.tensorOrder = tensorOrder
        self.tensorTypes = tensorTypes
    }
}
