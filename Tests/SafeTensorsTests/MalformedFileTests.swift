// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore
import Testing

/// One malformed file and the exact error it must produce (given the file's path).
struct MalformedCase: Sendable, CustomTestStringConvertible {
    let label: String
    let bytes: [UInt8]
    let expected: @Sendable (String) -> SafeTensorsError
    var testDescription: String { label }

    init(_ label: String, _ bytes: [UInt8], _ expected: @escaping @Sendable (String) -> SafeTensorsError) {
        self.label = label
        self.bytes = bytes
        self.expected = expected
    }
}

/// A well-formed 4-byte U8 entry at the start of the buffer.
private let u8x4 = #"{"dtype":"U8","shape":[4],"data_offsets":[0,4]}"#
private let fourBytes: [UInt8] = [1, 2, 3, 4]

/// Every case's expected error is derived by hand from the rule it breaks (offsets count from the file start).
let malformedCases: [MalformedCase] = [
    MalformedCase("empty file", []) { .fileTooSmall(file: $0, byteCount: 0) },
    MalformedCase("seven bytes", [0, 0, 0, 0, 0, 0, 0]) { .fileTooSmall(file: $0, byteCount: 7) },
    MalformedCase("header length above the 100 MB cap", littleEndianBytes(UInt64(100_000_001)) + Array("{}".utf8)) {
        .headerTooLarge(file: $0, headerByteCount: 100_000_001, limit: 100_000_000)
    },
    MalformedCase("header length past the end of the file", littleEndianBytes(UInt64(100)) + Array(repeating: 0x20, count: 20)) {
        .headerBeyondFile(file: $0, headerByteCount: 100, fileByteCount: 28)
    },
    MalformedCase("header length of 2^64-1", littleEndianBytes(UInt64.max)) {
        .headerTooLarge(file: $0, headerByteCount: UInt64.max, limit: 100_000_000)
    },
    MalformedCase("empty header", rawFile("")) {
        .invalidJSON(file: $0, offset: 8, reason: "unexpected end of input, expected a value")
    },
    MalformedCase("header not UTF-8", rawFile(header: Array(#"{""#.utf8) + [0xFF] + Array(#"":{}}"#.utf8))) {
        .headerNotUTF8(file: $0, offset: 10)
    },
    MalformedCase("overlong UTF-8 encoding of '/'", rawFile(header: Array(#"{""#.utf8) + [0xC0, 0xAF] + Array(#"":{}}"#.utf8))) {
        .headerNotUTF8(file: $0, offset: 10)
    },
    MalformedCase("header not JSON", rawFile(#"{"a":}"#)) {
        .invalidJSON(file: $0, offset: 13, reason: "unexpected '}', expected a value")
    },
    MalformedCase("NUL padding instead of spaces", rawFile(header: Array("{}".utf8) + [0, 0, 0, 0, 0, 0])) {
        .invalidJSON(file: $0, offset: 10, reason: "unexpected byte 0x00 after the top-level value")
    },
    MalformedCase("byte-order mark before the JSON", rawFile(header: [0xEF, 0xBB, 0xBF] + Array("{}".utf8))) {
        .invalidJSON(file: $0, offset: 8, reason: "unexpected byte 0xef, expected a value")
    },
    MalformedCase("raw newline inside a key", rawFile("{\"a\n\":{}}")) {
        .invalidJSON(file: $0, offset: 11, reason: "unescaped control character byte 0x0a in a string")
    },
    MalformedCase("lone surrogate escape in a key", rawFile(#"{"\ud800":{}}"#)) {
        .invalidJSON(file: $0, offset: 16, reason: "lone UTF-16 surrogate in a \\u escape")
    },
    MalformedCase("nesting deeper than 64", rawFile(#"{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}")) {
        .invalidJSON(file: $0, offset: 76, reason: "nesting deeper than 64 levels")
    },
    MalformedCase("top level is an array", rawFile("[]")) { .headerNotObject(file: $0) },
    MalformedCase("duplicate tensor key", rawFile(#"{"a":\#(u8x4),"a":{"dtype":"U8","shape":[0],"data_offsets":[4,4]}}"#, data: fourBytes)) {
        .duplicateKey(file: $0, key: "a", path: "")
    },
    MalformedCase("duplicate key inside a tensor entry", rawFile(#"{"w/x":{"dtype":"U8","dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .duplicateKey(file: $0, key: "dtype", path: "/w~1x")
    },
    MalformedCase("duplicate metadata key", rawFile(#"{"__metadata__":{"k":"1","k":"2"}}"#)) {
        .duplicateKey(file: $0, key: "k", path: "/__metadata__")
    },
    MalformedCase("metadata value is a number", rawFile(#"{"__metadata__":{"format":"pt","n":1}}"#)) {
        .metadataValueNotString(file: $0, key: "n")
    },
    MalformedCase("metadata is a string", rawFile(#"{"__metadata__":"pt"}"#)) { .metadataNotObject(file: $0) },
    MalformedCase("tensor entry is an array", rawFile(#"{"a":[0,4]}"#)) { .tensorEntryNotObject(file: $0, tensor: "a") },
    MalformedCase("missing dtype", rawFile(#"{"a":{"shape":[4],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .missingField(file: $0, tensor: "a", field: "dtype")
    },
    MalformedCase("missing shape", rawFile(#"{"a":{"dtype":"U8","data_offsets":[0,4]}}"#, data: fourBytes)) {
        .missingField(file: $0, tensor: "a", field: "shape")
    },
    MalformedCase("missing data_offsets", rawFile(#"{"a":{"dtype":"U8","shape":[4]}}"#, data: fourBytes)) {
        .missingField(file: $0, tensor: "a", field: "data_offsets")
    },
    MalformedCase("dtype is a number", rawFile(#"{"a":{"dtype":1,"shape":[4],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "dtype", reason: "is not a string")
    },
    MalformedCase("shape is a number", rawFile(#"{"a":{"dtype":"U8","shape":4,"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "shape", reason: "is not an array")
    },
    MalformedCase("float dimension", rawFile(#"{"a":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "shape", reason: "has a non-integer number 4.0")
    },
    MalformedCase("exponent offset", rawFile(#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4e0]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "data_offsets", reason: "has a non-integer number 4e0")
    },
    MalformedCase("negative dimension", rawFile(#"{"a":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "shape", reason: "has a negative number -4")
    },
    MalformedCase("string inside shape", rawFile(#"{"a":{"dtype":"U8","shape":["4"],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "shape", reason: "has an element that is not a number")
    },
    MalformedCase("offset above 2^53", rawFile(#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,9007199254740993]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "data_offsets", reason: "has a number above 2^53: 9007199254740993")
    },
    MalformedCase("three data offsets", rawFile(#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,4]}}"#, data: fourBytes)) {
        .invalidField(file: $0, tensor: "a", field: "data_offsets", reason: "has 3 numbers instead of 2")
    },
    MalformedCase("lower-case dtype", rawFile(#"{"a":{"dtype":"u8","shape":[4],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .unknownDType(file: $0, tensor: "a", dtype: "u8")
    },
    MalformedCase("sub-byte dtype F4", rawFile(#"{"a":{"dtype":"F4","shape":[8],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .unsupportedDType(file: $0, tensor: "a", dtype: "F4")
    },
    MalformedCase("shape whose byte count overflows", rawFile(#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .invalidShape(file: $0, tensor: "a", shape: [4_294_967_296, 4_294_967_296])
    },
    MalformedCase("end before begin", rawFile(#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}"#, data: fourBytes)) {
        .reversedOffsets(file: $0, tensor: "a", begin: 4, end: 0)
    },
    MalformedCase("size differs from shape times dtype", rawFile(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: fourBytes)) {
        .byteCountMismatch(file: $0, tensor: "a", expected: 8, actual: 4)
    },
    MalformedCase("overlapping tensors (aliasing)", rawFile(#"{"k":\#(u8x4),"v":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#, data: [1, 2, 3, 4, 5, 6])) {
        .overlappingTensors(file: $0, tensor: "v", previous: "k")
    },
    MalformedCase("identical ranges (aliasing)", rawFile(#"{"k":\#(u8x4),"v":\#(u8x4)}"#, data: fourBytes)) {
        .overlappingTensors(file: $0, tensor: "v", previous: "k")
    },
    MalformedCase("hole between tensors", rawFile(#"{"a":\#(u8x4),"b":{"dtype":"U8","shape":[4],"data_offsets":[6,10]}}"#, data: Array(repeating: 7, count: 10))) {
        .gapBeforeTensor(file: $0, tensor: "b", gapStart: 4, gapEnd: 6)
    },
    MalformedCase("first tensor not at offset 0", rawFile(#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#, data: [1, 2, 3, 4, 5, 6])) {
        .gapBeforeTensor(file: $0, tensor: "a", gapStart: 0, gapEnd: 2)
    },
    MalformedCase("trailing bytes after the last tensor", rawFile(#"{"a":\#(u8x4)}"#, data: [1, 2, 3, 4, 5, 6])) {
        .trailingBytes(file: $0, dataEnd: 4, dataByteCount: 6)
    },
    MalformedCase("data bytes but no tensors", rawFile("{}", data: [9])) {
        .trailingBytes(file: $0, dataEnd: 0, dataByteCount: 1)
    },
    MalformedCase("short file", rawFile(#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#, data: fourBytes)) {
        .tensorBeyondFile(file: $0, tensor: "a", end: 8, dataByteCount: 4)
    },
    MalformedCase("Git LFS pointer", Array("version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 12345\n".utf8)) {
        .foreignFormat(file: $0, format: .gitLFSPointer)
    },
    MalformedCase("HTML page", Array("\n<!DOCTYPE html>\n<html><body>Sign in</body></html>\n".utf8)) {
        .foreignFormat(file: $0, format: .html)
    },
    MalformedCase("short HTML fragment", Array("<html>".utf8)) { .foreignFormat(file: $0, format: .html) },
    MalformedCase("JSON error response", Array(#"{"error":"Repository not found"}"#.utf8)) {
        .foreignFormat(file: $0, format: .json)
    },
    MalformedCase("XML storage error", Array(#"<?xml version="1.0"?><Error><Code>AccessDenied</Code></Error>"#.utf8)) {
        .foreignFormat(file: $0, format: .xml)
    },
    MalformedCase("GGUF file", Array("GGUF".utf8) + littleEndianBytes(UInt32(3)) + Array(repeating: 0, count: 16)) {
        .foreignFormat(file: $0, format: .gguf)
    },
    MalformedCase("PyTorch zip", [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]) {
        .foreignFormat(file: $0, format: .zip)
    },
]

@Suite("Malformed safetensors files")
struct MalformedFileTests {
    @Test("each malformed file is rejected with its exact typed error", arguments: malformedCases)
    func rejectsMalformedFile(_ testCase: MalformedCase) throws {
        let directory = try TemporaryDirectory()
        let url = try directory.file("model.safetensors", testCase.bytes)
        #expect(throws: testCase.expected(url.path)) { try SafeTensorsFile(contentsOf: url) }
    }

    @Test("a truncated real file whose length prefix starts like text is not misnamed as a foreign format")
    func truncatedFileIsNotForeign() throws {
        // 0x7B is '{': a 123-byte header cut short must still be reported as a truncated header.
        let directory = try TemporaryDirectory()
        let url = try directory.file("model.safetensors", littleEndianBytes(UInt64(123)) + Array("{\"a\"".utf8))
        #expect(throws: SafeTensorsError.headerBeyondFile(file: url.path, headerByteCount: 123, fileByteCount: 12)) {
            try SafeTensorsFile(contentsOf: url)
        }
    }

    @Test("the header cap is configurable")
    func configurableHeaderCap() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.file("model.safetensors", rawFile(#"{"a":\#(u8x4)}"# + "   ", data: fourBytes))
        #expect(throws: SafeTensorsError.headerTooLarge(file: url.path, headerByteCount: 56, limit: 55)) {
            try SafeTensorsFile(contentsOf: url, maxHeaderByteCount: 55)
        }
        #expect(try SafeTensorsFile(contentsOf: url, maxHeaderByteCount: 56).tensors.count == 1)
    }

    @Test("a missing file is reported as a file-access error naming it")
    func missingFile() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("absent.safetensors")
        #expect(throws: SafeTensorsError.fileAccess(FileAccessError(path: url.path, operation: "open", code: ENOENT))) {
            try SafeTensorsFile(contentsOf: url)
        }
    }

    @Test("error descriptions name the file and the broken rule")
    func descriptionsNameFileAndRule() {
        let overlap = SafeTensorsError.overlappingTensors(file: "/m/model.safetensors", tensor: "v", previous: "k")
        #expect(overlap.description == "/m/model.safetensors: tensor 'v' overlaps tensor 'k'")
        let lfs = SafeTensorsError.foreignFormat(file: "/m/model.safetensors", format: .gitLFSPointer)
        #expect(lfs.description.hasPrefix("/m/model.safetensors: not a safetensors file but a git lfs pointer"))
        let duplicate = SafeTensorsError.duplicateKey(file: "/m/x.safetensors", key: "dtype", path: "/w")
        #expect(duplicate.description == "/m/x.safetensors: duplicate key 'dtype' in JSON object '/w'")
    }
}
