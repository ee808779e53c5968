// SPDX-License-Identifier: Apache-2.0

extension SplitPattern {
    /// The Llama 3 pattern (see ``SplitPattern/llama3``); Qwen2's has `\p{N}` for `\p{N}{1,3}`, i.e.
    /// `maxNumberRun` 1.
    ///
    /// At each position the alternatives are tried in order:
    /// - an apostrophe followed by a case-insensitive contraction is a piece;
    /// - a letter run, optionally preceded by one scalar that is not a letter, number, CR or LF;
    /// - up to `maxNumberRun` numbers;
    /// - a run of "other" scalars (optionally after one space), followed by any CR/LF run;
    /// - in a whitespace run that contains CR or LF, everything up to and including its last CR/LF
    ///   (`\s*` backtracks until `[\r\n]+` matches);
    /// - otherwise the whitespace rules of GPT-2: the whole run at the end of the text or when it is one scalar,
    ///   else all but its last scalar.
    static func splitLlama3(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, maxNumberRun: Int,
        _ emit: (Range<Int>) -> Void
    ) {
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            let start = index
            let scalar = text[index]
            let kind = ScalarClass(scalar)
            if scalar == "'", case let length = contractionLength(text, at: index, end: end, caseInsensitive: true),
                length > 0
            {
                index += length
            } else if kind == .letter {
                index = runEnd(text, from: index + 1, to: end, of: .letter)
            } else if kind != .number, !isNewline(scalar), index + 1 < end, ScalarClass(text[index + 1]) == .letter {
                index = runEnd(text, from: index + 2, to: end, of: .letter)
            } else if kind == .number {
                index += 1
                while index < end, index - start < maxNumberRun, ScalarClass(text[index]) == .number { index += 1 }
            } else if kind == .other || (scalar == " " && index + 1 < end && ScalarClass(text[index + 1]) == .other) {
                index = runEnd(text, from: index + 1, to: end, of: .other)
                while index < end, isNewline(text[index]) { index += 1 }
            } else {
                let stop = runEnd(text, from: index + 1, to: end, of: .whitespace)
                if let lastNewline = (index..<stop).last(where: { isNewline(text[$0]) }) {
                    index = lastNewline + 1
                } else {
                    index = stop == end || stop - index == 1 ? stop : stop - 1
                }
            }
            emit(start..<index)
        }
    }
}
