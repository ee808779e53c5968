// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing

@testable import GGUF

/// A file with no tensors whose entries `body` writes; `kvCount` is what the header claims.
private func metadataFile(kvCount: UInt64, _ body: (inout ByteBuilder) -> Void) -> [UInt8] {
    var b = ByteBuilder()
    b.header(tensorCount: 0, kvCount: kvCount)
    body(&b)
    return b.bytes
}

@Suite("GGUF reader: metadata rules")
struct MetadataErrorTests {
    @Test("a string length above the cap throws limitExceeded without allocating")
    func stringCap() throws {
        let bytes = metadataFile(kvCount: 1) { b in
            b.u64(1 << 40)
            b.zeros(16)
        }
        try expectReadError(bytes) {
            .limitExceeded(
                path: $0, item: .key(index: 0), offset: 24, limit: .stringByteCount, value: 1 << 40,
                maximum: 64 << 20)
        }
    }

    @Test("a string length beyond the end of the file throws truncated")
    func lyingStringLength() throws {
        let bytes = metadataFile(kvCount: 1) { b in
            b.u64(100)
            b.raw(Array("general.ar".utf8))
        }
        try expectReadError(bytes) {
            .truncated(path: $0, item: .key(index: 0), offset: 32, needed: 100, available: 10)
        }
    }

    @Test("an array count above the cap throws limitExceeded")
    func arrayCap() throws {
        var countOffset = 0
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("a")
            b.u32(GGUFValueType.array.rawValue)
            b.u32(GGUFValueType.uint8.rawValue)
            countOffset = b.count
            b.u64(1 << 30)
        }
        try expectReadError(bytes) {
            .limitExceeded(
                path: $0, item: .value(key: "a"), offset: countOffset, limit: .arrayCount,
                value: 1 << 30,
                maximum: 1 << 24)
        }
    }

    @Test("an array count the file cannot hold throws truncated, even with unbounded limits")
    func lyingArrayCount() throws {
        var end = 0
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("a")
            b.u32(GGUFValueType.array.rawValue)
            b.u32(GGUFValueType.uint32.rawValue)
            b.u64(1000)
            end = b.count
            b.zeros(8)
        }
        try expectReadError(bytes) {
            .truncated(path: $0, item: .value(key: "a"), offset: end, needed: 4000, available: 8)
        }
        let huge = metadataFile(kvCount: 1) { b in
            b.string("a")
            b.u32(GGUFValueType.array.rawValue)
            b.u32(GGUFValueType.string.rawValue)
            b.u64(1 << 62)
        }
        try expectReadError(huge, limits: .unbounded) {
            .truncated(
                path: $0, item: .value(key: "a"), offset: huge.count, needed: .max, available: 0)
        }
    }

    @Test("an unknown value type id throws unknownValueType")
    func unknownValueType() throws {
        var typeOffset = 0
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("a")
            typeOffset = b.count
            b.u32(13)
            b.zeros(4)
        }
        try expectReadError(bytes) {
            .unknownValueType(path: $0, key: "a", offset: typeOffset, typeID: 13)
        }
    }

    @Test("an unknown array element type id throws unknownValueType at the element type")
    func unknownElementType() throws {
        var elementOffset = 0
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("a")
            b.u32(GGUFValueType.array.rawValue)
            elementOffset = b.count
            b.u32(0xFFFF_FFFF)
            b.u64(0)
        }
        try expectReadError(bytes) {
            .unknownValueType(path: $0, key: "a", offset: elementOffset, typeID: 0xFFFF_FFFF)
        }
    }

    @Test("an array of arrays throws nestedArray")
    func nestedArray() throws {
        var elementOffset = 0
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("tokenizer.ggml.tokens")
            b.u32(GGUFValueType.array.rawValue)
            elementOffset = b.count
            b.u32(GGUFValueType.array.rawValue)
            b.u64(1)
            b.u32(GGUFValueType.array.rawValue)
            b.u64(1)
        }
        try expectReadError(bytes) {
            .nestedArray(path: $0, key: "tokenizer.ggml.tokens", offset: elementOffset)
        }
    }

    @Test("a BOOL byte other than 0 or 1 throws invalidBool, scalar and array element")
    func invalidBool() throws {
        var valueOffset = 0
        let scalar = metadataFile(kvCount: 1) { b in
            b.string("flag")
            b.u32(GGUFValueType.bool.rawValue)
            valueOffset = b.count
            b.u8(2)
        }
        try expectReadError(scalar) {
            .invalidBool(path: $0, key: "flag", offset: valueOffset, byte: 2)
        }
        let array = metadataFile(kvCount: 1) { b in
            b.string("flags")
            b.u32(GGUFValueType.array.rawValue)
            b.u32(GGUFValueType.bool.rawValue)
            b.u64(3)
            valueOffset = b.count
            b.raw([1, 0, 0xFF])
        }
        try expectReadError(array) {
            .invalidBool(path: $0, key: "flags", offset: valueOffset + 2, byte: 0xFF)
        }
    }

    @Test("non-UTF-8 keys and string values throw invalidUTF8")
    func invalidUTF8() throws {
        let key = metadataFile(kvCount: 1) { b in
            b.string(bytes: [0xC3, 0x28])
            b.u32(GGUFValueType.uint8.rawValue)
            b.u8(0)
        }
        try expectReadError(key) { .invalidUTF8(path: $0, item: .key(index: 0), offset: 24) }
        var stringOffset = 0
        let value = metadataFile(kvCount: 1) { b in
            b.string("general.name")
            b.u32(GGUFValueType.array.rawValue)
            b.u32(GGUFValueType.string.rawValue)
            b.u64(2)
            b.string("ok")
            stringOffset = b.count
            b.string(bytes: [0x61, 0xED, 0xA0, 0x80])  // an encoded UTF-16 surrogate
        }
        try expectReadError(value) {
            .invalidUTF8(path: $0, item: .value(key: "general.name"), offset: stringOffset)
        }
    }

    @Test("an empty key throws emptyKey")
    func emptyKey() throws {
        var keyOffset = 0
        let bytes = metadataFile(kvCount: 2) { b in
            b.kvU32("a", 1)
            keyOffset = b.count
            b.string("")
            b.u32(GGUFValueType.uint8.rawValue)
            b.u8(0)
        }
        try expectReadError(bytes) { .emptyKey(path: $0, index: 1, offset: keyOffset) }
    }

    @Test("a duplicate key throws duplicateKey at its second occurrence")
    func duplicateKey() throws {
        var keyOffset = 0
        let bytes = metadataFile(kvCount: 3) { b in
            b.kvU32("llama.block_count", 1)
            b.kvString("general.name", "x")
            keyOffset = b.count
            b.kvU32("llama.block_count", 2)
        }
        try expectReadError(bytes) {
            .duplicateKey(path: $0, key: "llama.block_count", offset: keyOffset)
        }
    }

    @Test("general.alignment of another type than UINT32 throws invalidAlignmentType")
    func alignmentType() throws {
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("general.alignment")
            b.u32(GGUFValueType.uint64.rawValue)
            b.u64(32)
        }
        try expectReadError(bytes) { .invalidAlignmentType(path: $0, type: .uint64) }
    }

    @Test(
        "general.alignment zero or not a power of two throws invalidAlignment",
        arguments: [UInt32(0), 48, 7])
    func alignmentValue(value: UInt32) throws {
        let bytes = metadataFile(kvCount: 1) { $0.kvU32("general.alignment", value) }
        try expectReadError(bytes) { .invalidAlignment(path: $0, value: value) }
    }

    @Test("general.alignment above the cap throws limitExceeded")
    func alignmentCap() throws {
        var valueOffset = 0
        let bytes = metadataFile(kvCount: 1) { b in
            b.string("general.alignment")
            valueOffset = b.count
            b.u32(GGUFValueType.uint32.rawValue)
            b.u32(1 << 21)
        }
        try expectReadError(bytes) {
            .limitExceeded(
                path: $0, item: .value(key: "general.alignment"), offset: valueOffset,
                limit: .alignment,
                value: 1 << 21, maximum: 1 << 20)
        }
    }
}
