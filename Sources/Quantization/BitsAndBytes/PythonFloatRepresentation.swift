// SPDX-License-Identifier: Apache-2.0

/// Formats a Double exactly as Python's `repr(float)` (and so `json.dumps`) does.
///
/// Python writes the shortest digit string that reads back to the same double (David Gay's `dtoa` mode 0);
/// Swift's `description` computes the same shortest, closest digits, but lays them out differently. This
/// re-lays them out by CPython's `format_float_short` rules for `repr`: with the value written as
/// 0.d1d2...dn × 10^e, use exponent notation when e <= -4 or e > 16 (`1e-05`, `1e+16`, `1.5e+300`, at
/// least two exponent digits), otherwise positional notation with at least one digit after the point
/// (`0.0001`, `100.0`, `1234567.0`).
public enum PythonFloatRepresentation {
    /// The Python `repr` of `value`; `nan`, `inf` and `-inf` for non-finite values (as `repr` writes them).
    public static func repr(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        let sign = value.sign == .minus ? "-" : ""
        if value == 0 { return sign + "0.0" }
        let (digits, pointPosition) = shortestDigits(of: value.magnitude)
        return sign + layout(digits: digits, pointPosition: pointPosition)
    }

    /// Significant digits (no leading or trailing zeros) and e such that the value is 0.digits × 10^e.
    private static func shortestDigits(of magnitude: Double) -> (digits: [Character], pointPosition: Int) {
        let text = magnitude.description  // "1234.5", "1e-05", "1.2345678901234568e+17"
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1]) ?? 0 : 0
        let mantissa = parts[0]
        let integerPart = mantissa.prefix { $0 != "." }
        var digits = Array(mantissa.filter { $0 != "." })
        var pointPosition = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits, pointPosition)
    }

    private static func layout(digits: [Character], pointPosition: Int) -> String {
        if pointPosition <= -4 || pointPosition > 16 {
            let exponent = pointPosition - 1
            let fraction = digits.count > 1 ? "." + String(digits.dropFirst()) : ""
            let magnitude = String(exponent.magnitude)
            let padded = magnitude.count < 2 ? "0" + magnitude : magnitude
            return "\(digits[0])\(fraction)e\(exponent < 0 ? "-" : "+")\(padded)"
        }
        if pointPosition <= 0 {
            return "0." + String(repeating: "0", count: -pointPosition) + String(digits)
        }
        if pointPosition >= digits.count {
            return String(digits) + String(repeating: "0", count: pointPosition - digits.count) + ".0"
        }
        return String(digits.prefix(pointPosition)) + "." + String(digits.dropFirst(pointPosition))
    }
}
