// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A byte-level BPE tokenizer that encodes text exactly as HF tokenizers does for the same description.
///
/// Encoding follows `TokenizerImpl::encode_single_sequence` in HF tokenizers: added tokens are split out first
/// (``AddedToken``), the remaining text is normalized, pre-tokenized (``PreTokenizer``), each piece is written as
/// UTF-8 bytes and merged by BPE, and the ``SpecialTokenTemplate`` is applied. Results per piece are cached for
/// the duration of one call. The value is immutable and safe to share between threads.
public struct Tokenizer: Sendable {
    /// The pre-tokenizer.
    public let preTokenizer: PreTokenizer
    /// The normalization of text between added tokens.
    public let normalization: Normalization
    /// Tokens added around the text when special tokens are added.
    public let template: SpecialTokenTemplate
    /// Number of token ids (the largest id + 1).
    public let count: Int

    let model: BPEModel
    let addedVocabulary: AddedVocabulary
    /// Token text by id (an added token's content, else the vocabulary entry), nil for holes.
    let tokenTexts: [String?]
    /// Token ids by text, as looked up by ``id(forToken:)``.
    let idsByText: [String: Int32]
    /// Whether each id is a special added token.
    let isSpecialID: [Bool]
    /// The bytes each id decodes to, concatenated; id `i` owns `decodedBytes[decodedEnds[i-1]..<decodedEnds[i]]`.
    let decodedBytes: [UInt8]
    let decodedEnds: [Int]

    /// Creates a tokenizer.
    ///
    /// - Parameters:
    ///   - vocabulary: the model's byte-level token texts by id; nil marks an id the model does not use.
    ///   - merges: `"left right"` merges, highest priority first.
    ///   - addedTokens: tokens split out before pre-tokenization.
    ///   - preTokenizer: how text is cut before BPE.
    ///   - normalization: applied to the text between added tokens.
    ///   - ignoreMerges: whether a piece that is itself a vocabulary token is emitted whole (HF `ignore_merges`).
    ///   - unknownTokenID: the token for a byte the vocabulary lacks (HF `unk_token`); nil drops such bytes, as
    ///     HF tokenizers and llama.cpp do without one.
    ///   - fuseUnknown: whether consecutive such bytes share one unknown token (HF `fuse_unk`).
    ///   - template: BOS/EOS policy.
    /// - Throws: ``TokenizerError`` for merges that do not resolve, a bad added token, or a template or unknown
    ///   token id outside the vocabulary.
    public init(
        vocabulary: [String?], merges: [String], addedTokens: [AddedToken], preTokenizer: PreTokenizer,
        normalization: Normalization = .none, ignoreMerges: Bool = false, unknownTokenID: Int? = nil,
        fuseUnknown: Bool = false, template: SpecialTokenTemplate = .none
    ) throws(TokenizerError) {
        for token in addedTokens where token.id < 0 || token.id >= 1 << 24 || token.content.isEmpty {
            throw .invalidAddedToken(id: token.id, content: token.content)
        }
        let count = max(vocabulary.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        var modelIDs: [String: Int32] = [:]
        modelIDs.reserveCapacity(vocabulary.count)
        for (id, text) in vocabulary.enumerated() {
            if let text { modelIDs[text] = Int32(id) }
        }
        var texts = vocabulary + [String?](repeating: nil, count: count - vocabulary.count)
        var special = [Bool](repeating: false, count: count)
        for token in addedTokens {
            texts[token.id] = token.content
            special[token.id] = token.special
        }
        let checkedIDs = template.prefix + template.suffix + (unknownTokenID.map { [$0] } ?? [])
        for id in checkedIDs where !(0..<count).contains(id) || texts[id] == nil {
            throw .unknownTokenID(id: id, vocabularySize: count)
        }
        model = try BPEModel(
            vocabulary: modelIDs, merges: merges, ignoreMerges: ignoreMerges,
            unknownToken: unknownTokenID.map(Int32.init), fuseUnknown: fuseUnknown)
        var idsByText = modelIDs
        for token in addedTokens { idsByText[token.content] = Int32(token.id) }
        var bytes: [UInt8] = []
        var ends: [Int] = []
        ends.reserveCapacity(count)
        for text in texts {
            if let text { bytes += ByteLevelAlphabet.bytes(of: text) ?? Array(text.utf8) }
            ends.append(bytes.count)
        }
        self.preTokenizer = preTokenizer
        self.normalization = normalization
        self.template = template
        self.count = count
        addedVocabulary = AddedVocabulary(addedTokens)
        tokenTexts = texts
        self.idsByText = idsByText
        isSpecialID = special
        decodedBytes = bytes
        decodedEnds = ends
    }

    /// The token text of an id (byte-level form, as in `Encoding.tokens` of HF tokenizers), nil when unknown.
    public func token(forID id: Int) -> String? {
        tokenTexts.indices.contains(id) ? tokenTexts[id] : nil
    }

    /// The id of a token text (byte-level form), nil when unknown.
    public func id(forToken token: String) -> Int? { idsByText[token].map(Int.init) }

    /// Whether an id is a special added token.
    public func isSpecial(_ id: Int) -> Bool { isSpecialID.indices.contains(id) && isSpecialID[id] }

    /// Encodes text to token ids.
    ///
    /// - Parameters:
    ///   - addSpecialTokens: whether the ``template`` (BOS/EOS) is applied (HF `add_special_tokens`).
    ///   - parseSpecialTokens: whether special added tokens written in the text are recognised; when false they
    ///     are tokenized as plain text (HF `encode_special_tokens`).
    public func encode(_ text: String, addSpecialTokens: Bool = true, parseSpecialTokens: Bool = true) -> [Int] {
        var session = EncodingSession()
        if addSpecialTokens { session.ids += template.prefix.map(Int32.init) }
        let scalars = Array(text.unicodeScalars)
        scalars.withUnsafeBufferPointer { text in
            addedVocabulary.split(text, text.indices, using: addedVocabulary.raw, parseSpecial: parseSpecialTokens) {
                switch $0 {
                case .token(let id): session.ids.append(id)
                case .text(let range): encodeUnnormalized(text, range, parseSpecial: parseSpecialTokens, &session)
                }
            }
        }
        if addSpecialTokens { session.ids += template.suffix.map(Int32.init) }
        return session.ids.map(Int.init)
    }

    private func encodeUnnormalized(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, parseSpecial: Bool,
        _ session: inout EncodingSession
    ) {
        switch normalization {
        case .none:
            encodeNormalized(text, range, parseSpecial: parseSpecial, &session)
        case .nfc:
            let piece = String(String.UnicodeScalarView(text[range]))
            let normalized = Array(piece.precomposedStringWithCanonicalMapping.unicodeScalars)
            normalized.withUnsafeBufferPointer {
                encodeNormalized($0, $0.indices, parseSpecial: parseSpecial, &session)
            }
        }
    }

    private func encodeNormalized(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, parseSpecial: Bool,
        _ session: inout EncodingSession
    ) {
        addedVocabulary.split(text, range, using: addedVocabulary.normalized, parseSpecial: parseSpecial) {
            switch $0 {
            case .token(let id): session.ids.append(id)
            case .text(let range):
                preTokenizer.forEachPiece(in: text, range) { session.appendPiece(text[$0], model: model) }
            }
        }
    }

    /// Decodes ids to text: token texts mapped back through the byte-level alphabet (a token with a scalar outside
    /// it contributes its UTF-8 as is), then UTF-8 decoded with U+FFFD for invalid sequences, as HF tokenizers'
    /// `ByteLevel` decoder and `String::from_utf8_lossy` do.
    ///
    /// - Parameter skipSpecialTokens: whether special added tokens are left out (the default of HF `decode`).
    /// - Throws: ``TokenizerError/unknownTokenID(id:vocabularySize:)`` for an id that is not a token.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) throws(TokenizerError) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard tokenTexts.indices.contains(id), tokenTexts[id] != nil else {
                throw .unknownTokenID(id: id, vocabularySize: count)
            }
            if skipSpecialTokens && isSpecialID[id] { continue }
            bytes += decodedBytes[(id == 0 ? 0 : decodedEnds[id - 1])..<decodedEnds[id]]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
