// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

/// Byte-exact comparison with gguf-py's `GGUFWriter` (PyPI `gguf` 0.19.0, numpy 2.4.6).
///
/// The expected bytes were produced once by `fixtures/scripts/gguf_writer_reference.py`, which builds the
/// same metadata (same keys, types and order) and the same tensors (payload bytes `(seed + 31·i) % 256`)
/// with gguf-py and prints each file as hex; the hex is pasted below unchanged. To re-check, run
/// `python fixtures/scripts/gguf_writer_reference.py` and compare its output with these literals.
@Suite("GGUF writer matches gguf-py byte for byte")
struct WriterReferenceTests {
    /// gguf-py output for ``allTypesContents()`` (1632 bytes).
    static let allTypesHex = """
        474755460300000005000000000000001900000000000000140000000000000067656e6572616c2e6172636869746563
        747572650800000005000000000000006c6c616d610700000000000000746573742e753800000000c807000000000000
        00746573742e6938010000009c0800000000000000746573742e7531360200000060ea0800000000000000746573742e
        69313603000000d08a0800000000000000746573742e7533320400000000286bee0800000000000000746573742e6933
        3205000000006cca880800000000000000746573742e66333206000000cdcccc3d0900000000000000746573742e626f
        6f6c07000000010b00000000000000746573742e737472696e67080000000a0000000000000068c3a96c6c6f20e29c93
        0800000000000000746573742e7536340a00000005000000000000800800000000000000746573742e6936340b000000
        00000000000000c00800000000000000746573742e6636340c0000002f30b7b3a7c9aa810b0000000000000074657374
        2e6172722e7538090000000000000003000000000000000102ff0b00000000000000746573742e6172722e6938090000
        00010000000200000000000000ff020c00000000000000746573742e6172722e75313609000000020000000200000000
        000000ffff07000c00000000000000746573742e6172722e69313609000000030000000200000000000000feff2c010c
        00000000000000746573742e6172722e7533320900000004000000020000000000000001000000ffffffff0c00000000
        000000746573742e6172722e69333209000000050000000300000000000000fbffffff06000000070000000c00000000
        000000746573742e6172722e663332090000000600000002000000000000000000003f000000c00d0000000000000074
        6573742e6172722e626f6f6c090000000700000003000000000000000100010f00000000000000746573742e6172722e
        737472696e670900000008000000030000000000000001000000000000006100000000000000000200000000000000c3
        bc0c00000000000000746573742e6172722e753634090000000a0000000100000000000000ffffffffffffffff0c0000
        0000000000746573742e6172722e693634090000000b0000000200000000000000000000000000008009000000000000
        000c00000000000000746573742e6172722e663634090000000c00000001000000000000000000000000000c40050000
        0000000000742e6633320200000002000000000000000300000000000000000000000000000000000000060000000000
        0000742e71385f3002000000200000000000000002000000000000000800000020000000000000000500000000000000
        742e6631360100000005000000000000000100000080000000000000000500000000000000742e693332010000000400
        0000000000001a000000a0000000000000000600000000000000742e71345f6b03000000000100000000000001000000
        0000000002000000000000000c000000c000000000000000000000000000000000000000000000000000000000000000
        01203f5e7d9cbbdaf91837567594b3d2f1102f4e6d8cabca00000000000000000221405f7e9dbcdbfa1938577695b4d3
        f211304f6e8daccbea0928476685a4c3e201203f5e7d9cbbdaf91837567594b3d2f1102f4e6d8cabcae90827466584a3
        c2e1001f00000000000000000000000000000000000000000000000000000000032241607f9ebddcfb1a000000000000
        0000000000000000000000000000000004234261809fbeddfc1b3a597897b6d500000000000000000000000000000000
        0524436281a0bfdefd1c3b5a7998b7d6f51433527190afceed0c2b4a6988a7c6e504234261809fbeddfc1b3a597897b6
        d5f4133251708faecdec0b2a496887a6c5e4032241607f9ebddcfb1a39587796b5d4f31231506f8eadcceb0a29486786
        a5c4e30221405f7e9dbcdbfa1938577695b4d3f211304f6e8daccbea0928476685a4c3e201203f5e7d9cbbdaf9183756
        7594b3d2f1102f4e6d8cabcae90827466584a3c2e1001f3e5d7c9bbad9f81736557493b2d1f00f2e4d6c8baac9e80726
        456483a2c1e0ff1e3d5c7b9ab9d8f71635547392b1d0ef0e2d4c6b8aa9c8e70625446382a1c0dffe1d3c5b7a99b8d7f6
        1534537291b0cfee0d2c4b6a89a8c7e60524436281a0bfdefd1c3b5a7998b7d6f51433527190afceed0c2b4a6988a7c6
        """

    /// gguf-py output for ``customAlignmentContents()`` (384 bytes), written with `add_custom_alignment(64)`.
    static let customAlignmentHex = """
        474755460300000002000000000000000300000000000000140000000000000067656e6572616c2e6172636869746563
        747572650800000005000000000000006c6c616d61110000000000000067656e6572616c2e616c69676e6d656e740400
        0000400000000a000000000000006c6c616d612e6e6f7465080000000700000000000000616c69676e65640100000000
        000000610100000003000000000000000000000000000000000000000100000000000000620200000020000000000000
        000100000000000000020000004000000000000000000000000000000000000000000000000000000000000000000000
        000000000000000000000000000000000625446382a1c0dffe1d3c5b0000000000000000000000000000000000000000
        00000000000000000000000000000000000000000000000000000000000000000726456483a2c1e0ff1e3d5c7b9ab9d8
        f71600000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
        """

    /// Every scalar type, an array of every element type, five tensors of five types.
    static func allTypesContents() -> (GGUFMetadata, [GGUFWriter.Entry], [[UInt8]]) {
        var metadata = GGUFMetadata()
        metadata["general.architecture"] = .string("llama")
        metadata["test.u8"] = .uint8(200)
        metadata["test.i8"] = .int8(-100)
        metadata["test.u16"] = .uint16(60000)
        metadata["test.i16"] = .int16(-30000)
        metadata["test.u32"] = .uint32(4_000_000_000)
        metadata["test.i32"] = .int32(-2_000_000_000)
        metadata["test.f32"] = .float32(0.1)
        metadata["test.bool"] = .bool(true)
        metadata["test.string"] = .string("h\u{E9}llo \u{2713}")
        metadata["test.u64"] = .uint64(1 << 63 + 5)
        metadata["test.i64"] = .int64(-(1 << 62))
        metadata["test.f64"] = .float64(-1.25e-300)
        metadata["test.arr.u8"] = .array(.uint8([1, 2, 255]))
        metadata["test.arr.i8"] = .array(.int8([-1, 2]))
        metadata["test.arr.u16"] = .array(.uint16([65535, 7]))
        metadata["test.arr.i16"] = .array(.int16([-2, 300]))
        metadata["test.arr.u32"] = .array(.uint32([1, 4_294_967_295]))
        metadata["test.arr.i32"] = .array(.int32([-5, 6, 7]))
        metadata["test.arr.f32"] = .array(.float32([0.5, -2.0]))
        metadata["test.arr.bool"] = .array(.bool([true, false, true]))
        metadata["test.arr.string"] = .array(.string(["a", "", "\u{FC}"]))
        metadata["test.arr.u64"] = .array(.uint64([.max]))
        metadata["test.arr.i64"] = .array(.int64([.min, 9]))
        metadata["test.arr.f64"] = .array(.float64([3.5]))
        let tensors = [
            GGUFWriter.Entry(name: "t.f32", dimensions: [2, 3], type: .f32),
            GGUFWriter.Entry(name: "t.q8_0", dimensions: [32, 2], type: .q8_0),
            GGUFWriter.Entry(name: "t.f16", dimensions: [5], type: .f16),
            GGUFWriter.Entry(name: "t.i32", dimensions: [4], type: .i32),
            GGUFWriter.Entry(name: "t.q4_k", dimensions: [256, 1, 2], type: .q4_K),
        ]
        let payloads = [24, 68, 10, 16, 288].enumerated().map { pattern(seed: $0 + 1, count: $1) }
        return (metadata, tensors, payloads)
    }

    /// `general.alignment` = 64 and two tensors.
    static func customAlignmentContents() -> (GGUFMetadata, [GGUFWriter.Entry], [[UInt8]]) {
        var metadata = GGUFMetadata()
        metadata["general.architecture"] = .string("llama")
        metadata["general.alignment"] = .uint32(64)
        metadata["llama.note"] = .string("aligned")
        let tensors = [
            GGUFWriter.Entry(name: "a", dimensions: [3], type: .f32),
            GGUFWriter.Entry(name: "b", dimensions: [32, 1], type: .q4_0),
        ]
        return (metadata, tensors, [pattern(seed: 6, count: 12), pattern(seed: 7, count: 18)])
    }

    @Test("the writer reproduces gguf-py's bytes", arguments: [false, true])
    func sameBytesAsGGUFPy(customAlignment: Bool) throws {
        let (metadata, tensors, payloads) =
            customAlignment ? Self.customAlignmentContents() : Self.allTypesContents()
        let expected = bytes(hex: customAlignment ? Self.customAlignmentHex : Self.allTypesHex)
        #expect(expected.count == (customAlignment ? 384 : 1632))
        let file = try TemporaryFile(nil)
        try writeGGUF(to: file.url, metadata: metadata, tensors: tensors, payloads: payloads)
        let written = try file.contents()
        let firstDifference =
            zip(written, expected).enumerated().first { $1.0 != $1.1 }?.offset
            ?? min(written.count, expected.count)
        #expect(written == expected, "first difference at byte \(firstDifference)")
    }

    @Test("the reader reads gguf-py's file back to the same contents", arguments: [false, true])
    func readsGGUFPyOutput(customAlignment: Bool) throws {
        let (metadata, tensors, payloads) =
            customAlignment ? Self.customAlignmentContents() : Self.allTypesContents()
        let file = try TemporaryFile(
            bytes(hex: customAlignment ? Self.customAlignmentHex : Self.allTypesHex))
        let gguf = try file.open()
        #expect(gguf.metadata == metadata)
        #expect(gguf.alignment == (customAlignment ? 64 : 32))
        #expect(gguf.tensors.map(\.name) == tensors.map(\.name))
        for (entry, payload) in zip(tensors, payloads) {
            let tensor = try #require(gguf[entry.name])
            #expect(tensor.dimensions == entry.dimensions && tensor.type == entry.type)
            #expect(Array(try gguf.bytes(of: tensor)) == payload)
        }
    }

    @Test("headerBytes is the prefix of gguf-py's file up to the data section")
    func headerBytesPrefix() throws {
        let (metadata, tensors, _) = Self.allTypesContents()
        let header = try GGUFWriter.headerBytes(metadata: metadata, tensors: tensors)
        let expected = bytes(hex: Self.allTypesHex)
        let gguf = try TemporaryFile(expected).open()
        #expect(header == Array(expected.prefix(gguf.dataOffset)))
    }
}
