// SPDX-License-Identifier: Apache-2.0
import Tokenizers

/// One text tokenized by a checkpoint's tokenizer (`quail tokenize`).
public struct Tokenization: Sendable {
    /// Token ids.
    public let ids: [Int]
    /// Token texts in byte-level form (as HF tokenizers' `Encoding.tokens`).
    public let tokens: [String]

    /// Tokenizes a text.
    ///
    /// - Parameters:
    ///   - addSpecialTokens: whether the checkpoint's BOS/EOS policy is applied.
    public init(text: String, tokenizer: Tokenizer, addSpecialTokens: Bool) {
        ids = tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
        tokens = ids.map { tokenizer.token(forID: $0) ?? "" }
    }

    /// `{"ids": [...], "tokens": [...], "count": n}`.
    public var jsonRepresentation: JSONValue {
        .object([
            ("ids", .array(ids.map { .integer($0) })), ("tokens", .array(tokens.map { .string($0) })),
            ("count", .integer(ids.count)),
        ])
    }

    /// One `id<TAB>token` line per token, then the count.
    public var text: String {
        zip(ids, tokens).map { "\($0)\t\($1)\n" }.joined() + "\(ids.count) tokens"
    }
}
