// SPDX-License-Identifier: Apache-2.0
import TensorCore

/// The structural rules of a GGUF file that the reader enforces and the writer obeys
/// (ggml `src/gguf.cpp`, `gguf_init_from_reader` and `gguf_write_out`).
enum GGUFLayout {
    /// The magic bytes `GGUF` (u32 0x46554747 little-endian).
    static let magic: [UInt8] = Array("GGUF".utf8)
    /// The version the writer emits.
    static let writtenVersion: UInt32 = 3
    /// The alignment used when `general.alignment` is absent (gguf-py `GGUF_DEFAULT_ALIGNMENT`).
    static let defaultAlignment = 32
    /// Longest tensor name in bytes (ggml `GGML_MAX_NAME` 64 minus the terminating NUL).
    static let maxTensorNameByteCount = 63
    /// Most dimensions of a tensor (ggml `GGML_MAX_DIMS`).
    static let maxDimensions = 4
    /// Smallest encoding of one metadata entry: 8-byte length, 1-byte key, type id, 1-byte value.
    static let minimumEntryByteCount = 8 + 1 + 4 + 1
    /// Smallest encoding of one tensor info: 8-byte length, empty name, n_dims, type id, offset.
    static let minimumTensorInfoByteCount = 8 + 4 + 4 + 8

    /// The size in bytes of a tensor of `dimensions` (ne order) and `type`, or nil when `ne[0]` is not a
    /// whole number of blocks, a dimension is negative, or the size overflows.
    static func byteCount(dimensions: [Int], type: GGMLType) -> Int? {
        guard let elements = Shape.elementCount(dimensions) else { return nil }
        guard (dimensions.first ?? 1) % type.blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / type.blockSize).multipliedReportingOverflow(
            by: type.typeSize)
        return overflow ? nil : bytes
    }

    /// Checks a tensor name: at most 63 bytes, no NUL, not seen before (then records it in `seen`).
    static func checkTensorName(
        _ name: String, path: String, offset: Int, seen: inout Set<String>
    ) throws(GGUFError) {
        let byteCount = name.utf8.count
        guard byteCount <= maxTensorNameByteCount else {
            throw .tensorNameTooLong(path: path, name: name, offset: offset, byteCount: byteCount)
        }
        guard !name.utf8.contains(0) else {
            throw .nulInTensorName(path: path, name: name, offset: offset)
        }
        guard seen.insert(name).inserted else {
            throw .duplicateTensorName(path: path, name: name, offset: offset)
        }
    }

    /// Checks a dimension count against ggml's maximum of four.
    static func checkDimensionCount(
        _ count: UInt32, tensor: String, path: String, offset: Int
    ) throws(GGUFError) {
        guard count <= maxDimensions else {
            throw .tooManyDimensions(path: path, tensor: tensor, offset: offset, count: count)
        }
    }

    /// Checks a tensor's dimensions: at most four, none negative, and a representable element count.
    static func checkShape(
        dimensions: [Int], tensor: String, path: String, offset: Int
    ) throws(GGUFError) {
        try checkDimensionCount(
            UInt32(clamping: dimensions.count), tensor: tensor, path: path, offset: offset)
        for (index, dimension) in dimensions.enumerated() where dimension < 0 {
            throw .negativeDimension(
                path: path, tensor: tensor, offset: offset, index: index, value: Int64(dimension))
        }
        guard Shape.elementCount(dimensions) != nil else {
            throw .elementCountOverflow(
                path: path, tensor: tensor, offset: offset, dimensions: dimensions)
        }
    }

    /// Checks a tensor's (already shape-checked) dimensions against its type and returns its size in bytes
    /// and its size padded to `alignment`.
    ///
    /// The padded size is checked as well as the size, so a size that wraps to zero after padding is caught.
    static func sizes(
        dimensions: [Int], type: GGMLType, alignment: Int, tensor: String, path: String, offset: Int
    ) throws(GGUFError) -> (byteCount: Int, paddedByteCount: Int) {
        let rowLength = dimensions.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw .rowNotMultipleOfBlock(
                path: path, tensor: tensor, offset: offset, rowLength: rowLength, type: type)
        }
        guard let bytes = byteCount(dimensions: dimensions, type: type),
            let padded = Shape.alignUp(bytes, to: alignment)
        else { throw .byteCountOverflow(path: path, tensor: tensor, offset: offset) }
        return (bytes, padded)
    }

    /// The data alignment a metadata list asks for, or 32 when it has no `general.alignment`.
    ///
    /// The value must be a UINT32, a non-zero power of two, and at most `maximum`; `offset` locates it
    /// for error messages.
    static func alignment(
        of metadata: GGUFMetadata, maximum: Int, path: String, offset: Int
    ) throws(GGUFError) -> Int {
        let key = GGUFKey.General.alignment
        guard let value = metadata[key] else { return defaultAlignment }
        guard case .uint32(let alignment) = value else {
            throw .invalidAlignmentType(path: path, type: value.type)
        }
        guard alignment != 0, alignment & (alignment - 1) == 0 else {
            throw .invalidAlignment(path: path, value: alignment)
        }
        guard Int(alignment) <= maximum else {
            throw .limitExceeded(
                path: path, item: .value(key: key), offset: offset, limit: .alignment,
                value: UInt64(alignment), maximum: maximum)
        }
        return Int(alignment)
    }
}
