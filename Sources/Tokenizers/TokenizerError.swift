// SPDX-License-Identifier: Apache-2.0

/// A tokenizer description that cannot be used, or an id that is not in the vocabulary.
///
/// The module reads no files; callers that load a tokenizer from a file wrap this error with the file's path.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A merge is not exactly two tokens separated by one space.
    case malformedMerge(rank: Int, merge: String)
    /// A merge names a token, or produces one, that the vocabulary lacks.
    case mergeTokenNotInVocabulary(rank: Int, token: String)
    /// An added token has a negative id, an id too large, or empty content.
    case invalidAddedToken(id: Int, content: String)
    /// A token id outside the vocabulary (or a hole in it).
    case unknownTokenID(id: Int, vocabularySize: Int)

    public var description: String {
        switch self {
        case .malformedMerge(let rank, let merge):
            "merge #\(rank) `\(merge)` is not two tokens separated by one space"
        case .mergeTokenNotInVocabulary(let rank, let token):
            "merge #\(rank) needs token `\(token)`, which is not in the vocabulary"
        case .invalidAddedToken(let id, let content):
            "added token `\(content)` with id \(id) is invalid (ids are 0..<2^24 and content is not empty)"
        case .unknownTokenID(let id, let vocabularySize):
            "token id \(id) is not in the vocabulary (\(vocabularySize) ids)"
        }
    }
}
