// SPDX-License-Identifier: Apache-2.0

extension SplitPattern {
    /// The GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    ///
    /// At each position the alternatives are tried in order:
    /// - an apostrophe followed by a (case-sensitive) contraction is a piece;
    /// - otherwise a non-whitespace scalar starts a run of its class (letters, numbers, or "other"), and a single
    ///   space directly before such a scalar joins that run;
    /// - a whitespace run reaching the end of the text is one piece; a longer run followed by a non-whitespace
    ///   scalar gives up its last scalar (`\s+(?!\S)` backtracks so that the lookahead sees whitespace), which the
    ///   next step attaches to the following run if it is a space, or emits alone (`\s+`) if it is not.
    static func splitGPT2(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, _ emit: (Range<Int>) -> Void
    ) {
        var index = range.lowerBound
        let end = range.upperBound
        while index < end {
            let scalar = text[index]
            if scalar == "'" {
                let length = contractionLength(text, at: index, end: end, caseInsensitive: false)
                if length > 0 {
                    emit(index..<index + length)
                    index += length
                    continue
                }
            }
            let head = scalar == " " && index + 1 < end ? index + 1 : index
            let kind = ScalarClass(text[head])
            if kind != .whitespace {
                let stop = runEnd(text, from: head + 1, to: end, of: kind)
                emit(index..<stop)
                index = stop
                continue
            }
            let stop = runEnd(text, from: index + 1, to: end, of: .whitespace)
            let cut = stop == end || stop - index == 1 ? stop : stop - 1
            emit(index..<cut)
            index = cut
        }
    }
}
