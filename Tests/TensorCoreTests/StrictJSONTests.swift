// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@Suite("Strict JSON parser")
struct StrictJSONTests {
    private func parse(_ text: String) throws -> JSONNode {
        try Array(text.utf8).withUnsafeBytes { try StrictJSON.parse($0) }
    }

    @Test("values of every kind parse, objects keep member order")
    func values() throws {
        let value = try parse(#" {"z":[1,-2.5e+3,0,true,false,null],"a":{"s":"x\/y\u0041\ud83d\ude00\t"},"e":[],"o":{}} "#)
        #expect(value == .object([
            JSONMember(key: "z", value: .array([.number("1"), .number("-2.5e+3"), .number("0"), .bool(true), .bool(false), .null])),
            JSONMember(key: "a", value: .object([JSONMember(key: "s", value: .string("x/yA😀\t"))])),
            JSONMember(key: "e", value: .array([])),
            JSONMember(key: "o", value: .object([])),
        ]))
    }

    @Test("invalid documents are rejected at the right offset", arguments: [
        ("01", StrictJSONError.syntax(offset: 1, reason: "unexpected '1' after the top-level value")),
        ("[1,]", .syntax(offset: 3, reason: "unexpected ']', expected a value")),
        (#"{"a":1,}"#, .syntax(offset: 7, reason: "expected a string key")),
        (#"{"a" 1}"#, .syntax(offset: 5, reason: "expected ':' after a key")),
        ("[1 2]", .syntax(offset: 3, reason: "unexpected '2', expected ',' or ']'")),
        ("[tru]", .syntax(offset: 1, reason: "invalid literal")),
        ("1.", .syntax(offset: 2, reason: "invalid number: no digits after '.'")),
        ("-", .syntax(offset: 1, reason: "invalid number")),
        ("1e", .syntax(offset: 2, reason: "invalid number: no exponent digits")),
        (#""\x""#, .syntax(offset: 2, reason: "invalid escape character 'x'")),
        (#""\u12G4""#, .syntax(offset: 5, reason: #"invalid hex digit 'G' in a \u escape"#)),
        (#""\udc00""#, .syntax(offset: 7, reason: #"lone UTF-16 surrogate in a \u escape"#)),
        (#""\ud800\u0041""#, .syntax(offset: 13, reason: #"lone UTF-16 surrogate in a \u escape"#)),
        (#""abc"#, .syntax(offset: 4, reason: "unterminated string")),
        ("[1", .syntax(offset: 2, reason: "unexpected end of input inside a container")),
        (#"{"a":{"b":1,"b":2}}"#, .duplicateKey(key: "b", path: "/a")),
        (#"[{"k":1},{"k":1,"k":2}]"#, .duplicateKey(key: "k", path: "/1")),
        (#"{"x~y":{"q":0,"q":0}}"#, .duplicateKey(key: "q", path: "/x~0y")),
    ])
    func rejects(text: String, expected: StrictJSONError) {
        #expect(throws: expected) { try parse(text) }
    }

    @Test("nesting is capped at 64 levels without recursion")
    func depth() throws {
        #expect(try parse(String(repeating: "[", count: 64) + String(repeating: "]", count: 64)) != .null)
        #expect(throws: StrictJSONError.syntax(offset: 64, reason: "nesting deeper than 64 levels")) {
            try parse(String(repeating: "[", count: 100_000))
        }
    }

    @Test("UTF-8 validation rejects overlongs, surrogates, out-of-range and truncated sequences")
    func utf8() {
        func firstBad(_ bytes: [UInt8]) -> Int? {
            bytes.withUnsafeBytes { UTF8Validation.firstInvalidByte(in: $0) }
        }
        #expect(firstBad(Array("aé😀€".utf8)) == nil)
        #expect(firstBad([0x61, 0xC1, 0x81]) == 1)  // overlong 'A'
        #expect(firstBad([0xE0, 0x80, 0x80]) == 0)  // overlong NUL
        #expect(firstBad([0x61, 0xED, 0xA0, 0x80]) == 1)  // UTF-8-encoded surrogate U+D800
        #expect(firstBad([0xF4, 0x90, 0x80, 0x80]) == 0)  // U+110000
        #expect(firstBad([0x61, 0x62, 0xE2, 0x82]) == 2)  // truncated €
        #expect(firstBad([0x80]) == 0)  // lone continuation byte
        #expect(firstBad([0xF5, 0x80, 0x80, 0x80]) == 0)
    }
}
