// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

/// A file with one metadata entry and the tensor infos `body` writes, padded, plus `dataBytes` of data.
private func tensorFile(
    tensorCount: UInt64, dataBytes: Int = 256, _ body: (inout ByteBuilder) -> Void
) -> [UInt8] {
    var b = ByteBuilder()
    b.header(tensorCount: tensorCount, kvCount: 1)
    b.kvString("general.architecture", "llama")
    body(&b)
    b.pad()
    b.zeros(dataBytes)
    return b.bytes
}

/// Offset of the first tensor info in files made by ``tensorFile(tensorCount:dataBytes:_:)``.
private let firstInfo = 24 + 8 + 20 + 4 + 8 + 5

@Suite("GGUF reader: tensor info and data layout rules")
struct TensorErrorTests {
    @Test("a duplicate tensor name throws duplicateTensorName at the second info")
    func duplicateTensor() throws {
        var second = 0
        let bytes = tensorFile(tensorCount: 2) { b in
            b.tensorInfo("w", dims: [8], type: GGMLType.f32.rawValue, offset: 0)
            second = b.count
            b.tensorInfo("w", dims: [8], type: GGMLType.f32.rawValue, offset: 32)
        }
        try expectReadError(bytes) { .duplicateTensorName(path: $0, name: "w", offset: second) }
    }

    @Test("a 64-byte tensor name throws tensorNameTooLong; 63 bytes is accepted")
    func nameLength() throws {
        let long = String(repeating: "n", count: 64)
        let bytes = tensorFile(tensorCount: 1) {
            $0.tensorInfo(long, dims: [1], type: 0, offset: 0)
        }
        try expectReadError(bytes) {
            .tensorNameTooLong(path: $0, name: long, offset: firstInfo, byteCount: 64)
        }
        let limit = String(repeating: "é", count: 31) + "n"  // 63 bytes
        let file = try TemporaryFile(
            tensorFile(tensorCount: 1, dataBytes: 32) {
                $0.tensorInfo(limit, dims: [1], type: 0, offset: 0)
            })
        #expect(try file.open().tensors.map(\.name) == [limit])
    }

    @Test("a NUL byte in a tensor name throws nulInTensorName")
    func nulInName() throws {
        let bytes = tensorFile(tensorCount: 1) {
            $0.tensorInfo("a\0b", dims: [1], type: 0, offset: 0)
        }
        try expectReadError(bytes) { .nulInTensorName(path: $0, name: "a\0b", offset: firstInfo) }
    }

    @Test("a non-UTF-8 tensor name throws invalidUTF8")
    func nonUTF8Name() throws {
        let bytes = tensorFile(tensorCount: 1) { b in
            b.string(bytes: [0x77, 0xFE])
            b.u32(1)
            b.u64(1)
            b.u32(0)
            b.u64(0)
        }
        try expectReadError(bytes) {
            .invalidUTF8(path: $0, item: .tensorName(index: 0), offset: firstInfo)
        }
    }

    @Test("more than four dimensions throws tooManyDimensions before reading them")
    func tooManyDimensions() throws {
        let bytes = tensorFile(tensorCount: 1) { b in
            b.string("w")
            b.u32(0xFFFF_FFFF)
            b.zeros(16)
        }
        try expectReadError(bytes) {
            .tooManyDimensions(path: $0, tensor: "w", offset: firstInfo, count: 0xFFFF_FFFF)
        }
        let five = tensorFile(tensorCount: 1) {
            $0.tensorInfo("w", dims: [1, 1, 1, 1, 1], type: 0, offset: 0)
        }
        try expectReadError(five) {
            .tooManyDimensions(path: $0, tensor: "w", offset: firstInfo, count: 5)
        }
    }

    @Test("a dimension of 2^63 or more throws negativeDimension")
    func negativeDimension() throws {
        let bytes = tensorFile(tensorCount: 1) {
            $0.tensorInfo("w", dims: [4, 1 << 63], type: 0, offset: 0)
        }
        try expectReadError(bytes) {
            .negativeDimension(path: $0, tensor: "w", offset: firstInfo, index: 1, value: .min)
        }
    }

    @Test("dimensions whose product overflows throw elementCountOverflow")
    func elementOverflow() throws {
        let bytes = tensorFile(tensorCount: 1) {
            $0.tensorInfo("w", dims: [1 << 32, 1 << 32], type: 0, offset: 0)
        }
        try expectReadError(bytes) {
            .elementCountOverflow(
                path: $0, tensor: "w", offset: firstInfo, dimensions: [1 << 32, 1 << 32])
        }
    }

    @Test("ne[0] that is not a whole number of blocks throws rowNotMultipleOfBlock")
    func partialBlock() throws {
        let bytes = tensorFile(tensorCount: 1) { b in
            b.tensorInfo("w", dims: [33, 2], type: GGMLType.q4_0.rawValue, offset: 0)
        }
        try expectReadError(bytes) {
            .rowNotMultipleOfBlock(
                path: $0, tensor: "w", offset: firstInfo, rowLength: 33, type: .q4_0)
        }
    }

    @Test("a byte size that overflows, or wraps when padded, throws byteCountOverflow")
    func byteOverflow() throws {
        let bytes = tensorFile(tensorCount: 1) {
            $0.tensorInfo("w", dims: [1 << 62], type: GGMLType.f32.rawValue, offset: 0)
        }
        try expectReadError(bytes) { .byteCountOverflow(path: $0, tensor: "w", offset: firstInfo) }
        let padded = tensorFile(tensorCount: 1) { b in
            b.tensorInfo("w", dims: [UInt64(Int.max)], type: GGMLType.i8.rawValue, offset: 0)
        }
        try expectReadError(padded) { .byteCountOverflow(path: $0, tensor: "w", offset: firstInfo) }
    }

    @Test(
        "holes, overlaps and misaligned offsets throw tensorOffsetMismatch with the expected offset",
        arguments: [UInt64(64), 0, 40, 1 << 63])
    func offsetMismatch(secondOffset: UInt64) throws {
        let bytes = tensorFile(tensorCount: 2) { b in
            // 16 bytes, padded to 32.
            b.tensorInfo("a", dims: [8], type: GGMLType.f16.rawValue, offset: 0)
            b.tensorInfo("b", dims: [8], type: GGMLType.f16.rawValue, offset: secondOffset)
        }
        try expectReadError(bytes) {
            .tensorOffsetMismatch(path: $0, tensor: "b", expected: 32, actual: secondOffset)
        }
    }

    @Test("a first tensor not at offset 0 throws tensorOffsetMismatch")
    func firstOffset() throws {
        let bytes = tensorFile(tensorCount: 1) {
            $0.tensorInfo("a", dims: [8], type: 0, offset: 32)
        }
        try expectReadError(bytes) {
            .tensorOffsetMismatch(path: $0, tensor: "a", expected: 0, actual: 32)
        }
    }

    @Test("tensor data past the end of the file throws tensorDataOutOfBounds")
    func dataBeyondEnd() throws {
        let small = SmallFile()
        let cut = Array(small.bytes.prefix(small.unpaddedEnd - 1))
        try expectReadError(cut) {
            .tensorDataOutOfBounds(
                path: $0, tensor: "blk.0.w", end: small.unpaddedEnd, fileSize: cut.count)
        }
    }

    @Test("a file that ends before the data section throws truncated")
    func missingDataSection() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 1, kvCount: 1)
        b.kvString("general.architecture", "llama")
        b.tensorInfo("a", dims: [8], type: 0, offset: 0)
        let end = b.count
        let padding = (32 - end % 32) % 32
        try expectReadError(b.bytes) {
            .truncated(
                path: $0, item: .dataSection, offset: end, needed: UInt64(padding), available: 0)
        }
    }

    @Test("bytes after the final padding throw trailingBytes unless allowed")
    func trailingBytes() throws {
        let small = SmallFile()
        let file = try TemporaryFile(small.bytes + [0])
        #expect(
            throws: GGUFError.trailingBytes(
                path: file.path, expectedSize: small.bytes.count, actualSize: small.bytes.count + 1)
        ) {
            try file.open()
        }
        let lenient = try file.open(limits: GGUFReadLimits(allowsTrailingBytes: true))
        #expect(lenient.tensors.count == 2)
    }

    @Test("after a tensor of unknown type, offsets must be aligned and not decreasing")
    func offsetsAfterUnknownType() throws {
        for (offset, expected) in [
            (
                UInt64(48),
                { (path: String) in
                    GGUFError.misalignedTensorOffset(
                        path: path, tensor: "b", offset: 48, alignment: 32)
                }
            ),
            (
                UInt64(0),
                { (path: String) in
                    GGUFError.tensorOffsetOutOfOrder(
                        path: path, tensor: "b", offset: 0, previous: 32)
                }
            ),
        ] {
            let bytes = tensorFile(tensorCount: 3) { b in
                b.tensorInfo("a", dims: [8], type: 0, offset: 0)
                b.tensorInfo("u", dims: [8], type: 200, offset: 32)
                b.tensorInfo("b", dims: [8], type: 0, offset: offset)
            }
            try expectReadError(bytes, expected)
        }
    }

    @Test("an unknown-type tensor whose offset lies beyond the file throws tensorDataOutOfBounds")
    func unknownBeyondEnd() throws {
        // The first offset must be 0, so the far-away unknown tensor comes second.
        var b = ByteBuilder()
        b.header(tensorCount: 2, kvCount: 0)
        b.tensorInfo("v", dims: [8], type: 99, offset: 0)
        b.tensorInfo("u", dims: [8], type: 99, offset: 1 << 40)
        b.pad()
        let dataOffset = b.count
        b.zeros(64)
        try expectReadError(b.bytes) {
            .tensorDataOutOfBounds(
                path: $0, tensor: "u", end: dataOffset + (1 << 40), fileSize: b.count)
        }
    }
}
