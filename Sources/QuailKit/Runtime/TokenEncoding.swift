// SPDX-License-Identifier: Apache-2.0
import Foundation

/// What the runtime needs from a tokenizer: text to ids, and the checkpoint's BOS policy.
public protocol TokenEncoding {
    /// The ids of `text`, without any special token added.
    func encode(_ text: String) -> [Int]
    /// The beginning-of-sequence token, if the vocabulary has one.
    var bosID: Int? { get }
    /// Whether the model expects BOS in front of a sequence (llama.cpp `llama_vocab_get_add_bos`).
    var addsBOS: Bool { get }
}

/// Whether and which BOS token starts every evaluated chunk.
public struct BOSPolicy: Equatable, Sendable {
    /// True when sequences start with BOS.
    public var addsBOS: Bool
    /// The BOS id (required when ``addsBOS``).
    public var bosID: Int?

    /// Creates a policy.
    public init(addsBOS: Bool, bosID: Int?) {
        self.addsBOS = addsBOS && bosID != nil
        self.bosID = bosID
    }

    /// The policy a tokenizer reports.
    public init(_ encoding: some TokenEncoding) {
        self.init(addsBOS: encoding.addsBOS, bosID: encoding.bosID)
    }

    /// The policy written in a checkpoint: `add_bos_token` of `tokenizer_config.json` or GGUF
    /// `tokenizer.ggml.add_bos_token`, false when absent (llama.cpp's default for BPE vocabularies).
    public init(_ metadata: BPETokenizerMetadata) {
        self.init(addsBOS: metadata.addBOS ?? false, bosID: metadata.bosID)
    }
}

/// Turns a text file into the token sequence perplexity is computed on.
public enum TextTokenization {
    /// The tokenizer of a checkpoint (HF `tokenizer.json` or GGUF `tokenizer.ggml.*`).
    ///
    /// - Throws: ``CheckpointError`` if the checkpoint has no tokenizer Quail supports.
    public static func encoding(for weights: CheckpointWeights) throws -> any TokenEncoding {
        try CheckpointTokenizer(checkpointAt: weights.url)
    }

    /// The text of a file, which must not be empty.
    ///
    /// - Throws: ``EvaluationError/emptyText(path:)``, or a file error.
    public static func text(at url: URL) throws -> String {
        let data = try Data(contentsOf: url)
        guard !data.isEmpty else { throw EvaluationError.emptyText(path: url.path) }
        return String(decoding: data, as: UTF8.self)
    }

    /// The tokens of `text` as llama.cpp's `common_tokenize(…, add_special = true)` produces them: BOS first when
    /// the model adds it, then the encoded text.
    public static func tokens(of text: String, encoding: some TokenEncoding) -> [Int] {
        let policy = BOSPolicy(encoding)
        return (policy.addsBOS ? policy.bosID.map { [$0] } ?? [] : []) + encoding.encode(text)
    }

    /// Token ids from a JSON file holding one array of non-negative integers.
    ///
    /// - Throws: ``EvaluationError/invalidTokenFile(path:reason:)`` or ``EvaluationError/emptyText(path:)``.
    public static func tokens(ofTokenFileAt url: URL) throws -> [Int] {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: try Data(contentsOf: url))
        } catch {
            throw EvaluationError.invalidTokenFile(path: url.path, reason: "\(error)")
        }
        guard let items = value.arrayValue else {
            throw EvaluationError.invalidTokenFile(path: url.path, reason: "top level is not an array")
        }
        guard !items.isEmpty else { throw EvaluationError.emptyText(path: url.path) }
        return try items.enumerated().map { index, item in
            guard let id = item.intValue, id >= 0 else {
                throw EvaluationError.invalidTokenFile(
                    path: url.path, reason: "item \(index) is not a non-negative integer")
            }
            return id
        }
    }
}
