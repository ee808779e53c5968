// SPDX-License-Identifier: Apache-2.0
import Testing
import Tokenizers

/// Added tokens follow HF tokenizers' `AddedVocabulary::find_matches`; expectations are worked out by hand.
@Suite("Added tokens: split out before pre-tokenization")
struct AddedTokenTests {
    let vocabulary = TinyVocabulary(
        merges: [("Ġ", "x")], extra: ["<s>", "<s>x", "cd", "abc", "<L>", "<R>", "word", "bc", "abcd"])

    func added(_ content: String, special: Bool = true, _ edit: (inout AddedToken) -> Void = { _ in }) -> AddedToken {
        var token = AddedToken(id: vocabulary.id(content), content: content, special: special)
        edit(&token)
        return token
    }

    @Test("special tokens split the text; the pieces between are tokenized on their own")
    func split() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [added("<s>")])
        let s = vocabulary.id("<s>")
        // " x" alone would merge to Ġx, but "<s>" ends the piece before the space.
        #expect(tokenizer.encode("a<s> x<s>") == [0x61, s, vocabulary.id("Ġx"), s])
        #expect(tokenizer.encode("<s") == [0x3C, 0x73])
    }

    @Test("at one position the longest token wins; the leftmost position wins over a longer later match")
    func leftmostLongest() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [added("<s>"), added("<s>x"), added("bc"), added("abcd")])
        #expect(tokenizer.encode("<s>x<s>") == [vocabulary.id("<s>x"), vocabulary.id("<s>")])
        #expect(tokenizer.encode("abcd") == [vocabulary.id("abcd")])
        #expect(tokenizer.encode("xbcd") == [0x78, vocabulary.id("bc"), 0x64])
    }

    @Test("non-normalized tokens are split out first, normalized ones only in what remains")
    func passes() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [
            added("cd", special: true), added("abc", special: false),
        ])
        // In one pass "abc" (leftmost) would win; "cd" is taken first instead and leaves "ab".
        #expect(tokenizer.encode("abcd") == [0x61, 0x62, vocabulary.id("cd")])
        #expect(tokenizer.encode("abcx") == [vocabulary.id("abc"), 0x78])
    }

    @Test("lstrip and rstrip absorb the whitespace next to the token")
    func strip() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [
            added("<L>") { $0.leftStrip = true }, added("<R>") { $0.rightStrip = true },
        ])
        let left = vocabulary.id("<L>"), right = vocabulary.id("<R>")
        #expect(tokenizer.encode("a \t<L> b") == [0x61, left, 0x20, 0x62])
        #expect(tokenizer.encode("a <R>  b") == [0x61, 0x20, right, 0x62])
        #expect(tokenizer.encode("<R> <L>") == [right, left])
    }

    @Test("single_word tokens only match when no word character touches them")
    func singleWord() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [added("word", special: false) { $0.singleWord = true }])
        let word = vocabulary.id("word")
        #expect(tokenizer.encode("word") == [word])
        #expect(tokenizer.encode("(word)") == [0x28, word, 0x29])
        #expect(tokenizer.encode("words").contains(word) == false)
        #expect(tokenizer.encode("_word").contains(word) == false)  // `_` is a word character (Pc)
    }

    @Test("without parsing special tokens they are plain text; other added tokens still match")
    func unparsed() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [added("<s>"), added("cd", special: false)])
        #expect(tokenizer.encode("<s>cd", parseSpecialTokens: false) == [0x3C, 0x73, 0x3E, vocabulary.id("cd")])
    }
}
