// SPDX-License-Identifier: Apache-2.0

/// How text is cut into pieces before BPE: a sequence of splitting steps, each applied to every piece the
/// previous step produced (HF tokenizers' `Sequence` of pre-tokenizers).
public struct PreTokenizer: Equatable, Sendable {
    /// One splitting step.
    public enum Step: Equatable, Sendable {
        /// HF `Digits`: numbers (`\p{N}`, Rust's `char::is_numeric`) apart from the rest; each number alone when
        /// `individual`, else runs of numbers.
        case digits(individual: Bool)
        /// A regular expression in `Isolated` mode (HF `ByteLevel` with `use_regex`, or `Split`).
        case pattern(SplitPattern)
    }

    /// The steps, applied in order.
    public let steps: [Step]

    /// Creates a pre-tokenizer from its steps.
    public init(steps: [Step]) { self.steps = steps }

    /// SmolLM / StarCoder (llama.cpp `smollm`): `Digits(individual_digits)` then `ByteLevel` with the GPT-2 pattern.
    public static let smolLM = PreTokenizer(steps: [.digits(individual: true), .pattern(.gpt2)])
    /// GPT-2 (llama.cpp `gpt-2`): `ByteLevel` with the GPT-2 pattern.
    public static let gpt2 = PreTokenizer(steps: [.pattern(.gpt2)])
    /// Llama 3 (llama.cpp `llama-bpe`): `Split` with the Llama 3 pattern, then `ByteLevel` without a pattern.
    public static let llama3 = PreTokenizer(steps: [.pattern(.llama3)])
    /// Qwen2 (llama.cpp `qwen2`): `Split` with the Qwen2 pattern, then `ByteLevel` without a pattern.
    public static let qwen2 = PreTokenizer(steps: [.pattern(.qwen2)])

    /// The pieces of a text, before byte-level encoding (no added-token handling).
    public func pieces(of text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var pieces: [String] = []
        scalars.withUnsafeBufferPointer { buffer in
            forEachPiece(in: buffer, buffer.indices) { range in
                pieces.append(String(String.UnicodeScalarView(buffer[range])))
            }
        }
        return pieces
    }

    /// Calls `body` with the non-empty pieces of `text[range]`, in order.
    func forEachPiece(
        in text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, fromStep step: Int = 0,
        _ body: (Range<Int>) -> Void
    ) {
        guard !range.isEmpty else { return }
        guard step < steps.count else { return body(range) }
        switch steps[step] {
        case .pattern(let pattern):
            pattern.split(text, range) { forEachPiece(in: text, $0, fromStep: step + 1, body) }
        case .digits(let individual):
            Self.splitDigits(text, range, individual: individual) {
                forEachPiece(in: text, $0, fromStep: step + 1, body)
            }
        }
    }

    private static func splitDigits(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, individual: Bool,
        _ emit: (Range<Int>) -> Void
    ) {
        var index = range.lowerBound
        while index < range.upperBound {
            let isNumber = ScalarClass(text[index]) == .number
            var stop = index + 1
            if !isNumber || !individual {
                while stop < range.upperBound, (ScalarClass(text[stop]) == .number) == isNumber { stop += 1 }
            }
            emit(index..<stop)
            index = stop
        }
    }
}
