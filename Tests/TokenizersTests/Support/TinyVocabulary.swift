// SPDX-License-Identifier: Apache-2.0
import Tokenizers

/// A hand-made byte-level vocabulary: ids 0...255 are the single-byte tokens in byte order (so the id of `a` is
/// 0x61 and the id of `Ġ`, the space, is 0x20), followed by the tokens the merges produce, in merge order, and
/// any extra tokens. Everything is written in the byte-level alphabet.
struct TinyVocabulary {
    var tokens: [String?]
    var merges: [String]

    init(merges pairs: [(String, String)] = [], extra: [String] = [], dropping dropped: Set<UInt8> = []) {
        tokens = (0..<256).map { dropped.contains(UInt8($0)) ? nil : String(ByteLevelAlphabet.scalars[$0]) }
        merges = []
        for (left, right) in pairs {
            if !tokens.contains(left + right) { tokens.append(left + right) }
            merges.append("\(left) \(right)")
        }
        tokens += extra
    }

    /// The id of a token.
    func id(_ token: String) -> Int { tokens.firstIndex(of: token) ?? -1 }

    func tokenizer(
        preTokenizer: PreTokenizer = .gpt2, addedTokens: [AddedToken] = [], normalization: Normalization = .none,
        ignoreMerges: Bool = false, unknownTokenID: Int? = nil, fuseUnknown: Bool = false,
        template: SpecialTokenTemplate = .none
    ) throws -> Tokenizer {
        try Tokenizer(
            vocabulary: tokens, merges: merges, addedTokens: addedTokens, preTokenizer: preTokenizer,
            normalization: normalization, ignoreMerges: ignoreMerges, unknownTokenID: unknownTokenID,
            fuseUnknown: fuseUnknown, template: template)
    }
}
