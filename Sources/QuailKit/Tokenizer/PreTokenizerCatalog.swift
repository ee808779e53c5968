// SPDX-License-Identifier: Apache-2.0
import Tokenizers

/// The byte-level BPE pre-tokenizers Quail can name in GGUF (`tokenizer.ggml.pre`) and write back as
/// HF `tokenizer.json` `pre_tokenizer` objects.
///
/// llama.cpp identifies a pre-tokenizer by hashing a test tokenization (`get_vocab_base_pre` in
/// `convert_hf_to_gguf.py`); Quail cannot run a Python tokenizer, so it recognises the JSON structure
/// instead. Structures shared by several llama.cpp names (`smollm`, `starcoder`, `refact` split text the
/// same way) map to the first name listed. Each entry also says how Quail's ``Tokenizers/Tokenizer`` splits text
/// for it and which defaults llama.cpp applies to a GGUF file with that name (`llama_vocab::impl::load` in
/// llama-vocab.cpp). llama.cpp's `default` (its fallback when `tokenizer.ggml.pre` is absent) splits text with
/// other expressions than GPT-2 and is deliberately not listed.
public enum PreTokenizerCatalog {
    /// One known pre-tokenizer.
    public struct Entry: Sendable {
        /// llama.cpp names, the canonical one first.
        public let ggufNames: [String]
        /// The HF `pre_tokenizer` object.
        public let json: JSONValue
        /// How Quail splits text for this entry.
        public let preTokenizer: PreTokenizer
        /// Whether llama.cpp sets `ignore_merges` for a GGUF file with this name (HF tokenizer.json states it).
        public var ignoresMerges = false
        /// Whether llama.cpp adds BOS when a GGUF file with this name lacks `tokenizer.ggml.add_bos_token`.
        public var addsBOSByDefault = false
    }

    private static let byteLevel = JSONValue.object([
        ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
        ("use_regex", .bool(true)),
    ])

    private static let llama3Pattern =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

    private static let qwen2Pattern =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

    /// `Split` with a regular expression, then `ByteLevel` without one.
    private static func splitThenByteLevel(_ pattern: String) -> JSONValue {
        .object([
            ("type", .string("Sequence")),
            ("pretokenizers", .array([
                .object([
                    ("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])),
                    ("behavior", .string("Isolated")), ("invert", .bool(false)),
                ]),
                .object([
                    ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                    ("trim_offsets", .bool(true)), ("use_regex", .bool(false)),
                ]),
            ])),
        ])
    }

    /// The known entries.
    public static let entries: [Entry] = [
        Entry(
            ggufNames: ["smollm", "starcoder", "refact"],
            json: .object([
                ("type", .string("Sequence")),
                ("pretokenizers", .array([
                    .object([("type", .string("Digits")), ("individual_digits", .bool(true))]), byteLevel,
                ])),
            ]),
            preTokenizer: .smolLM),
        Entry(ggufNames: ["gpt-2"], json: byteLevel, preTokenizer: .gpt2),
        Entry(
            ggufNames: ["llama-bpe", "llama3", "llama-v3"], json: splitThenByteLevel(llama3Pattern),
            preTokenizer: .llama3, ignoresMerges: true, addsBOSByDefault: true),
        Entry(ggufNames: ["qwen2"], json: splitThenByteLevel(qwen2Pattern), preTokenizer: .qwen2),
    ]

    /// The entry for a llama.cpp name, or nil when it is not known.
    public static func entry(forGGUFName name: String) -> Entry? {
        entries.first { $0.ggufNames.contains(name) }
    }

    /// The canonical llama.cpp name of an HF `pre_tokenizer` object, or nil when it is not known.
    public static func ggufName(for preTokenizer: JSONValue) -> String? {
        let key = canonical(preTokenizer)
        return entries.first { canonical($0.json) == key }?.ggufNames.first
    }

    /// The HF `pre_tokenizer` object for a llama.cpp name, or nil when it is not known.
    public static func preTokenizer(forGGUFName name: String) -> JSONValue? {
        entry(forGGUFName: name)?.json
    }

    /// A key-order-independent text form of a JSON value, without `trim_offsets` (which only affects offsets).
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .object(let pairs):
            return "{"
                + pairs.filter { $0.0 != "trim_offsets" }.sorted { $0.0 < $1.0 }.map { "\($0.0)=\(canonical($0.1))" }
                .joined(separator: ",") + "}"
        case .array(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
        default: return value.text()
        }
    }
}
