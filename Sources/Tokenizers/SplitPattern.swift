// SPDX-License-Identifier: Apache-2.0

/// A pre-tokenizer regular expression, applied in HF tokenizers' `Isolated` mode (every match is a piece; the
/// patterns below match every scalar, so nothing falls between matches).
///
/// Each is a hand-written scanner over Unicode scalars that reproduces the leftmost-first, backtracking
/// semantics of the Oniguruma pattern HF tokenizers compiles, alternative by alternative (see the scanners).
public enum SplitPattern: Equatable, Sendable {
    /// GPT-2, as in HF tokenizers' `ByteLevel` with `use_regex`:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Llama 3 (`Split` in Meta-Llama-3's tokenizer.json):
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*`
    /// `|\s*[\r\n]+|\s+(?!\S)|\s+` (one pattern, shown in two parts).
    case llama3
    /// Qwen2: the Llama 3 pattern with `\p{N}` instead of `\p{N}{1,3}` (one number per piece).
    case qwen2

    /// Calls `emit` with the pieces of `text[range]`, in order.
    func split(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, _ emit: (Range<Int>) -> Void
    ) {
        switch self {
        case .gpt2: Self.splitGPT2(text, range, emit)
        case .llama3: Self.splitLlama3(text, range, maxNumberRun: 3, emit)
        case .qwen2: Self.splitLlama3(text, range, maxNumberRun: 1, emit)
        }
    }

    /// The end of the run of `kind` scalars starting at `start`.
    @inline(__always)
    static func runEnd(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, from start: Int, to end: Int, of kind: ScalarClass
    ) -> Int {
        var index = start
        while index < end, ScalarClass(text[index]) == kind { index += 1 }
        return index
    }

    /// The length of the contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) starting with the apostrophe at
    /// `start`, or 0.
    ///
    /// Case-insensitive matching follows Oniguruma's Unicode case folding, under which `ſ` (U+017F) also matches
    /// `s`; no other scalar folds to these ASCII letters.
    static func contractionLength(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, at start: Int, end: Int, caseInsensitive: Bool
    ) -> Int {
        func letter(_ offset: Int) -> UInt32 {
            guard start + offset < end else { return 0 }
            let value = text[start + offset].value
            guard caseInsensitive else { return value }
            if value >= 0x41 && value <= 0x5A { return value + 0x20 }
            return value == 0x17F ? 0x73 : value
        }
        switch letter(1) {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        case 0x72, 0x76: return letter(2) == 0x65 ? 3 : 0  // re ve
        case 0x6C: return letter(2) == 0x6C ? 3 : 0  // ll
        default: return 0
        }
    }

    @inline(__always)
    static func isNewline(_ scalar: Unicode.Scalar) -> Bool { scalar == "\n" || scalar == "\r" }
}
