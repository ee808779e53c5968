// SPDX-License-Identifier: Apache-2.0

/// A JSON value whose objects keep their members in document order.
public enum JSONNode: Equatable, Sendable {
    case null
    case bool(Bool)
    /// A number, kept as its literal text (already checked against the RFC 8259 grammar).
    case number(String)
    case string(String)
    case array([JSONNode])
    case object([JSONMember])
}

/// One `"key": value` pair of a JSON object.
public struct JSONMember: Equatable, Sendable {
    /// The member name.
    public let key: String
    /// The member value.
    public let value: JSONNode

    /// Creates a member.
    public init(key: String, value: JSONNode) {
        self.key = key
        self.value = value
    }
}

/// Why strict JSON parsing failed; offsets count from the start of the parsed bytes.
public enum StrictJSONError: Error, Equatable, Sendable {
    case notUTF8(offset: Int)
    case syntax(offset: Int, reason: String)
    case duplicateKey(key: String, path: String)
}

extension StrictJSONError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notUTF8(let offset): "not UTF-8 at byte \(offset)"
        case .syntax(let offset, let reason): "\(reason) at byte \(offset)"
        case .duplicateKey(let key, let path): "duplicate key `\(key)` in \(path.isEmpty ? "the top-level object" : path)"
        }
    }
}

/// An RFC 8259 JSON parser that rejects what lenient parsers let through.
///
/// Differences from Foundation's `JSONSerialization`: a key repeated inside any object is an error (instead of
/// the last value silently winning), lone UTF-16 surrogates in `\u` escapes are errors, the input must be UTF-8
/// without a byte-order mark, and nesting is capped at ``maxDepth``. It never recurses, so hostile nesting
/// cannot exhaust the stack. Canonically equivalent Unicode keys count as the same key (Swift `String` equality).
public enum StrictJSON {
    /// Maximum number of nested arrays and objects.
    public static let maxDepth = 64

    /// Parses `bytes` as exactly one JSON value surrounded by optional whitespace.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(StrictJSONError) -> JSONNode {
        if let bad = UTF8Validation.firstInvalidByte(in: bytes) { throw .notUTF8(offset: bad) }
        var parser = Parser(bytes: bytes)
        return try parser.parseDocument()
    }

    /// One open array or object while parsing.
    private struct Frame {
        let isObject: Bool
        /// Where this container sits in its parent: a member key, an element index, or nil for the root.
        let location: Location?
        var items: [JSONNode] = []
        var members: [JSONMember] = []
        /// Keys seen so far; only built once an object is large enough that scanning `members` would be slow.
        var keyIndex: Set<String>? = nil
        var pendingKey = ""

        enum Location {
            case key(String)
            case index(Int)
        }

        /// Records `key`, returning false if the object already has it.
        mutating func insertKey(_ key: String) -> Bool {
            if keyIndex == nil {
                if members.count < 16 { return !members.contains { $0.key == key } }
                keyIndex = Set(members.map(\.key))
            }
            return keyIndex?.insert(key).inserted ?? false
        }
    }

    private struct Parser {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var stack: [Frame] = []

        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func parseDocument() throws(StrictJSONError) -> JSONNode {
            skipWhitespace()
            while true {
                var value: JSONNode
                // Parse one value start; containers are opened and the loop continues inside them.
                guard let byte = peek() else { throw error("unexpected end of input, expected a value") }
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    let isObject = byte == UInt8(ascii: "{")
                    guard stack.count < StrictJSON.maxDepth else {
                        throw error("nesting deeper than \(StrictJSON.maxDepth) levels")
                    }
                    stack.append(Frame(isObject: isObject, location: childLocation()))
                    index += 1
                    skipWhitespace()
                    let closer = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                    if peek() == closer {
                        index += 1
                        value = isObject ? .object([]) : .array([])
                        stack.removeLast()
                    } else {
                        if isObject { try parseKey() }
                        continue
                    }
                case UInt8(ascii: "\""):
                    value = .string(try parseString())
                case UInt8(ascii: "t"):
                    try expectLiteral("true")
                    value = .bool(true)
                case UInt8(ascii: "f"):
                    try expectLiteral("false")
                    value = .bool(false)
                case UInt8(ascii: "n"):
                    try expectLiteral("null")
                    value = .null
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    value = .number(try parseNumber())
                default:
                    throw error("unexpected \(describe(byte)), expected a value")
                }
                // Attach the finished value to its parent, closing parents that end here.
                while true {
                    guard !stack.isEmpty else {
                        skipWhitespace()
                        if let trailing = peek() {
                            throw error("unexpected \(describe(trailing)) after the top-level value")
                        }
                        return value
                    }
                    let top = stack.count - 1
                    if stack[top].isObject {
                        stack[top].members.append(JSONMember(key: stack[top].pendingKey, value: value))
                    } else {
                        stack[top].items.append(value)
                    }
                    skipWhitespace()
                    let isObject = stack[top].isObject
                    guard let next = peek() else { throw error("unexpected end of input inside a container") }
                    if next == UInt8(ascii: ",") {
                        index += 1
                        skipWhitespace()
                        if isObject { try parseKey() }
                        break
                    }
                    guard next == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                        throw error("unexpected \(describe(next)), expected ',' or '\(isObject ? "}" : "]")'")
                    }
                    index += 1
                    let frame = stack.removeLast()
                    value = frame.isObject ? .object(frame.members) : .array(frame.items)
                }
            }
        }

        /// Parses `"key" :` in the innermost object, rejecting a key it already has.
        private mutating func parseKey() throws(StrictJSONError) {
            guard peek() == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            let top = stack.count - 1
            guard stack[top].insertKey(key) else {
                throw .duplicateKey(key: key, path: pointer())
            }
            stack[top].pendingKey = key
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else { throw error("expected ':' after a key") }
            index += 1
            skipWhitespace()
        }

        /// The JSON pointer (RFC 6901) of the innermost open container.
        private func pointer() -> String {
            var pointer = ""
            for frame in stack {
                switch frame.location {
                case .key(let key):
                    pointer += "/"
                    for character in key {
                        pointer += character == "~" ? "~0" : character == "/" ? "~1" : String(character)
                    }
                case .index(let index):
                    pointer += "/\(index)"
                case nil:
                    break
                }
            }
            return pointer
        }

        /// Where a container opened now sits in the innermost open container.
        private func childLocation() -> Frame.Location? {
            guard let top = stack.last else { return nil }
            return top.isObject ? .key(top.pendingKey) : .index(top.items.count)
        }

        private mutating func parseString() throws(StrictJSONError) -> String {
            index += 1  // opening quote
            let start = index
            var hasEscapes = false
            var decoded: [UInt8] = []  // filled only once an escape is seen
            while true {
                guard let byte = peek() else { throw error("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    return hasEscapes ? String(decoding: decoded, as: UTF8.self) : String(decoding: raw, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    if !hasEscapes {
                        hasEscapes = true
                        decoded = Array(bytes[start..<index])
                    }
                    index += 1
                    try appendEscape(to: &decoded)
                case 0..<0x20:
                    throw error("unescaped control character \(describe(byte)) in a string")
                default:
                    if hasEscapes { decoded.append(byte) }
                    index += 1
                }
            }
        }

        /// Decodes one escape sequence (after the backslash) and appends its UTF-8 bytes.
        private mutating func appendEscape(to out: inout [UInt8]) throws(StrictJSONError) {
            guard let byte = peek() else { throw error("unterminated escape") }
            index += 1
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard peek() == UInt8(ascii: "\\"), peek(1) == UInt8(ascii: "u") else {
                        throw error("lone UTF-16 surrogate in a \\u escape")
                    }
                    index += 2
                    let low = try parseHex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("lone UTF-16 surrogate in a \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("lone UTF-16 surrogate in a \\u escape")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: unicode.utf8)
            default:
                index -= 1
                throw error("invalid escape character \(describe(byte))")
            }
        }

        private mutating func parseHex4() throws(StrictJSONError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = peek() else { throw error("unterminated \\u escape") }
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("invalid hex digit \(describe(byte)) in a \\u escape")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        /// Checks `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` and returns the literal text.
        private mutating func parseNumber() throws(StrictJSONError) -> String {
            let start = index
            if peek() == UInt8(ascii: "-") { index += 1 }
            if peek() == UInt8(ascii: "0") {
                index += 1
            } else {
                guard try skipDigits() > 0 else { throw error("invalid number") }
            }
            if peek() == UInt8(ascii: ".") {
                index += 1
                guard try skipDigits() > 0 else { throw error("invalid number: no digits after '.'") }
            }
            if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
                index += 1
                if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
                guard try skipDigits() > 0 else { throw error("invalid number: no exponent digits") }
            }
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        }

        private mutating func skipDigits() throws(StrictJSONError) -> Int {
            let start = index
            while let byte = peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }

        private mutating func expectLiteral(_ literal: StaticString) throws(StrictJSONError) {
            let expected = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
            guard bytes.count - index >= expected.count,
                  bytes[index..<index + expected.count].elementsEqual(expected)
            else { throw error("invalid literal") }
            index += expected.count
        }

        private mutating func skipWhitespace() {
            while let byte = peek(),
                  byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
        }

        private func peek(_ ahead: Int = 0) -> UInt8? {
            index + ahead < bytes.count ? bytes[index + ahead] : nil
        }

        private func error(_ reason: String) -> StrictJSONError { .syntax(offset: index, reason: reason) }

        private func describe(_ byte: UInt8) -> String {
            (0x21..<0x7F).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(hex(byte))"
        }

        private func hex(_ byte: UInt8) -> String {
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
        }
    }
}

/// UTF-8 well-formedness per RFC 3629 (no overlong forms, no surrogates, nothing above U+10FFFF).
public enum UTF8Validation {
    /// The offset of the first byte that does not start a well-formed sequence, or nil if all of `bytes` is valid.
    public static func firstInvalidByte(in bytes: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        let count = bytes.count
        while index < count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            var secondRange: ClosedRange<UInt8> = 0x80...0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; secondRange = 0xA0...0xBF
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; secondRange = 0x80...0x9F
            case 0xF0: length = 4; secondRange = 0x90...0xBF
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; secondRange = 0x80...0x8F
            default: return index
            }
            guard index + length <= count, secondRange.contains(bytes[index + 1]) else { return index }
            for continuation in 2..<length where !(0x80...0xBF).contains(bytes[index + continuation]) {
                return index
            }
            index += length
        }
        return nil
    }
}
