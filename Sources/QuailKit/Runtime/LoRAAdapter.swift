// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import LinearAlgebra
import Quantization
import SafeTensors
import TensorCore
import Transformer

/// A LoRA adapter for a llama model, read as F32 low-rank factors per adapted linear (`W' = W + s·B·A`).
///
/// Two forms are read. A PEFT directory: `adapter_config.json` (`peft_type` LORA, `r`, `lora_alpha`,
/// `use_rslora`, optional `rank_pattern`/`alpha_pattern`) and `adapter_model.safetensors` with
/// `base_model.model.<module>.lora_A.weight` `(r, in)` and `.lora_B.weight` `(out, r)`; the scale is `α/r`, or
/// `α/√r` with rsLoRA (PEFT `LoraLayer.update_layer`).
/// A llama.cpp LoRA GGUF (`general.type` adapter, `adapter.type` lora, `adapter.lora.alpha`): tensors
/// `<base name>.lora_a` `(r, in)` and `.lora_b` `(out, r)`, scale `alpha/r` (1 when alpha is 0), as in llama.cpp
/// `llama_adapter_lora_init_impl`; q/k `lora_b` rows are in GGUF order and are restored to HF order here.
/// Everything is checked when the adapter is opened: every tensor maps to a block linear of the model with
/// matching shapes, and at least one linear is adapted.
public struct LoRAAdapter: Sendable {
    /// The form the adapter was stored in.
    public enum Format: String, Sendable {
        /// A PEFT adapter directory.
        case peft
        /// A llama.cpp LoRA GGUF file.
        case gguf
    }

    /// The low-rank update of one linear.
    public struct Update: Sendable {
        /// The adapted HF weight (`model.layers.0.self_attn.q_proj.weight`).
        public let weightName: String
        /// `lora_A`, `(r, in)`.
        public let a: Matrix
        /// `lora_B` in HF row order, `(out, r)`.
        public let b: Matrix
        /// The scale `s` of `B·A`.
        public let scale: Float

        /// The rank `r`.
        public var rank: Int { a.rows }

        /// Creates the update of `weightName` (shapes are checked by ``LoRAAdapter/init(url:format:updates:for:)``).
        public init(weightName: String, a: Matrix, b: Matrix, scale: Float) {
            self.weightName = weightName
            self.a = a
            self.b = b
            self.scale = scale
        }
    }

    /// The adapter path.
    public let url: URL
    /// The stored form.
    public let format: Format
    /// The updates keyed by HF weight name.
    public let updates: [String: Update]

    /// The adapted HF weight names in natural order.
    public var weightNames: [String] { LlamaTensorNames.naturallySorted(Array(updates.keys)) }

    /// The distinct scales of the updates, ascending.
    public var scales: [Float] { Array(Set(updates.values.map(\.scale))).sorted() }

    /// PEFT's scale: `α/r`, or `α/√r` with rsLoRA.
    public static func peftScale(alpha: Double, rank: Int, rsLoRA: Bool) -> Float {
        Float(rsLoRA ? alpha / Double(rank).squareRoot() : alpha / Double(rank))
    }

    /// llama.cpp's scale: `alpha/r`, or 1 when `alpha` is 0.
    public static func ggufScale(alpha: Double, rank: Int) -> Float {
        alpha == 0 ? 1 : Float(alpha / Double(rank))
    }

    /// Creates an adapter from updates already in memory (checked against `hyperparameters`).
    ///
    /// - Throws: ``CheckpointError`` for an empty adapter, a non-linear target or mismatched shapes.
    public init(
        url: URL, format: Format, updates: [Update], for hyperparameters: LlamaHyperparameters
    ) throws(CheckpointError) {
        guard !updates.isEmpty else {
            throw .unsupportedAdapter(path: url.path, reason: "it adapts no linear of the model")
        }
        var byName: [String: Update] = [:]
        for update in updates {
            guard let shape = Self.adaptedShape(of: update.weightName, for: hyperparameters) else {
                throw .unexpectedTensors(path: url.path, names: [update.weightName])
            }
            guard update.a.columns == shape[1], update.b.rows == shape[0], update.b.columns == update.a.rows else {
                throw .shapeMismatch(
                    path: url.path, tensor: update.weightName, expected: shape,
                    actual: [update.b.rows, update.b.columns, update.a.rows, update.a.columns])
            }
            byName[update.weightName] = update
        }
        self.url = url
        self.format = format
        self.updates = byName
    }

    /// Opens a PEFT adapter directory or a llama.cpp LoRA GGUF for a model with `hyperparameters`.
    ///
    /// - Throws: ``CheckpointError`` (unknown or unmapped tensors, DoRA, shapes, architecture), or the container's
    ///   read errors.
    public init(contentsOf url: URL, for hyperparameters: LlamaHyperparameters) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CheckpointError.missingFile(path: url.path)
        }
        if isDirectory.boolValue {
            try self.init(url: url, format: .peft, updates: try Self.peftUpdates(url), for: hyperparameters)
        } else {
            try self.init(
                url: url, format: .gguf, updates: try Self.ggufUpdates(url, hyperparameters), for: hyperparameters)
        }
    }

    /// Adds `s·B·A` to every adapted linear of block `block`.
    public func merge(into weights: inout LlamaLayerWeights, block: Int) {
        let prefix = "model.layers.\(block)."
        func apply(_ suffix: String, _ w: inout Matrix) {
            guard let update = updates[prefix + suffix] else { return }
            let delta = BLAS.multiply(update.b, update.a)
            for i in w.values.indices { w.values[i] += update.scale * delta.values[i] }
        }
        apply("self_attn.q_proj.weight", &weights.query)
        apply("self_attn.k_proj.weight", &weights.key)
        apply("self_attn.v_proj.weight", &weights.value)
        apply("self_attn.o_proj.weight", &weights.attentionOutput)
        apply("mlp.gate_proj.weight", &weights.gate)
        apply("mlp.up_proj.weight", &weights.up)
        apply("mlp.down_proj.weight", &weights.down)
    }

    private static let adaptableRoles: Set<LlamaTensorNames.Role> = [
        .query, .key, .value, .attentionOutput, .gate, .up, .down,
    ]

    /// The HF shape `[out, in]` of `weightName` when it is a block linear of the model a LoRA adapter may target,
    /// else nil.
    static func adaptedShape(of weightName: String, for hyperparameters: LlamaHyperparameters) -> [Int]? {
        guard let (role, block) = LlamaTensorNames.role(ofHF: weightName), let block,
            block < hyperparameters.layerCount, adaptableRoles.contains(role)
        else { return nil }
        return LlamaTensorNames.expectedShape(of: role, for: hyperparameters)
    }

    // MARK: - PEFT

    private static func peftUpdates(_ directory: URL) throws -> [Update] {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        let path = configURL.path
        guard FileManager.default.fileExists(atPath: path) else { throw CheckpointError.missingFile(path: path) }
        let config = try HFCheckpoint.readJSON(configURL)
        let peftType = config["peft_type"]?.stringValue ?? "LORA"
        guard peftType == "LORA" else {
            throw CheckpointError.unsupportedAdapter(path: path, reason: "peft_type \(peftType) (only LORA)")
        }
        if config["use_dora"]?.boolValue == true {
            throw CheckpointError.unsupportedAdapter(path: path, reason: "DoRA (use_dora) adapters")
        }
        guard let rank = config["r"]?.intValue, rank > 0 else {
            throw CheckpointError.invalidField(path: path, key: "r", expected: "a positive integer")
        }
        guard let alpha = config["lora_alpha"]?.doubleValue else {
            throw CheckpointError.invalidField(path: path, key: "lora_alpha", expected: "a number")
        }
        let rsLoRA = config["use_rslora"]?.boolValue ?? false
        let rankPattern = config["rank_pattern"]?.objectValue ?? []
        let alphaPattern = config["alpha_pattern"]?.objectValue ?? []

        let checkpoint = try SafeTensorsCheckpoint(directory: directory, baseName: "adapter_model")
        let weightsPath = directory.appendingPathComponent("adapter_model.safetensors").path
        let prefix = "base_model.model."
        var modules: [String] = []
        var unmapped: [String] = []
        for name in checkpoint.tensorNames {
            if name.hasPrefix(prefix), name.hasSuffix(".lora_A.weight") {
                modules.append(String(name.dropFirst(prefix.count).dropLast(".lora_A.weight".count)))
            } else if !(name.hasPrefix(prefix) && name.hasSuffix(".lora_B.weight")) {
                unmapped.append(name)
            }
        }
        guard unmapped.isEmpty else {
            let dora = unmapped.filter { $0.contains("lora_magnitude_vector") }
            if !dora.isEmpty {
                throw CheckpointError.unsupportedAdapter(
                    path: weightsPath, reason: "DoRA magnitude vectors: \(dora.joined(separator: ", "))")
            }
            throw CheckpointError.unexpectedTensors(path: weightsPath, names: unmapped)
        }
        return try modules.map { module in
            let moduleRank = pattern(rankPattern, for: module)?.intValue ?? rank
            let moduleAlpha = pattern(alphaPattern, for: module)?.doubleValue ?? alpha
            let aName = prefix + module + ".lora_A.weight"
            let bName = prefix + module + ".lora_B.weight"
            guard let a = try peftMatrix(checkpoint, aName, path: weightsPath) else {
                throw CheckpointError.missingTensors(path: weightsPath, names: [aName])
            }
            guard let b = try peftMatrix(checkpoint, bName, path: weightsPath) else {
                throw CheckpointError.missingTensors(path: weightsPath, names: [bName])
            }
            guard a.rows == moduleRank, moduleRank > 0 else {
                throw CheckpointError.shapeMismatch(
                    path: weightsPath, tensor: aName, expected: [moduleRank, a.columns], actual: [a.rows, a.columns])
            }
            return Update(
                weightName: module + ".weight", a: a, b: b,
                scale: peftScale(alpha: moduleAlpha, rank: moduleRank, rsLoRA: rsLoRA))
        }
    }

    /// The `rank_pattern`/`alpha_pattern` entry for `module`: a key equal to the module name or to a dotted suffix of
    /// it (PEFT matches pattern keys against the end of the module name).
    private static func pattern(_ entries: [(String, JSONValue)], for module: String) -> JSONValue? {
        entries.first { key, _ in module == key || module.hasSuffix("." + key) }?.1
    }

    private static func peftMatrix(
        _ checkpoint: SafeTensorsCheckpoint, _ name: String, path: String
    ) throws -> Matrix? {
        guard let (file, info) = checkpoint.locate(name) else { return nil }
        guard info.shape.count == 2, let type = TensorEncoding.ggmlType(for: info.dtype),
            [GGMLType.f32, .f16, .bf16].contains(type)
        else {
            throw CheckpointError.unsupportedAdapter(
                path: path,
                reason: "`\(name)` must be a 2-D F32/F16/BF16 tensor, found \(info.dtype.rawValue) \(info.shape)")
        }
        return try decodeMatrix(file.bytes(of: info), type: type, rows: info.shape[0], columns: info.shape[1])
    }

    // MARK: - llama.cpp GGUF

    private static func ggufUpdates(_ url: URL, _ hyperparameters: LlamaHyperparameters) throws -> [Update] {
        let file = try GGUFFile(contentsOf: url)
        let path = url.path
        let generalType = file.metadata["general.type"]?.stringValue
        let adapterType = file.metadata["adapter.type"]?.stringValue
        guard generalType == "adapter", adapterType == "lora" else {
            throw CheckpointError.unsupportedAdapter(
                path: path,
                reason: "general.type `\(generalType ?? "none")`, adapter.type `\(adapterType ?? "none")` "
                    + "(needs adapter, lora)")
        }
        let architecture = file.metadata["general.architecture"]?.stringValue ?? "none"
        guard architecture == hyperparameters.ggufArchitecture else {
            throw CheckpointError.unsupportedArchitecture(
                path: path, found: architecture, supported: [hyperparameters.ggufArchitecture])
        }
        let alpha = file.metadata["adapter.lora.alpha"]?.floatValue ?? 0
        var bases: [String] = []
        var unmapped: [String] = []
        for tensor in file.tensors {
            if tensor.name.hasSuffix(".lora_a") {
                bases.append(String(tensor.name.dropLast(".lora_a".count)))
            } else if !tensor.name.hasSuffix(".lora_b") {
                unmapped.append(tensor.name)
            }
        }
        guard unmapped.isEmpty else { throw CheckpointError.unexpectedTensors(path: path, names: unmapped) }
        return try bases.map { base in
            guard let weightName = LlamaTensorNames.hfName(forGGUF: base) else {
                throw CheckpointError.unexpectedTensors(path: path, names: [base + ".lora_a"])
            }
            guard let a = try ggufMatrix(file, base + ".lora_a"), var b = try ggufMatrix(file, base + ".lora_b") else {
                throw CheckpointError.missingTensors(path: path, names: [base + ".lora_b"])
            }
            guard b.columns == a.rows else {
                throw CheckpointError.shapeMismatch(
                    path: path, tensor: base + ".lora_b", expected: [b.rows, a.rows], actual: [b.rows, b.columns])
            }
            let role = LlamaTensorNames.role(ofHF: weightName)?.role
            if let heads = hyperparameters.permutationHeads(forHF: weightName) {
                guard b.rows % heads == 0, (b.rows / heads) % 2 == 0 else {
                    throw CheckpointError.shapeMismatch(
                        path: path, tensor: base + ".lora_b",
                        expected: LlamaTensorNames.expectedShape(of: role ?? .query, for: hyperparameters),
                        actual: [b.rows, b.columns])
                }
                let stored = b.values
                stored.withUnsafeBytes { source in
                    b.values.withUnsafeMutableBytes { destination in
                        QKPermutation.permuteRows(
                            source, into: destination, heads: heads,
                            rowByteCount: b.columns * MemoryLayout<Float>.size, direction: .ggufToHF)
                    }
                }
            }
            return Update(weightName: weightName, a: a, b: b, scale: ggufScale(alpha: alpha, rank: b.columns))
        }
    }

    private static func ggufMatrix(_ file: GGUFFile, _ name: String) throws -> Matrix? {
        guard let info = file[name] else { return nil }
        guard info.shape.count == 2, let type = info.type, [GGMLType.f32, .f16, .bf16].contains(type) else {
            throw CheckpointError.unsupportedAdapter(
                path: file.url.path, reason: "`\(name)` must be a 2-D F32/F16/BF16 tensor")
        }
        return try decodeMatrix(try file.bytes(of: info), type: type, rows: info.shape[0], columns: info.shape[1])
    }

    private static func decodeMatrix(
        _ bytes: UnsafeRawBufferPointer, type: GGMLType, rows: Int, columns: Int
    ) throws -> Matrix {
        var values = [Float](repeating: 0, count: rows * columns)
        let result = values.withUnsafeMutableBufferPointer { out in
            Result { () throws(QuantizationError) in try GGMLCodec.dequantize(bytes, as: type, into: out) }
        }
        try result.get()
        return Matrix(rows: rows, columns: columns, values: values)
    }
}
