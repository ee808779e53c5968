// SPDX-License-Identifier: Apache-2.0
import Testing
import Tokenizers

@Suite("ByteLevelAlphabet: GPT-2 bytes_to_unicode")
struct ByteLevelAlphabetTests {
    @Test("printable bytes stand for themselves; the others map to U+0100 onwards in byte order")
    func knownEntries() {
        let table = ByteLevelAlphabet.scalars
        #expect(table[0x41] == "A" && table[0x7E] == "~" && table[0xA1] == "¡" && table[0xFF] == "ÿ")
        #expect(table[0x00] == "\u{100}")  // Ā
        #expect(table[0x09] == "\u{109}")  // ĉ (tab)
        #expect(table[0x0A] == "\u{10A}")  // Ċ (newline)
        #expect(table[0x20] == "\u{120}")  // Ġ (space)
        #expect(table[0x7F] == "\u{121}")
        #expect(table[0xA0] == "\u{142}")  // ł (no-break space byte)
        #expect(table[0xAD] == "\u{143}")  // Ń (soft hyphen byte), the last of the 68
    }

    @Test("the table is a bijection and bytes(of:) inverts string(of:)")
    func roundTrip() {
        let all = (0...255).map(UInt8.init)
        #expect(Set(ByteLevelAlphabet.scalars).count == 256)
        #expect(ByteLevelAlphabet.bytes(of: ByteLevelAlphabet.string(of: all)) == all)
        #expect(ByteLevelAlphabet.string(of: Array("é ".utf8)) == "Ã©Ġ")
    }

    @Test("scalars outside the alphabet have no byte")
    func outside() {
        #expect(ByteLevelAlphabet.byte(for: " ") == nil)
        #expect(ByteLevelAlphabet.byte(for: "\u{144}") == nil)
        #expect(ByteLevelAlphabet.bytes(of: "a b") == nil)
        #expect(ByteLevelAlphabet.bytes(of: "中") == nil)
    }
}
