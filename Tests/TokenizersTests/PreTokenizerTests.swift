// SPDX-License-Identifier: Apache-2.0
import Testing
import Tokenizers

/// Expected splits are derived by hand from the regular expressions' leftmost-first backtracking semantics.
@Suite("Pre-tokenizers: splits of tricky inputs")
struct PreTokenizerTests {
    @Test(
        "GPT-2 pattern",
        arguments: [
            ("Hello world", ["Hello", " world"]),
            ("  a", [" ", " a"]),
            ("a  ", ["a", "  "]),
            ("a   b", ["a", "  ", " b"]),
            ("\t\tabc", ["\t", "\t", "abc"]),
            ("x \n y", ["x", " \n", " y"]),
            ("a\r\n", ["a", "\r\n"]),
            ("it's", ["it", "'s"]),
            ("they'LL", ["they", "'", "LL"]),
            ("IT'S", ["IT", "'", "S"]),
            ("'tis y'all'd've", ["'t", "is", " y", "'", "all", "'d", "'ve"]),
            (" 'quoted'", [" '", "quoted", "'"]),
            (" 123abc", [" 123", "abc"]),
            ("a!!b ?!", ["a", "!!", "b", " ?!"]),
            ("a\u{3000}b a\u{A0}b", ["a", "\u{3000}", "b", " a", "\u{A0}", "b"]),
            ("a\u{200B}b", ["a", "\u{200B}", "b"]),
            ("e\u{301}", ["e", "\u{301}"]),
            ("👍🏽! 😀", ["👍🏽!", " 😀"]),
            ("½²③", ["½²③"]),
            ("Ǆemo ʰx", ["Ǆemo", " ʰx"]),
            ("", []),
        ] as [(String, [String])])
    func gpt2(text: String, expected: [String]) {
        #expect(PreTokenizer.gpt2.pieces(of: text) == expected)
    }

    @Test(
        "Llama 3 pattern",
        arguments: [
            ("IT'S don'T x'ſx", ["IT", "'S", " don", "'T", " x", "'ſ", "x"]),
            ("we'RE 'Ve", ["we", "'RE", " '", "Ve"]),
            ("12345 6", ["123", "45", " ", "6"]),
            ("\t\tabc", ["\t", "\tabc"]),
            ("hello\n\n  world", ["hello", "\n\n", " ", " world"]),
            ("!!!\n\nx", ["!!!\n\n", "x"]),
            (" ?x ?!", [" ?", "x", " ?!"]),
            ("?x", ["?x"]),
            ("a  \n", ["a", "  \n"]),
            ("a \n b", ["a", " \n", " b"]),
            ("a\r\n\r\n\tb", ["a", "\r\n\r\n", "\tb"]),
            ("1a", ["1", "a"]),
            ("a   ", ["a", "   "]),
        ] as [(String, [String])])
    func llama3(text: String, expected: [String]) {
        #expect(PreTokenizer.llama3.pieces(of: text) == expected)
    }

    @Test("Qwen2 pattern takes one number at a time")
    func qwen2() {
        #expect(PreTokenizer.qwen2.pieces(of: "x12345 ٣٤") == ["x", "1", "2", "3", "4", "5", " ", "٣", "٤"])
        #expect(PreTokenizer.qwen2.pieces(of: "It'S") == ["It", "'S"])
    }

    @Test("Digits, individual or in runs")
    func digits() {
        let individual = PreTokenizer(steps: [.digits(individual: true)])
        let runs = PreTokenizer(steps: [.digits(individual: false)])
        #expect(individual.pieces(of: "a1b22 ½") == ["a", "1", "b", "2", "2", " ", "½"])
        #expect(runs.pieces(of: "a1b22 ½") == ["a", "1", "b", "22", " ", "½"])
    }

    @Test("SmolLM: digits first, then GPT-2 inside each piece")
    func smolLM() {
        #expect(PreTokenizer.smolLM.pieces(of: "abc  12 def") == ["abc", "  ", "1", "2", " def"])
        #expect(PreTokenizer.smolLM.pieces(of: "x 3.5") == ["x", " ", "3", ".", "5"])
    }
}
