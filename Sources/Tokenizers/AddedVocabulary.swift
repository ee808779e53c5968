// SPDX-License-Identifier: Apache-2.0

/// Splits added tokens out of text the way HF tokenizers' `AddedVocabulary::find_matches` does.
///
/// Matching is leftmost-longest and non-overlapping (`MatchKind::LeftmostLongest` there); the search resumes after
/// each match even when the match is then discarded (a `single_word` token touching a word, or a special token
/// while special tokens are not parsed). Tokens with `normalized == false` are matched first in the raw text, the
/// others afterwards in each remaining (normalized) piece.
struct AddedVocabulary: Sendable {
    /// One piece of the split.
    enum Segment {
        /// Text between added tokens.
        case text(Range<Int>)
        /// An added token's id.
        case token(Int32)
    }

    /// Added tokens matched in one pass, grouped by first scalar, longest first.
    struct PatternSet: Sendable {
        var patterns: [Unicode.Scalar: [(scalars: [Unicode.Scalar], token: AddedToken)]] = [:]
        /// Bit `v` set when some pattern starts with the ASCII scalar `v` (fast rejection).
        var asciiFirst: (UInt64, UInt64) = (0, 0)

        init(_ tokens: [AddedToken]) {
            for token in tokens {
                let scalars = Array(token.content.unicodeScalars)
                guard let first = scalars.first else { continue }
                patterns[first, default: []].append((scalars, token))
                if first.value < 64 {
                    asciiFirst.0 |= 1 << UInt64(first.value)
                } else if first.value < 128 {
                    asciiFirst.1 |= 1 << UInt64(first.value - 64)
                }
            }
            for key in patterns.keys { patterns[key]?.sort { $0.scalars.count > $1.scalars.count } }
        }

        var isEmpty: Bool { patterns.isEmpty }

        /// The leftmost match in `text[start..<end]`, longest at that position.
        func leftmostLongest(
            in text: UnsafeBufferPointer<Unicode.Scalar>, from start: Int, to end: Int
        ) -> (range: Range<Int>, token: AddedToken)? {
            var index = start
            while index < end {
                defer { index += 1 }
                let value = text[index].value
                if value < 64 {
                    if asciiFirst.0 & (1 << UInt64(value)) == 0 { continue }
                } else if value < 128 {
                    if asciiFirst.1 & (1 << UInt64(value - 64)) == 0 { continue }
                }
                guard let candidates = patterns[text[index]] else { continue }
                for (scalars, token) in candidates where index + scalars.count <= end {
                    if scalars.indices.allSatisfy({ text[index + $0] == scalars[$0] }) {
                        return (index..<index + scalars.count, token)
                    }
                }
            }
            return nil
        }
    }

    /// Tokens matched in the raw text.
    let raw: PatternSet
    /// Tokens matched in normalized pieces.
    let normalized: PatternSet

    /// Builds the two pattern sets; when several tokens share a content, the last one wins.
    init(_ tokens: [AddedToken]) {
        var byContent: [String: AddedToken] = [:]
        for token in tokens where !token.content.isEmpty { byContent[token.content] = token }
        let unique = tokens.filter { byContent[$0.content] == $0 }
        raw = PatternSet(unique.filter { !$0.normalized })
        normalized = PatternSet(unique.filter { $0.normalized })
    }

    /// Calls `body` with the segments of `text[range]`: added tokens of `set` and the text between them.
    func split(
        _ text: UnsafeBufferPointer<Unicode.Scalar>, _ range: Range<Int>, using set: PatternSet, parseSpecial: Bool,
        _ body: (Segment) -> Void
    ) {
        guard !set.isEmpty else {
            if !range.isEmpty { body(.text(range)) }
            return
        }
        var emitted = range.lowerBound
        var searchFrom = range.lowerBound
        while let (match, token) = set.leftmostLongest(in: text, from: searchFrom, to: range.upperBound) {
            searchFrom = match.upperBound
            if token.special && !parseSpecial { continue }
            if token.singleWord {
                let touchesLeft = match.lowerBound > range.lowerBound && text[match.lowerBound - 1].isRegexWordCharacter
                let touchesRight = match.upperBound < range.upperBound && text[match.upperBound].isRegexWordCharacter
                if touchesLeft || touchesRight { continue }
            }
            var start = match.lowerBound
            var stop = match.upperBound
            if token.leftStrip {
                while start > range.lowerBound, text[start - 1].properties.isWhitespace { start -= 1 }
                start = max(start, emitted)
            }
            if token.rightStrip {
                while stop < range.upperBound, text[stop].properties.isWhitespace { stop += 1 }
            }
            if emitted < start { body(.text(emitted..<start)) }
            body(.token(Int32(token.id)))
            emitted = max(emitted, stop)
        }
        if emitted < range.upperBound { body(.text(emitted..<range.upperBound)) }
    }
}
