// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

private struct PayloadFailure: Error, Equatable {}

@Suite("GGUF writer: validation and atomicity")
struct WriterValidationTests {
    private static func llamaMetadata() -> GGUFMetadata {
        var metadata = GGUFMetadata()
        metadata[GGUFKey.General.architecture] = .string("llama")
        return metadata
    }

    /// Expects `write` of `tensors` with `metadata` to throw `expected(path)` and to leave nothing behind.
    private func expectWriteError(
        metadata: GGUFMetadata = llamaMetadata(), tensors: [GGUFWriter.Entry],
        sourceLocation: SourceLocation = #_sourceLocation, _ expected: (String) -> GGUFError
    ) throws {
        let file = try TemporaryFile(nil)
        #expect(throws: expected(file.path), sourceLocation: sourceLocation) {
            try GGUFWriter.write(to: file.url, metadata: metadata, tensors: tensors) {
                entry, stream in
                try stream.writeZeros(entry.byteCount ?? 0)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: file.directory.path).isEmpty)
    }

    @Test(
        "a payload that writes too few or too many bytes throws payloadSizeMismatch and writes nothing",
        arguments: [33, 35])
    func payloadSize(written: Int) throws {
        let file = try TemporaryFile(nil)
        let entry = GGUFWriter.Entry(name: "w", dimensions: [32], type: .q8_0)
        #expect(
            throws: GGUFError.payloadSizeMismatch(
                path: file.path, tensor: "w", expected: 34, actual: written)
        ) {
            try GGUFWriter.write(to: file.url, metadata: Self.llamaMetadata(), tensors: [entry]) {
                _, stream in
                try stream.writeZeros(written)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: file.directory.path).isEmpty)
    }

    @Test("an error thrown by the payload propagates and leaves no file")
    func payloadError() throws {
        let file = try TemporaryFile(nil)
        let entry = GGUFWriter.Entry(name: "w", dimensions: [4], type: .f32)
        #expect(throws: PayloadFailure()) {
            try GGUFWriter.write(to: file.url, metadata: Self.llamaMetadata(), tensors: [entry]) {
                _, _ in
                throw PayloadFailure()
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: file.directory.path).isEmpty)
    }

    @Test("an existing file is kept unless overwrite is set")
    func overwrite() throws {
        let file = try TemporaryFile([1, 2, 3])
        #expect(throws: GGUFError.self) {
            try writeGGUF(
                to: file.url, metadata: Self.llamaMetadata(), tensors: [], payloads: [],
                overwrite: false)
        }
        #expect(try file.contents() == [1, 2, 3])
        try writeGGUF(
            to: file.url, metadata: Self.llamaMetadata(), tensors: [], payloads: [], overwrite: true
        )
        #expect(try file.open().metadata == Self.llamaMetadata())
    }

    @Test("general.alignment must be a UINT32 power of two")
    func alignmentRules() throws {
        var metadata = Self.llamaMetadata()
        metadata[GGUFKey.General.alignment] = .uint64(32)
        try expectWriteError(metadata: metadata, tensors: []) {
            .invalidAlignmentType(path: $0, type: .uint64)
        }
        metadata[GGUFKey.General.alignment] = .uint32(24)
        try expectWriteError(metadata: metadata, tensors: []) {
            .invalidAlignment(path: $0, value: 24)
        }
    }

    @Test("an empty key is rejected at its offset")
    func emptyKey() throws {
        var metadata = Self.llamaMetadata()
        metadata[""] = .bool(true)
        // header 24 + "general.architecture" entry (8 + 20 + 4 + 8 + 5)
        try expectWriteError(metadata: metadata, tensors: []) {
            .emptyKey(path: $0, index: 1, offset: 69)
        }
    }

    @Test("tensor names, dimensions and block multiples follow the reader's rules")
    func tensorRules() throws {
        let infoStart = 69  // header 24 + the "general.architecture" entry 45
        let f32 = GGUFWriter.Entry(name: "a", dimensions: [4], type: .f32)
        let firstInfoSize = 8 + 1 + 4 + 8 + 4 + 8
        try expectWriteError(tensors: [f32, f32]) {
            .duplicateTensorName(path: $0, name: "a", offset: infoStart + firstInfoSize)
        }
        let long = String(repeating: "x", count: 64)
        try expectWriteError(tensors: [GGUFWriter.Entry(name: long, dimensions: [4], type: .f32)]) {
            .tensorNameTooLong(path: $0, name: long, offset: infoStart, byteCount: 64)
        }
        try expectWriteError(tensors: [
            GGUFWriter.Entry(name: "q", dimensions: [48, 2], type: .q4_K)
        ]) {
            .rowNotMultipleOfBlock(
                path: $0, tensor: "q", offset: infoStart, rowLength: 48, type: .q4_K)
        }
        try expectWriteError(tensors: [
            GGUFWriter.Entry(name: "d", dimensions: [1, 1, 1, 1, 1], type: .f32)
        ]) {
            .tooManyDimensions(path: $0, tensor: "d", offset: infoStart, count: 5)
        }
        try expectWriteError(tensors: [
            GGUFWriter.Entry(name: "n", dimensions: [4, -1], type: .f32)
        ]) {
            .negativeDimension(path: $0, tensor: "n", offset: infoStart, index: 1, value: -1)
        }
    }

    @Test("offsets are packed and every tensor is padded, with a custom alignment")
    func customAlignmentLayout() throws {
        var metadata = Self.llamaMetadata()
        metadata[GGUFKey.General.alignment] = .uint32(128)
        let entries = [
            GGUFWriter.Entry(name: "a", dimensions: [3], type: .f32),
            GGUFWriter.Entry(name: "b", dimensions: [32, 5], type: .q8_0),
            GGUFWriter.Entry(name: "c", dimensions: [1], type: .i8),
        ]
        let payloads = entries.enumerated().map { pattern(seed: $0, count: $1.byteCount ?? 0) }
        let file = try TemporaryFile(nil)
        try writeGGUF(to: file.url, metadata: metadata, tensors: entries, payloads: payloads)
        let gguf = try file.open()
        #expect(gguf.dataOffset % 128 == 0)
        #expect(gguf.tensors.map(\.offset) == [0, 128, 128 + 256])
        #expect(gguf.fileSize == gguf.dataOffset + 128 + 256 + 128)
        let bytes = try file.contents()
        // Padding bytes are zero.
        #expect(bytes[(gguf.dataOffset + 12)..<(gguf.dataOffset + 128)].allSatisfy { $0 == 0 })
        #expect(
            bytes[(gguf.dataOffset + 128 + 170)..<(gguf.dataOffset + 384)].allSatisfy { $0 == 0 })
        #expect(bytes[gguf.dataOffset + 384] == 2)
        #expect(bytes[(gguf.dataOffset + 385)...].count == 127)
        #expect(bytes[(gguf.dataOffset + 385)...].allSatisfy { $0 == 0 })
    }
}
