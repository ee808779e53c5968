// SPDX-License-Identifier: Apache-2.0

/// The Unicode classes the pre-tokenizer patterns distinguish.
///
/// `\p{L}` is general category L* (Lu, Ll, Lt, Lm, Lo), `\p{N}` is N* (Nd, Nl, No) and `\s` is the White_Space
/// property: the sets Oniguruma (which HF tokenizers' `SysRegex` uses) and the Rust `regex` crate assign to them.
/// Every scalar falls in exactly one class.
enum ScalarClass: UInt8 {
    case letter, number, whitespace, other

    /// The class of a scalar (ASCII by table, the rest from the Unicode properties).
    @inline(__always)
    init(_ scalar: Unicode.Scalar) {
        let value = scalar.value
        if value < 128 {
            self = Self.ascii[Int(value)]
        } else {
            self = Self.nonASCII(scalar)
        }
    }

    private static func nonASCII(_ scalar: Unicode.Scalar) -> ScalarClass {
        let properties = scalar.properties
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return properties.isWhitespace ? .whitespace : .other
        }
    }

    private static let ascii: [ScalarClass] = (0..<128).map { value in
        nonASCII(Unicode.Scalar(UInt8(value)))
    }
}

extension Unicode.Scalar {
    /// Whether the scalar is in Rust regex's Unicode `\w`: Alphabetic, M*, Nd, Pc or Join_Control.
    var isRegexWordCharacter: Bool {
        let properties = self.properties
        if properties.isAlphabetic || properties.isJoinControl { return true }
        switch properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
