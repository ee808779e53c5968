// SPDX-License-Identifier: Apache-2.0
import TensorCore
import Testing
import Tokenizers

@Suite("Decoding: byte-level round trip and lossy UTF-8")
struct DecodeTests {
    let vocabulary = TinyVocabulary(merges: [("Ġ", "t"), ("h", "e"), ("Ġt", "he")], extra: ["<s>", "<中>"])

    @Test("random valid text round-trips through encode and decode")
    func roundTrip() throws {
        let tokenizer = try vocabulary.tokenizer(preTokenizer: .smolLM)
        var random = SplitMix64(seed: 4)
        let alphabet: [Unicode.Scalar] = [
            "a", "Z", " ", "\t", "\n", "\r", "7", "'", "!", "é", "ß", "中", "😀", "\u{301}", "\u{0}", "\u{7F}",
            "\u{A0}", "\u{3000}", "\u{200D}", "\u{FEFF}", "٣",
        ]
        for _ in 0..<200 {
            let length = Int(random.next() % 40)
            var view = String.UnicodeScalarView()
            for _ in 0..<length { view.append(alphabet[Int(random.next() % UInt64(alphabet.count))]) }
            let text = String(view)
            #expect(try tokenizer.decode(tokenizer.encode(text)) == text)
        }
    }

    @Test(
        "invalid UTF-8 becomes one U+FFFD per maximal invalid subpart (Unicode §3.9, Rust from_utf8_lossy)",
        arguments: [
            ([0xC3], "\u{FFFD}"),
            ([0xC3, 0x41], "\u{FFFD}A"),
            ([0xE2, 0x82], "\u{FFFD}"),
            ([0xE2, 0x82, 0xE2, 0x82, 0xAC], "\u{FFFD}€"),
            ([0xF0, 0x9F, 0x98], "\u{FFFD}"),
            ([0xFF, 0x41], "\u{FFFD}A"),
            ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ([0xC0, 0xAF], "\u{FFFD}\u{FFFD}"),
            ([0xF4, 0x90, 0x80, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}"),
        ] as [([Int], String)])
    func lossy(bytes: [Int], expected: String) throws {
        // Ids 0...255 are the byte tokens, so byte values are ids.
        #expect(try vocabulary.tokenizer().decode(bytes) == expected)
    }

    @Test("special tokens are kept or skipped; a token outside the byte alphabet decodes as its own UTF-8")
    func special() throws {
        let tokenizer = try vocabulary.tokenizer(addedTokens: [
            AddedToken(id: vocabulary.id("<s>"), content: "<s>", special: true),
            AddedToken(id: vocabulary.id("<中>"), content: "<中>", special: false),
        ])
        let ids = [vocabulary.id("<s>"), 0x61, vocabulary.id("<中>"), vocabulary.id("Ġthe")]
        #expect(try tokenizer.decode(ids, skipSpecialTokens: false) == "<s>a<中> the")
        #expect(try tokenizer.decode(ids) == "a<中> the")
        #expect(tokenizer.token(forID: vocabulary.id("Ġthe")) == "Ġthe")
        #expect(tokenizer.id(forToken: "<中>") == vocabulary.id("<中>"))
        #expect(tokenizer.isSpecial(vocabulary.id("<s>")) && !tokenizer.isSpecial(vocabulary.id("<中>")))
    }
}
