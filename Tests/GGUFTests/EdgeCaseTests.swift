// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

@Suite("GGUF reader: legal edge cases")
struct EdgeCaseTests {
    @Test("a file with no tensors and no metadata is legal, with or without padding")
    func emptyFile() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 0, kvCount: 0)
        let file = try TemporaryFile(b.bytes)
        let bare = try file.open()
        #expect(bare.metadata.count == 0 && bare.tensors.isEmpty && bare.dataOffset == 32)
        b.pad()
        try file.write(b.bytes)
        #expect(try file.open().tensors.isEmpty)
        try file.write(b.bytes + [0])
        #expect(throws: GGUFError.trailingBytes(path: file.path, expectedSize: 32, actualSize: 33))
        {
            try file.open()
        }
    }

    @Test("the writer emits a padded 32-byte file for empty contents")
    func writerEmptyContents() throws {
        let file = try TemporaryFile(nil)
        try writeGGUF(to: file.url, metadata: GGUFMetadata(), tensors: [], payloads: [])
        var expected = ByteBuilder()
        expected.header(tensorCount: 0, kvCount: 0)
        expected.pad()
        #expect(try file.contents() == expected.bytes)
    }

    @Test("empty strings and empty arrays are read")
    func emptyValues() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 0, kvCount: 3)
        b.kvString("general.name", "")
        b.string("tokenizer.ggml.merges")
        b.u32(GGUFValueType.array.rawValue)
        b.u32(GGUFValueType.string.rawValue)
        b.u64(0)
        b.string("x.empty_u64")
        b.u32(GGUFValueType.array.rawValue)
        b.u32(GGUFValueType.uint64.rawValue)
        b.u64(0)
        let gguf = try TemporaryFile(b.bytes).open()
        #expect(gguf.metadata["general.name"] == .string(""))
        #expect(gguf.metadata["tokenizer.ggml.merges"] == .array(.string([])))
        #expect(gguf.metadata["x.empty_u64"]?.arrayValue?.elementType == .uint64)
        #expect(gguf.metadata["x.empty_u64"]?.arrayValue?.count == 0)
    }

    @Test("a tensor with no dimensions is a scalar and a zero-sized tensor takes no space")
    func scalarAndEmptyTensors() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 3, kvCount: 0)
        b.tensorInfo("scalar", dims: [], type: GGMLType.f32.rawValue, offset: 0)
        b.tensorInfo("empty", dims: [0, 7], type: GGMLType.q4_K.rawValue, offset: 32)
        b.tensorInfo("after", dims: [2], type: GGMLType.f16.rawValue, offset: 32)
        b.pad()
        b.raw([0, 0, 0x80, 0x3F])
        b.pad()
        b.raw([1, 2, 3, 4])
        let gguf = try TemporaryFile(b.bytes).open()
        #expect(gguf["scalar"]?.dimensions == [] && gguf["scalar"]?.byteCount == 4)
        #expect(gguf["empty"]?.byteCount == 0 && gguf["empty"]?.elementCount == 0)
        let after = try #require(gguf["after"])
        #expect(Array(try gguf.bytes(of: after)) == [1, 2, 3, 4])
    }

    @Test("tensors of unknown type keep the metadata and the other tensors readable")
    func unknownTensorType() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 3, kvCount: 2)
        b.kvString("general.architecture", "llama")
        b.kvU32("llama.block_count", 1)
        b.tensorInfo("known.a", dims: [4], type: GGMLType.f32.rawValue, offset: 0)
        b.tensorInfo("new.q2_0", dims: [64, 2], type: 42, offset: 32)
        b.tensorInfo("known.b", dims: [2], type: GGMLType.f32.rawValue, offset: 96)
        b.pad()
        b.raw(pattern(seed: 1, count: 16))
        b.pad()
        b.zeros(64)  // whatever the unknown type takes
        b.raw(pattern(seed: 9, count: 8))
        b.pad()
        let gguf = try TemporaryFile(b.bytes).open()
        #expect(gguf.metadata["llama.block_count"]?.intValue == 1)
        #expect(gguf.tensors.count == 3)
        let unknown = try #require(gguf["new.q2_0"])
        #expect(unknown.type == nil && unknown.byteCount == nil && unknown.typeID == 42)
        #expect(gguf.unknownTypeTensors == [unknown])
        #expect(
            throws: GGUFError.unknownTensorType(path: gguf.url.path, tensor: "new.q2_0", typeID: 42)
        ) {
            try gguf.bytes(of: unknown)
        }
        let known = try #require(gguf["known.b"])
        #expect(Array(try gguf.bytes(of: known)) == pattern(seed: 9, count: 8))
    }

    @Test("bytes(of:) rejects a tensor info from another file")
    func foreignTensor() throws {
        let gguf = try TemporaryFile(SmallFile().bytes).open()
        let foreign = GGUFTensorInfo(name: "norm.weight", dimensions: [8], typeID: 0, offset: 0)
        #expect(throws: GGUFError.tensorNotFound(path: gguf.url.path, tensor: "norm.weight")) {
            try gguf.bytes(of: foreign)
        }
    }

    @Test("error descriptions name the file and the rule")
    func descriptions() throws {
        let path = "/models/x.gguf"
        let cases: [(GGUFError, String)] = [
            (
                .badMagic(path: path, magic: [0x76, 0x65, 0x72, 0x73], detected: .gitLFSPointer),
                "git lfs pointer"
            ),
            (
                .duplicateKey(path: path, key: "general.name", offset: 40),
                "duplicate key `general.name`"
            ),
            (
                .tensorOffsetMismatch(path: path, tensor: "w", expected: 32, actual: 64),
                "expected 32"
            ),
            (.byteOrderMismatch(path: path, version: 0x0300_0000), "byte order"),
            (
                .truncated(path: path, item: .value(key: "k"), offset: 9, needed: 4, available: 1),
                "value of key `k`"
            ),
        ]
        for (error, fragment) in cases {
            #expect(error.description.hasPrefix(path + ": "))
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}
