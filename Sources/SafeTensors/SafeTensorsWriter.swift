// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// Deterministic, streaming, atomic safetensors writing (single files and sharded checkpoints).
///
/// Tensor bytes are never held by the writer: a payload closure streams each tensor into the file, so peak memory
/// is whatever the closure needs for one tensor. Files appear at their destination only when complete.
public enum SafeTensorsWriter {
    /// The metadata huggingface_hub and transformers put in every shard (`{"format": "pt"}`).
    public static let defaultMetadata = ["format": "pt"]

    /// One tensor to write: its name, element type and shape. The bytes come from the payload closure.
    public struct Entry: Sendable, Equatable {
        /// The tensor's name.
        public let name: String
        /// The element type.
        public let dtype: DType
        /// The shape, outermost dimension first; `[]` is a scalar.
        public let shape: [Int]

        /// Describes a tensor to write.
        public init(name: String, dtype: DType, shape: [Int]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }
    }

    /// Writes one safetensors file atomically.
    ///
    /// Tensor data order is the reference writer's (``DType/alignmentRank`` descending, then name by UTF-8 bytes);
    /// the header is compact JSON with `__metadata__` first (keys sorted), then the tensors in data order with keys
    /// `dtype`, `shape`, `data_offsets`, padded with spaces to a multiple of 8 bytes. The same input always gives
    /// the same bytes.
    ///
    /// - Parameters:
    ///   - url: the destination; the file is built under a temporary name beside it and renamed into place.
    ///   - tensors: the tensors, in any order.
    ///   - metadata: the `__metadata__` object, or nil to omit it.
    ///   - overwrite: allow replacing an existing file.
    ///   - payload: called once per entry, in data order; must write exactly the entry's byte count to the stream.
    /// - Throws: ``SafeTensorsError`` for invalid entries, a payload that writes the wrong byte count, or a failed
    ///   file operation (wrapped in ``SafeTensorsError/fileAccess(_:)``); errors thrown by `payload` pass through.
    ///   On any error nothing is left at the destination or at the temporary path.
    public static func write(
        to url: URL, tensors: [Entry], metadata: [String: String]? = defaultMetadata, overwrite: Bool = false,
        payload: (Entry, FileOutputStream) throws -> Void
    ) throws {
        let layout = try SafeTensorsLayout(file: url.path, entries: tensors, metadata: metadata)
        let output = try fileAccess { () throws(FileAccessError) in
            try AtomicOutput(destination: url, overwrite: overwrite)
        }
        let stream = try fileAccess { () throws(FileAccessError) in try FileOutputStream(url: output.temporaryURL) }
        try fileAccess { () throws(FileAccessError) in try stream.write(layout.headerBytes) }
        for (entry, range) in layout.tensors {
            let start = stream.position
            try payload(entry, stream)
            let written = stream.position - start
            guard written == range.count else {
                throw SafeTensorsError.payloadByteCountMismatch(
                    file: url.path, tensor: entry.name, expected: range.count, written: written)
            }
        }
        try fileAccess { () throws(FileAccessError) in
            try stream.synchronize()
            try output.commit()
        }
    }

    /// Writes a checkpoint into the existing `directory`, sharded the way huggingface_hub shards it.
    ///
    /// Shards are filled greedily in the given entry order (`split_state_dict_into_shards_factory` in
    /// huggingface_hub `serialization/_base.py`): a tensor that does not fit the current shard starts a new one,
    /// and a tensor larger than `maxShardByteCount` gets a shard of its own, placed before the shard being filled.
    /// One shard is written as `<baseName>.safetensors` with no index (also when `tensors` is empty). Several are
    /// written as `<baseName>-00001-of-0000N.safetensors`… (1-based, at least five digits) plus
    /// `<baseName>.safetensors.index.json` = `{"metadata": {"total_size": <sum of tensor bytes>}, "weight_map": …}`
    /// formatted like Python's `json.dump(index, f, indent=2)` (ASCII-escaped, entries in shard then entry order,
    /// no trailing newline). Every shard carries metadata `{"format": "pt"}`. Each file is written atomically;
    /// existing files are never replaced, and the index is written last.
    ///
    /// - Parameters:
    ///   - payload: called once per entry, shard by shard and in data order within a shard.
    /// - Returns: the names of the files written, shards first, index last.
    /// - Throws: as ``write(to:tensors:metadata:overwrite:payload:)``; all entries are checked before any file is written.
    public static func writeSharded(
        into directory: URL, baseName: String = "model", tensors: [Entry], maxShardByteCount: Int,
        payload: (Entry, FileOutputStream) throws -> Void
    ) throws -> [String] {
        precondition(maxShardByteCount > 0, "maxShardByteCount must be positive")
        let singleName = "\(baseName).safetensors"
        let byteCounts = try SafeTensorsLayout.validatedByteCounts(
            of: tensors, file: directory.appendingPathComponent(singleName).path)
        let shards = ShardPlan.split(byteCounts: byteCounts, maxShardByteCount: maxShardByteCount)
        guard shards.count > 1 else {
            try write(to: directory.appendingPathComponent(singleName), tensors: tensors, payload: payload)
            return [singleName]
        }
        var names: [String] = []
        var weightMap: [(tensor: String, shard: String)] = []
        for (number, shard) in shards.enumerated() {
            let name = ShardPlan.shardFileName(baseName: baseName, number: number + 1, of: shards.count)
            let entries = shard.map { tensors[$0] }
            try write(to: directory.appendingPathComponent(name), tensors: entries, payload: payload)
            names.append(name)
            weightMap.append(contentsOf: entries.map { ($0.name, name) })
        }
        let indexName = "\(singleName).index.json"
        let index = ShardPlan.indexJSON(totalSize: byteCounts.reduce(0, +), weightMap: weightMap)
        let output = try fileAccess { () throws(FileAccessError) in
            try AtomicOutput(destination: directory.appendingPathComponent(indexName))
        }
        try fileAccess { () throws(FileAccessError) in
            let stream = try FileOutputStream(url: output.temporaryURL)
            try stream.write(index)
            try stream.synchronize()
            try output.commit()
        }
        names.append(indexName)
        return names
    }

    /// Runs `body`, turning a ``FileAccessError`` into ``SafeTensorsError/fileAccess(_:)``.
    private static func fileAccess<T>(_ body: () throws(FileAccessError) -> T) throws(SafeTensorsError) -> T {
        do {
            return try body()
        } catch {
            throw .fileAccess(error)
        }
    }
}
