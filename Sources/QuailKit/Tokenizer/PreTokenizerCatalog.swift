// SPDX-License-Identifier: Apache-2.0

/// The byte-level BPE pre-tokenizers Quail can name in GGUF (`tokenizer.ggml.pre`) and write back as
/// HF `tokenizer.json` `pre_tokenizer` objects.
///
/// llama.cpp identifies a pre-tokenizer by hashing a test tokenization (`get_vocab_base_pre` in
/// `convert_hf_to_gguf.py`); Quail cannot run a Python tokenizer, so it recognises the JSON structure
/// instead. Structures shared by several llama.cpp names (`smollm`, `starcoder`, `refact` split text the
/// same way) map to the first name listed.
public enum PreTokenizerCatalog {
    /// One known pre-tokenizer.
    public struct Entry: Sendable {
        /// llama.cpp names, the canonical one first.
        public let ggufNames: [String]
        /// The HF `pre_tokenizer` object.
        public let json: JSONValue
    }

    private static let byteLevel = JSONValue.object([
        ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
        ("use_regex", .bool(true)),
    ])

    private static let llama3Pattern =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

    /// The known entries.
    public static let entries: [Entry] = [
        Entry(
            ggufNames: ["smollm", "starcoder", "refact"],
            json: .object([
                ("type", .string("Sequence")),
                ("pretokenizers", .array([
                    .object([("type", .string("Digits")), ("individual_digits", .bool(true))]), byteLevel,
                ])),
            ])),
        Entry(ggufNames: ["gpt-2", "default"], json: byteLevel),
        Entry(
            ggufNames: ["llama-bpe"],
            json: .object([
                ("type", .string("Sequence")),
                ("pretokenizers", .array([
                    .object([
                        ("type", .string("Split")), ("pattern", .object([("Regex", .string(llama3Pattern))])),
                        ("behavior", .string("Isolated")), ("invert", .bool(false)),
                    ]),
                    .object([
                        ("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)),
                        ("trim_offsets", .bool(true)), ("use_regex", .bool(false)),
                    ]),
                ])),
            ])),
    ]

    /// The canonical llama.cpp name of an HF `pre_tokenizer` object, or nil when it is not known.
    public static func ggufName(for preTokenizer: JSONValue) -> String? {
        let key = canonical(preTokenizer)
        return entries.first { canonical($0.json) == key }?.ggufNames.first
    }

    /// The HF `pre_tokenizer` object for a llama.cpp name, or nil when it is not known.
    public static func preTokenizer(forGGUFName name: String) -> JSONValue? {
        entries.first { $0.ggufNames.contains(name) }?.json
    }

    /// A key-order-independent text form of a JSON value.
    static func canonical(_ value: JSONValue) -> String {
        switch value {
        case .object(let pairs):
            return "{" + pairs.sorted { $0.0 < $1.0 }.map { "\($0.0)=\(canonical($0.1))" }.joined(separator: ",")
                + "}"
        case .array(let items): return "[" + items.map(canonical).joined(separator: ",") + "]"
        default: return value.text()
        }
    }
}
