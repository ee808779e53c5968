// SPDX-License-Identifier: Apache-2.0
import Foundation
import GGUF
import Tokenizers

/// The tokenizer of a checkpoint: a ``Tokenizers/Tokenizer`` built from ``BPETokenizerMetadata`` plus what the
/// metadata does not carry (the pre-tokenizer's behaviour, HF added-token flags, normalizer, BOS/EOS policy).
///
/// Only byte-level BPE with a pre-tokenizer of ``PreTokenizerCatalog`` is accepted; anything else is an error
/// that names what was found, never a fallback to another tokenizer.
public struct CheckpointTokenizer: Sendable {
    /// The file the tokenizer was read from (`tokenizer.json` or the GGUF file).
    public let path: String
    /// llama.cpp name of the pre-tokenizer (`smollm`, `gpt-2`, `llama-bpe`, `qwen2`).
    public let preTokenizerName: String
    /// The tokenizer.
    public let tokenizer: Tokenizer

    /// Loads the tokenizer of an HF checkpoint directory or a GGUF file.
    ///
    /// - Throws: ``CheckpointError`` (missing or unsupported tokenizer, bad fields), or the GGUF reader's error.
    public init(checkpointAt url: URL) throws {
        switch try CheckpointFormat.detect(url) {
        case .ggufFile:
            let file = try GGUFFile(contentsOf: url)
            try self.init(
                gguf: BPETokenizerMetadata(metadata: file.metadata, path: url.path),
                addEOS: file.metadata["tokenizer.ggml.add_eos_token"]?.boolValue, path: url.path)
        case .hfDirectory:
            try self.init(hfDirectory: url)
        case .safetensorsFile:
            throw CheckpointError.unsupportedTokenizer(
                path: url.path, found: "a lone safetensors file (pass its HF directory or a GGUF file)")
        }
    }

    /// Builds the tokenizer of a GGUF file with llama.cpp's rules: control tokens are special added tokens,
    /// user-defined tokens normalized added tokens, unused tokens are left out, bytes without a token are dropped,
    /// and `ignore_merges` and the BOS default follow the pre-tokenizer name.
    ///
    /// - Parameters:
    ///   - metadata: the file's `tokenizer.ggml.*` keys.
    ///   - addEOS: `tokenizer.ggml.add_eos_token`, if present.
    ///   - path: the GGUF file, for errors.
    public init(gguf metadata: BPETokenizerMetadata, addEOS: Bool?, path: String) throws(CheckpointError) {
        guard let name = metadata.preTokenizerName else {
            throw .unsupportedTokenizer(
                path: path, found: "no tokenizer.ggml.pre (llama.cpp's fallback `default` is not supported)")
        }
        let entry = try Self.entry(named: name, path: path)
        var template = SpecialTokenTemplate.none
        if metadata.addBOS ?? entry.addsBOSByDefault {
            guard let bos = metadata.bosID else {
                throw .invalidField(path: path, key: "tokenizer.ggml.bos_token_id", expected: "set when BOS is added")
            }
            template.prefix = [bos]
        }
        if addEOS ?? false {
            guard let eos = metadata.eosID else {
                throw .invalidField(path: path, key: "tokenizer.ggml.eos_token_id", expected: "set when EOS is added")
            }
            template.suffix = [eos]
        }
        try self.init(
            metadata: metadata, preTokenizerName: name, entry: entry, path: path, addedTokenFlags: [:],
            normalization: .none, ignoreMerges: entry.ignoresMerges, unknownID: nil, fuseUnknown: false,
            template: template)
    }

    /// Builds the tokenizer of an HF directory from `tokenizer.json` (and `tokenizer_config.json`,
    /// `config.json`), as HF tokenizers' `Tokenizer.from_file` would.
    init(hfDirectory url: URL) throws(CheckpointError) {
        let configURL = url.appendingPathComponent("config.json")
        let hyperparameters = try LlamaHyperparameters(
            configJSON: HFCheckpoint.readJSON(configURL), path: configURL.path)
        let tokenizerURL = url.appendingPathComponent("tokenizer.json")
        let path = tokenizerURL.path
        let json = try HFCheckpoint.readJSON(tokenizerURL)
        let configPath = url.appendingPathComponent("tokenizer_config.json").path
        let config = FileManager.default.fileExists(atPath: configPath)
            ? try HFCheckpoint.readJSON(URL(fileURLWithPath: configPath)) : nil
        let metadata = try BPETokenizerMetadata(
            tokenizer: json, tokenizerPath: path, config: config, hparams: hyperparameters)
        guard let name = metadata.preTokenizerName else {
            throw .unsupportedTokenizer(path: path, found: "pre_tokenizer \(Self.excerpt(json["pre_tokenizer"]))")
        }
        let model = json["model"] ?? .null
        if let dropout = model["dropout"]?.doubleValue, dropout != 0 {
            throw .unsupportedTokenizer(path: path, found: "BPE dropout \(dropout)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let affix = model[key]?.stringValue, !affix.isEmpty {
                throw .unsupportedTokenizer(path: path, found: "BPE \(key) `\(affix)`")
            }
        }
        let normalization: Normalization
        switch json["normalizer"] ?? .null {
        case .null: normalization = .none
        case let normalizer where normalizer["type"]?.stringValue == "NFC": normalization = .nfc
        case let normalizer: throw .unsupportedTokenizer(path: path, found: "normalizer \(Self.excerpt(normalizer))")
        }
        let decoder = json["decoder"] ?? .null
        guard decoder["type"]?.stringValue == "ByteLevel" else {
            throw .unsupportedTokenizer(path: path, found: "decoder \(Self.excerpt(decoder))")
        }
        var unknownID: Int?
        if let unknown = model["unk_token"]?.stringValue {
            guard let id = metadata.tokens.firstIndex(of: unknown) else {
                throw .invalidField(path: path, key: "model.unk_token", expected: "a token of the vocabulary")
            }
            unknownID = id
        }
        var flags: [Int: JSONValue] = [:]
        for added in json["added_tokens"]?.arrayValue ?? [] {
            if let id = added["id"]?.intValue { flags[id] = added }
        }
        try self.init(
            metadata: metadata, preTokenizerName: name, entry: Self.entry(named: name, path: path), path: path,
            addedTokenFlags: flags, normalization: normalization,
            ignoreMerges: model["ignore_merges"]?.boolValue ?? false, unknownID: unknownID,
            fuseUnknown: model["fuse_unk"]?.boolValue ?? false,
            template: Self.template(json["post_processor"] ?? .null, path: path))
    }

    private init(
        metadata: BPETokenizerMetadata, preTokenizerName: String, entry: PreTokenizerCatalog.Entry, path: String,
        addedTokenFlags: [Int: JSONValue], normalization: Normalization, ignoreMerges: Bool, unknownID: Int?,
        fuseUnknown: Bool, template: SpecialTokenTemplate
    ) throws(CheckpointError) {
        var vocabulary: [String?] = []
        var added: [AddedToken] = []
        for (id, (text, type)) in zip(metadata.tokens, metadata.tokenTypes).enumerated() {
            vocabulary.append(type == BPETokenizerMetadata.unused ? nil : text)
            guard type == BPETokenizerMetadata.control || type == BPETokenizerMetadata.userDefined else { continue }
            let flags = addedTokenFlags[id] ?? .null
            let special = flags["special"]?.boolValue ?? (type == BPETokenizerMetadata.control)
            added.append(AddedToken(
                id: id, content: text, special: special, normalized: flags["normalized"]?.boolValue,
                leftStrip: flags["lstrip"]?.boolValue ?? false, rightStrip: flags["rstrip"]?.boolValue ?? false,
                singleWord: flags["single_word"]?.boolValue ?? false))
        }
        do {
            tokenizer = try Tokenizer(
                vocabulary: vocabulary, merges: metadata.merges, addedTokens: added,
                preTokenizer: entry.preTokenizer, normalization: normalization, ignoreMerges: ignoreMerges,
                unknownTokenID: unknownID, fuseUnknown: fuseUnknown, template: template)
        } catch {
            throw .invalidTokenizer(path: path, reason: error)
        }
        self.path = path
        self.preTokenizerName = preTokenizerName
    }

    /// Decodes ids to text (see ``Tokenizers/Tokenizer/decode(_:skipSpecialTokens:)``).
    ///
    /// - Throws: ``CheckpointError/invalidTokenizer(path:reason:)`` for an id that is not a token.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool) throws(CheckpointError) -> String {
        do {
            return try tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
        } catch {
            throw .invalidTokenizer(path: path, reason: error)
        }
    }

    private static func entry(named name: String, path: String) throws(CheckpointError) -> PreTokenizerCatalog.Entry {
        guard let entry = PreTokenizerCatalog.entry(forGGUFName: name) else {
            let known = PreTokenizerCatalog.entries.flatMap(\.ggufNames).joined(separator: ", ")
            throw .unsupportedTokenizer(path: path, found: "pre-tokenizer `\(name)` (supported: \(known))")
        }
        return entry
    }

    /// The BOS/EOS policy of an HF `post_processor`: nothing for `ByteLevel`, the special tokens around `$A` in
    /// the `single` template of `TemplateProcessing`, and those of each member of a `Sequence` in turn.
    static func template(_ processor: JSONValue, path: String) throws(CheckpointError) -> SpecialTokenTemplate {
        switch processor["type"]?.stringValue {
        case nil where processor == .null, "ByteLevel": return .none
        case "Sequence":
            var combined = SpecialTokenTemplate.none
            for member in processor["processors"]?.arrayValue ?? [] {
                let inner = try template(member, path: path)
                combined = SpecialTokenTemplate(
                    prefix: inner.prefix + combined.prefix, suffix: combined.suffix + inner.suffix)
            }
            return combined
        case "TemplateProcessing":
            var result = SpecialTokenTemplate.none
            var sawSequence = false
            for piece in processor["single"]?.arrayValue ?? [] {
                if piece["Sequence"] != nil, !sawSequence {
                    sawSequence = true
                } else if let name = piece["SpecialToken"]?["id"]?.stringValue,
                    let ids = processor["special_tokens"]?[name]?["ids"]?.arrayValue,
                    case let values = ids.compactMap(\.intValue), values.count == ids.count
                {
                    if sawSequence { result.suffix += values } else { result.prefix += values }
                } else {
                    throw .invalidField(
                        path: path, key: "post_processor.single",
                        expected: "special tokens listed in special_tokens around one sequence")
                }
            }
            guard sawSequence else {
                throw .invalidField(path: path, key: "post_processor.single", expected: "one `Sequence` item")
            }
            return result
        default:
            throw .unsupportedTokenizer(path: path, found: "post_processor \(excerpt(processor))")
        }
    }

    /// A JSON value as compact text, shortened for error messages.
    private static func excerpt(_ value: JSONValue?) -> String {
        let text = (value ?? .null).text()
        return text.count <= 160 ? text : String(text.prefix(160)) + "…"
    }
}

// MARK: - TokenEncoding

extension CheckpointTokenizer: TokenEncoding {
    /// The ids of `text` without BOS/EOS.
    public func encode(_ text: String) -> [Int] {
        tokenizer.encode(text, addSpecialTokens: false)
    }

    /// The BOS id the tokenizer prepends, if it prepends one.
    public var bosID: Int? { tokenizer.template.prefix.first }

    /// Whether the tokenizer prepends BOS (from the HF post-processor or llama.cpp's policy for GGUF).
    public var addsBOS: Bool { !tokenizer.template.prefix.isEmpty }
}
