// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

/// Opens `bytes` as a file and expects exactly the error `expected(path)`.
func expectReadError(
    _ bytes: [UInt8], limits: GGUFReadLimits = .init(),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ expected: (String) -> GGUFError
) throws {
    let file = try TemporaryFile(bytes)
    #expect(throws: expected(file.path), sourceLocation: sourceLocation) {
        try file.open(limits: limits)
    }
}

@Suite("GGUF reader: magic, version and counts")
struct HeaderErrorTests {
    @Test("an unknown magic throws badMagic without a guess")
    func unknownMagic() throws {
        try expectReadError(Array("ABCD".utf8) + [UInt8](repeating: 0, count: 20)) {
            .badMagic(path: $0, magic: [0x41, 0x42, 0x43, 0x44], detected: nil)
        }
    }

    @Test("a Git LFS pointer is recognised")
    func gitLFSPointer() throws {
        let text = "version https://git-lfs.github.com/spec/v1\noid sha256:4d7a\nsize 98362432\n"
        try expectReadError(Array(text.utf8)) {
            .badMagic(path: $0, magic: Array("vers".utf8), detected: .gitLFSPointer)
        }
    }

    @Test("an HTML page is recognised")
    func htmlPage() throws {
        try expectReadError(Array("\n  <!DOCTYPE html><html><body>Sign in</body></html>".utf8)) {
            .badMagic(path: $0, magic: Array("\n  <".utf8), detected: .html)
        }
    }

    @Test("a safetensors file is recognised")
    func safetensorsFile() throws {
        var b = ByteBuilder()
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#
        b.u64(UInt64(header.utf8.count))
        b.raw(Array(header.utf8) + [0, 0, 0, 0])
        try expectReadError(b.bytes) {
            .badMagic(path: $0, magic: Array(b.bytes.prefix(4)), detected: .safetensors)
        }
    }

    @Test("a zip archive and a legacy ggjt file are recognised")
    func zipAndLegacy() throws {
        let zip: [UInt8] = [0x50, 0x4B, 0x03, 0x04] + [UInt8](repeating: 0, count: 26)
        try expectReadError(zip) {
            .badMagic(path: $0, magic: [0x50, 0x4B, 0x03, 0x04], detected: .zipArchive)
        }
        let ggjt = Array("tjgg".utf8) + [3, 0, 0, 0] + [UInt8](repeating: 0, count: 16)
        try expectReadError(ggjt) {
            .badMagic(path: $0, magic: Array("tjgg".utf8), detected: .legacyGGML)
        }
    }

    @Test("an empty file throws truncated at offset 0", arguments: [0, 3])
    func emptyOrTiny(length: Int) throws {
        let bytes = Array(Array("GGUF".utf8).prefix(length))
        try expectReadError(bytes) {
            .truncated(path: $0, item: .header, offset: 0, needed: 4, available: length)
        }
    }

    @Test("versions 0, 1 and 4 are unsupported", arguments: [UInt32(0), 1, 4, 0x0001_0003])
    func unsupportedVersions(version: UInt32) throws {
        var b = ByteBuilder()
        b.header(version: version, tensorCount: 0, kvCount: 0)
        try expectReadError(b.bytes) { .unsupportedVersion(path: $0, version: version) }
    }

    @Test("a big-endian version field throws byteOrderMismatch")
    func otherByteOrder() throws {
        var b = ByteBuilder()
        b.header(version: 0x0300_0000, tensorCount: 0, kvCount: 0)
        try expectReadError(b.bytes) { .byteOrderMismatch(path: $0, version: 0x0300_0000) }
    }

    @Test("a header cut inside the tensor count throws truncated")
    func cutHeader() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 0, kvCount: 0)
        try expectReadError(Array(b.bytes.prefix(10))) {
            .truncated(path: $0, item: .header, offset: 8, needed: 8, available: 2)
        }
    }

    @Test("tensor and key/value counts above the caps throw limitExceeded")
    func countCaps() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 1 << 40, kvCount: 0)
        try expectReadError(b.bytes) {
            .limitExceeded(
                path: $0, item: .header, offset: 8, limit: .tensorCount, value: 1 << 40,
                maximum: 1 << 20)
        }
        b = ByteBuilder()
        b.header(tensorCount: 0, kvCount: UInt64.max)
        try expectReadError(b.bytes) {
            .limitExceeded(
                path: $0, item: .header, offset: 16, limit: .keyValueCount, value: .max,
                maximum: 1 << 16)
        }
        b = ByteBuilder()
        b.header(tensorCount: 3, kvCount: 0)
        b.zeros(100)
        try expectReadError(b.bytes, limits: GGUFReadLimits(maxTensorCount: 2)) {
            .limitExceeded(
                path: $0, item: .header, offset: 8, limit: .tensorCount, value: 3, maximum: 2)
        }
    }

    @Test("counts that the remaining bytes cannot hold throw truncated before allocating")
    func lyingCounts() throws {
        var b = ByteBuilder()
        b.header(tensorCount: 0, kvCount: 1000)
        try expectReadError(b.bytes) {
            .truncated(path: $0, item: .header, offset: 24, needed: 14_000, available: 0)
        }
        b = ByteBuilder()
        b.header(tensorCount: 1000, kvCount: 0)
        b.zeros(40)
        try expectReadError(b.bytes) {
            .truncated(path: $0, item: .header, offset: 24, needed: 24_000, available: 40)
        }
        b = ByteBuilder()
        b.header(tensorCount: UInt64(Int64.max), kvCount: 0)
        try expectReadError(b.bytes, limits: .unbounded) {
            .truncated(path: $0, item: .header, offset: 24, needed: .max, available: 0)
        }
    }

    @Test("a missing file throws fileAccess naming it")
    func missingFile() throws {
        let file = try TemporaryFile(nil)
        #expect(
            throws: GGUFError.fileAccess(
                FileAccessError(path: file.path, operation: "open", code: ENOENT))
        ) {
            try file.open()
        }
    }
}
