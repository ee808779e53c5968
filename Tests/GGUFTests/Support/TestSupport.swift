// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

@testable import GGUF

/// Builds GGUF bytes field by field, so tests can write malformed files and know each field's offset.
struct ByteBuilder {
    var bytes: [UInt8] = []
    var count: Int { bytes.count }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func u32(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func u64(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }
    mutating func raw(_ data: [UInt8]) { bytes.append(contentsOf: data) }
    mutating func zeros(_ count: Int) {
        bytes.append(contentsOf: [UInt8](repeating: 0, count: count))
    }

    /// A GGUF string from raw bytes (u64 length + bytes).
    mutating func string(bytes data: [UInt8]) {
        u64(UInt64(data.count))
        raw(data)
    }

    mutating func string(_ text: String) { string(bytes: Array(text.utf8)) }

    /// The fixed header.
    mutating func header(version: UInt32 = 3, tensorCount: UInt64, kvCount: UInt64) {
        raw(Array("GGUF".utf8))
        u32(version)
        u64(tensorCount)
        u64(kvCount)
    }

    /// A UINT32 entry.
    mutating func kvU32(_ key: String, _ value: UInt32) {
        string(key)
        u32(GGUFValueType.uint32.rawValue)
        u32(value)
    }

    /// A STRING entry.
    mutating func kvString(_ key: String, _ value: String) {
        string(key)
        u32(GGUFValueType.string.rawValue)
        string(value)
    }

    /// A tensor info.
    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for dim in dims { u64(dim) }
        u32(type)
        u64(offset)
    }

    /// Zero padding up to a multiple of `alignment`.
    mutating func pad(to alignment: Int = 32) { zeros((alignment - count % alignment) % alignment) }
}

/// A file in a fresh temporary directory, removed with the object.
final class TemporaryFile {
    let directory: URL
    let url: URL
    var path: String { url.path }

    /// Creates the directory and, unless `bytes` is nil, the file with `bytes`.
    init(_ bytes: [UInt8]? = []) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("gguf-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        url = directory.appendingPathComponent("model.gguf")
        if let bytes { try write(bytes) }
    }

    /// Replaces the file's contents.
    func write(_ bytes: [UInt8]) throws { try Data(bytes).write(to: url) }

    /// The file's contents.
    func contents() throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    /// Opens the file with the GGUF reader.
    func open(limits: GGUFReadLimits = .init()) throws(GGUFError) -> GGUFFile {
        try GGUFFile(contentsOf: url, limits: limits)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

/// Byte i of a pattern with seed s is (s + 31·i) mod 256 (the rule of fixtures/scripts/gguf_writer_reference.py).
func pattern(seed: Int, count: Int) -> [UInt8] {
    (0..<count).map { UInt8((seed + 31 * $0) % 256) }
}

/// Decodes a hex string, ignoring whitespace.
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count - 1, by: 2).compactMap { i in
        UInt8(String(decoding: digits[i...i + 1], as: UTF8.self), radix: 16)
    }
}

/// Writes `tensors` with `payloads` (one byte array per tensor, in order) through ``GGUFWriter``.
func writeGGUF(
    to url: URL, metadata: GGUFMetadata, tensors: [GGUFWriter.Entry], payloads: [[UInt8]],
    overwrite: Bool = true
) throws {
    var index = 0
    try GGUFWriter.write(to: url, metadata: metadata, tensors: tensors, overwrite: overwrite) {
        _, stream in
        try stream.write(payloads[index])
        index += 1
    }
}

/// A small valid v3 file built by hand: three entries, an F32 [4] tensor and a Q8_0 [32] tensor.
///
/// Layout: header, entries, infos, padding to 32, F32 data (16 bytes) + 16 padding, Q8_0 data
/// (34 bytes) + 30 padding. `unpaddedEnd` is where the Q8_0 data ends.
struct SmallFile {
    let bytes: [UInt8]
    let dataOffset: Int
    let unpaddedEnd: Int

    init() {
        var b = ByteBuilder()
        b.header(tensorCount: 2, kvCount: 3)
        b.kvString("general.architecture", "llama")
        b.kvU32("llama.block_count", 2)
        b.string("test.scores")
        b.u32(GGUFValueType.array.rawValue)
        b.u32(GGUFValueType.float32.rawValue)
        b.u64(2)
        b.u32(Float(0.5).bitPattern)
        b.u32(Float(-1).bitPattern)
        b.tensorInfo("norm.weight", dims: [4], type: GGMLType.f32.rawValue, offset: 0)
        b.tensorInfo("blk.0.w", dims: [32], type: GGMLType.q8_0.rawValue, offset: 32)
        b.pad()
        dataOffset = b.count
        b.raw(pattern(seed: 1, count: 16))
        b.pad()
        b.raw(pattern(seed: 2, count: 34))
        unpaddedEnd = b.count
        b.pad()
        bytes = b.bytes
    }
}
