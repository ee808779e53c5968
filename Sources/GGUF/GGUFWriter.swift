// SPDX-License-Identifier: Apache-2.0
import Foundation
import TensorCore

/// Writes GGUF v3 files that ggml / llama.cpp accept, byte-identical to gguf-py's `GGUFWriter` for the
/// same metadata and tensors in the same order.
///
/// Layout written: header (version 3), metadata in the given order, tensor infos in the given order with
/// data offsets packed sequentially (offset_i = sum of the earlier sizes, each rounded up to the
/// alignment), zero padding up to the alignment, then each tensor's bytes followed by zero padding to the
/// alignment (after every tensor, the last one included). The alignment is `general.alignment` when
/// present (it must be a UINT32 power of two, at most 1 MiB), else 32.
public enum GGUFWriter {
    /// The alignment used when the metadata has no `general.alignment`.
    public static let defaultAlignment = GGUFLayout.defaultAlignment
    /// The value llama.cpp expects in `general.quantization_version` (ggml `GGML_QNT_VERSION`).
    public static let quantizationVersion: UInt32 = 2

    /// One tensor to write: its name, dimensions in ggml `ne` order (fastest first) and type.
    public struct Entry: Sendable, Equatable {
        /// The tensor name (at most 63 UTF-8 bytes, no NUL, unique in the file).
        public let name: String
        /// The dimensions in ggml `ne` order: a PyTorch `[out, in]` weight is `[in, out]`.
        public let dimensions: [Int]
        /// The ggml type of the bytes the payload writes.
        public let type: GGMLType

        /// Describes a tensor to write.
        public init(name: String, dimensions: [Int], type: GGMLType) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
        }

        /// The number of bytes the payload must write, or nil if the dimensions do not fit the type.
        public var byteCount: Int? { GGUFLayout.byteCount(dimensions: dimensions, type: type) }
    }

    /// Writes a GGUF v3 file atomically (temporary file, fsync, re-validate with the reader, rename).
    ///
    /// - Parameters:
    ///   - url: the destination.
    ///   - metadata: the key/value entries, written in order. Use the types llama.cpp expects
    ///     (UINT32 hyperparameters, FLOAT32 reals, UINT32 `general.alignment`).
    ///   - tensors: the tensors, written in order.
    ///   - overwrite: allow replacing an existing file.
    ///   - payload: called once per entry, in order; must write exactly the entry's ``Entry/byteCount`` bytes.
    /// - Throws: ``GGUFError`` if the metadata or tensors break a GGUF rule (empty key, bad alignment, long or
    ///   duplicate name, bad dimensions), if a payload writes the wrong number of bytes
    ///   (``GGUFError/payloadSizeMismatch(path:tensor:expected:actual:)``), or if the file cannot be written;
    ///   any error the payload throws. The destination is untouched on error.
    public static func write(
        to url: URL, metadata: GGUFMetadata, tensors: [Entry], overwrite: Bool = false,
        payload: (Entry, FileOutputStream) throws -> Void
    ) throws {
        let plan = try GGUFWritePlan(path: url.path, metadata: metadata, tensors: tensors)
        let output: AtomicOutput
        do {
            output = try AtomicOutput(destination: url, overwrite: overwrite)
        } catch {
            throw GGUFError.fileAccess(error)
        }
        do {
            let stream = try FileOutputStream(url: output.temporaryURL)
            try stream.write(plan.header)
            for (entry, sizes) in zip(tensors, plan.sizes) {
                let start = stream.position
                try payload(entry, stream)
                let written = stream.position - start
                guard written == sizes.byteCount else {
                    throw GGUFError.payloadSizeMismatch(
                        path: url.path, tensor: entry.name, expected: sizes.byteCount,
                        actual: written)
                }
                try stream.writeZeros(sizes.paddedByteCount - sizes.byteCount)
            }
            try stream.synchronize()
        } catch let error as FileAccessError {
            throw GGUFError.fileAccess(error)
        }
        // Re-open the output with the hardened reader before it replaces anything.
        _ = try GGUFFile(contentsOf: output.temporaryURL, limits: .unbounded)
        do {
            try output.commit()
        } catch {
            throw GGUFError.fileAccess(error)
        }
    }

    /// The bytes before the data section (header, metadata, tensor infos, padding) of the file that
    /// ``write(to:metadata:tensors:overwrite:payload:)`` would write; `path` only names the file in errors.
    ///
    /// - Throws: the same validation errors as ``write(to:metadata:tensors:overwrite:payload:)``.
    public static func headerBytes(
        metadata: GGUFMetadata, tensors: [Entry], path: String = "<memory>"
    ) throws(GGUFError) -> [UInt8] {
        try GGUFWritePlan(path: path, metadata: metadata, tensors: tensors).header
    }
}

/// The validated bytes before the data section and the sizes of the tensors that follow it.
struct GGUFWritePlan {
    /// Header, metadata, tensor infos and the zero padding up to the data section.
    let header: [UInt8]
    /// Size and padded size of each tensor, in order.
    let sizes: [(byteCount: Int, paddedByteCount: Int)]

    init(path: String, metadata: GGUFMetadata, tensors: [GGUFWriter.Entry]) throws(GGUFError) {
        var encoder = GGUFEncoder()
        encoder.append(GGUFLayout.magic)
        encoder.append(GGUFLayout.writtenVersion)
        encoder.append(UInt64(tensors.count))
        encoder.append(UInt64(metadata.count))
        var alignmentOffset = 0
        for (index, entry) in metadata.entries.enumerated() {
            guard !entry.key.isEmpty else {
                throw .emptyKey(path: path, index: index, offset: encoder.count)
            }
            encoder.append(entry.key)
            if entry.key == GGUFKey.General.alignment { alignmentOffset = encoder.count }
            encoder.append(entry.value)
        }
        let alignment = try GGUFLayout.alignment(
            of: metadata, maximum: GGUFReadLimits().maxAlignment, path: path,
            offset: alignmentOffset)
        var seen = Set<String>()
        var dataSize = 0
        var sizes: [(byteCount: Int, paddedByteCount: Int)] = []
        for entry in tensors {
            let infoOffset = encoder.count
            try GGUFLayout.checkTensorName(entry.name, path: path, offset: infoOffset, seen: &seen)
            try GGUFLayout.checkShape(
                dimensions: entry.dimensions, tensor: entry.name, path: path, offset: infoOffset)
            let size = try GGUFLayout.sizes(
                dimensions: entry.dimensions, type: entry.type, alignment: alignment,
                tensor: entry.name,
                path: path, offset: infoOffset)
            encoder.append(entry.name)
            encoder.append(UInt32(entry.dimensions.count))
            for dimension in entry.dimensions { encoder.append(UInt64(dimension)) }
            encoder.append(entry.type.rawValue)
            encoder.append(UInt64(dataSize))
            let (next, overflow) = dataSize.addingReportingOverflow(size.paddedByteCount)
            if overflow {
                throw .byteCountOverflow(path: path, tensor: entry.name, offset: infoOffset)
            }
            dataSize = next
            sizes.append(size)
        }
        // Pad to the data section even with no tensors, as gguf-py and ggml do.
        let padding = (alignment - encoder.count % alignment) % alignment
        encoder.append([UInt8](repeating: 0, count: padding))
        header = encoder.bytes
        self.sizes = sizes
    }
}
