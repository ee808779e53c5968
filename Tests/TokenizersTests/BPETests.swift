// SPDX-License-Identifier: Apache-2.0
import Testing
import Tokenizers

@Suite("BPE merges on a hand-made vocabulary")
struct BPETests {
    @Test("the lowest-ranked pair merges first")
    func rankOrder() throws {
        let bcFirst = TinyVocabulary(merges: [("b", "c"), ("a", "b"), ("ab", "c")])
        #expect(try bcFirst.tokenizer().encode("abc") == [0x61, bcFirst.id("bc")])
        let abFirst = TinyVocabulary(merges: [("a", "b"), ("b", "c"), ("ab", "c")])
        #expect(try abFirst.tokenizer().encode("abc") == [abFirst.id("abc")])
    }

    @Test("equal ranks merge leftmost first, and merged symbols merge again")
    func leftmost() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "a"), ("aa", "aa")])
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.encode("aaa") == [vocabulary.id("aa"), 0x61])
        #expect(tokenizer.encode("aaaa") == [vocabulary.id("aaaa")])
        #expect(tokenizer.encode("aaaaa") == [vocabulary.id("aaaa"), 0x61])
    }

    @Test("pieces merge independently; a space joins the following word")
    func pieces() throws {
        let vocabulary = TinyVocabulary(merges: [("Ġ", "a"), ("a", "b")])
        #expect(try vocabulary.tokenizer().encode("ab ab") == [vocabulary.id("ab"), vocabulary.id("Ġa"), 0x62])
    }

    @Test("multi-byte characters start as one token per byte")
    func bytes() throws {
        // "é" is C3 A9, written `Ã©` in the byte-level alphabet.
        let vocabulary = TinyVocabulary(merges: [("Ã", "©")])
        let tokenizer = try vocabulary.tokenizer()
        #expect(tokenizer.encode("é") == [vocabulary.id("Ã©")])
        #expect(tokenizer.encode("中") == [0xE4, 0xB8, 0xAD])
    }

    @Test("ignore_merges emits a piece that is a token whole, even without a merge path")
    func ignoreMerges() throws {
        let vocabulary = TinyVocabulary(extra: ["xyz"])
        #expect(try vocabulary.tokenizer(ignoreMerges: true).encode("xyz") == [vocabulary.id("xyz")])
        #expect(try vocabulary.tokenizer(ignoreMerges: false).encode("xyz") == [0x78, 0x79, 0x7A])
    }

    @Test("bytes without a token are dropped, or become the unknown token (fused when asked)")
    func missingBytes() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "b")], extra: ["<unk>"], dropping: [0x04, 0x06])
        let unknown = vocabulary.id("<unk>")
        let whole = PreTokenizer(steps: [])  // one piece, so that the dropped byte sits between a and b
        #expect(try vocabulary.tokenizer(preTokenizer: whole).encode("a\u{4}b") == [vocabulary.id("ab")])
        #expect(
            try vocabulary.tokenizer(preTokenizer: whole, unknownTokenID: unknown).encode("a\u{4}\u{6}")
                == [0x61, unknown, unknown])
        #expect(
            try vocabulary.tokenizer(preTokenizer: whole, unknownTokenID: unknown, fuseUnknown: true)
                .encode("a\u{4}\u{6}b") == [0x61, unknown, 0x62])
    }

    @Test("the template adds BOS/EOS only when special tokens are added")
    func template() throws {
        let vocabulary = TinyVocabulary()
        let tokenizer = try vocabulary.tokenizer(template: SpecialTokenTemplate(prefix: [1], suffix: [2, 3]))
        #expect(tokenizer.encode("a") == [1, 0x61, 2, 3])
        #expect(tokenizer.encode("a", addSpecialTokens: false) == [0x61])
        #expect(tokenizer.encode("") == [1, 2, 3])
    }

    @Test("NFC normalization composes before splitting")
    func nfc() throws {
        let vocabulary = TinyVocabulary(merges: [("Ã", "©")])
        let composed = try vocabulary.tokenizer(normalization: .nfc)
        #expect(composed.encode("e\u{301}") == composed.encode("é"))
        #expect(try vocabulary.tokenizer().encode("e\u{301}") == [0x65, 0xCC, 0x81])
    }

    @Test("a long piece merges like short ones (no length limits, no cache effects)")
    func longPiece() throws {
        let vocabulary = TinyVocabulary(merges: [("a", "b"), ("ab", "ab")])
        let tokenizer = try vocabulary.tokenizer()
        let long = String(repeating: "ab", count: 1001)
        let expected = [Int](repeating: vocabulary.id("abab"), count: 500) + [vocabulary.id("ab")]
        #expect(tokenizer.encode(long) == expected)
        #expect(tokenizer.encode(long + " " + long) == expected + [0x20] + expected)
    }
}
