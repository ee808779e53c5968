// SPDX-License-Identifier: Apache-2.0
import GGUF

/// A byte-level BPE tokenizer as both HF and GGUF describe it: vocabulary, token types, merges,
/// pre-tokenizer and special tokens.
///
/// It is the bridge between HF `tokenizer.json` + `tokenizer_config.json` and GGUF `tokenizer.ggml.*`
/// keys (`tokenizer.ggml.model` = `gpt2`). Token types use llama.cpp's values: 1 normal, 3 control
/// (special added tokens), 4 user-defined (other added tokens), 5 unused (padding of the vocabulary).
public struct BPETokenizerMetadata: Equatable, Sendable {
    /// Token strings by id (byte-level encoded, as in tokenizer.json).
    public var tokens: [String]
    /// llama.cpp token types by id.
    public var tokenTypes: [Int32]
    /// Merges as `"left right"`.
    public var merges: [String]
    /// llama.cpp pre-tokenizer name, nil when unknown.
    public var preTokenizerName: String?
    /// Special token ids.
    public var bosID: Int?, eosID: Int?, unknownID: Int?, paddingID: Int?
    /// Whether a BOS token is prepended, when stated.
    public var addBOS: Bool?
    /// The byte-level pre-tokenizer's `add_prefix_space`, when stated.
    public var addSpacePrefix: Bool?
    /// Jinja chat template, if any.
    public var chatTemplate: String?

    static let normal: Int32 = 1, control: Int32 = 3, userDefined: Int32 = 4, unused: Int32 = 5
}

// MARK: - HF tokenizer.json

extension BPETokenizerMetadata {
    /// Reads an HF byte-level BPE tokenizer.
    ///
    /// - Parameters:
    ///   - tokenizer: the parsed `tokenizer.json`.
    ///   - config: the parsed `tokenizer_config.json`, if present.
    ///   - hparams: the model's hyperparameters (vocabulary size and BOS/EOS ids).
    /// - Throws: ``CheckpointError/unsupportedTokenizer(path:found:)`` for anything but byte-level BPE, and
    ///   ``CheckpointError/invalidField(path:key:expected:)`` for malformed fields.
    public init(
        tokenizer: JSONValue, tokenizerPath: String, config: JSONValue?, hparams: LlamaHyperparameters
    ) throws(CheckpointError) {
        let path = tokenizerPath
        guard let model = tokenizer["model"], model["type"]?.stringValue == "BPE" else {
            throw .unsupportedTokenizer(
                path: path, found: "model type \(tokenizer["model"]?["type"]?.text() ?? "missing")")
        }
        if model["byte_fallback"]?.boolValue == true {
            throw .unsupportedTokenizer(path: path, found: "SentencePiece-style BPE (byte_fallback)")
        }
        guard let vocab = model["vocab"]?.objectValue else {
            throw .invalidField(path: path, key: "model.vocab", expected: "an object of token ids")
        }
        var byID: [Int: String] = [:]
        for (token, value) in vocab {
            guard let id = value.intValue, id >= 0, id < 1 << 24 else {
                throw .invalidField(path: path, key: "model.vocab.\(token)", expected: "a token id")
            }
            byID[id] = token
        }
        var types: [Int: Int32] = [:]
        for added in tokenizer["added_tokens"]?.arrayValue ?? [] {
            guard let id = added["id"]?.intValue, id >= 0, id < 1 << 24, let content = added["content"]?.stringValue
            else { throw .invalidField(path: path, key: "added_tokens", expected: "objects with id and content") }
            byID[id] = content
            types[id] = added["special"]?.boolValue == true ? Self.control : Self.userDefined
        }
        let count = max(hparams.vocabSize, (byID.keys.max() ?? -1) + 1)
        tokens = (0..<count).map { byID[$0] ?? "[PAD\($0)]" }
        tokenTypes = (0..<count).map { id in byID[id] == nil ? Self.unused : (types[id] ?? Self.normal) }
        merges = try Self.merges(model["merges"], path: path)
        let pre = tokenizer["pre_tokenizer"] ?? .null
        preTokenizerName = PreTokenizerCatalog.ggufName(for: pre)
        addSpacePrefix = Self.byteLevelPrefixSpace(pre)
        let ids = Dictionary(tokens.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        func tokenID(_ key: String) -> Int? {
            guard let value = config?[key] else { return nil }
            let text = value.stringValue ?? value["content"]?.stringValue
            return text.flatMap { ids[$0] }
        }
        bosID = hparams.bosTokenID ?? tokenID("bos_token")
        eosID = hparams.eosTokenID ?? tokenID("eos_token")
        unknownID = tokenID("unk_token")
        paddingID = tokenID("pad_token")
        addBOS = config?["add_bos_token"]?.boolValue
        chatTemplate = config?["chat_template"]?.stringValue
    }

    private static func merges(_ value: JSONValue?, path: String) throws(CheckpointError) -> [String] {
        guard let items = value?.arrayValue else {
            throw .invalidField(path: path, key: "model.merges", expected: "an array")
        }
        var merges: [String] = []
        merges.reserveCapacity(items.count)
        for item in items {
            if let text = item.stringValue {
                merges.append(text)
            } else if let pair = item.arrayValue, pair.count == 2, let a = pair[0].stringValue,
                let b = pair[1].stringValue
            {
                merges.append("\(a) \(b)")
            } else {
                throw .invalidField(path: path, key: "model.merges", expected: "strings or pairs of strings")
            }
        }
        return merges
    }

    private static func byteLevelPrefixSpace(_ pre: JSONValue) -> Bool? {
        if pre["type"]?.stringValue == "ByteLevel" { return pre["add_prefix_space"]?.boolValue }
        for item in pre["pretokenizers"]?.arrayValue ?? [] {
            if let flag = byteLevelPrefixSpace(item) { return flag }
        }
        return nil
    }

    /// The HF `tokenizer.json` for this tokenizer (unused padding tokens are left out of the vocabulary).
    public func tokenizerJSON() -> JSONValue {
        var vocab: [(String, JSONValue)] = []
        var added: [JSONValue] = []
        for (id, token) in tokens.enumerated() {
            switch tokenTypes[id] {
            case Self.unused: continue
            case Self.control, Self.userDefined:
                let special = tokenTypes[id] == Self.control
                added.append(.object([
                    ("id", .integer(id)), ("content", .string(token)), ("single_word", .bool(false)),
                    ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(!special)),
                    ("special", .bool(special)),
                ]))
            default: break
            }
            vocab.append((token, .integer(id)))
        }
        let entry = preTokenizerName.flatMap(PreTokenizerCatalog.entry(forGGUFName:))
        let pre = entry?.json ?? PreTokenizerCatalog.preTokenizer(forGGUFName: "gpt-2") ?? .null
        return .object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null),
            ("added_tokens", .array(added)), ("normalizer", .null), ("pre_tokenizer", pre),
            ("post_processor", postProcessorJSON(addsBOS: addBOS ?? entry?.addsBOSByDefault ?? false)),
            ("decoder", .object([
                ("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)), ("trim_offsets", .bool(true)),
                ("use_regex", .bool(true)),
            ])),
            ("model", .object([
                ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null),
                ("continuing_subword_prefix", .null), ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)),
                ("byte_fallback", .bool(false)), ("ignore_merges", .bool(entry?.ignoresMerges ?? false)),
                ("vocab", .object(vocab)),
                ("merges", .array(merges.map { .string($0) })),
            ])),
        ])
    }

    /// A ByteLevel post-processor, followed by a template that prepends BOS when the tokenizer adds it
    /// (the shape of Llama 3's tokenizer.json).
    private func postProcessorJSON(addsBOS: Bool) -> JSONValue {
        let byteLevel = JSONValue.object([
            ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(false)),
            ("use_regex", .bool(false)),
        ])
        guard addsBOS, let bosID, tokens.indices.contains(bosID) else { return byteLevel }
        let bos = tokens[bosID]
        func special() -> JSONValue { .object([("SpecialToken", .object([("id", .string(bos)), ("type_id", .integer(0))]))]) }
        func sequence(_ name: String, _ type: Int) -> JSONValue {
            .object([("Sequence", .object([("id", .string(name)), ("type_id", .integer(type))]))])
        }
        let template = JSONValue.object([
            ("type", .string("TemplateProcessing")),
            ("single", .array([special(), sequence("A", 0)])),
            ("pair", .array([special(), sequence("A", 0), special(), sequence("B", 1)])),
            ("special_tokens", .object([
                (bos, .object([("id", .string(bos)), ("ids", .array([.integer(bosID)])), ("tokens", .array([.string(bos)]))])),
            ])),
        ])
        return .object([("type", .string("Sequence")), ("processors", .array([byteLevel, template]))])
    }

    /// The HF `tokenizer_config.json` for this tokenizer.
    public func tokenizerConfigJSON(contextLength: Int) -> JSONValue {
        func token(_ id: Int?) -> JSONValue {
            guard let id, tokens.indices.contains(id) else { return .null }
            return .string(tokens[id])
        }
        var pairs: [(String, JSONValue)] = []
        if let addBOS { pairs.append(("add_bos_token", .bool(addBOS))) }
        if let addSpacePrefix { pairs.append(("add_prefix_space", .bool(addSpacePrefix))) }
        pairs.append(("bos_token", token(bosID)))
        if let chatTemplate { pairs.append(("chat_template", .string(chatTemplate))) }
        pairs += [
            ("clean_up_tokenization_spaces", .bool(false)), ("eos_token", token(eosID)),
            ("model_max_length", .integer(contextLength)), ("pad_token", token(paddingID)),
            ("tokenizer_class", .string("GPT2Tokenizer")), ("unk_token", token(unknownID)),
        ]
        return .object(pairs)
    }
}

// MARK: - GGUF tokenizer.ggml.*

extension BPETokenizerMetadata {
    /// Reads `tokenizer.ggml.*` keys of a GGUF file with `tokenizer.ggml.model` = `gpt2`.
    ///
    /// - Throws: ``CheckpointError`` when the model is not `gpt2`, arrays are missing or ill-typed, their
    ///   lengths disagree, or a special token id is out of range.
    public init(metadata: GGUFMetadata, path: String) throws(CheckpointError) {
        let model = metadata["tokenizer.ggml.model"]?.stringValue ?? "missing"
        guard model == "gpt2" else { throw .unsupportedTokenizer(path: path, found: "tokenizer.ggml.model `\(model)`") }
        guard case .array(.string(let tokens)) = metadata["tokenizer.ggml.tokens"] else {
            throw .invalidField(path: path, key: "tokenizer.ggml.tokens", expected: "an array of strings")
        }
        guard case .array(.string(let merges)) = metadata["tokenizer.ggml.merges"] else {
            throw .invalidField(path: path, key: "tokenizer.ggml.merges", expected: "an array of strings")
        }
        switch metadata["tokenizer.ggml.token_type"] {
        case .array(.int32(let types)) where types.count == tokens.count: tokenTypes = types
        case nil: tokenTypes = [Int32](repeating: Self.normal, count: tokens.count)
        default:
            throw .invalidField(
                path: path, key: "tokenizer.ggml.token_type", expected: "an INT32 array as long as the tokens")
        }
        self.tokens = tokens
        self.merges = merges
        preTokenizerName = metadata["tokenizer.ggml.pre"]?.stringValue
        func id(_ key: String) throws(CheckpointError) -> Int? {
            guard let value = metadata[key] else { return nil }
            guard let id = value.intValue, id >= 0, id < tokens.count else {
                throw .invalidField(path: path, key: key, expected: "a token id below \(tokens.count)")
            }
            return id
        }
        bosID = try id("tokenizer.ggml.bos_token_id")
        eosID = try id("tokenizer.ggml.eos_token_id")
        unknownID = try id("tokenizer.ggml.unknown_token_id")
        paddingID = try id("tokenizer.ggml.padding_token_id")
        addBOS = metadata["tokenizer.ggml.add_bos_token"]?.boolValue
        addSpacePrefix = metadata["tokenizer.ggml.add_space_prefix"]?.boolValue
        chatTemplate = metadata["tokenizer.chat_template"]?.stringValue
    }

    /// The `tokenizer.ggml.*` entries in the order llama.cpp's converter writes them.
    public var ggufEntries: [(String, GGUFValue)] {
        var entries: [(String, GGUFValue)] = []
        if let addSpacePrefix { entries.append(("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix))) }
        if let addBOS { entries.append(("tokenizer.ggml.add_bos_token", .bool(addBOS))) }
        entries.append(("tokenizer.ggml.model", .string("gpt2")))
        if let preTokenizerName { entries.append(("tokenizer.ggml.pre", .string(preTokenizerName))) }
        entries += [
            ("tokenizer.ggml.tokens", .array(.string(tokens))),
            ("tokenizer.ggml.token_type", .array(.int32(tokenTypes))),
            ("tokenizer.ggml.merges", .array(.string(merges))),
        ]
        for (key, id) in [
            ("tokenizer.ggml.bos_token_id", bosID), ("tokenizer.ggml.eos_token_id", eosID),
            ("tokenizer.ggml.unknown_token_id", unknownID), ("tokenizer.ggml.padding_token_id", paddingID),
        ] {
            if let id { entries.append((key, .uint32(UInt32(id)))) }
        }
        if let chatTemplate { entries.append(("tokenizer.chat_template", .string(chatTemplate))) }
        return entries
    }
}
