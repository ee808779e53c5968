// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import SafeTensors
import TensorCore

/// A summary of a checkpoint's headers (`quail inspect`): architecture, hyperparameters, tokenizer kind and the
/// tensor table. Building it reads headers and side files only, never tensor data.
public struct CheckpointInspection: Sendable {
    /// One row of the tensor table.
    public struct Tensor: Sendable, Equatable {
        /// Name as stored.
        public let name: String
        /// Type name (`BF16`, `Q4_K`, or `type 42 (unknown)`).
        public let type: String
        /// Shape, outermost dimension first (GGUF `ne` reversed).
        public let shape: [Int]
        /// Stored bytes, nil when the type is unknown.
        public let byteCount: Int?
    }

    /// The inspected path.
    public let path: String
    /// `hf-directory`, `safetensors` or `gguf`.
    public let format: String
    /// Architecture name (`llama`), or nil when the files do not say.
    public let architecture: String?
    /// Hyperparameters as stated by the checkpoint, in a stable order.
    public let hyperparameters: [(String, JSONValue)]
    /// Tokenizer description (`byte-level BPE (gpt2), pre-tokenizer smollm, 49152 tokens`), or nil.
    public let tokenizer: String?
    /// Other metadata (safetensors `__metadata__`, other GGUF keys), arrays summarised.
    public let metadata: [(String, JSONValue)]
    /// The tensors in file order.
    public let tensors: [Tensor]

    /// Total stored tensor bytes (known types only).
    public var totalBytes: Int { tensors.reduce(0) { $0 + ($1.byteCount ?? 0) } }
    /// Total elements.
    public var totalElements: Int { tensors.reduce(0) { $0 + (Shape.elementCount($1.shape) ?? 0) } }

    /// Inspects a safetensors file, an HF checkpoint directory or a GGUF file.
    ///
    /// - Throws: the reader's typed error for a malformed file, or ``CheckpointError``.
    public init(path url: URL) throws {
        path = url.path
        switch try CheckpointFormat.detect(url) {
        case .ggufFile:
            format = "gguf"
            let file = try GGUFFile(contentsOf: url)
            (architecture, hyperparameters, tokenizer, metadata) = Self.summarize(file.metadata)
            tensors = file.tensors.map { info in
                Tensor(
                    name: info.name, type: info.type?.name ?? "type \(info.typeID) (unknown)",
                    shape: info.dimensions.reversed(), byteCount: info.byteCount)
            }
        case .safetensorsFile:
            format = "safetensors"
            let file = try SafeTensorsFile(contentsOf: url)
            architecture = nil
            hyperparameters = []
            tokenizer = nil
            metadata = (file.metadata ?? [:]).sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }
            tensors = file.tensors.map(Self.row)
        case .hfDirectory:
            format = "hf-directory"
            let config = try HFCheckpoint.readJSON(url.appendingPathComponent("config.json"))
            let weights = try SafeTensorsCheckpoint(directory: url)
            architecture = config["model_type"]?.stringValue
            hyperparameters = (config.objectValue ?? []).filter { Self.isHyperparameter($0.1) }
            tokenizer = try Self.describeTokenizer(in: url)
            metadata = []
            tensors = weights.tensorNames.compactMap { weights.locate($0).map { Self.row($0.info) } }
        }
    }

    private static func row(_ info: SafeTensorsTensorInfo) -> Tensor {
        Tensor(name: info.name, type: info.dtype.rawValue, shape: info.shape, byteCount: info.byteCount)
    }

    private static func isHyperparameter(_ value: JSONValue) -> Bool {
        switch value {
        case .integer, .number, .bool, .string: true
        default: false
        }
    }

    private static func summarize(_ metadata: GGUFMetadata) -> (
        String?, [(String, JSONValue)], String?, [(String, JSONValue)]
    ) {
        let arch = metadata["general.architecture"]?.stringValue
        var hparams: [(String, JSONValue)] = []
        var other: [(String, JSONValue)] = []
        for (key, value) in metadata.entries {
            if let arch, key.hasPrefix(arch + ".") {
                hparams.append((key, summary(value)))
            } else if !key.hasPrefix("tokenizer.ggml.") {
                other.append((key, summary(value)))
            }
        }
        var tokenizer: String?
        if let model = metadata["tokenizer.ggml.model"]?.stringValue {
            let kind = model == "gpt2" ? "byte-level BPE (gpt2)" : model == "llama" ? "SentencePiece (llama)" : model
            var parts = [kind]
            if let pre = metadata["tokenizer.ggml.pre"]?.stringValue { parts.append("pre-tokenizer \(pre)") }
            if case .array(let tokens) = metadata["tokenizer.ggml.tokens"] { parts.append("\(tokens.count) tokens") }
            tokenizer = parts.joined(separator: ", ")
        }
        return (arch, hparams, tokenizer, other)
    }

    private static func summary(_ value: GGUFValue) -> JSONValue {
        guard case .array(let array) = value else { return value.jsonRepresentation["value"] ?? .null }
        return .string("[\(array.count) × \(array.elementType.name)]")
    }

    private static func describeTokenizer(in directory: URL) throws -> String? {
        let url = directory.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: url.path) else {
            let spm = directory.appendingPathComponent("tokenizer.model")
            return FileManager.default.fileExists(atPath: spm.path) ? "SentencePiece (tokenizer.model)" : nil
        }
        let json = try HFCheckpoint.readJSON(url)
        let model = json["model"]?["type"]?.stringValue ?? "unknown"
        var parts = [model == "BPE" && json["model"]?["byte_fallback"]?.boolValue != true ? "byte-level BPE" : model]
        if let pre = json["pre_tokenizer"] {
            parts.append("pre-tokenizer \(PreTokenizerCatalog.ggufName(for: pre) ?? "unrecognised")")
        }
        let vocab = (json["model"]?["vocab"]?.objectValue?.count ?? 0)
        parts.append("\(vocab) vocabulary entries, \(json["added_tokens"]?.arrayValue?.count ?? 0) added tokens")
        return parts.joined(separator: ", ")
    }
}

// MARK: - Output

extension CheckpointInspection {
    /// The report as JSON for `--json`.
    public var jsonRepresentation: JSONValue {
        .object([
            ("path", .string(path)), ("format", .string(format)),
            ("architecture", architecture.map { .string($0) } ?? .null),
            ("hyperparameters", .object(hyperparameters)),
            ("tokenizer", tokenizer.map { .string($0) } ?? .null),
            ("metadata", .object(metadata)),
            ("tensors", .array(tensors.map { tensor in
                .object([
                    ("name", .string(tensor.name)), ("type", .string(tensor.type)),
                    ("shape", .array(tensor.shape.map { .integer($0) })),
                    ("bytes", tensor.byteCount.map { .integer($0) } ?? .null),
                ])
            })),
            ("tensor_count", .integer(tensors.count)), ("total_bytes", .integer(totalBytes)),
            ("total_elements", .integer(totalElements)),
        ])
    }

    /// The report as text for a person.
    public var text: String {
        var lines = ["\(path) (\(format))"]
        lines.append("architecture: \(architecture ?? "unknown")")
        for (key, value) in hyperparameters { lines.append("  \(key): \(value.text())") }
        lines.append("tokenizer: \(tokenizer ?? "none")")
        for (key, value) in metadata { lines.append("  \(key): \(Self.clip(value.text()))") }
        let nameWidth = min(60, tensors.map(\.name.count).max() ?? 4)
        let typeWidth = max(4, tensors.map(\.type.count).max() ?? 4)
        lines.append(pad("name", nameWidth) + "  " + pad("type", typeWidth) + "  " + pad("shape", 20) + "  bytes")
        for tensor in tensors {
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
            lines.append(
                pad(tensor.name, nameWidth) + "  " + pad(tensor.type, typeWidth) + "  " + pad(shape, 20) + "  "
                    + (tensor.byteCount.map(String.init) ?? "?"))
        }
        lines.append(
            "\(tensors.count) tensors, \(totalElements) elements, \(totalBytes) bytes "
                + String(format: "(%.2f MiB)", Double(totalBytes) / 1_048_576))
        return lines.joined(separator: "\n")
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private static func clip(_ text: String) -> String {
        text.count <= 100 ? text : String(text.prefix(97)) + "…"
    }
}
