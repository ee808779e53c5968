// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// A checkpoint directory: either `<base>.safetensors`, or `<base>.safetensors.index.json` plus its shards.
///
/// When an index exists it is authoritative: only the shards it names are opened (stray `.safetensors` files,
/// including a `<base>.safetensors` beside the index, are ignored), and every tensor must be exactly where the
/// index says. Conventions follow huggingface_hub (`serialization/_torch.py`).
public final class SafeTensorsCheckpoint: @unchecked Sendable {
    /// The checkpoint directory.
    public let directory: URL
    /// The shard files sorted by name (for `-0000i-of-0000N` names that is shard order), or the single file.
    public let files: [SafeTensorsFile]
    /// Every tensor name, sorted by UTF-8 bytes.
    public let tensorNames: [String]
    private let locations: [String: (file: Int, tensor: Int)]

    /// Opens and cross-checks the checkpoint in `directory`.
    ///
    /// - Parameters:
    ///   - maxHeaderByteCount: the header cap for every shard; also caps the index file's size.
    ///   - baseName: the file-name stem (`model` for `model.safetensors`, `adapter_model` for PEFT adapters).
    /// - Throws: ``SafeTensorsError``: the first malformed shard's error, ``SafeTensorsError/noCheckpoint(directory:safetensorsFiles:)``,
    ///   index errors, or ``SafeTensorsError/inconsistentCheckpoint(index:problems:)`` listing every disagreement.
    public init(
        directory: URL, maxHeaderByteCount: Int = 100_000_000, baseName: String = "model"
    ) throws(SafeTensorsError) {
        self.directory = directory
        let manager = FileManager.default
        let indexURL = directory.appendingPathComponent("\(baseName).safetensors.index.json")
        let singleURL = directory.appendingPathComponent("\(baseName).safetensors")
        let opened: [SafeTensorsFile]
        if manager.fileExists(atPath: indexURL.path) {
            opened = try Self.openSharded(
                index: indexURL, directory: directory, maxHeaderByteCount: maxHeaderByteCount)
        } else if manager.fileExists(atPath: singleURL.path) {
            opened = [try SafeTensorsFile(contentsOf: singleURL, maxHeaderByteCount: maxHeaderByteCount)]
        } else {
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
                throw .fileAccess(FileAccessError(path: directory.path, operation: "open", code: ENOENT))
            }
            guard isDirectory.boolValue else {
                throw .fileAccess(FileAccessError(path: directory.path, operation: "open", code: ENOTDIR))
            }
            let names = (try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
            let found = names.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".safetensors.index.json") }
            throw .noCheckpoint(directory: directory.path, safetensorsFiles: found.sorted(by: utf8Ascending))
        }
        var locations: [String: (file: Int, tensor: Int)] = [:]
        for (fileIndex, file) in opened.enumerated() {
            for (tensorIndex, tensor) in file.tensors.enumerated() {
                locations[tensor.name] = (fileIndex, tensorIndex)
            }
        }
        files = opened
        self.locations = locations
        tensorNames = locations.keys.sorted(by: utf8Ascending)
    }

    /// The file holding tensor `name` and its description, or nil if the checkpoint has no such tensor.
    public func locate(_ name: String) -> (file: SafeTensorsFile, info: SafeTensorsTensorInfo)? {
        guard let location = locations[name] else { return nil }
        let file = files[location.file]
        return (file, file.tensors[location.tensor])
    }

    /// Reads the index, opens every shard it names, and checks index and shards against each other.
    private static func openSharded(
        index indexURL: URL, directory: URL, maxHeaderByteCount: Int
    ) throws(SafeTensorsError) -> [SafeTensorsFile] {
        let indexPath = indexURL.path
        let weightMap = try readWeightMap(indexURL, maxByteCount: maxHeaderByteCount)

        // Shard names must stay inside the directory and name safetensors files (as huggingface_hub requires).
        for entry in weightMap where !isContainedShardPath(entry.shard) {
            throw .shardPathNotAllowed(index: indexPath, tensor: entry.tensor, shard: entry.shard)
        }
        var tensorsByShard: [String: [String]] = [:]
        for entry in weightMap { tensorsByShard[entry.shard, default: []].append(entry.tensor) }
        let shardNames = tensorsByShard.keys.sorted(by: utf8Ascending)

        var problems: [CheckpointProblem] = []
        var files: [SafeTensorsFile] = []
        var openedShards: Set<String> = []
        for shard in shardNames {
            let url = directory.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                let first = tensorsByShard[shard, default: []].min(by: utf8Ascending) ?? ""
                problems.append(.missingShard(shard: shard, firstTensor: first))
                continue
            }
            files.append(try SafeTensorsFile(contentsOf: url, maxHeaderByteCount: maxHeaderByteCount))
            openedShards.insert(shard)
        }

        // Where each tensor actually is, by shard name.
        var holders: [String: [String]] = [:]
        for (shard, file) in zip(shardNames.filter(openedShards.contains), files) {
            for tensor in file.tensors { holders[tensor.name, default: []].append(shard) }
        }
        let indexed = Dictionary(weightMap.map { ($0.tensor, $0.shard) }, uniquingKeysWith: { first, _ in first })
        let allNames = Set(holders.keys).union(indexed.keys).sorted(by: utf8Ascending)
        for name in allNames {
            let found = holders[name, default: []]
            let expected = indexed[name]
            if found.count > 1 {
                problems.append(.tensorInSeveralShards(tensor: name, shards: found))
            } else if let expected {
                guard openedShards.contains(expected) else { continue }  // reported as a missing shard
                if let actual = found.first, actual != expected {
                    problems.append(.tensorInWrongShard(tensor: name, indexShard: expected, actualShard: actual))
                } else if found.isEmpty {
                    problems.append(.tensorMissingFromShard(tensor: name, shard: expected))
                }
            } else if let actual = found.first {
                problems.append(.tensorNotInIndex(tensor: name, shard: actual))
            }
        }
        guard problems.isEmpty else { throw .inconsistentCheckpoint(index: indexPath, problems: problems) }
        return files
    }

    /// The index's `weight_map` entries in document order.
    private static func readWeightMap(
        _ url: URL, maxByteCount: Int
    ) throws(SafeTensorsError) -> [(tensor: String, shard: String)] {
        let path = url.path
        let mapping: MappedFile
        do {
            mapping = try MappedFile(url: url)
        } catch {
            throw .fileAccess(error)
        }
        guard mapping.bytes.count <= maxByteCount else {
            throw .invalidIndex(file: path, reason: "file is larger than \(maxByteCount) bytes")
        }
        let root = try StrictJSON.parseReporting(mapping.bytes, file: path, baseOffset: 0, isSafeTensorsHeader: false)
        guard case .object(let members) = root else {
            throw .invalidIndex(file: path, reason: "top level is not a JSON object")
        }
        guard let weightMap = members.first(where: { $0.key == "weight_map" })?.value else {
            throw .invalidIndex(file: path, reason: "no \"weight_map\"")
        }
        guard case .object(let entries) = weightMap else {
            throw .invalidIndex(file: path, reason: "\"weight_map\" is not an object")
        }
        var result: [(tensor: String, shard: String)] = []
        result.reserveCapacity(entries.count)
        for entry in entries {
            guard case .string(let shard) = entry.value else {
                throw .invalidIndex(file: path, reason: "weight_map entry for '\(entry.key)' is not a string")
            }
            result.append((entry.key, shard))
        }
        return result
    }

    /// True for a relative path with no `..`, `.` or empty component that ends in `.safetensors`.
    static func isContainedShardPath(_ path: String) -> Bool {
        guard path.hasSuffix(".safetensors"), !path.hasPrefix("/"), !path.contains("\\"), !path.contains("\0")
        else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && $0 != "." && $0 != ".."
        }
    }
}

/// Orders strings by their UTF-8 bytes (what Rust and Python byte-string sorts do), not by Swift's Unicode order.
func utf8Ascending(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.lexicographicallyPrecedes(rhs.utf8)
}
