// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore
import Testing

@Suite("SafeTensorsWriter")
struct WriterTests {
    /// The known small set: one tensor per dtype width, a scalar, a zero-size tensor, and a name needing escapes.
    static let knownEntries: [SafeTensorsWriter.Entry] = [
        .init(name: "b", dtype: .f32, shape: [2]),
        .init(name: "a", dtype: .u8, shape: [3]),
        .init(name: "s", dtype: .f64, shape: []),
        .init(name: "z", dtype: .f16, shape: [0, 3]),
        .init(name: "q\"\\\né/😀", dtype: .i16, shape: [1]),
    ]
    static let knownContents: [String: [UInt8]] = [
        "b": [0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0],  // 1.0f, -2.0f
        "a": [1, 2, 3],
        "s": [0, 0, 0, 0, 0, 0, 0xF8, 0x3F],  // 1.5
        "z": [],
        "q\"\\\né/😀": [7, 0],
    ]

    @Test("output for a known set equals the reference writer's bytes")
    func exactBytes() throws {
        // Expected bytes derived by hand from the layout rules: data order F64, F32, F16, I16, U8 (alignment rank
        // descending); compact header, __metadata__ first, keys dtype/shape/data_offsets, serde_json escaping
        // (\" \\ \n escaped, é and 😀 raw UTF-8, '/' not escaped); 317 JSON bytes + 3 spaces = 320.
        // Checked once by hand: python safetensors 0.8.0 `safetensors.numpy.save(..., metadata={"format": "pt"})`
        // on the same tensors produced exactly these bytes.
        let json = #"{"__metadata__":{"format":"pt"},"#
            + #""s":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"#
            + #""z":{"dtype":"F16","shape":[0,3],"data_offsets":[16,16]},"#
            + #""q\"\\\né/😀":{"dtype":"I16","shape":[1],"data_offsets":[16,18]},"#
            + #""a":{"dtype":"U8","shape":[3],"data_offsets":[18,21]}}"#
            + "   "
        let data: [UInt8] = [0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 7, 0, 1, 2, 3]
        let expected = littleEndianBytes(UInt64(320)) + Array(json.utf8) + data
        #expect(json.utf8.count == 320)

        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("known.safetensors")
        try write(Self.knownEntries, contents: Self.knownContents, to: url)
        #expect(try fileBytes(url) == expected)
    }

    @Test("an empty set with metadata is just the metadata header, unpadded when already a multiple of 8")
    func emptyFile() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("empty.safetensors")
        try write([], contents: [:], to: url)
        #expect(try fileBytes(url) == littleEndianBytes(UInt64(32)) + Array(#"{"__metadata__":{"format":"pt"}}"#.utf8))
        let noMetadata = directory.url.appendingPathComponent("bare.safetensors")
        try write([], contents: [:], to: noMetadata, metadata: nil)
        #expect(try fileBytes(noMetadata) == littleEndianBytes(UInt64(8)) + Array("{}      ".utf8))
    }

    @Test("metadata keys are written sorted, so the output does not depend on dictionary order")
    func sortedMetadata() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("meta.safetensors")
        try write([], contents: [:], to: url, metadata: ["zeta": "1", "alpha": "2", "mid": "3"])
        let expectedJSON = #"{"__metadata__":{"alpha":"2","mid":"3","zeta":"1"}}"#
        let padded = expectedJSON + String(repeating: " ", count: (8 - expectedJSON.utf8.count % 8) % 8)
        #expect(try fileBytes(url) == littleEndianBytes(UInt64(padded.utf8.count)) + Array(padded.utf8))
    }

    @Test("seeded random tensor sets round-trip: write, read back, same metadata, shapes and bytes")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        var rng = SplitMix64(seed: 0x5AFE)
        for round in 0..<150 {
            let set = RandomTensorSet(using: &rng)
            let url = directory.url.appendingPathComponent("round\(round).safetensors")
            try write(set.entries, contents: set.contents, to: url, metadata: set.metadata)
            let file = try SafeTensorsFile(contentsOf: url)
            #expect(file.metadata == set.metadata)
            #expect(file.tensors.count == set.entries.count)
            let dataByteCount = set.contents.values.map(\.count).reduce(0, +)
            #expect(try fileBytes(url).count == 8 + file.headerByteCount + dataByteCount)
            #expect(file.headerByteCount % 8 == 0)
            for entry in set.entries {
                let info = try #require(file[entry.name])
                #expect(info.dtype == entry.dtype)
                #expect(info.shape == entry.shape)
                #expect(Array(file.bytes(of: info)) == set.contents[entry.name])
            }
            // Data order: alignment rank descending (zero-size tensors occupy no bytes, so they have no position).
            let ranks = file.tensors.filter { $0.byteCount > 0 }.map(\.dtype.alignmentRank)
            #expect(ranks == ranks.sorted(by: >))
        }
    }

    @Test("writing the same input twice gives identical bytes")
    func deterministic() throws {
        let directory = try TemporaryDirectory()
        var rng = SplitMix64(seed: 99)
        for round in 0..<40 {
            let set = RandomTensorSet(using: &rng)
            let first = directory.url.appendingPathComponent("first\(round).safetensors")
            let second = directory.url.appendingPathComponent("second\(round).safetensors")
            try write(set.entries, contents: set.contents, to: first, metadata: set.metadata)
            try write(set.entries.reversed(), contents: set.contents, to: second, metadata: set.metadata)
            #expect(try fileBytes(first) == fileBytes(second))
        }
    }

    @Test("a payload that throws midway leaves neither the destination nor a temporary file")
    func atomicOnPayloadError() throws {
        struct Interrupted: Error, Equatable {}
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("model.safetensors")
        var calls = 0
        #expect(throws: Interrupted()) {
            try SafeTensorsWriter.write(to: url, tensors: Self.knownEntries) { entry, stream in
                calls += 1
                if calls == 3 { throw Interrupted() }
                try stream.write(Self.knownContents[entry.name] ?? [])
            }
        }
        #expect(calls == 3)
        #expect(try directory.contents() == [])
    }

    @Test("a payload writing the wrong byte count is an error and leaves nothing behind")
    func payloadSizeChecked() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("model.safetensors")
        #expect(throws: SafeTensorsError.payloadByteCountMismatch(file: url.path, tensor: "b", expected: 8, written: 7)) {
            try SafeTensorsWriter.write(to: url, tensors: Self.knownEntries) { entry, stream in
                let bytes = Self.knownContents[entry.name] ?? []
                try stream.write(entry.name == "b" ? Array(bytes.dropLast()) : bytes)
            }
        }
        #expect(try directory.contents() == [])
    }

    @Test("an existing file is replaced only with overwrite")
    func refusesToOverwrite() throws {
        let directory = try TemporaryDirectory()
        let url = try directory.file("model.safetensors", [1, 2, 3])
        let expected = SafeTensorsError.fileAccess(FileAccessError(
            path: url.path, operation: "create", code: EEXIST, reason: "already exists (use --force to replace it)"))
        #expect(throws: expected) { try write([], contents: [:], to: url) }
        #expect(try fileBytes(url) == [1, 2, 3])
        try SafeTensorsWriter.write(to: url, tensors: [], overwrite: true) { _, _ in }
        #expect(try SafeTensorsFile(contentsOf: url).metadata == ["format": "pt"])
        #expect(try directory.contents() == ["model.safetensors"])
    }

    @Test("invalid entries are rejected before anything is written")
    func invalidEntries() throws {
        let directory = try TemporaryDirectory()
        let url = directory.url.appendingPathComponent("model.safetensors")
        let path = url.path
        let cases: [([SafeTensorsWriter.Entry], SafeTensorsError)] = [
            ([.init(name: "w", dtype: .f32, shape: [1]), .init(name: "w", dtype: .u8, shape: [1])],
             .duplicateEntry(file: path, tensor: "w")),
            ([.init(name: "__metadata__", dtype: .u8, shape: [1])], .reservedTensorName(file: path)),
            ([.init(name: "neg", dtype: .u8, shape: [2, -1])], .invalidShape(file: path, tensor: "neg", shape: [2, -1])),
            ([.init(name: "big", dtype: .f64, shape: [1 << 31, 1 << 31, 1 << 31])],
             .invalidShape(file: path, tensor: "big", shape: [1 << 31, 1 << 31, 1 << 31])),
            ([.init(name: "wide", dtype: .u8, shape: [0, (1 << 53) + 1])],
             .invalidShape(file: path, tensor: "wide", shape: [0, (1 << 53) + 1])),
        ]
        for (entries, expected) in cases {
            #expect(throws: expected) {
                try SafeTensorsWriter.write(to: url, tensors: entries) { _, _ in Issue.record("payload called") }
            }
        }
        #expect(try directory.contents() == [])
    }
}
