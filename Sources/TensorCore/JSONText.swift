// SPDX-License-Identifier: Apache-2.0

/// JSON string literals exactly as the reference tools spell them.
public enum JSONText {
    /// Appends `text` as a quoted JSON string.
    ///
    /// Both serde_json (the safetensors header) and Python's `json.dumps` (the shard index) escape `"` and `\`,
    /// use the short forms `\b \f \n \r \t`, and write other control characters as `\u00xx` (lowercase hex).
    /// With `asciiOnly` (Python's default `ensure_ascii=True`) every non-ASCII scalar is also written as
    /// `\uxxxx`, using a UTF-16 surrogate pair above U+FFFF; otherwise it is written as raw UTF-8 (serde_json).
    public static func appendString(_ text: String, to out: inout [UInt8], asciiOnly: Bool) {
        out.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: Array(#"\""#.utf8))
            case "\\": out.append(contentsOf: Array(#"\\"#.utf8))
            case "\u{08}": out.append(contentsOf: Array(#"\b"#.utf8))
            case "\u{0C}": out.append(contentsOf: Array(#"\f"#.utf8))
            case "\n": out.append(contentsOf: Array(#"\n"#.utf8))
            case "\r": out.append(contentsOf: Array(#"\r"#.utf8))
            case "\t": out.append(contentsOf: Array(#"\t"#.utf8))
            default:
                if scalar.value < 0x20 {
                    appendUnicodeEscape(UInt16(scalar.value), to: &out)
                } else if scalar.value >= 0x80 && asciiOnly {
                    for unit in String(scalar).utf16 { appendUnicodeEscape(unit, to: &out) }
                } else {
                    out.append(contentsOf: scalar.utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `\u` and four lowercase hex digits.
    private static func appendUnicodeEscape(_ unit: UInt16, to out: inout [UInt8]) {
        let digits = Array("0123456789abcdef".utf8)
        out.append(contentsOf: Array(#"\u"#.utf8))
        for shift in stride(from: 12, through: 0, by: -4) { out.append(digits[Int((unit >> UInt16(shift)) & 0xF)]) }
    }

    /// Appends the decimal digits of `value`.
    public static func appendInteger(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: Array(String(value).utf8))
    }
}
