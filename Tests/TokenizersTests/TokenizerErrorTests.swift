// SPDX-License-Identifier: Apache-2.0
import Testing
import Tokenizers

@Suite("Tokenizer errors")
struct TokenizerErrorTests {
    func make(merges: [String], added: [AddedToken] = [], template: SpecialTokenTemplate = .none) throws {
        var vocabulary = TinyVocabulary(merges: [("a", "b")])
        vocabulary.merges += merges
        _ = try vocabulary.tokenizer(addedTokens: added, template: template)
    }

    @Test("a merge that is not two tokens separated by one space")
    func malformed() {
        #expect(throws: TokenizerError.malformedMerge(rank: 1, merge: "a  b")) { try make(merges: ["a  b"]) }
        #expect(throws: TokenizerError.malformedMerge(rank: 1, merge: "ab")) { try make(merges: ["ab"]) }
    }

    @Test("a merge naming or producing a token the vocabulary lacks")
    func missingToken() {
        #expect(throws: TokenizerError.mergeTokenNotInVocabulary(rank: 1, token: "xyz")) { try make(merges: ["xyz a"]) }
        #expect(throws: TokenizerError.mergeTokenNotInVocabulary(rank: 1, token: "ba")) { try make(merges: ["b a"]) }
    }

    @Test("added tokens need an id in range and content; template ids must be tokens")
    func addedAndTemplate() {
        #expect(throws: TokenizerError.invalidAddedToken(id: -1, content: "<x>")) {
            try make(merges: [], added: [AddedToken(id: -1, content: "<x>", special: true)])
        }
        #expect(throws: TokenizerError.invalidAddedToken(id: 3, content: "")) {
            try make(merges: [], added: [AddedToken(id: 3, content: "", special: true)])
        }
        #expect(throws: TokenizerError.unknownTokenID(id: 400, vocabularySize: 257)) {
            try make(merges: [], template: SpecialTokenTemplate(prefix: [400]))
        }
    }

    @Test("decoding an id outside the vocabulary or in a hole")
    func decode() throws {
        let vocabulary = TinyVocabulary(dropping: [0x04])
        let tokenizer = try vocabulary.tokenizer()
        #expect(throws: TokenizerError.unknownTokenID(id: 256, vocabularySize: 256)) { try tokenizer.decode([256]) }
        #expect(throws: TokenizerError.unknownTokenID(id: 4, vocabularySize: 256)) { try tokenizer.decode([4]) }
        #expect(throws: TokenizerError.unknownTokenID(id: -1, vocabularySize: 256)) { try tokenizer.decode([-1]) }
    }

    @Test("descriptions name the rule")
    func descriptions() {
        #expect(TokenizerError.malformedMerge(rank: 3, merge: "a").description.contains("merge #3"))
        #expect(TokenizerError.unknownTokenID(id: 9, vocabularySize: 4).description.contains("token id 9"))
    }
}
