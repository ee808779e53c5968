// SPDX-License-Identifier: Apache-2.0
import Foundation
import Quantization
import TensorCore

/// A JSON document with ordered objects, used to read HF side files (config.json, tokenizer.json) and to
/// write them deterministically.
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Keys keep the order given; duplicates are not allowed.
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.integer(let a), .integer(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value of `key` in an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The string payload, if any.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer payload (integral numbers included), if any.
    public var intValue: Int? {
        switch self {
        case .integer(let i): i
        case .number(let d) where d.rounded() == d && abs(d) < 9e15: Int(d)
        default: nil
        }
    }

    /// The numeric payload as `Double`, if any.
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }

    /// The boolean payload, if any.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The elements of an array, if any.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The pairs of an object, if any.
    public var objectValue: [(String, JSONValue)]? {
        if case .object(let o) = self { return o }
        return nil
    }
}

extension JSONValue {
    /// Parses a JSON document strictly (RFC 8259, UTF-8, no duplicate keys, bounded nesting), keeping key order.
    ///
    /// Integral literals without a fraction or exponent become ``integer(_:)``; other numbers ``number(_:)``.
    /// - Throws: ``StrictJSONError``.
    public init(parsing data: Data) throws(StrictJSONError) {
        let result = data.withUnsafeBytes { bytes in
            Result { () throws(StrictJSONError) in try StrictJSON.parse(bytes) }
        }
        self.init(try result.get())
    }

    /// Converts a parsed node.
    public init(_ node: JSONNode) {
        switch node {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .number(let text):
            if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }), let int = Int(text) {
                self = .integer(int)
            } else {
                self = .number(Double(text) ?? .nan)
            }
        case .string(let s): self = .string(s)
        case .array(let items): self = .array(items.map(JSONValue.init))
        case .object(let members): self = .object(members.map { ($0.key, JSONValue($0.value)) })
        }
    }
}

extension JSONValue {
    /// The JSON text: compact, or pretty-printed with `indent` spaces as Python's `json.dumps(indent=)` does.
    ///
    /// Non-ASCII characters are written as-is (UTF-8); floats use the shortest representation that round-trips.
    public func text(indent: Int? = nil) -> String {
        var out = ""
        write(to: &out, indent: indent, level: 0)
        return out
    }

    private func write(to out: inout String, indent: Int?, level: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .integer(let i): out += String(i)
        case .number(let d): out += JSONValue.format(d)
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let items):
            writeContainer(items.map { (nil, $0) }, open: "[", close: "]", to: &out, indent: indent, level: level)
        case .object(let pairs):
            writeContainer(pairs.map { ($0.0, $0.1) }, open: "{", close: "}", to: &out, indent: indent, level: level)
        }
    }

    private func writeContainer(
        _ items: [(String?, JSONValue)], open: String, close: String, to out: inout String, indent: Int?,
        level: Int
    ) {
        out += open
        guard !items.isEmpty else {
            out += close
            return
        }
        let inner = indent.map { "\n" + String(repeating: " ", count: $0 * (level + 1)) } ?? ""
        for (index, (key, value)) in items.enumerated() {
            if index > 0 { out += "," }
            out += inner
            if let key {
                JSONValue.writeString(key, to: &out)
                out += indent == nil ? ":" : ": "
            }
            value.write(to: &out, indent: indent, level: level + 1)
        }
        if let indent { out += "\n" + String(repeating: " ", count: indent * level) }
        out += close
    }

    /// Formats a double like Python's `repr` (`1e-05`, `10000.0`, `0.1`).
    static func format(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "NaN" : (value > 0 ? "Infinity" : "-Infinity") }
        return PythonFloatRepresentation.repr(value)
    }

    private static func writeString(_ s: String, to out: inout String) {
        var bytes: [UInt8] = []
        JSONText.appendString(s, to: &bytes, asciiOnly: false)
        out += String(decoding: bytes, as: UTF8.self)
    }
}
