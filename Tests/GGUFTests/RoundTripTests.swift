// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore
import Testing

@testable import GGUF

/// Seeded random GGUF contents: every value type, arrays of every element type, several tensor types.
private struct RandomContents {
    var metadata = GGUFMetadata()
    var tensors: [GGUFWriter.Entry] = []
    var payloads: [[UInt8]] = []

    init(seed: UInt64, alignment: UInt32? = nil) {
        var rng = SplitMix64(seed: seed)
        metadata[GGUFKey.General.architecture] = .string("llama")
        if let alignment { metadata[GGUFKey.General.alignment] = .uint32(alignment) }
        for type in GGUFValueType.allCases where type != .array {
            metadata["scalar.\(type.name.lowercased())"] = Self.scalar(type, using: &rng)
            let count = Int.random(in: 0...5, using: &rng)
            metadata["array.\(type.name.lowercased())"] = .array(
                Self.array(type, count: count, using: &rng))
        }
        let types: [GGMLType] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_K, .q6_K, .iq4_NL, .i32]
        for index in 0..<Int.random(in: 3...8, using: &rng) {
            let type = types.randomElement(using: &rng) ?? .f32
            let row = type.blockSize * Int.random(in: 1...3, using: &rng)
            let dimensions =
                [row]
                + (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                    Int.random(in: 1...3, using: &rng)
                }
            let entry = GGUFWriter.Entry(
                name: "blk.\(index).w\(index)", dimensions: dimensions, type: type)
            tensors.append(entry)
            payloads.append(
                (0..<(entry.byteCount ?? 0)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        }
    }

    static func string(using rng: inout SplitMix64) -> String {
        let alphabet = Array("aZ09 _.-éßж中🦙\n\t\"\\")
        return String(
            (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                alphabet.randomElement(using: &rng) ?? "a"
            })
    }

    static func scalar(_ type: GGUFValueType, using rng: inout SplitMix64) -> GGUFValue {
        switch type {
        case .uint8: .uint8(.random(in: .min ... .max, using: &rng))
        case .int8: .int8(.random(in: .min ... .max, using: &rng))
        case .uint16: .uint16(.random(in: .min ... .max, using: &rng))
        case .int16: .int16(.random(in: .min ... .max, using: &rng))
        case .uint32: .uint32(.random(in: .min ... .max, using: &rng))
        case .int32: .int32(.random(in: .min ... .max, using: &rng))
        // Random bit patterns include NaNs with payloads, which must survive bit-exactly.
        case .float32: .float32(Float(bitPattern: .random(in: .min ... .max, using: &rng)))
        case .bool: .bool(.random(using: &rng))
        case .string: .string(string(using: &rng))
        case .uint64: .uint64(.random(in: .min ... .max, using: &rng))
        case .int64: .int64(.random(in: .min ... .max, using: &rng))
        case .float64: .float64(Double(bitPattern: .random(in: .min ... .max, using: &rng)))
        case .array: .array(.uint8([]))
        }
    }

    static func array(_ type: GGUFValueType, count: Int, using rng: inout SplitMix64) -> GGUFArray {
        func many<T>(_ make: (inout SplitMix64) -> T) -> [T] { (0..<count).map { _ in make(&rng) } }
        return switch type {
        case .uint8: .uint8(many { .random(in: .min ... .max, using: &$0) })
        case .int8: .int8(many { .random(in: .min ... .max, using: &$0) })
        case .uint16: .uint16(many { .random(in: .min ... .max, using: &$0) })
        case .int16: .int16(many { .random(in: .min ... .max, using: &$0) })
        case .uint32: .uint32(many { .random(in: .min ... .max, using: &$0) })
        case .int32: .int32(many { .random(in: .min ... .max, using: &$0) })
        case .float32: .float32(many { Float(bitPattern: .random(in: .min ... .max, using: &$0)) })
        case .bool: .bool(many { .random(using: &$0) })
        case .string: .string(many { string(using: &$0) })
        case .uint64: .uint64(many { .random(in: .min ... .max, using: &$0) })
        case .int64: .int64(many { .random(in: .min ... .max, using: &$0) })
        case .float64: .float64(many { Double(bitPattern: .random(in: .min ... .max, using: &$0)) })
        case .array: .uint8([])
        }
    }
}

@Suite("GGUF writer and reader round trips")
struct RoundTripTests {
    @Test("random contents survive write then read unchanged", arguments: [UInt64(1), 2, 3, 4, 5])
    func writeThenRead(seed: UInt64) throws {
        let contents = RandomContents(seed: seed, alignment: seed.isMultiple(of: 2) ? 64 : nil)
        let file = try TemporaryFile(nil)
        try writeGGUF(
            to: file.url, metadata: contents.metadata, tensors: contents.tensors,
            payloads: contents.payloads)
        let gguf = try file.open()
        #expect(gguf.version == 3)
        #expect(gguf.metadata == contents.metadata)
        #expect(gguf.metadata.keys == contents.metadata.keys)
        #expect(gguf.alignment == (seed.isMultiple(of: 2) ? 64 : 32))
        #expect(gguf.dataOffset % gguf.alignment == 0)
        #expect(gguf.tensors.map(\.name) == contents.tensors.map(\.name))
        var expectedOffset = 0
        for (index, entry) in contents.tensors.enumerated() {
            let tensor = try #require(gguf[entry.name])
            #expect(tensor.dimensions == entry.dimensions && tensor.type == entry.type)
            #expect(tensor.offset == expectedOffset)
            #expect(Array(try gguf.bytes(of: tensor)) == contents.payloads[index])
            let size = try #require(entry.byteCount)
            expectedOffset += (size + gguf.alignment - 1) / gguf.alignment * gguf.alignment
        }
        // Padding after every tensor, the last one included.
        #expect(gguf.fileSize == gguf.dataOffset + expectedOffset)
    }

    @Test(
        "writing the same contents twice, or rewriting what was read, gives identical bytes",
        arguments: [UInt64(11), 12])
    func deterministic(seed: UInt64) throws {
        let contents = RandomContents(seed: seed)
        let first = try TemporaryFile(nil)
        let second = try TemporaryFile(nil)
        try writeGGUF(
            to: first.url, metadata: contents.metadata, tensors: contents.tensors,
            payloads: contents.payloads)
        try writeGGUF(
            to: second.url, metadata: contents.metadata, tensors: contents.tensors,
            payloads: contents.payloads)
        #expect(try first.contents() == second.contents())

        let read = try first.open()
        let entries = try read.tensors.map {
            GGUFWriter.Entry(name: $0.name, dimensions: $0.dimensions, type: try #require($0.type))
        }
        let rewrite = try TemporaryFile(nil)
        try GGUFWriter.write(to: rewrite.url, metadata: read.metadata, tensors: entries) {
            entry, stream in
            try stream.write(try read.bytes(of: try #require(read[entry.name])))
        }
        #expect(try rewrite.contents() == first.contents())
    }

    @Test("a version 2 file with the same layout reads like version 3")
    func versionTwo() throws {
        let contents = RandomContents(seed: 21)
        let file = try TemporaryFile(nil)
        try writeGGUF(
            to: file.url, metadata: contents.metadata, tensors: contents.tensors,
            payloads: contents.payloads)
        let v3 = try file.open()
        var bytes = try file.contents()
        bytes[4] = 2
        try file.write(bytes)
        let v2 = try file.open()
        #expect(v2.version == 2)
        #expect(
            v2.metadata == v3.metadata && v2.tensors == v3.tensors && v2.dataOffset == v3.dataOffset
        )
    }
}
