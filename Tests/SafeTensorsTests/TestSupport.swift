// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore

/// A fresh directory under the system temporary directory, removed when the object goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("quail-safetensors-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `bytes` to `name` inside the directory and returns its URL.
    @discardableResult
    func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let target = url.appendingPathComponent(name)
        try Data(bytes).write(to: target)
        return target
    }

    /// The names of the directory's entries (including hidden ones), sorted.
    func contents() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }
}

/// A raw safetensors file: the little-endian length of `header`, the header bytes, then `data`.
func rawFile(header: [UInt8], data: [UInt8] = []) -> [UInt8] {
    var bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) }
    bytes += header
    bytes += data
    return bytes
}

/// A raw safetensors file whose header is `json` (UTF-8), unpadded.
func rawFile(_ json: String, data: [UInt8] = []) -> [UInt8] {
    rawFile(header: Array(json.utf8), data: data)
}

/// The little-endian bytes of `value`.
func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

/// Writes `tensors` with a payload taken from `contents` (bytes by tensor name).
func write(
    _ tensors: [SafeTensorsWriter.Entry], contents: [String: [UInt8]], to url: URL,
    metadata: [String: String]? = SafeTensorsWriter.defaultMetadata
) throws {
    try SafeTensorsWriter.write(to: url, tensors: tensors, metadata: metadata) { entry, stream in
        try stream.write(contents[entry.name] ?? [])
    }
}

/// The file's bytes.
func fileBytes(_ url: URL) throws -> [UInt8] {
    Array(try Data(contentsOf: url))
}

/// A seeded random set of tensors with contents and metadata, for property tests.
struct RandomTensorSet {
    var entries: [SafeTensorsWriter.Entry] = []
    var contents: [String: [UInt8]] = [:]
    var metadata: [String: String]?

    init(using rng: inout SplitMix64, maxCount: Int = 10) {
        let count = Int.random(in: 0...maxCount, using: &rng)
        let alphabet: [String] = ["a", "b", "z", ".", "_", "0", "9", "é", "😀", "\"", "\\", "\n", "/"]
        var names: Set<String> = []
        while names.count < count {
            let length = Int.random(in: 1...8, using: &rng)
            names.insert((0..<length).map { _ in alphabet.randomElement(using: &rng) ?? "a" }.joined())
        }
        for name in names.sorted() {
            let dtype = DType.allCases.randomElement(using: &rng) ?? .f32
            let rank = Int.random(in: 0...3, using: &rng)
            let shape = (0..<rank).map { _ in Int.random(in: 0...4, using: &rng) }
            let byteCount = (Shape.elementCount(shape) ?? 0) * dtype.byteSize
            entries.append(.init(name: name, dtype: dtype, shape: shape))
            contents[name] = (0..<byteCount).map { _ in UInt8.random(in: 0...255, using: &rng) }
        }
        entries.shuffle(using: &rng)
        switch Int.random(in: 0...2, using: &rng) {
        case 0: metadata = nil
        case 1: metadata = [:]
        default:
            let count = Int.random(in: 1...4, using: &rng)
            metadata = Dictionary(uniqueKeysWithValues: (0..<count).map { ("key\($0)é", "value \($0)\t") })
        }
    }
}
