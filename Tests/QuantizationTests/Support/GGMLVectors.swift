// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

/// The committed ggml codec vectors in `fixtures/ggml-vectors/` (see its README.md for their provenance).
struct GGMLVectors {
    /// One conversion case: `input` file → `expected` file for `type`.
    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        let type: String
        let elements: Int
        let input: String
        let expected: String

        var testDescription: String { "\(type) (\(expected))" }

        /// The ggml type named by `type`.
        var ggmlType: GGMLType? { GGMLType(name: type) }
    }

    /// A file's recorded size and digest.
    struct FileRecord: Decodable {
        let bytes: Int
        let sha256: String
    }

    /// The shape of `index.json` (gguf-py vectors) and `ggml-c.json` (C reference vectors).
    struct Index: Decodable {
        let dequantize: [Case]?
        let quantize: [Case]
        let files: [String: FileRecord]
    }

    /// The fixture directory, found from this source file's path.
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/ggml-vectors")

    /// Decodes an index file, or nil when it is missing or malformed (a test checks that both load).
    static func index(_ name: String) -> Index? {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent(name)) else {
            return nil
        }
        return try? JSONDecoder().decode(Index.self, from: data)
    }

    /// gguf-py vectors (`index.json`).
    static let gguf = index("index.json")
    /// ggml C reference vectors (`ggml-c.json`).
    static let ggmlC = index("ggml-c.json")

    /// Reads `name`, checking its size and SHA-256 against `index` first.
    static func bytes(_ name: String, in index: Index) throws -> [UInt8] {
        let record = try #require(index.files[name], "\(name) is not listed in the index")
        let bytes = [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
        try #require(
            bytes.count == record.bytes, "\(name): \(bytes.count) bytes, index says \(record.bytes)"
        )
        try #require(
            SHA256.hexDigest(bytes) == record.sha256, "\(name): SHA-256 differs from the index")
        return bytes
    }

    /// Reads `name` as little-endian floats after checking it.
    static func floats(_ name: String, in index: Index) throws -> [Float] {
        let raw = try bytes(name, in: index)
        return stride(from: 0, to: raw.count, by: 4).map { i in
            Float(
                bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16
                    | UInt32(raw[i + 3]) << 24)
        }
    }
}

/// A summary of where two block-structured buffers differ.
struct BlockMismatch: CustomStringConvertible {
    let count: Int
    let first: Int?
    let blocks: Int

    /// Compares `actual` with `expected` block by block (`stride` items per block, bitwise for floats).
    init<T: Equatable>(_ actual: [T], _ expected: [T], stride: Int) {
        var count = 0
        var first: Int?
        blocks = expected.count / stride
        for block in 0..<blocks
        where actual[block * stride..<(block + 1) * stride]
            != expected[block * stride..<(block + 1) * stride]
        {
            count += 1
            if first == nil { first = block }
        }
        self.count = count
        self.first = first
    }

    var description: String {
        guard let first else { return "all \(blocks) blocks match" }
        return "\(count) of \(blocks) blocks differ; first bad block \(first)"
    }
}
