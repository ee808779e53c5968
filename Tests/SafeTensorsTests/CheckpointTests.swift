// SPDX-License-Identifier: Apache-2.0
import Foundation
import SafeTensors
import TensorCore
import Testing

@Suite("Sharded checkpoints")
struct CheckpointTests {
    /// Payload writing `byteCount` copies of the first byte of the name, so every tensor's bytes are recognisable.
    private static func namePayload(_ entry: SafeTensorsWriter.Entry, _ stream: FileOutputStream) throws {
        let count = Shape.byteCount(entry.shape, bytesPerElement: entry.dtype.byteSize) ?? 0
        try stream.write([UInt8](repeating: entry.name.utf8.first ?? 0, count: count))
    }

    /// Writes a shard holding U8 tensors of the given names (4 bytes each).
    private func shard(_ directory: TemporaryDirectory, _ name: String, _ tensors: [String]) throws {
        try SafeTensorsWriter.write(
            to: directory.url.appendingPathComponent(name),
            tensors: tensors.map { .init(name: $0, dtype: .u8, shape: [4]) }, payload: Self.namePayload)
    }

    /// Writes an index mapping tensors to shards (in the given order).
    private func index(_ directory: TemporaryDirectory, _ map: [(String, String)]) throws {
        let entries = map.map { #""\#($0.0)": "\#($0.1)""# }.joined(separator: ", ")
        try directory.file("model.safetensors.index.json", Array(#"{"metadata": {}, "weight_map": {\#(entries)}}"#.utf8))
    }

    private func indexPath(_ directory: TemporaryDirectory) -> String {
        directory.url.appendingPathComponent("model.safetensors.index.json").path
    }

    @Test("sharded writing follows huggingface_hub's split, names and index format, and reads back")
    func shardedRoundTrip() throws {
        let directory = try TemporaryDirectory()
        let entries: [SafeTensorsWriter.Entry] = [
            .init(name: "a", dtype: .u8, shape: [4]), .init(name: "b", dtype: .u8, shape: [4]),
            .init(name: "big", dtype: .u8, shape: [10]), .init(name: "d", dtype: .u8, shape: [4]),
            .init(name: "é\"x", dtype: .f32, shape: [0]),
        ]
        let names = try SafeTensorsWriter.writeSharded(
            into: directory.url, tensors: entries, maxShardByteCount: 8, payload: Self.namePayload)
        #expect(names == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                          "model-00003-of-00003.safetensors", "model.safetensors.index.json"])
        // Derived by hand from the rules (oversized "big" gets its own shard first; a+b fill shard 2; d and the
        // empty tensor go to shard 3; total 22 bytes; ASCII-escaped names). Checked once by hand: huggingface_hub
        // 2.4.0 `split_state_dict_into_shards_factory(max_shard_size=8)` + `json.dumps(index, indent=2)` gave
        // exactly this text for the same tensors.
        let expectedIndex = """
            {
              "metadata": {
                "total_size": 22
              },
              "weight_map": {
                "big": "model-00001-of-00003.safetensors",
                "a": "model-00002-of-00003.safetensors",
                "b": "model-00002-of-00003.safetensors",
                "d": "model-00003-of-00003.safetensors",
                "\\u00e9\\"x": "model-00003-of-00003.safetensors"
              }
            }
            """
        #expect(try fileBytes(directory.url.appendingPathComponent("model.safetensors.index.json")) == Array(expectedIndex.utf8))

        let checkpoint = try SafeTensorsCheckpoint(directory: directory.url)
        #expect(checkpoint.files.map(\.url.lastPathComponent) == Array(names.prefix(3)))
        #expect(checkpoint.files.allSatisfy { $0.metadata == ["format": "pt"] })
        #expect(checkpoint.tensorNames == ["a", "b", "big", "d", "é\"x"])
        let (file, info) = try #require(checkpoint.locate("big"))
        #expect(file.url.lastPathComponent == "model-00001-of-00003.safetensors")
        #expect(Array(file.bytes(of: info)) == [UInt8](repeating: UInt8(ascii: "b"), count: 10))
        #expect(checkpoint.locate("missing") == nil)
    }

    @Test("a checkpoint that fits one shard is a single model.safetensors without index")
    func singleShard() throws {
        let directory = try TemporaryDirectory()
        let entries: [SafeTensorsWriter.Entry] = [.init(name: "w", dtype: .f16, shape: [2, 2])]
        let names = try SafeTensorsWriter.writeSharded(
            into: directory.url, tensors: entries, maxShardByteCount: 1 << 30, payload: Self.namePayload)
        #expect(names == ["model.safetensors"])
        #expect(try directory.contents() == ["model.safetensors"])
        let checkpoint = try SafeTensorsCheckpoint(directory: directory.url)
        #expect(checkpoint.tensorNames == ["w"])
        #expect(checkpoint.files.count == 1)
    }

    @Test("seeded random checkpoints round-trip through sharded writing and reading")
    func randomShardedRoundTrip() throws {
        var rng = SplitMix64(seed: 31337)
        for _ in 0..<25 {
            let directory = try TemporaryDirectory()
            let set = RandomTensorSet(using: &rng, maxCount: 14)
            let maxShard = Int.random(in: 1...64, using: &rng)
            let names = try SafeTensorsWriter.writeSharded(
                into: directory.url, tensors: set.entries, maxShardByteCount: maxShard
            ) { entry, stream in try stream.write(set.contents[entry.name] ?? []) }
            #expect(try directory.contents() == names.sorted())
            let checkpoint = try SafeTensorsCheckpoint(directory: directory.url)
            #expect(Set(checkpoint.tensorNames) == Set(set.entries.map(\.name)))
            for entry in set.entries {
                let (file, info) = try #require(checkpoint.locate(entry.name))
                #expect(info.shape == entry.shape && info.dtype == entry.dtype)
                #expect(Array(file.bytes(of: info)) == set.contents[entry.name])
            }
        }
    }

    @Test("the index is authoritative: a stray model.safetensors beside it is ignored")
    func strayFileIgnored() throws {
        let directory = try TemporaryDirectory()
        try shard(directory, "model-00001-of-00002.safetensors", ["a"])
        try shard(directory, "model-00002-of-00002.safetensors", ["b"])
        try shard(directory, "model.safetensors", ["a", "b", "c"])
        try shard(directory, "model-00003-of-00003.safetensors", ["c"])
        try index(directory, [("b", "model-00002-of-00002.safetensors"), ("a", "model-00001-of-00002.safetensors")])
        let checkpoint = try SafeTensorsCheckpoint(directory: directory.url)
        #expect(checkpoint.tensorNames == ["a", "b"])
        #expect(checkpoint.files.map(\.url.lastPathComponent)
                == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    }

    @Test("index and shard disagreements are each reported by file and tensor")
    func inconsistencies() throws {
        let s1 = "model-00001-of-00002.safetensors", s2 = "model-00002-of-00002.safetensors"
        let cases: [(shards: [(String, [String])], map: [(String, String)], problems: [CheckpointProblem])] = [
            ([(s1, ["a"])], [("a", s1), ("b", s2)], [.missingShard(shard: s2, firstTensor: "b")]),
            ([(s1, ["a"]), (s2, ["b"])], [("a", s1), ("b", s2), ("c", s2)],
             [.tensorMissingFromShard(tensor: "c", shard: s2)]),
            ([(s1, ["a", "x"]), (s2, ["b"])], [("a", s1), ("b", s2)], [.tensorNotInIndex(tensor: "x", shard: s1)]),
            ([(s1, ["a", "b"]), (s2, ["b"])], [("a", s1), ("b", s2)],
             [.tensorInSeveralShards(tensor: "b", shards: [s1, s2])]),
            ([(s1, ["a", "b"]), (s2, ["c"])], [("a", s1), ("b", s2), ("c", s2)],
             [.tensorInWrongShard(tensor: "b", indexShard: s2, actualShard: s1)]),
            // Several problems at once: missing shards first, then tensors in name order.
            ([(s1, ["z", "y"])], [("y", s1), ("q", "model-00003-of-00003.safetensors"), ("w", s1)],
             [.missingShard(shard: "model-00003-of-00003.safetensors", firstTensor: "q"),
              .tensorMissingFromShard(tensor: "w", shard: s1), .tensorNotInIndex(tensor: "z", shard: s1)]),
        ]
        for testCase in cases {
            let directory = try TemporaryDirectory()
            for (name, tensors) in testCase.shards { try shard(directory, name, tensors) }
            try index(directory, testCase.map)
            #expect(throws: SafeTensorsError.inconsistentCheckpoint(index: indexPath(directory), problems: testCase.problems)) {
                try SafeTensorsCheckpoint(directory: directory.url)
            }
        }
    }

    @Test("malformed indexes are rejected with the index named", arguments: [
        ("{\"weight_map\": {\"a\": ", "invalid JSON"),
        ("[]", "top level is not a JSON object"),
        (#"{"metadata": {"total_size": 4}}"#, #"no "weight_map""#),
        (#"{"weight_map": ["a"]}"#, #""weight_map" is not an object"#),
        (#"{"weight_map": {"a": 1}}"#, "weight_map entry for 'a' is not a string"),
        (#"{"weight_map": {"a": "model-00001-of-00001.safetensors", "a": "x.safetensors"}}"#, "duplicate"),
    ])
    func malformedIndex(json: String, rule: String) throws {
        let directory = try TemporaryDirectory()
        try shard(directory, "model-00001-of-00001.safetensors", ["a"])
        try directory.file("model.safetensors.index.json", Array(json.utf8))
        let path = indexPath(directory)
        let expected: SafeTensorsError = switch rule {
        case "invalid JSON": .invalidJSON(file: path, offset: 21, reason: "unexpected end of input, expected a value")
        case "duplicate": .duplicateKey(file: path, key: "a", path: "/weight_map")
        default: .invalidIndex(file: path, reason: rule)
        }
        #expect(throws: expected) { try SafeTensorsCheckpoint(directory: directory.url) }
    }

    @Test("shard paths that leave the directory or are not safetensors files are refused", arguments: [
        "../model-00001-of-00001.safetensors", "/etc/model.safetensors", "sub/../../x.safetensors",
        "./model.safetensors", "a//b.safetensors", "model.bin", "..\\\\x.safetensors", "",
    ])
    func escapingShardPath(shardPath: String) throws {
        let directory = try TemporaryDirectory()
        try index(directory, [("w", shardPath)])
        let decoded = shardPath.replacingOccurrences(of: "\\\\", with: "\\")
        #expect(throws: SafeTensorsError.shardPathNotAllowed(index: indexPath(directory), tensor: "w", shard: decoded)) {
            try SafeTensorsCheckpoint(directory: directory.url)
        }
    }

    @Test("shards in a subdirectory are allowed")
    func subdirectoryShard() throws {
        let directory = try TemporaryDirectory()
        try FileManager.default.createDirectory(
            at: directory.url.appendingPathComponent("part"), withIntermediateDirectories: false)
        try shard(directory, "part/one.safetensors", ["a"])
        try index(directory, [("a", "part/one.safetensors")])
        #expect(try SafeTensorsCheckpoint(directory: directory.url).tensorNames == ["a"])
    }

    @Test("a malformed shard fails with that shard's own error")
    func malformedShard() throws {
        let directory = try TemporaryDirectory()
        try shard(directory, "model-00001-of-00002.safetensors", ["a"])
        let bad = try directory.file("model-00002-of-00002.safetensors", Array("version https://git-lfs.github.com/spec/v1\n".utf8))
        try index(directory, [("a", "model-00001-of-00002.safetensors"), ("b", "model-00002-of-00002.safetensors")])
        #expect(throws: SafeTensorsError.foreignFormat(file: bad.path, format: .gitLFSPointer)) {
            try SafeTensorsCheckpoint(directory: directory.url)
        }
    }

    @Test("a directory without model.safetensors or an index is named, with the safetensors files it has")
    func noCheckpoint() throws {
        let directory = try TemporaryDirectory()
        try shard(directory, "adapter_model.safetensors", ["a"])
        try directory.file("config.json", Array("{}".utf8))
        #expect(throws: SafeTensorsError.noCheckpoint(directory: directory.url.path, safetensorsFiles: ["adapter_model.safetensors"])) {
            try SafeTensorsCheckpoint(directory: directory.url)
        }
        #expect(try SafeTensorsCheckpoint(directory: directory.url, baseName: "adapter_model").tensorNames == ["a"])
    }

    @Test("a missing directory or a plain file in its place is a file-access error naming it")
    func notADirectory() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.url.appendingPathComponent("nowhere")
        #expect(throws: SafeTensorsError.fileAccess(FileAccessError(path: missing.path, operation: "open", code: ENOENT))) {
            try SafeTensorsCheckpoint(directory: missing)
        }
        let plain = try directory.file("model", [1])
        #expect(throws: SafeTensorsError.fileAccess(FileAccessError(path: plain.path, operation: "open", code: ENOTDIR))) {
            try SafeTensorsCheckpoint(directory: plain)
        }
    }

    @Test("an index larger than the cap is refused before parsing")
    func indexCap() throws {
        let directory = try TemporaryDirectory()
        try index(directory, [("a", "model-00001-of-00001.safetensors")])
        #expect(throws: SafeTensorsError.invalidIndex(file: indexPath(directory), reason: "file is larger than 16 bytes")) {
            try SafeTensorsCheckpoint(directory: directory.url, maxHeaderByteCount: 16)
        }
    }

    @Test("sharded writing checks every entry before writing, and a failing payload leaves no temporary files")
    func shardedFailures() throws {
        struct Interrupted: Error, Equatable {}
        let directory = try TemporaryDirectory()
        let entries: [SafeTensorsWriter.Entry] = [
            .init(name: "a", dtype: .u8, shape: [4]), .init(name: "b", dtype: .u8, shape: [4]),
            .init(name: "a", dtype: .u8, shape: [4]),
        ]
        let path = directory.url.appendingPathComponent("model.safetensors").path
        #expect(throws: SafeTensorsError.duplicateEntry(file: path, tensor: "a")) {
            try SafeTensorsWriter.writeSharded(into: directory.url, tensors: entries, maxShardByteCount: 4) { _, _ in }
        }
        #expect(try directory.contents() == [])

        #expect(throws: Interrupted()) {
            try SafeTensorsWriter.writeSharded(
                into: directory.url, tensors: Array(entries.prefix(2)), maxShardByteCount: 4
            ) { entry, stream in
                if entry.name == "b" { throw Interrupted() }
                try Self.namePayload(entry, stream)
            }
        }
        // The first shard is complete; the second and the index were never created (the caller owns the directory).
        #expect(try directory.contents() == ["model-00001-of-00002.safetensors"])
    }
}
