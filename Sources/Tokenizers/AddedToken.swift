// SPDX-License-Identifier: Apache-2.0

/// A token matched in the text before pre-tokenization (HF tokenizers' `AddedToken`; in GGUF, a token of type
/// control or user-defined).
public struct AddedToken: Equatable, Sendable {
    /// Token id.
    public var id: Int
    /// The exact text it matches.
    public var content: String
    /// Whether it is special: left out by `decode(skipSpecialTokens: true)` and not matched when special tokens are
    /// not parsed.
    public var special: Bool
    /// Whether it is matched in the normalized text (after the non-normalized tokens are split out) rather than
    /// in the raw text.
    public var normalized: Bool
    /// Whether whitespace directly to its left is absorbed into it.
    public var leftStrip: Bool
    /// Whether whitespace directly to its right is absorbed into it.
    public var rightStrip: Bool
    /// Whether it only matches when no word character (`\w`) touches it on either side.
    public var singleWord: Bool

    /// Creates an added token; `normalized` defaults to `!special`, as in HF tokenizers.
    public init(
        id: Int, content: String, special: Bool, normalized: Bool? = nil, leftStrip: Bool = false,
        rightStrip: Bool = false, singleWord: Bool = false
    ) {
        self.id = id
        self.content = content
        self.special = special
        self.normalized = normalized ?? !special
        self.leftStrip = leftStrip
        self.rightStrip = rightStrip
        self.singleWord = singleWord
    }
}
